// Share intent: the pod's gpushare.io/ annotations (CONTRACT.md section 3), validated.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "policy/views.h"

namespace gpushare::policy {

enum class ShareMode { kMps, kMig, kAuto };
enum class PlacementPolicy { kBinpack, kSpread };

std::string_view to_string(ShareMode mode);
std::string_view to_string(PlacementPolicy policy);

// Annotation keys, without the prefix.
inline constexpr std::string_view kModeKey = "mode";
inline constexpr std::string_view kMigProfileKey = "mig-profile";
inline constexpr std::string_view kGpuMemoryKey = "gpu-memory";
inline constexpr std::string_view kGpuComputeKey = "gpu-compute";
inline constexpr std::string_view kGpuProductKey = "gpu-product";
inline constexpr std::string_view kPlacementKey = "placement";
// Written by the webhook (rule 7); accepted on input so that a re-created or re-admitted
// pod is not denied for carrying it.
inline constexpr std::string_view kAssignedResourceKey = "assigned-resource";

struct Intent {
  bool present = false;  // some annotation under the prefix (other than assigned-resource)
  ShareMode mode = ShareMode::kAuto;
  bool mode_given = false;
  std::optional<std::string> mig_profile;
  std::optional<std::int64_t> gpu_memory_bytes;  // rounded up to whole bytes
  std::optional<std::string> gpu_memory_text;    // as written, for messages
  std::optional<int> gpu_compute_percent;        // 1..100
  std::vector<std::string> gpu_products;         // exact nvidia.com/gpu.product values
  std::optional<PlacementPolicy> placement;
};

// Reads every annotation under `prefix`. Errors name the annotation, the value and what is
// allowed; several errors are joined with "; " so a user fixes them all at once.
// Profile names are checked against what `known_profiles` lists (catalog plus what nodes
// publish). It is called only when the pod names a profile: building that list for every
// admission was 11% of /mutate's CPU (BENCHMARKS.md, 2026-12-06).
using ProfileLister = std::function<std::vector<std::string>()>;
Result<Intent> parse_intent(const StringMap& annotations, std::string_view prefix,
                            const ProfileLister& known_profiles);

}  // namespace gpushare::policy
