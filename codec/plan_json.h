// The repartition plan as JSON, each shape rendered once: a mig-parted entry list, a device
// plugin config, and the whole plan of CONTRACT.md section 5. `gpushare plan` prints it, the
// controller writes the first two into the GPU Operator's ConfigMaps. Keys in the contract's
// order with ordered_json, sorted with json (YAML readers do not care).
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "policy/planner.h"

namespace gpushare::codec {

// [{"devices": [0, 1], "mig-enabled": true, "mig-devices": {"1g.12gb": 2}}, ...]; mig-devices
// is left out when MIG is off (mig-parted refuses it there, nvidia.md 4.1).
template <typename Json>
Json mig_config_json(const std::vector<policy::MigConfigEntry>& entries) {
  Json out = Json::array();
  for (const auto& e : entries) {
    Json entry = Json::object();
    entry["devices"] = e.devices;
    entry["mig-enabled"] = e.mig_enabled;
    if (e.mig_enabled) {
      Json devices = Json::object();
      for (const auto& [profile, n] : e.mig_devices) devices[profile] = n;
      entry["mig-devices"] = std::move(devices);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

// {"version": "v1", "sharing": {"mps": {"renameByDefault": true, "resources": [...]}}}
template <typename Json>
Json device_plugin_config_json(const policy::DevicePluginConfig& config) {
  Json resources = Json::array();
  for (const auto& r : config.resources) {
    Json resource = Json::object();
    resource["name"] = r.name;
    resource["replicas"] = r.replicas;
    resources.push_back(std::move(resource));
  }
  Json mps = Json::object();
  mps["renameByDefault"] = config.rename_by_default;
  mps["resources"] = std::move(resources);
  Json out = Json::object();
  out["version"] = config.version;
  out["sharing"]["mps"] = std::move(mps);
  return out;
}

// CONTRACT.md section 5, keys in its order; steps, disrupts and why follow (planner.h).
nlohmann::ordered_json plan_json(const policy::Plan& plan);

}  // namespace gpushare::codec
