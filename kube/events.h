// core/v1 Events, the record a person reads with `kubectl describe`: why a pod was denied a
// GPU, when a node started or finished repartitioning.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "kube/api_error.h"
#include "kube/client.h"

namespace gpushare::kube {

struct ObjectReference {
  std::string api_version = "v1";
  std::string kind;            // "Pod", "Node"
  std::string namespace_name;  // empty for cluster-scoped objects (Node)
  std::string name;
  std::string uid;
};

enum class EventType { kNormal, kWarning };

struct EventSpec {
  ObjectReference object;
  std::string reason;   // UpperCamelCase, short: "RepartitionStarted"
  std::string message;  // for a person
  EventType type = EventType::kNormal;
  std::string component = "gpushare";
  std::string host;  // source.host / reportingInstance; empty leaves them out
  std::chrono::system_clock::time_point time{};  // epoch means now
};

// The Event object to POST. Events about cluster-scoped objects live in "default", as
// client-go records them. The name is "<object>.<hex nanoseconds>", unique per instant.
nlohmann::json make_event(const EventSpec& spec);

// "2024-05-01T12:00:00Z" (RFC 3339, UTC, whole seconds as the v1 Event fields carry them).
std::string rfc3339(std::chrono::system_clock::time_point time);

// POSTs make_event(spec) to /api/v1/namespaces/<ns>/events.
ApiResult<nlohmann::json> create_event(Client& client, const EventSpec& spec);

}  // namespace gpushare::kube
