#include "kube/decode.h"

#include "codec/json.h"
#include "codec/scheduling.h"
#include "policy/pod_demand.h"

namespace gpushare::kube {

using codec::member;
using codec::string_member;
namespace {

using policy::StringMap;

StringMap string_map(const nlohmann::json& object) {
  StringMap out;
  if (!object.is_object()) return out;
  for (const auto& [key, value] : object.items()) {
    if (value.is_string()) out.emplace(key, value.get<std::string>());
  }
  return out;
}

// Quantities are strings on the wire; a number (hand-written JSON) is kept as its text.
StringMap quantity_map(const nlohmann::json& object) {
  StringMap out;
  if (!object.is_object()) return out;
  for (const auto& [key, value] : object.items()) {
    if (value.is_string()) {
      out.emplace(key, value.get<std::string>());
    } else if (value.is_number()) {
      out.emplace(key, value.dump());
    }
  }
  return out;
}

}  // namespace

bool is_gpu_resource(std::string_view resource_name) {
  return resource_name.substr(0, kGpuResourcePrefix.size()) == kGpuResourcePrefix;
}

Result<NodeRecord> decode_node(const nlohmann::json& node) {
  const nlohmann::json& metadata = member(node, "metadata");
  NodeRecord out;
  out.view.name = string_member(metadata, "name");
  if (out.view.name.empty()) return Error{"node: metadata.name missing"};
  out.uid = string_member(metadata, "uid");
  out.resource_version = string_member(metadata, "resourceVersion");
  out.view.labels = string_map(member(metadata, "labels"));
  out.view.annotations = string_map(member(metadata, "annotations"));
  const nlohmann::json& unschedulable = member(member(node, "spec"), "unschedulable");
  out.view.unschedulable = unschedulable.is_boolean() && unschedulable.get<bool>();
  out.view.taints = codec::decode_taints(member(node, "spec"));
  for (const auto& [name, text] : quantity_map(member(member(node, "status"), "allocatable"))) {
    if (!is_gpu_resource(name)) continue;
    auto n = parse_count(text);
    if (!n) {
      return Error{"node " + out.view.name + ": status.allocatable[" + name + "]: \"" + text +
                   "\" is not a whole number"};
    }
    out.view.allocatable[name] = *n;
  }
  return out;
}

Result<PodRecord> decode_pod(const nlohmann::json& pod) {
  const nlohmann::json& metadata = member(pod, "metadata");
  const nlohmann::json& spec = member(pod, "spec");
  const nlohmann::json& status = member(pod, "status");
  PodRecord out;
  policy::PodView& v = out.view;
  v.namespace_name = string_member(metadata, "namespace");
  v.name = string_member(metadata, "name");
  v.generate_name = string_member(metadata, "generateName");
  if (v.name.empty()) return Error{"pod: metadata.name missing"};
  out.uid = string_member(metadata, "uid");
  out.resource_version = string_member(metadata, "resourceVersion");
  v.labels = string_map(member(metadata, "labels"));
  v.annotations = string_map(member(metadata, "annotations"));
  v.node_name = string_member(spec, "nodeName");
  v.node_selector = string_map(member(spec, "nodeSelector"));
  codec::decode_pod_constraints(spec, v);
  v.phase = string_member(status, "phase");
  const nlohmann::json& priority = member(spec, "priority");
  if (priority.is_number_integer()) v.priority = priority.get<std::int32_t>();
  out.terminated = v.phase == "Succeeded" || v.phase == "Failed";

  for (const char* list : {"initContainers", "containers"}) {
    const bool init = std::string_view(list) == "initContainers";
    const nlohmann::json& containers = member(spec, list);
    if (!containers.is_array()) continue;
    for (std::size_t i = 0; i < containers.size(); ++i) {
      const nlohmann::json& c = containers[i];
      const nlohmann::json& resources = member(c, "resources");
      policy::ContainerView view;
      view.name = string_member(c, "name");
      view.init = init;
      view.index = i;
      view.restartable = init && string_member(c, "restartPolicy") == "Always";
      view.limits = quantity_map(member(resources, "limits"));
      view.requests = quantity_map(member(resources, "requests"));
      v.containers.push_back(std::move(view));
    }
  }
  // What the pod holds on its node: policy's rule, the one the extender and the planner read.
  auto demand = policy::pod_demand(v);
  if (!demand) return Error{"pod " + out.key() + ": " + demand.error()};
  out.gpu_requests = std::move(demand->resources);

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
