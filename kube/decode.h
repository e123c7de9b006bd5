// Node and Pod JSON from the watch -> the records the cache keeps: codec's decoder in its lenient
// mode (codec/objects.h) for the views, plus what only the cache needs (uid, resourceVersion,
// terminated, the Unschedulable condition, what the pod holds).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/result.h"
#include "policy/views.h"

namespace gpushare::kube {

// The resources gpushare accounts for: the device plugin's extended resources.
inline constexpr std::string_view kGpuResourcePrefix = "nvidia.com/";
bool is_gpu_resource(std::string_view resource_name);

using ResourceCounts = std::map<std::string, std::int64_t>;

struct NodeRecord {
  policy::NodeView view;  // `used` is left empty: the cache fills it
  std::string uid;
  std::string resource_version;  // for preconditioned writes
};

struct PodRecord {
  policy::PodView view;
  std::string uid;
  std::string resource_version;
  bool terminated = false;     // phase Succeeded or Failed: holds nothing any more
  bool unschedulable = false;  // condition PodScheduled=False with reason Unschedulable
  std::string unschedulable_message;
  // What the pod holds on its node while it runs, nvidia.com/* only: policy::pod_demand, the
  // scheduler's rule (sidecars included), the one the extender and the planner read too.
  ResourceCounts gpu_requests;

  std::string key() const { return view.namespace_name + "/" + view.name; }
};

Result<NodeRecord> decode_node(const nlohmann::json& node);
Result<PodRecord> decode_pod(const nlohmann::json& pod);

}  // namespace gpushare::kube
