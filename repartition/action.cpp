#include "repartition/action.h"

#include <charconv>

namespace gpushare::repartition {
namespace {

std::int64_t gpu_count(const StringMap& labels) {
  auto it = labels.find(kGpuCountLabel);
  if (it == labels.end()) return 0;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
  return ec == std::errc() && end == it->second.data() + it->second.size() ? n : 0;
}

// The device plugin names a MIG resource after the profile with '+' written as '.'.
std::string mig_resource(std::string profile) {
  for (char& c : profile) {
    if (c == '+') c = '.';
  }
  return "nvidia.com/mig-" + profile;
}

Counts expected_mig(const Action& action, const StringMap& labels) {
  Counts out;
  if (!action.mig_config.is_array()) return {};
  for (const auto& entry : action.mig_config) {
    if (!entry.is_object()) return {};
    const nlohmann::json devices = entry.value("devices", nlohmann::json());
    std::int64_t gpus = devices.is_array() ? static_cast<std::int64_t>(devices.size())
                                           : (devices == "all" ? gpu_count(labels) : 0);
    if (gpus == 0) return {};  // "all" on a node without gpu.count: cannot tell
    if (!entry.value("mig-enabled", false)) continue;
    const nlohmann::json counts = entry.value("mig-devices", nlohmann::json::object());
    if (!counts.is_object()) return {};
    for (const auto& [profile, count] : counts.items()) {
      if (count.is_number_integer() && count.get<std::int64_t>() > 0) {
        out[mig_resource(profile)] += gpus * count.get<std::int64_t>();
      }
    }
  }
  return out;
}

Counts expected_mps(const Action& action, const StringMap& labels) {
  // value() throws on non-objects: malformed configs mean "cannot tell", not a crash.
  if (!action.device_plugin_config.is_object()) return {};
  const nlohmann::json sharing =
      action.device_plugin_config.value("sharing", nlohmann::json::object());
  if (!sharing.is_object()) return {};
  const nlohmann::json mps = sharing.value("mps", nlohmann::json::object());
  if (!mps.is_object()) return {};
  std::int64_t gpus = gpu_count(labels);
  if (gpus == 0) return {};
  bool rename = mps.value("renameByDefault", false);
  Counts out;
  const nlohmann::json resources = mps.value("resources", nlohmann::json::array());
  for (const auto& r : resources) {
    if (!r.is_object()) continue;
    std::string name = r.value("name", "");
    std::int64_t replicas = r.value("replicas", std::int64_t{0});
    if (name.empty() || replicas <= 0) continue;
    out[rename ? name + ".shared" : name] = gpus * replicas;
  }
  return out;
}

}  // namespace

Counts expected_allocatable(const Action& action, const StringMap& node_labels) {
  try {
    return action.kind == kKindMig ? expected_mig(action, node_labels)
                                   : expected_mps(action, node_labels);
  } catch (const nlohmann::json::exception&) {
    return {};  // a field of another type than the schema's: wait for the labels only
  }
}

}  // namespace gpushare::repartition
