#include "codec/plan_json.h"

#include <string>

namespace gpushare::codec {

using nlohmann::ordered_json;

ordered_json plan_json(const policy::Plan& plan) {
  ordered_json actions = ordered_json::array();
  for (const auto& a : plan.actions) {
    ordered_json action;
    action["node"] = a.node;
    action["kind"] = std::string(policy::to_string(a.kind));
    action["configName"] = a.config_name;
    if (a.kind == policy::ActionKind::kMig) {
      action["migConfig"] = mig_config_json<ordered_json>(a.mig_config);
    } else {
      action["devicePluginConfig"] =
          device_plugin_config_json<ordered_json>(a.device_plugin_config);
    }
    ordered_json labels = ordered_json::object();
    for (const auto& [key, value] : a.labels) labels[key] = value;
    action["labels"] = std::move(labels);
    action["serves"] = a.serves;
    ordered_json steps = ordered_json::array();
    for (const auto& s : a.steps) {
      ordered_json step;
      step["label"] = s.label;
      step["value"] = s.value;
      step["waitFor"] = s.wait_for;
      steps.push_back(std::move(step));
    }
    action["steps"] = std::move(steps);
    if (!a.disrupts.empty()) action["disrupts"] = a.disrupts;
    if (!a.why.empty()) action["why"] = a.why;
    actions.push_back(std::move(action));
  }
  ordered_json unplaced = ordered_json::array();
  for (const auto& u : plan.unplaced) {
    ordered_json entry;
    entry["pod"] = u.pod;
    entry["reason"] = u.reason;
    unplaced.push_back(std::move(entry));
  }
  ordered_json out;
  out["actions"] = std::move(actions);
  out["unplaced"] = std::move(unplaced);
  return out;
}

}  // namespace gpushare::codec
