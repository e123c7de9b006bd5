// The scheduling constraints of Pods and Nodes (tolerations, required node affinity, taints)
// from their JSON, for the planner (policy/node_constraints.h). Shared by codec/objects.cpp
// and the watch cache's decoder (kube/decode.cpp), so that both read them one way.
// Lenient on purpose: kube-apiserver validated these fields, and an entry of a shape we do not
// know is skipped rather than failing the whole object. Skipping errs on the safe side: an
// unreadable toleration tolerates nothing, and a required affinity whose terms are all
// unreadable matches no node, so the planner never picks a node the scheduler would refuse.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "policy/views.h"

namespace gpushare::codec {

// spec.tolerations and spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.
void decode_pod_constraints(const nlohmann::json& spec, policy::PodView& view);

// spec.taints of a Node.
std::vector<policy::Taint> decode_taints(const nlohmann::json& spec);

}  // namespace gpushare::codec
