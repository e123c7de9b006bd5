// policy::score_node: bands and both placement policies (formula in policy/score.h).
#include "policy/score.h"

#include <gtest/gtest.h>

#include "policy/catalog.h"

namespace gpushare::policy {
namespace {

const Catalog& catalog() { return Catalog::builtin(); }

PodDemand demand(const std::string& resource, std::int64_t n = 1) {
  PodDemand d;
  d.resources[resource] = n;
  return d;
}

NodeView mps_node(const std::string& name, std::int64_t replicas, std::int64_t used) {
  NodeView n;
  n.name = name;
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-GeForce-RTX-4090"},
              {"nvidia.com/gpu.count", "1"},
              {"nvidia.com/gpu.replicas", std::to_string(replicas)},
              {"nvidia.com/gpu.memory", "24564"},
              {"nvidia.com/gpu.sharing-strategy", "mps"},
              {"nvidia.com/mps.capable", "true"}};
  n.allocatable = {{"nvidia.com/gpu", 0}, {"nvidia.com/gpu.shared", replicas}};
  if (used > 0) n.used["nvidia.com/gpu.shared"] = used;
  return n;
}

NodeView h20(std::int64_t used_1g12) {
  NodeView n;
  n.name = "gpu-h20";
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-H20"},
              {"nvidia.com/mig.capable", "true"},
              {"nvidia.com/mig.strategy", "mixed"},
              {"nvidia.com/mig.config.state", "success"}};
  n.allocatable = {
      {"nvidia.com/mig-1g.12gb", 2}, {"nvidia.com/mig-1g.24gb", 1}, {"nvidia.com/mig-3g.48gb", 1}};
  if (used_1g12 > 0) n.used["nvidia.com/mig-1g.12gb"] = used_1g12;
  return n;
}

const PodDemand kShared = demand("nvidia.com/gpu.shared");
const PodDemand kMig1g12 = demand("nvidia.com/mig-1g.12gb");

int score(const PodDemand& d, const NodeView& n, PlacementPolicy p) {
  return score_node(d, Intent{}, n, p, catalog());
}

TEST(ScoreNode, PodWithoutManagedResourceScoresZero) {
  EXPECT_EQ(score(demand("nvidia.com/gpu"), mps_node("a", 4, 0), PlacementPolicy::kBinpack), 0);
  EXPECT_EQ(score(PodDemand{}, mps_node("a", 4, 0), PlacementPolicy::kSpread), 0);
}

TEST(ScoreNode, NodeThatCanNeverFitScoresZero) {
  NodeView cpu;
  cpu.name = "cpu-1";
  EXPECT_EQ(score(kShared, cpu, PlacementPolicy::kBinpack), 0);
  EXPECT_EQ(score(kShared, cpu, PlacementPolicy::kSpread), 0);
}

TEST(ScoreNode, NodeThatFitsOnlyAfterWaitingScoresOne) {
  EXPECT_EQ(score(kShared, mps_node("full", 4, 4), PlacementPolicy::kBinpack), 1);
  EXPECT_EQ(score(kShared, mps_node("full", 4, 4), PlacementPolicy::kSpread), 1);
}

TEST(ScoreNode, ExactProfileAvailableBeatsNeedingRepartition) {
  NodeView without = h20(0);
  without.allocatable.erase("nvidia.com/mig-1g.12gb");  // capable, but its layout has no 1g.12gb
  for (auto policy : {PlacementPolicy::kBinpack, PlacementPolicy::kSpread}) {
    EXPECT_EQ(score(kMig1g12, without, policy), 1);
    EXPECT_GE(score(kMig1g12, h20(0), policy), 2);
    EXPECT_GE(score(kMig1g12, h20(1), policy), 2);
  }
}

