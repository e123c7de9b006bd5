#include "kube/decode.h"

#include "codec/json.h"
#include "codec/objects.h"
#include "policy/pod_demand.h"

namespace gpushare::kube {

using codec::member;
using codec::string_member;

bool is_gpu_resource(std::string_view resource_name) {
  return resource_name.substr(0, kGpuResourcePrefix.size()) == kGpuResourcePrefix;
}

Result<NodeRecord> decode_node(const nlohmann::json& node) {
  auto view = codec::decode_node(node, "node", codec::DecodeMode::kLenient);
  if (!view) return Error{view.error()};
  NodeRecord out;
  out.view = std::move(view).value();
  const nlohmann::json& metadata = member(node, "metadata");
  out.uid = string_member(metadata, "uid");
  out.resource_version = string_member(metadata, "resourceVersion");
  return out;
}

Result<PodRecord> decode_pod(const nlohmann::json& pod) {
  const nlohmann::json& metadata = member(pod, "metadata");
  const std::string key =
      string_member(metadata, "namespace") + "/" + string_member(metadata, "name");
  auto view = codec::decode_pod(pod, "pod " + key, codec::DecodeMode::kLenient);
  if (!view) return Error{view.error()};
  PodRecord out;
  out.view = std::move(view).value();
  if (out.view.name.empty()) return Error{"pod: metadata.name missing"};
  out.uid = string_member(metadata, "uid");
  out.resource_version = string_member(metadata, "resourceVersion");
  out.terminated = out.view.terminated();
  // What the pod holds on its node: policy's rule, the one the extender and the planner read.
  auto demand = policy::pod_demand(out.view);
  if (!demand) return Error{"pod " + out.key() + ": " + demand.error()};
  out.gpu_requests = std::move(demand->resources);

  const nlohmann::json& status = member(pod, "status");
  const nlohmann::json& conditions = member(status, "conditions");
  if (conditions.is_array()) {
    for (const auto& condition : conditions) {
      if (string_member(condition, "type") == "PodScheduled" &&
          string_member(condition, "status") == "False" &&
          string_member(condition, "reason") == "Unschedulable") {
        out.unschedulable = true;
        out.unschedulable_message = string_member(condition, "message");
      }
    }
  }
  return out;
}

}  // namespace gpushare::kube
