#include "repartition/planning.h"

#include "logging/log.h"

namespace gpushare::repartition {

policy::PlanInput to_policy_input(const PlanInput& input, const policy::PlanSettings& settings) {
  policy::PlanInput out;
  out.nodes = input.cluster.nodes;
  for (const auto& pod : input.running) out.running.push_back(pod.view);
  for (const auto& pod : input.pending) out.pending.push_back(pod.view);
  out.mig_config_names = input.config_names.mig_parted;
  out.device_plugin_config_names = input.config_names.device_plugin;
  out.mig_configs = input.config_names.mig_configs;
  policy::set_arrivals(out, input.arrivals);
  out.settings = settings;
  return out;
}

Action to_action(const policy::PlanAction& action) {
  Action out;
  out.node = action.node;
  out.kind = action.kind;
  out.config_name = action.config_name;
  out.mig_config = action.mig_config;
  out.device_plugin_config = action.device_plugin_config;
  for (const auto& [k, v] : action.labels) out.labels[k] = v;
  out.serves = action.serves;
  out.disrupts = action.disrupts;
  return out;
}

PlanFn policy_planner(const policy::Catalog& catalog, policy::PlanSettings settings) {
  return [&catalog, settings](const PlanInput& input) {
    policy::Plan plan = policy::plan(to_policy_input(input, settings), catalog);
    std::vector<Action> actions;
    // An action with `disrupts` comes only with allowDisruption: the controller evicts those
    // pods before any label moves (the MIG manager itself evicts nobody, nvidia.md 5.3).
    for (const auto& action : plan.actions) actions.push_back(to_action(action));
    for (const auto& u : plan.unplaced) {
      logging::debug("repartition: pod stays pending", {{"pod", u.pod}, {"reason", u.reason}});
    }
    return actions;
  };
}

}  // namespace gpushare::repartition
