// One node's repartition as the controller carries it out: CONTRACT.md section 5's action with
// the planner's own types for the layouts (the JSON written into the ConfigMaps is rendered at
// the API edge, codec/plan_json.h), and the labels as the step machine reads them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "policy/node_labels.h"
#include "policy/planner.h"

namespace gpushare::repartition {

using StringMap = policy::StringMap;
using Counts = std::map<std::string, std::int64_t>;

// A mark's kind (mark.h), as policy::to_string(ActionKind) writes it.
inline constexpr const char* kKindMig = "mig";
inline constexpr const char* kKindMps = "mps";

// Node labels the protocol reads and writes, as std::string for the controller's maps; the keys
// themselves are policy/node_labels.h's.
inline const std::string kMigConfigLabel{policy::gfd::kMigConfig};
inline const std::string kMigConfigStateLabel{policy::gfd::kMigConfigState};
inline const std::string kDevicePluginConfigLabel{policy::gfd::kDevicePluginConfig};
inline const std::string kMpsCapableLabel{policy::gfd::kMpsCapable};
inline const std::string kSharingStrategyLabel{policy::gfd::kSharingStrategy};
inline const std::string kGpuCountLabel{policy::gfd::kCount};

// Node bookkeeping of ours, next to policy::kRepartitionAnnotation (the mark).
inline constexpr const char* kBackoffAnnotation = "gpushare.io/repartition-backoff-until";
inline constexpr const char* kTaintKey = "gpushare.io/repartitioning";

struct Action {
  std::string node;
  policy::ActionKind kind = policy::ActionKind::kMig;
  std::string config_name;
  std::vector<policy::MigConfigEntry> mig_config;   // kMig: every GPU exactly once
  policy::DevicePluginConfig device_plugin_config;  // kMps
  StringMap labels;                                 // what to set on the node, all at once
  std::vector<std::string> serves;                  // "ns/name" of the pods this action is for
  // "ns/name" of running GPU pods to evict first (only with repartition.allowDisruption, and
  // only pods that carry the disruptable annotation).
  std::vector<std::string> disrupts;
};

// What the node's allocatable must show once the change has taken (nvidia.md 5, 9): for MIG
// every nvidia.com/mig-<profile> at its total count over the listed GPUs; for MPS the shared
// resource at GPUs x replicas, the GPU count from `node_labels`. Empty when it cannot be known
// (MPS on a node without nvidia.com/gpu.count: then only the labels are waited for).
Counts expected_allocatable(const Action& action, const StringMap& node_labels);

}  // namespace gpushare::repartition
