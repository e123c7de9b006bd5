#include "kube/events.h"

#include <cstdio>
#include <ctime>

#include "kube/paths.h"

namespace gpushare::kube {

std::string rfc3339(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

nlohmann::json make_event(const EventSpec& spec) {
  auto time = spec.time == std::chrono::system_clock::time_point{}
                  ? std::chrono::system_clock::now()
                  : spec.time;
  auto nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "%llx", static_cast<unsigned long long>(nanos));
  std::string ns = spec.object.namespace_name.empty() ? "default" : spec.object.namespace_name;
  std::string stamp = rfc3339(time);

  nlohmann::json involved = {{"apiVersion", spec.object.api_version},
                             {"kind", spec.object.kind},
                             {"name", spec.object.name}};
  if (!spec.object.namespace_name.empty()) involved["namespace"] = spec.object.namespace_name;
  if (!spec.object.uid.empty()) involved["uid"] = spec.object.uid;

  nlohmann::json source = {{"component", spec.component}};
  if (!spec.host.empty()) source["host"] = spec.host;

  nlohmann::json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", spec.object.name + "." + suffix}, {"namespace", ns}}},
      {"involvedObject", involved},
      {"reason", spec.reason},
      {"message", spec.message},
      {"type", spec.type == EventType::kWarning ? "Warning" : "Normal"},
      {"source", source},
      {"firstTimestamp", stamp},
      {"lastTimestamp", stamp},
      {"count", 1},
      {"reportingComponent", spec.component},
  };
  if (!spec.host.empty()) event["reportingInstance"] = spec.host;
  return event;
}

ApiResult<nlohmann::json> create_event(Client& client, const EventSpec& spec) {
  nlohmann::json event = make_event(spec);
  std::string ns = event["metadata"]["namespace"].get<std::string>();
  return client.create(paths::events(ns), event);
}

}  // namespace gpushare::kube
