// Where kube-scheduler may put a pod, as far as the node's labels, name and taints decide: the
// predicates of its NodeAffinity (spec.nodeSelector and required node affinity) and
// TaintToleration (NoSchedule and NoExecute taints) plugins. The planner uses them so that it
// never changes a node that the pod it serves could not be scheduled on.
#pragma once

#include <string>
#include <vector>

#include "policy/views.h"

namespace gpushare::policy {

// k8s.io/api/core/v1 Toleration.ToleratesTaint.
bool tolerates(const Toleration& toleration, const Taint& taint);

// A NoSchedule or NoExecute taint none of the tolerations matches (nullptr when none).
const Taint* untolerated_taint(const std::vector<Toleration>& tolerations,
                               const std::vector<Taint>& taints);

// One term: every requirement holds. A term with no requirement matches no node.
bool term_matches(const NodeSelectorTerm& term, const NodeView& node);

// Every one of the above holds for the pod on the node: spec.nodeSelector, a required node
// affinity term, and no NoSchedule/NoExecute taint it does not tolerate. The planner asks it
// once per (node, pending pod) and says in its reasons which of these narrowed a pod.
bool may_schedule_on(const PodView& pod, const NodeView& node);

}  // namespace gpushare::policy
