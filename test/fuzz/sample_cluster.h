// A small fixed cluster for the fuzz targets that judge a pod against nodes: one H100 in mixed
// MIG, one H20 in MIG, one RTX 4090 shared with MPS (test/fixtures/extender/nodes, trimmed to
// what policy reads). Built in code so a target needs no files at run time.
#pragma once

#include <string>
#include <vector>

#include "policy/views.h"

namespace gpushare::fuzz {

inline policy::NodeView mig_node(std::string name, std::string product, std::string mig_config,
                                 std::vector<std::pair<std::string, int>> profiles) {
  policy::NodeView n;
  n.name = std::move(name);
  n.labels = {{"kubernetes.io/hostname", n.name},
              {"nvidia.com/gpu.present", "true"},
              {"nvidia.com/gpu.count", "1"},
              {"nvidia.com/gpu.replicas", "0"},
              {"nvidia.com/gpu.product", std::move(product)},
              {"nvidia.com/gpu.sharing-strategy", "none"},
              {"nvidia.com/mig.capable", "true"},
              {"nvidia.com/mig.config", std::move(mig_config)},
              {"nvidia.com/mig.config.state", "success"},
              {"nvidia.com/mig.strategy", "mixed"},
              {"nvidia.com/device-plugin.config", "mig-mixed"}};
  n.allocatable["nvidia.com/gpu"] = 0;
  for (const auto& [profile, count] : profiles) {
    n.labels["nvidia.com/mig-" + profile + ".count"] = std::to_string(count);
    n.allocatable["nvidia.com/mig-" + profile] = count;
  }
  return n;
}

// Sorted by name, as policy::ClusterView requires.
inline std::vector<policy::NodeView> sample_nodes() {
  policy::NodeView h100 = mig_node("gpu-h100-mixed", "NVIDIA-H100-80GB-HBM3", "all-balanced",
                                   {{"1g.10gb", 2}, {"2g.20gb", 1}, {"3g.40gb", 1}});
  h100.used["nvidia.com/mig-1g.10gb"] = 1;

  policy::NodeView h20 = mig_node("gpu-h20", "NVIDIA-H20", "gpushare-h20-2x1g12-1g24-3g48",
                                  {{"1g.12gb", 2}, {"1g.24gb", 1}, {"3g.48gb", 1}});

  policy::NodeView rtx;
  rtx.name = "gpu-4090";
  rtx.labels = {{"kubernetes.io/hostname", "gpu-4090"},
                {"nvidia.com/gpu.present", "true"},
                {"nvidia.com/gpu.count", "1"},
                {"nvidia.com/gpu.replicas", "4"},
                {"nvidia.com/gpu.product", "NVIDIA-GeForce-RTX-4090"},
                {"nvidia.com/gpu.memory", "24564"},
                {"nvidia.com/gpu.sharing-strategy", "mps"},
                {"nvidia.com/mig.capable", "false"},
                {"nvidia.com/mps.capable", "true"},
                {"nvidia.com/device-plugin.config", "mps-4"}};
  rtx.allocatable = {{"nvidia.com/gpu", 0}, {"nvidia.com/gpu.shared", 4}};
  rtx.used = {{"nvidia.com/gpu.shared", 1}};
  rtx.taints = {{"dedicated", "inference", "NoSchedule"}};

  return {std::move(rtx), std::move(h100), std::move(h20)};
}

}  // namespace gpushare::fuzz
