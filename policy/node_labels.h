// The node labels gpushare reads and writes, each key written once: GPU Feature Discovery's and
// the GPU Operator's (shared/reference/nvidia.md sections 1.5, 3, 5, 9). Every folder takes its
// keys from here.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace gpushare::policy {

// GFD and GPU Operator node labels (shared/reference/nvidia.md section 3).
namespace gfd {
inline constexpr std::string_view kProduct = "nvidia.com/gpu.product";
inline constexpr std::string_view kCount = "nvidia.com/gpu.count";
inline constexpr std::string_view kReplicas = "nvidia.com/gpu.replicas";
inline constexpr std::string_view kSharingStrategy = "nvidia.com/gpu.sharing-strategy";
inline constexpr std::string_view kMemoryMiB = "nvidia.com/gpu.memory";
inline constexpr std::string_view kMpsCapable = "nvidia.com/mps.capable";
inline constexpr std::string_view kMigCapable = "nvidia.com/mig.capable";
inline constexpr std::string_view kMigStrategy = "nvidia.com/mig.strategy";
inline constexpr std::string_view kMigConfig = "nvidia.com/mig.config";
inline constexpr std::string_view kMigConfigState = "nvidia.com/mig.config.state";
inline constexpr std::string_view kGpuPresent = "nvidia.com/gpu.present";
// Set by gpushare (and by operators) to pick the device plugin's named config (nvidia.md 1.5).
inline constexpr std::string_view kDevicePluginConfig = "nvidia.com/device-plugin.config";

// The fixed-name labels fit_node reads (policy::fit_reads_label adds the mig-<profile>.count
// family), for every node of every extender call: a node's NodeLabels reaches these without a
// map lookup (policy/node_label_map.h).
inline constexpr std::array<std::string_view, 10> kIndexed = {
    kProduct,    kCount,      kReplicas,    kSharingStrategy, kMemoryMiB,
    kMpsCapable, kMigCapable, kMigStrategy, kMigConfigState,  kGpuPresent};

// The position of `key` in kIndexed, or kIndexed.size(). Inline and constexpr so that a call with
// one of the constants above folds to a number.
constexpr std::size_t indexed_slot(std::string_view key) {
  for (std::size_t i = 0; i < kIndexed.size(); ++i)
    if (kIndexed[i] == key) return i;
  return kIndexed.size();
}
}  // namespace gfd

}  // namespace gpushare::policy
