// What the controller hands the planner, and how it gets actions back: a function, so that
// the controller does not depend on the planner's types and tests can script plans.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kube/decode.h"
#include "policy/plan_demand.h"
#include "policy/planner.h"
#include "policy/views.h"
#include "repartition/action.h"
#include "repartition/ports.h"

namespace gpushare::repartition {

struct PlanInput {
  // Nodes the planner may use: marked (in progress) and backed-off nodes are left out.
  policy::ClusterView cluster;
  std::vector<kube::PodRecord> running;  // pods bound to those nodes
  std::vector<kube::PodRecord>
      pending;                // unschedulable, asking for managed resources, not yet served
  ConfigNames config_names;   // entries already in the operator's ConfigMaps
  policy::Arrivals arrivals;  // ClusterReader's
};

using PlanFn = std::function<std::vector<Action>(const PlanInput&)>;

}  // namespace gpushare::repartition

namespace gpushare::repartition {

// policy's plan types <-> the controller's (pure, for tests).
policy::PlanInput to_policy_input(const PlanInput& input, const policy::PlanSettings& settings);
Action to_action(const policy::PlanAction& action);

// policy::plan behind PlanFn. Actions keep their `disrupts` (only with allowDisruption: the
// controller evicts those pods first), and pods the plan leaves unplaced are logged with its
// reason.
// `catalog` must outlive the function.
PlanFn policy_planner(const policy::Catalog& catalog, policy::PlanSettings settings);

}  // namespace gpushare::repartition
