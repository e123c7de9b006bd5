// Builders for planner tests: nodes with the GFD labels that decide, pods as admitted, and
// checks every plan must pass. Shared by planner_test.cpp and planner_demand_test.cpp.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "policy/catalog.h"
#include "policy/layout.h"
#include "policy/planner.h"

namespace gpushare::policy::testing {

inline const Catalog& catalog() { return Catalog::builtin(); }

inline constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;

// ---- Builders: the GFD labels that decide (fixtures/extender/nodes/ has full objects).

inline NodeView gpu_node(const std::string& name, const std::string& product, int gpus,
                         std::int64_t memory_mib, int compute_major = 9, int compute_minor = 0) {
  NodeView n;
  n.name = name;
  n.labels = {{"nvidia.com/gpu.product", product},
              {"nvidia.com/gpu.count", std::to_string(gpus)},
              {"nvidia.com/gpu.memory", std::to_string(memory_mib)},
              {"nvidia.com/gpu.compute.major", std::to_string(compute_major)},
              {"nvidia.com/gpu.compute.minor", std::to_string(compute_minor)},
              {"nvidia.com/gpu.present", "true"},
              {"nvidia.com/gpu.replicas", "1"},
              {"nvidia.com/gpu.sharing-strategy", "none"},
              {"nvidia.com/mps.capable", "false"}};
  n.allocatable = {{"nvidia.com/gpu", gpus}};
  return n;
}

// MIG-capable, mixed strategy, MIG off (mig.config=all-disabled), as the operator leaves it.
inline NodeView mig_node(const std::string& name, const std::string& product, int gpus = 1,
                         std::int64_t memory_mib = 97871) {
  NodeView n = gpu_node(name, product, gpus, memory_mib);
  n.labels["nvidia.com/mig.capable"] = "true";
  n.labels["nvidia.com/mig.strategy"] = "mixed";
  n.labels["nvidia.com/mig.config"] = "all-disabled";
  n.labels["nvidia.com/mig.config.state"] = "success";
  return n;
}

inline NodeView h20(const std::string& name = "gpu-h20", int gpus = 1) {
  return mig_node(name, "NVIDIA-H20", gpus, 97871);
}
inline NodeView h100(const std::string& name = "gpu-h100", int gpus = 1) {
  return mig_node(name, "NVIDIA-H100-80GB-HBM3", gpus, 81559);
}

// An RTX 4090, not shared yet.
inline NodeView idle_rtx4090(const std::string& name = "gpu-4090") {
  NodeView n = gpu_node(name, "NVIDIA-GeForce-RTX-4090", 1, 24564, 8, 9);
  n.labels["nvidia.com/mig.capable"] = "false";
  return n;
}

// An RTX 4090 already MPS-shared with 4 replicas (fixtures/extender/nodes/rtx4090-mps.json).
inline NodeView rtx4090(const std::string& name = "gpu-4090") {
  NodeView n = gpu_node(name, "NVIDIA-GeForce-RTX-4090", 1, 24564, 8, 9);
  n.labels["nvidia.com/gpu.replicas"] = "4";
  n.labels["nvidia.com/gpu.sharing-strategy"] = "mps";
  n.labels["nvidia.com/mps.capable"] = "true";
  n.labels["nvidia.com/device-plugin.config"] = "mps-4";
  n.labels["nvidia.com/mig.capable"] = "false";
  n.allocatable = {{"nvidia.com/gpu", 0}, {"nvidia.com/gpu.shared", 4}};
  return n;
}

inline PodView pod(const std::string& name, const std::string& resource, int count = 1,
                   StringMap annotations = {}, std::int32_t priority = 0) {
  PodView p;
  p.namespace_name = "ml";
  p.name = name;
  p.annotations = std::move(annotations);
  p.priority = priority;
  p.phase = "Pending";
  ContainerView c;
  c.name = "main";
  c.limits[resource] = std::to_string(count);
  c.requests[resource] = std::to_string(count);
  p.containers.push_back(c);
  return p;
}

inline PodView mig_pod(const std::string& name, const std::string& profile, int count = 1,
                       std::int32_t priority = 0) {
  return pod(name, mig_resource_for_profile(profile), count, {}, priority);
}

inline PodView mps_pod(const std::string& name, const std::string& memory = "",
                       const std::string& compute = "") {
  StringMap a = {{"gpushare.io/mode", "mps"}};
  if (!memory.empty()) a["gpushare.io/gpu-memory"] = memory;
  if (!compute.empty()) a["gpushare.io/gpu-compute"] = compute;
  return pod(name, "nvidia.com/gpu.shared", 1, a);
}

inline PodView running(PodView p, const std::string& node) {
  p.node_name = node;
  p.phase = "Running";
  return p;
}

inline PlanInput input(std::vector<NodeView> nodes, std::vector<PodView> pending,
                       std::vector<PodView> bound = {}) {
  PlanInput in;
  // `used` as the node cache sums it from the bound pods.
  for (const auto& p : bound) {
    if (p.terminated()) continue;
    for (auto& n : nodes) {
      if (n.name != p.node_name) continue;
      for (const auto& c : p.containers)
        for (const auto& [r, q] : c.requests) n.used[r] += std::stoll(q);
    }
  }
  in.nodes = std::move(nodes);
  in.pending = std::move(pending);
  in.running = std::move(bound);
  return in;
}

inline std::string reason_for(const Plan& plan, const std::string& pod) {
  for (const auto& u : plan.unplaced)
    if (u.pod == pod) return u.reason;
  return "";
}

// Every GPU of the node exactly once, ascending within an entry; each entry's layout placeable.
inline void expect_valid_mig_config(const PlanAction& a, const GpuModel& model, int gpus) {
  std::vector<int> seen;
  for (const auto& e : a.mig_config) {
    EXPECT_TRUE(std::is_sorted(e.devices.begin(), e.devices.end()));
    seen.insert(seen.end(), e.devices.begin(), e.devices.end());
    EXPECT_TRUE(e.mig_enabled);
    auto placed = find_placement(model, e.mig_devices);
    EXPECT_TRUE(placed) << model.model << ": " << describe(e.mig_devices) << ": " << placed.error();
  }
  std::sort(seen.begin(), seen.end());
  std::vector<int> all(static_cast<std::size_t>(gpus));
  for (int g = 0; g < gpus; ++g) all[static_cast<std::size_t>(g)] = g;
  EXPECT_EQ(seen, all);
}

inline int total(const PlanAction& a, const std::string& profile) {
  int n = 0;
  for (const auto& e : a.mig_config) {
    auto it = e.mig_devices.find(profile);
    if (it != e.mig_devices.end()) n += it->second * static_cast<int>(e.devices.size());
  }
  return n;
}

}  // namespace gpushare::policy::testing
