#include "policy/plan_mps.h"

#include <algorithm>

namespace gpushare::policy {
namespace {
constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;
constexpr int kMinReplicas = 2;
}  // namespace

std::int64_t mps_share_bytes(std::int64_t gpu_mib, int replicas) {
  return replicas > 0 ? (gpu_mib / replicas) * kMiB : 0;
}

std::optional<int> mps_replicas_for(std::int64_t gpu_mib, int gpus, int max_replicas,
                                    const MpsBatch& batch) {
  if (gpus <= 0 || gpu_mib <= 0 || max_replicas < kMinReplicas) return std::nullopt;
  int replicas = 0;
  if (batch.memory_bytes > 0 || batch.compute_percent > 0) {
    for (int r = max_replicas; r >= kMinReplicas; --r) {
      if (mps_share_bytes(gpu_mib, r) >= batch.memory_bytes && 100 / r >= batch.compute_percent) {
        replicas = r;
        break;
      }
    }
    if (replicas == 0) return std::nullopt;
  } else {
    const std::int64_t per_gpu = (batch.replicas + gpus - 1) / gpus;
    if (per_gpu > max_replicas) return std::nullopt;
    replicas = std::max<int>(kMinReplicas, static_cast<int>(per_gpu));
  }
  if (static_cast<std::int64_t>(gpus) * replicas < batch.replicas) return std::nullopt;
  return replicas;
}

}  // namespace gpushare::policy
