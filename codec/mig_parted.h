// The content of a mig-parted config file's `mig-configs` (nvidia.md 4.1), as JSON (the
// controller and `gpushare plan` turn the ConfigMap's YAML into JSON first), decoded into the
// planner's entries: what a node's nvidia.com/mig.config names, per GPU. Lenient, like the
// cache: a config whose entries cannot all be read is left out (the planner then falls back to
// the node's GFD counts), never an error, since the GPU Operator's file is not gpushare's input
// to judge.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/planner.h"

namespace gpushare::codec {

// `mig_configs`: the object under "mig-configs". An entry with `devices: all` has no devices
// (every GPU, as PlanInput::mig_configs reads it); `device-filter` is not kept (the planner
// keeps only entries whose profiles the node's model has).
std::map<std::string, std::vector<policy::MigConfigEntry>> decode_mig_configs(
    const nlohmann::json& mig_configs);

}  // namespace gpushare::codec