TEST(ScoreNode, BinpackFillsNodesThatAlreadyShare) {
  const auto b = PlacementPolicy::kBinpack;
  // 4 replicas: idle 2 + 3*1/4 = 2; 1 used: 6 + 4*2/4 = 8; 3 used: 6 + 4*4/4 = 10.
  EXPECT_EQ(score(kShared, mps_node("idle", 4, 0), b), 2);
  EXPECT_EQ(score(kShared, mps_node("one", 4, 1), b), 8);
  EXPECT_EQ(score(kShared, mps_node("three", 4, 3), b), 10);
  EXPECT_LT(score(kShared, mps_node("idle", 4, 0), b), score(kShared, mps_node("one", 4, 1), b));
  EXPECT_LT(score(kShared, mps_node("one", 4, 1), b), score(kShared, mps_node("two", 4, 2), b));
  // A busy MIG node beats an idle one for the same profile.
  EXPECT_GT(score(kMig1g12, h20(1), b), score(kMig1g12, h20(0), b));
  // Another pod holding a different device makes the node "sharing" too.
  NodeView other = h20(0);
  other.used["nvidia.com/mig-3g.48gb"] = 1;
  EXPECT_GT(score(kMig1g12, other, b), score(kMig1g12, h20(0), b));
}

TEST(ScoreNode, BinpackKeepsBiggerEmptyNodesFree) {
  // Among idle nodes, the one the pod fills most tightly: 2 replicas beat 8.
  EXPECT_GT(score(kShared, mps_node("small", 2, 0), PlacementPolicy::kBinpack),
            score(kShared, mps_node("big", 8, 0), PlacementPolicy::kBinpack));
}

TEST(ScoreNode, SpreadPrefersEmptyNodesThenMostFree) {
  const auto s = PlacementPolicy::kSpread;
  EXPECT_EQ(score(kShared, mps_node("idle", 4, 0), s), 10);
  // busy: 2 + 3*(4-1)/4 = 4; 2 + 3*(4-3)/4 = 2.
  EXPECT_EQ(score(kShared, mps_node("one", 4, 1), s), 4);
  EXPECT_EQ(score(kShared, mps_node("three", 4, 3), s), 2);
  EXPECT_GT(score(kShared, mps_node("idle", 4, 0), s), score(kShared, mps_node("one", 4, 1), s));
  EXPECT_GT(score(kMig1g12, h20(0), s), score(kMig1g12, h20(1), s));
}

TEST(ScoreNode, PoliciesOrderBusyAndIdleOppositely) {
  const NodeView idle = mps_node("idle", 4, 0);
  const NodeView busy = mps_node("busy", 4, 2);
  EXPECT_GT(score(kShared, busy, PlacementPolicy::kBinpack),
            score(kShared, idle, PlacementPolicy::kBinpack));
  EXPECT_LT(score(kShared, busy, PlacementPolicy::kSpread),
            score(kShared, idle, PlacementPolicy::kSpread));
}

TEST(ScoreNode, ScoresAreAlwaysWithinZeroToTen) {
  for (std::int64_t replicas : {2, 3, 4, 7, 16, 48}) {
    for (std::int64_t used = 0; used <= replicas + 1; ++used) {
      for (auto policy : {PlacementPolicy::kBinpack, PlacementPolicy::kSpread}) {
        for (std::int64_t want : {1, 2, 5}) {
          const int s =
              score(demand("nvidia.com/gpu.shared", want), mps_node("n", replicas, used), policy);
          EXPECT_GE(s, kMinScore);
          EXPECT_LE(s, kMaxScore);
          if (used + want <= replicas) {
            EXPECT_GE(s, 2);
          }
        }
      }
    }
  }
}

TEST(ScoreNode, SeveralManagedResourcesTakeTheMean) {
  PodDemand d;
  d.resources = {{"nvidia.com/mig-1g.12gb", 1}, {"nvidia.com/mig-3g.48gb", 1}};
  // idle: 1g.12gb 2 + 3*1/2 = 3, 3g.48gb 2 + 3*1/1 = 5 -> mean 4.
  EXPECT_EQ(score(d, h20(0), PlacementPolicy::kBinpack), 4);
}

}  // namespace
}  // namespace gpushare::policy
