// MPS sizing for the planner: how many replicas per GPU a node gets (nvidia.md 1.2 and 1.4).
//
// The MPS daemon gives each replica (gpu.memory MiB / R) MiB of memory, an integer, and 100 / R
// percent of the SMs, an integer; R is at least 2 and at most 48 (16 below compute capability
// 7.5); the node offers gpus x R of nvidia.com/gpu.shared. fit_node checks pods against the
// same integer shares, so a plan never promises what the extender would then refuse.
//
// R for a batch of pods:
//  - when some pod states gpu-memory or gpu-compute: the LARGEST R whose share still meets the
//    most demanding stated need (as many replicas as the need allows: capacity for the pods
//    that follow, without a restart of the MPS daemon, which breaks running clients);
//  - when none does: the fewest replicas that hold the batch, max(2, ceil(pods / gpus)), so
//    pods that said nothing get the biggest share;
//  - either way gpus x R must hold every replica the batch asks for, else the batch does not fit.
#pragma once

#include <cstdint>
#include <optional>

namespace gpushare::policy {

struct MpsBatch {
  std::int64_t memory_bytes = 0;  // the largest stated gpu-memory (0: none stated)
  int compute_percent = 0;        // the largest stated gpu-compute (0: none stated)
  std::int64_t replicas = 0;      // nvidia.com/gpu.shared the batch asks for in all
};

// Bytes of GPU memory one replica gets: (gpu_mib / replicas) MiB.
std::int64_t mps_share_bytes(std::int64_t gpu_mib, int replicas);

// Replicas per GPU for the batch (rules above), or nullopt when no R in [2, max_replicas] fits.
std::optional<int> mps_replicas_for(std::int64_t gpu_mib, int gpus, int max_replicas,
                                    const MpsBatch& batch);

}  // namespace gpushare::policy
