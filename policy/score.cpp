#include "policy/score.h"

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "policy/dra.h"
#include "policy/fit.h"

namespace gpushare::policy {

namespace {

constexpr std::string_view kNvidiaPrefix = "nvidia.com/";

// Any GPU device held, whole or shared: such a node is no longer one binpack keeps empty.
bool node_is_busy(const NodeView& node) {
  return std::any_of(node.used.begin(), node.used.end(), [](const auto& kv) {
    return kv.second > 0 &&
           std::string_view(kv.first).substr(0, kNvidiaPrefix.size()) == kNvidiaPrefix;
  });
}

// One resource's score within the "fits now" band 2..10 (formula in score.h).
std::int64_t resource_score(std::int64_t count, std::int64_t total, std::int64_t used, bool busy,
                            PlacementPolicy policy) {
  if (total <= 0) return 2;  // cannot happen once fit_node said yes; stay in band regardless
  const std::int64_t after = std::min(total, used + count);
  const std::int64_t free_before = std::max<std::int64_t>(0, total - used);
  if (policy == PlacementPolicy::kSpread) {
    return busy ? 2 + (3 * free_before) / total : 6 + (4 * free_before) / total;
  }
  return busy ? 6 + (4 * after) / total : 2 + (3 * after) / total;
}

}  // namespace

int score_node(const PodDemand& demand, const Intent& intent, const NodeView& node,
               PlacementPolicy policy, const Catalog& catalog) {
  if (!demand.managed()) return kMinScore;
  const NodeFit fit = fit_node(demand, intent, node, catalog);
  if (!fit.fits) return fit.unresolvable ? kMinScore : 1;
  // kube-scheduler's own plugins know a DRA node's free devices; gpushare does not, so it
  // neither prefers nor avoids the node.
  if (serves_through_dra(node)) return (2 + kMaxScore) / 2;
  const bool busy = node_is_busy(node);
  std::int64_t sum = 0;
  std::int64_t resources = 0;
  for (const auto& [r, count] : demand.resources) {
    if (!is_managed_resource(r)) continue;
    auto a = node.allocatable.find(r);
    auto u = node.used.find(r);
    sum += resource_score(count, a == node.allocatable.end() ? 0 : a->second,
                          u == node.used.end() ? 0 : u->second, busy, policy);
    ++resources;
  }
  const auto mean = sum / resources;
  return static_cast<int>(std::clamp<std::int64_t>(mean, 2, kMaxScore));
}

}  // namespace gpushare::policy
