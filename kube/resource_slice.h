// ResourceSlice JSON (resource.k8s.io/v1) from the watch -> what the cache keeps of it: which node
// it publishes for and what GPUs NVIDIA's DRA driver says are there (policy::DraGpus). Slices of
// other drivers, and slices not bound to one node (allNodes, nodeSelector, per-device node
// selection), tell gpushare nothing about a node's GPUs and decode to nullopt.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "policy/views.h"

namespace gpushare::kube {

struct ResourceSliceRecord {
  std::string name;
  std::string node_name;
  std::string resource_version;
  policy::DraGpus gpus;  // this slice's devices only; a node's view merges its slices
};

// Errors only for a slice that cannot be read (no metadata.name); a slice of no interest is
// nullopt.
Result<std::optional<ResourceSliceRecord>> decode_resource_slice(const nlohmann::json& slice);

// The node's GPUs over all of its slices: products and profiles united, devices added.
policy::DraGpus merge_dra_gpus(const std::vector<const policy::DraGpus*>& parts);

}  // namespace gpushare::kube
