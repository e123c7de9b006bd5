// How much gpushare would like this pod on this node: an integer 0..10, the extender
// protocol's MinExtenderPriority..MaxExtenderPriority. Pure, same inputs as fit_node.
//
// Bands (every node that fits now outranks every node that does not):
//   0      the node can never serve the pod (fit_node: unresolvable), or the pod asks for no
//          gpushare-managed resource (neutral: gpushare has no opinion);
//   1      the node could serve it after waiting or repartitioning (fit_node: resolvable), so
//          a node where the exact profile already exists always scores above it;
//   2..10  the node fits now, ranked by the policy below.
//
// For a managed resource r the pod asks c of, with A = allocatable(r), U = used(r), and
// "busy" = the node already holds some nvidia.com/* device for another pod (used > 0):
//   binpack (default): fill nodes that already share, keep empty nodes and whole GPUs free.
//     busy:  6 + floor(4 * (U + c) / A)      -> 6..10, fuller after placement scores higher
//     idle:  2 + floor(3 * (U + c) / A)      -> 2..5, the tightest fit scores higher
//   spread: the mirror image, empty nodes first, then the node with most of r still free.
//     idle:  6 + floor(4 * (A - U) / A)      -> 10 (an idle node has all of r free)
//     busy:  2 + floor(3 * (A - U) / A)      -> 2..5
// A pod asking for several managed resources gets the floor of their mean.
// In payload mode (no node cache) `used` is unknown and taken as 0: every node is idle, so
// binpack prefers the node whose offer the pod fills most tightly.
#pragma once

#include "policy/catalog.h"
#include "policy/intent.h"
#include "policy/pod_demand.h"
#include "policy/views.h"

namespace gpushare::policy {

inline constexpr int kMinScore = 0;
inline constexpr int kMaxScore = 10;

int score_node(const PodDemand& demand, const Intent& intent, const NodeView& node,
               PlacementPolicy policy, const Catalog& catalog);

}  // namespace gpushare::policy
