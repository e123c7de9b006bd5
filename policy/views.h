// Plain views of Kubernetes objects: only the fields gpushare decides on. The edges
// (webhook/, extender/, kube/) fill them from JSON; policy/ never sees JSON.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gpushare::policy {

using StringMap = std::map<std::string, std::string>;

struct ContainerView {
  std::string name;
  bool init = false;          // from spec.initContainers
  std::size_t index = 0;      // position in spec.containers or spec.initContainers
  StringMap limits;           // resource name -> quantity text, exactly as received
  StringMap requests;
};

struct PodView {
  std::string namespace_name;
  std::string name;           // may be empty at CREATE with generateName
  std::string generate_name;
  StringMap annotations;
  StringMap labels;
  std::vector<ContainerView> containers;  // init containers first, then containers
  std::string node_name;      // spec.nodeName (empty while pending)
  StringMap node_selector;    // spec.nodeSelector: only nodes with all these labels
  // (affinity and tolerations are not modelled: the planner may then pick a node the
  // scheduler will not use, and the pod waits; README "Repartitioning" says so.)
  std::string phase;          // status.phase
  std::int32_t priority = 0;  // spec.priority

  // "ns/name" (or "ns/<generateName>*" before a name exists), for messages and logs.
  std::string display_name() const;
};

struct NodeView {
  std::string name;
  StringMap labels;
  StringMap annotations;
  std::map<std::string, std::int64_t> allocatable;  // whole units, nvidia.com/* resources only
  std::map<std::string, std::int64_t> used;         // held by non-terminated pods bound here
  bool unschedulable = false;                       // spec.unschedulable

  std::string label(const std::string& key) const {
    auto it = labels.find(key);
    return it == labels.end() ? std::string() : it->second;
  }
  std::int64_t free(const std::string& resource) const;
};

// What the policy may know of the cluster. Empty when there is no cluster (offline
// commands without --nodes): rules then fall back to the catalog.
struct ClusterView {
  std::vector<NodeView> nodes;  // sorted by name (find relies on it)

  // The node of this name, or nullptr (binary search).
  const NodeView* find(std::string_view name) const;
};

}  // namespace gpushare::policy
