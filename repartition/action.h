// One node's repartition as the controller carries it out: CONTRACT.md section 5's action,
// decoupled from the planner's own types (planning.cpp converts) so that the step machine
// and its tests do not move when the planner does.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gpushare::repartition {

using StringMap = std::map<std::string, std::string>;
using Counts = std::map<std::string, std::int64_t>;

inline constexpr const char* kKindMig = "mig";
inline constexpr const char* kKindMps = "mps";

// Node labels the protocol reads and writes (shared/reference/nvidia.md sections 1.5, 3, 5, 9).
inline constexpr const char* kMigConfigLabel = "nvidia.com/mig.config";
inline constexpr const char* kMigConfigStateLabel = "nvidia.com/mig.config.state";
inline constexpr const char* kDevicePluginConfigLabel = "nvidia.com/device-plugin.config";
inline constexpr const char* kMpsCapableLabel = "nvidia.com/mps.capable";
inline constexpr const char* kSharingStrategyLabel = "nvidia.com/gpu.sharing-strategy";
inline constexpr const char* kGpuCountLabel = "nvidia.com/gpu.count";

// Node bookkeeping of ours, next to policy::kRepartitionAnnotation (the mark).
inline constexpr const char* kBackoffAnnotation = "gpushare.io/repartition-backoff-until";
inline constexpr const char* kTaintKey = "gpushare.io/repartitioning";

struct Action {
  std::string node;
  std::string kind;  // kKindMig or kKindMps
  std::string config_name;
  nlohmann::json mig_config;            // mig-parted entry list (kind mig)
  nlohmann::json device_plugin_config;  // device plugin config (kind mps)
  StringMap labels;                     // what to set on the node, all at once
  std::vector<std::string> serves;      // "ns/name" of the pods this action is for
  // "ns/name" of running GPU pods to evict first (only with repartition.allowDisruption, and
  // only pods that carry the disruptable annotation).
  std::vector<std::string> disrupts;
};

// What the node's allocatable must show once the change has taken (nvidia.md 5, 9): for MIG
// every nvidia.com/mig-<profile> at its total count over the node's GPUs; for MPS the shared
// resource at GPUs x replicas. `node_labels` gives the GPU count where the config says "all".
// Empty when it cannot be known (then only the labels are waited for).
Counts expected_allocatable(const Action& action, const StringMap& node_labels);

}  // namespace gpushare::repartition
