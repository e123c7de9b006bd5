// Plain views of Kubernetes objects: only the fields gpushare decides on. The edges
// (webhook/, extender/, kube/) fill them from JSON; policy/ never sees JSON.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/node_label_map.h"

namespace gpushare::policy {

struct ContainerView {
  std::string name;
  bool init = false;         // from spec.initContainers
  bool restartable = false;  // an init container with restartPolicy: Always (a sidecar)
  std::size_t index = 0;     // position in spec.containers or spec.initContainers
  StringMap limits;          // resource name -> quantity text, exactly as received
  StringMap requests;
};

// The scheduling constraints between pods and nodes that decide where kube-scheduler may put
// a pod regardless of GPUs (its NodeAffinity and TaintToleration plugins): the planner must
// not change a node the pod could never use.
struct Toleration {
  std::string key;      // empty with kExists: every taint
  bool exists = false;  // operator Exists (value ignored); otherwise Equal
  std::string value;
  std::string effect;  // empty: every effect
};

struct Taint {
  std::string key;
  std::string value;
  std::string effect;  // NoSchedule, PreferNoSchedule, NoExecute
};

struct NodeSelectorRequirement {
  std::string key;  // a label key, or for matchFields "metadata.name"
  std::string op;   // In, NotIn, Exists, DoesNotExist, Gt, Lt
  std::vector<std::string> values;
};

// One term of requiredDuringSchedulingIgnoredDuringExecution: all of its requirements hold.
struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> match_expressions;
  std::vector<NodeSelectorRequirement> match_fields;
};

struct PodView {
  std::string namespace_name;
  std::string name;  // may be empty at CREATE with generateName
  std::string generate_name;
  StringMap annotations;
  StringMap labels;
  std::vector<ContainerView> containers;  // init containers first, then containers
  std::string node_name;                  // spec.nodeName (empty while pending)
  StringMap node_selector;                // spec.nodeSelector: only nodes with all these labels
  // spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms:
  // any one term. nullopt: no such constraint; an empty list (nothing readable) matches no node.
  std::optional<std::vector<NodeSelectorTerm>> required_node_terms;
  std::vector<Toleration> tolerations;
  std::string phase;          // status.phase
  std::int32_t priority = 0;  // spec.priority

  // "ns/name" (or "ns/<generateName>*" before a name exists), for messages and logs.
  std::string display_name() const;
  // Succeeded or Failed: its containers have stopped and hold no GPU.
  bool terminated() const { return phase == "Succeeded" || phase == "Failed"; }
};

// A node's GPUs as Dynamic Resource Allocation publishes them: the ResourceSlices of NVIDIA's
// DRA driver (docs/reference/nvidia-dra-driver.md) that name this node. kube-scheduler allocates
// these devices itself; gpushare only needs to know what kinds there are.
struct DraGpus {
  std::vector<std::string>
      products;  // productName as GFD writes it ("NVIDIA-H100-80GB-HBM3"); sorted
  std::vector<std::string>
      profiles;              // MIG profiles of its devices ("1g.10gb"), static or dynamic; sorted
  std::int64_t devices = 0;  // devices published, whole GPUs and MIG devices

  friend bool operator==(const DraGpus& a, const DraGpus& b) {
    return a.products == b.products && a.profiles == b.profiles && a.devices == b.devices;
  }
};

struct NodeView {
  std::string name;
  NodeLabels labels;  // a map that reaches GFD's labels without a lookup (node_label_map.h)
  StringMap annotations;
  std::map<std::string, std::int64_t> allocatable;  // whole units, nvidia.com/* resources only
  std::map<std::string, std::int64_t> used;         // held by non-terminated pods bound here
  bool unschedulable = false;                       // spec.unschedulable
  std::vector<Taint> taints;                        // spec.taints
  // Set when a DRA driver publishes GPUs on this node (the server's cache, with dra.enabled).
  std::optional<DraGpus> dra;

  // The label's value, or "" when absent.
  const std::string& label(std::string_view key) const {
    static const std::string kAbsent;
    const std::string* value = labels.find_value(key);
    return value == nullptr ? kAbsent : *value;
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
