#include "repartition/action.h"

#include <charconv>

#include "policy/catalog.h"

namespace gpushare::repartition {
namespace {

std::int64_t gpu_count(const StringMap& labels) {
  auto it = labels.find(kGpuCountLabel);
  if (it == labels.end()) return 0;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  return ec == std::errc() && end == it->second.data() + it->second.size() ? n : 0;
}

Counts expected_mig(const Action& action) {
  Counts out;
  for (const auto& entry : action.mig_config) {
    if (!entry.mig_enabled) continue;
    const auto gpus = static_cast<std::int64_t>(entry.devices.size());
    for (const auto& [profile, count] : entry.mig_devices) {
      if (count > 0) out[policy::mig_resource_for_profile(profile)] += gpus * count;
    }
  }
  return out;
}

Counts expected_mps(const Action& action, const StringMap& labels) {
  const std::int64_t gpus = gpu_count(labels);
  if (gpus == 0) return {};
  const policy::DevicePluginConfig& config = action.device_plugin_config;
  Counts out;
  for (const auto& r : config.resources) {
    if (r.name.empty() || r.replicas <= 0) continue;
    out[config.rename_by_default ? r.name + ".shared" : r.name] = gpus * r.replicas;
  }
  return out;
}

}  // namespace

Counts expected_allocatable(const Action& action, const StringMap& node_labels) {
  return action.kind == policy::ActionKind::kMig ? expected_mig(action)
                                                 : expected_mps(action, node_labels);
}

}  // namespace gpushare::repartition
