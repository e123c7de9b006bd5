// policy::plan (policy/planner.h): CONTRACT.md section 5 and the planner bullet of
// ARCHITECTURE.md. One test per rule: existing capacity first, demand order, the idle rule,
// MPS/MIG switch order, MPS replica sizing, fragmentation, every catalog model, determinism,
// and the reasons given for pods left unplaced. Goldens of `gpushare plan` are in
// test/fixtures/plan/, checked through the binary by test/unit/server/plan_command_test.cpp.
#include "policy/planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "policy/catalog.h"
#include "policy/fit.h"
#include "policy/layout.h"
#include "policy/plan_mig.h"
#include "policy/plan_mps.h"
#include "test/unit/policy/plan_builders.h"

namespace gpushare::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

using namespace ::gpushare::policy::testing;  // NOLINT(google-build-using-namespace)

// ---- CONTRACT.md section 5: the shape of an action.

TEST(Planner, IdleH20GetsAMigLayoutForA3g48gbPod) {
  const Plan plan = policy::plan(input({h20()}, {mig_pod("train", "3g.48gb")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_THAT(plan.unplaced, IsEmpty());
  const PlanAction& a = plan.actions[0];
  EXPECT_EQ(a.node, "gpu-h20");
  EXPECT_EQ(a.kind, ActionKind::kMig);
  EXPECT_THAT(a.serves, ElementsAre("ml/train"));
  EXPECT_EQ(a.config_name.rfind("gpushare-", 0), 0U);
  EXPECT_EQ(a.config_name.size(), std::string("gpushare-").size() + 16);
  EXPECT_THAT(a.labels, ElementsAre(Pair("nvidia.com/mig.config", a.config_name),
                                    Pair("nvidia.com/device-plugin.config", "mig-mixed")));
  ASSERT_EQ(a.mig_config.size(), 1U);
  EXPECT_THAT(a.mig_config[0].devices, ElementsAre(0));
  EXPECT_GE(a.mig_config[0].mig_devices.at("3g.48gb"), 1);
  expect_valid_mig_config(a, *catalog().model_for_product("NVIDIA-H20"), 1);
  EXPECT_THAT(a.disrupts, IsEmpty());
}

TEST(Planner, ConfigNameIsDerivedFromTheContent) {
  MigConfigEntry e{{0}, true, {{"1g.12gb", 2}, {"3g.48gb", 1}}};
  const std::string name = config_name("gpushare-", std::vector<MigConfigEntry>{e});
  // FNV-1a 64 of "mig-parted:" + the canonical text below, in hex: a name any replica (and any
  // version of gpushare) derives alike, so the ConfigMap key survives restarts and failovers.
  EXPECT_EQ(name, "gpushare-86dab9ab6df8d496");
  EXPECT_EQ(canonical_text(std::vector<MigConfigEntry>{e}),
            R"([{"devices":[0],"mig-devices":{"1g.12gb":2,"3g.48gb":1},"mig-enabled":true}])");
  MigConfigEntry other = e;
  other.mig_devices["1g.12gb"] = 1;
  EXPECT_NE(name, config_name("gpushare-", std::vector<MigConfigEntry>{other}));
  DevicePluginConfig mps;
  mps.resources = {MpsResource{"nvidia.com/gpu", 4}};
  EXPECT_EQ(
      canonical_text(mps),
      R"({"sharing":{"mps":{"renameByDefault":true,"resources":[{"name":"nvidia.com/gpu","replicas":4}]}},"version":"v1"})");
  EXPECT_EQ(config_name("x-", mps).rfind("x-", 0), 0U);
  // FNV-1a 64 test vectors.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
}

TEST(Planner, TheSameLayoutOnTwoNodesHasOneConfigName) {
  // Two equal nodes, two 7g pods: one per node, one ConfigMap key for both.
  const Plan plan = policy::plan(
      input({h20("gpu-a"), h20("gpu-b")}, {mig_pod("p1", "7g.96gb"), mig_pod("p2", "7g.96gb")}),
      catalog());
  ASSERT_EQ(plan.actions.size(), 2U);
  EXPECT_EQ(plan.actions[0].config_name, plan.actions[1].config_name);
  EXPECT_EQ(plan.actions[0].mig_config, plan.actions[1].mig_config);
}

// ---- Prefer capacity that exists.

TEST(Planner, PodsThatFitExistingCapacityAreNeitherPlannedNorUnplaced) {
  NodeView n = h20();
  n.labels["nvidia.com/mig.config"] = "all-balanced";
  n.allocatable = {{"nvidia.com/gpu", 0},
                   {"nvidia.com/mig-1g.12gb", 2},
                   {"nvidia.com/mig-2g.24gb", 1},
                   {"nvidia.com/mig-3g.48gb", 1}};
  const Plan plan =
      policy::plan(input({n}, {mig_pod("a", "3g.48gb"), mig_pod("b", "1g.12gb")}), catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_THAT(plan.unplaced, IsEmpty());
}

TEST(Planner, ExistingCapacityIsCountedOncePerPendingPod) {
  // One free 3g.48gb, two pods asking for it: the second needs a new layout, on another node,
  // because the first node's free capacity is spoken for.
  NodeView n = h20("gpu-a");
  n.labels["nvidia.com/mig.config"] = "all-3g.48gb";
  n.allocatable = {{"nvidia.com/gpu", 0}, {"nvidia.com/mig-3g.48gb", 1}};
  const Plan plan = policy::plan(
      input({n, h20("gpu-b")}, {mig_pod("a", "3g.48gb"), mig_pod("b", "3g.48gb")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].node, "gpu-b");
  EXPECT_THAT(plan.actions[0].serves, ElementsAre("ml/b"));
  EXPECT_THAT(plan.unplaced, IsEmpty());
}

TEST(Planner, ANodeWhoseFreeCapacityIsSpokenForIsNotRepartitioned) {
  NodeView n = h20();
  n.labels["nvidia.com/mig.config"] = "all-1g.12gb";
  n.allocatable = {{"nvidia.com/gpu", 0}, {"nvidia.com/mig-1g.12gb", 7}};
  const Plan plan =
      policy::plan(input({n}, {mig_pod("small", "1g.12gb"), mig_pod("big", "7g.96gb")}), catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  ASSERT_EQ(plan.unplaced.size(), 1U);
  EXPECT_EQ(plan.unplaced[0].pod, "ml/big");
  EXPECT_THAT(plan.unplaced[0].reason,
              HasSubstr("gpu-h20: its free capacity goes to 1 other pending pod"));
}

// ---- Demand order: priority, then smallest first.

TEST(Planner, HigherPriorityIsServedFirstEvenWhenLarger) {
  const Plan plan = policy::plan(
      input({h100()}, {mig_pod("small", "1g.10gb", 1, 0), mig_pod("whole", "7g.80gb", 1, 100)}),
      catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_THAT(plan.actions[0].serves, ElementsAre("ml/whole"));
  ASSERT_EQ(plan.unplaced.size(), 1U);
  EXPECT_EQ(plan.unplaced[0].pod, "ml/small");
  EXPECT_THAT(plan.unplaced[0].reason,
              HasSubstr("gpu-h100: repartitioned in this plan for other pending pods"));
}

TEST(Planner, SmallestFirstServesMorePodsAtEqualPriority) {
  // 4g.40gb + 3 x 1g.10gb fill one H100; 7g would take it alone. Smallest first serves four.
  const Plan plan = policy::plan(
      input({h100()}, {mig_pod("w", "7g.80gb"), mig_pod("a", "1g.10gb"), mig_pod("b", "1g.10gb"),
                       mig_pod("c", "1g.10gb"), mig_pod("d", "4g.40gb")}),
      catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_THAT(plan.actions[0].serves, ElementsAre("ml/a", "ml/b", "ml/c", "ml/d"));
  ASSERT_EQ(plan.unplaced.size(), 1U);
  EXPECT_EQ(plan.unplaced[0].pod, "ml/w");
}

TEST(Planner, UnplacedPodsComeInDemandOrder) {
  NodeView busy = h100();
  const Plan plan = policy::plan(
      input({busy},
            {mig_pod("z", "1g.10gb", 1, 5), mig_pod("a", "7g.80gb"), mig_pod("b", "1g.10gb")},
            {running(mig_pod("r", "1g.10gb"), "gpu-h100")}),
      catalog());
  ASSERT_EQ(plan.unplaced.size(), 3U);
  EXPECT_EQ(plan.unplaced[0].pod, "ml/z");
  EXPECT_EQ(plan.unplaced[1].pod, "ml/b");
  EXPECT_EQ(plan.unplaced[2].pod, "ml/a");
}

// ---- Which node.

TEST(Planner, TiesGoToTheNodeWithFewerGpus) {
  const Plan plan =
      policy::plan(input({h100("big", 8), h100("small", 1)}, {mig_pod("p", "1g.10gb")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].node, "small");
}

TEST(Planner, TheNodeThatServesMoreDemandWins) {
  // gpu-a (1 GPU) holds one 7g; gpu-b (2 GPUs) holds both.
  const Plan plan = policy::plan(input({h100("gpu-a", 1), h100("gpu-b", 2)},
                                       {mig_pod("p1", "7g.80gb"), mig_pod("p2", "7g.80gb")}),
                                 catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].node, "gpu-b");
  EXPECT_THAT(plan.actions[0].serves, ElementsAre("ml/p1", "ml/p2"));
  expect_valid_mig_config(plan.actions[0], *catalog().model_for_product("NVIDIA-H100-80GB-HBM3"),
                          2);
}

TEST(Planner, DemandSpillsOverToTheNextNode) {
  const Plan plan = policy::plan(
      input({h100("gpu-a"), h100("gpu-b"), h100("gpu-c")},
            {mig_pod("p1", "7g.80gb"), mig_pod("p2", "7g.80gb"), mig_pod("p3", "4g.40gb")}),
      catalog());
  ASSERT_EQ(plan.actions.size(), 3U);
  std::set<std::string> served;
  for (const auto& a : plan.actions) served.insert(a.serves.begin(), a.serves.end());
  EXPECT_EQ(served, (std::set<std::string>{"ml/p1", "ml/p2", "ml/p3"}));
  EXPECT_THAT(plan.unplaced, IsEmpty());
}

TEST(Planner, GpuProductRestrictsTheNodes) {
  StringMap a = {{"gpushare.io/gpu-product", "NVIDIA-H100-80GB-HBM3"}};
  const Plan plan = policy::plan(
      input({h20("gpu-a"), h100("gpu-b")}, {pod("p", "nvidia.com/mig-1g.20gb", 1, a)}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].node, "gpu-b");
}

TEST(Planner, NodeSelectorLimitsTheCandidates) {
  NodeView pooled = h20("gpu-pooled");
  pooled.labels["pool"] = "shared";
  PlanInput in = input({h20("gpu-a"), pooled}, {mig_pod("p", "3g.48gb")});
  in.settings.node_selector = {{"pool", "shared"}};
  Plan plan = policy::plan(in, catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].node, "gpu-pooled");

  in.settings.node_selector = {{"pool", "other"}};
  plan = policy::plan(in, catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_THAT(reason_for(plan, "ml/p"),
              HasSubstr("gpu-a: not selected by repartition.nodeSelector (pool=other)"));
}

TEST(Planner, PodNodeSelectorIsHonoured) {
  // gpu-a already offers 3g.48gb, but the pod may only run where pool=shared: capacity the pod
  // cannot use does not count, and only a selected node is repartitioned.
  NodeView offers = h20("gpu-a");
  offers.allocatable["nvidia.com/mig-3g.48gb"] = 2;
  NodeView pooled = h20("gpu-b");
  pooled.labels["pool"] = "shared";
  PodView p = mig_pod("p", "3g.48gb");
  p.node_selector = {{"pool", "shared"}};
  Plan plan = policy::plan(input({offers, pooled}, {p}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U) << reason_for(plan, "ml/p");
  EXPECT_EQ(plan.actions[0].node, "gpu-b");

  p.node_selector = {{"pool", "none"}};
  plan = policy::plan(input({offers, pooled}, {p}), catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_EQ(
      reason_for(plan, "ml/p"),
      "spec.nodeSelector asks for pool=none and no such node's GPU model has MIG profile 3g.48gb");
}

TEST(Planner, TaintsThePodDoesNotTolerateRuleANodeOut) {
  // Both H20s are idle; gpu-a is dedicated to another team. Changing it would serve nobody:
  // the scheduler would not put the pod there.
  NodeView dedicated = h20("gpu-a");
  dedicated.taints = {{"dedicated", "team-b", "NoSchedule"}};
  NodeView open = h20("gpu-b");
  open.taints = {{"soft", "", "PreferNoSchedule"}};  // only a preference
  PodView p = mig_pod("p", "3g.48gb");
  Plan plan = policy::plan(input({dedicated, open}, {p}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U) << reason_for(plan, "ml/p");
  EXPECT_EQ(plan.actions[0].node, "gpu-b");

  plan = policy::plan(input({dedicated}, {p}), catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_EQ(reason_for(plan, "ml/p"),
            "GPU nodes have taints it does not tolerate and no such node's GPU model has MIG "
            "profile 3g.48gb");

  p.tolerations = {{"dedicated", false, "team-b", ""}};
  plan = policy::plan(input({dedicated}, {p}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U) << reason_for(plan, "ml/p");
  EXPECT_EQ(plan.actions[0].node, "gpu-a");
}

TEST(Planner, RequiredNodeAffinityIsHonoured) {
  NodeView a = h20("gpu-a");
  a.labels["zone"] = "a";
  NodeView b = h20("gpu-b");
  b.labels["zone"] = "b";
  PodView p = mig_pod("p", "3g.48gb");
  NodeSelectorTerm zone_b;
  zone_b.match_expressions = {{"zone", "In", {"b"}}};
  p.required_node_terms = std::vector<NodeSelectorTerm>{zone_b};
  Plan plan = policy::plan(input({a, b}, {p}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U) << reason_for(plan, "ml/p");
  EXPECT_EQ(plan.actions[0].node, "gpu-b");

  // Existing capacity on a node the pod may not use does not count either.
  a.allocatable["nvidia.com/mig-3g.48gb"] = 1;
  plan = policy::plan(input({a, b}, {p}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].node, "gpu-b");

  zone_b.match_expressions = {{"zone", "In", {"c"}}};
  p.required_node_terms = std::vector<NodeSelectorTerm>{zone_b};
  plan = policy::plan(input({a, b}, {p}), catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_EQ(reason_for(plan, "ml/p"),
            "its required node affinity narrows and no such node's GPU model has MIG profile "
            "3g.48gb");
}

TEST(Planner, EqualNodesWithOtherTaintsAreSizedApart) {
  // gpu-a and gpu-b have the same GPUs; only p tolerates gpu-a's taint. What one node can serve
  // must not be reused for the other as if the same pods could go there: the right plan is one
  // H20 holding 3g.48gb + 4g.48gb on gpu-b for p and q1 (q2 has no room left anywhere).
  NodeView a = h20("gpu-a");
  a.taints = {{"team", "q", "NoSchedule"}};
  NodeView b = h20("gpu-b");
  PodView p = mig_pod("p", "3g.48gb");
  p.tolerations = {{"team", false, "q", "NoSchedule"}};
  const Plan plan = policy::plan(
      input({a, b}, {p, mig_pod("q1", "4g.48gb"), mig_pod("q2", "4g.48gb")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].node, "gpu-b");
  EXPECT_EQ(plan.actions[0].serves, (std::vector<std::string>{"ml/p", "ml/q1"}));
  EXPECT_NE(reason_for(plan, "ml/q2"), "");
}

// ---- The idle rule (CONTRACT.md section 5).

TEST(Planner, BusyNodeIsNeverChosen) {
  const Plan plan = policy::plan(input({h20("gpu-busy")}, {mig_pod("p", "3g.48gb")},
                                       {running(mig_pod("r1", "1g.12gb"), "gpu-busy"),
                                        running(mig_pod("r2", "1g.12gb"), "gpu-busy")}),
                                 catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  ASSERT_EQ(plan.unplaced.size(), 1U);
  EXPECT_EQ(plan.unplaced[0].reason,
            "no idle node with a MIG-capable GPU offering 3g.48gb (gpu-busy: 2 running GPU pods)");
}

TEST(Planner, PodsWithoutGpuResourcesDoNotMakeANodeBusy) {
  PodView cpu = running(pod("web", "cpu", 1), "gpu-h20");
  PodView done = running(mig_pod("old", "1g.12gb"), "gpu-h20");
  done.phase = "Succeeded";
  const Plan plan = policy::plan(input({h20()}, {mig_pod("p", "3g.48gb")}, {cpu, done}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
}

TEST(Planner, PlainGpuPodsMakeANodeBusyToo) {
  const Plan plan = policy::plan(input({h20()}, {mig_pod("p", "3g.48gb")},
                                       {running(pod("full", "nvidia.com/gpu"), "gpu-h20")}),
                                 catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_THAT(reason_for(plan, "ml/p"), HasSubstr("gpu-h20: 1 running GPU pod"));
}

TEST(Planner, DisruptionIsOffByDefaultAndOptIn) {
  StringMap ok = {{"repartition.gpushare.io/disruptable", "true"}};
  PodView r = running(pod("batch", "nvidia.com/mig-1g.12gb", 1, ok), "gpu-h20");
  PlanInput in = input({h20()}, {mig_pod("p", "3g.48gb")}, {r});
  EXPECT_THAT(policy::plan(in, catalog()).actions, IsEmpty());

  in.settings.allow_disruption = true;
  const Plan plan = policy::plan(in, catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_THAT(plan.actions[0].disrupts, ElementsAre("ml/batch"));

  // One GPU pod without the annotation keeps the node out.
  in.running.push_back(running(mig_pod("keep", "1g.12gb"), "gpu-h20"));
  in.nodes[0].used["nvidia.com/mig-1g.12gb"] += 1;
  const Plan kept = policy::plan(in, catalog());
  EXPECT_THAT(kept.actions, IsEmpty());
  EXPECT_THAT(
      reason_for(kept, "ml/p"),
      HasSubstr("gpu-h20: 2 running GPU pods, 1 without repartition.gpushare.io/disruptable=true"));
}

TEST(Planner, IdleNodesArePreferredOverDisruptingOnes) {
  StringMap ok = {{"repartition.gpushare.io/disruptable", "true"}};
  PlanInput in = input({h20("gpu-a"), h20("gpu-b")}, {mig_pod("p", "3g.48gb")},
                       {running(pod("batch", "nvidia.com/mig-1g.12gb", 1, ok), "gpu-a")});
  in.settings.allow_disruption = true;
  const Plan plan = policy::plan(in, catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].node, "gpu-b");
  EXPECT_THAT(plan.actions[0].disrupts, IsEmpty());
}

TEST(Planner, MarkedPendingCordonedNodesAreSkippedWithTheirReason) {
  NodeView marked = h20("gpu-a");
  marked.annotations[std::string(kRepartitionAnnotation)] = "gpushare-0123";
  NodeView pending = h20("gpu-b");
  pending.labels["nvidia.com/mig.config.state"] = "pending";
  NodeView cordoned = h20("gpu-c");
  cordoned.unschedulable = true;
  NodeView single = h20("gpu-d");
  single.labels["nvidia.com/mig.strategy"] = "single";
  const Plan plan = policy::plan(
      input({marked, pending, cordoned, single}, {mig_pod("p", "3g.48gb")}), catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_EQ(reason_for(plan, "ml/p"),
            "no idle node with a MIG-capable GPU offering 3g.48gb ("
            "gpu-a: gpushare.io/repartition=gpushare-0123: already being repartitioned; "
            "gpu-b: nvidia.com/mig.config.state=pending; "
            "gpu-c: cordoned (spec.unschedulable); "
            "gpu-d: nvidia.com/mig.strategy=single (MIG profiles as resources need mixed))");
}

// ---- MPS.

TEST(Planner, MpsReplicasAreSizedFromTheMostDemandingPod) {
  // 24564 MiB: 3 replicas give 8188 MiB each (>= 6Gi), 4 give 6141 MiB (< 6Gi = 6144 MiB).
  const Plan plan = policy::plan(
      input({idle_rtx4090()}, {mps_pod("a", "6Gi"), mps_pod("b", "2Gi"), mps_pod("c")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  const PlanAction& a = plan.actions[0];
  EXPECT_EQ(a.kind, ActionKind::kMps);
  EXPECT_THAT(a.serves, ElementsAre("ml/a", "ml/b", "ml/c"));
  EXPECT_EQ(a.device_plugin_config.version, "v1");
  EXPECT_TRUE(a.device_plugin_config.rename_by_default);
  ASSERT_EQ(a.device_plugin_config.resources.size(), 1U);
  EXPECT_EQ(a.device_plugin_config.resources[0].name, "nvidia.com/gpu");
  EXPECT_EQ(a.device_plugin_config.resources[0].replicas, 3);
  EXPECT_THAT(a.labels, ElementsAre(Pair("nvidia.com/device-plugin.config", a.config_name)));
  ASSERT_EQ(a.steps.size(), 1U);
  EXPECT_EQ(a.steps[0].wait_for, "nvidia.com/gpu.replicas=3");
}

TEST(Planner, MpsPodsThatFitTheCurrentReplicasNeedNoAction) {
  const Plan plan =
      policy::plan(input({rtx4090()}, {mps_pod("a", "4Gi"), mps_pod("b")}), catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_THAT(plan.unplaced, IsEmpty());
  // The replicas a pending pod counts on are not taken away by a new layout: a 6Gi pod that
  // the 4-replica share (6141 MiB) cannot hold waits, and says why.
  const Plan more = policy::plan(
      input({rtx4090()}, {mps_pod("a", "4Gi"), mps_pod("b"), mps_pod("c", "6Gi")}), catalog());
  EXPECT_THAT(more.actions, IsEmpty());
  EXPECT_EQ(reason_for(more, "ml/c"),
            "no idle node can give it an MPS share (gpu-4090: its free capacity goes to 2 other "
            "pending pods already)");
}

TEST(Planner, MpsReplicaRules) {
  // Needs stated: the largest R whose share still meets them.
  EXPECT_EQ(mps_replicas_for(24564, 1, 48, {6 * 1024 * kMiB, 0, 1}), 3);
  EXPECT_EQ(mps_replicas_for(24564, 1, 48, {0, 25, 1}), 4);
  EXPECT_EQ(mps_replicas_for(24564, 1, 48, {0, 30, 1}), 3);
  EXPECT_EQ(mps_replicas_for(24564, 1, 48, {0, 1, 1}), 48);
  EXPECT_EQ(mps_replicas_for(24564, 1, 16, {0, 1, 1}), 16);
  // More replicas asked than the need allows: no fit.
  EXPECT_EQ(mps_replicas_for(24564, 1, 48, {0, 25, 5}), std::nullopt);
  EXPECT_EQ(mps_replicas_for(24564, 2, 48, {0, 25, 8}), 4);
  // Half a GPU is the most one replica gets.
  EXPECT_EQ(mps_replicas_for(24564, 1, 48, {12283 * kMiB, 0, 1}), std::nullopt);
  EXPECT_EQ(mps_replicas_for(24564, 1, 48, {12282 * kMiB, 0, 1}), 2);
  EXPECT_EQ(mps_replicas_for(24564, 1, 48, {0, 51, 1}), std::nullopt);
  // No needs stated: the fewest replicas that hold the batch, at least 2.
  EXPECT_EQ(mps_replicas_for(24564, 1, 48, {0, 0, 1}), 2);
  EXPECT_EQ(mps_replicas_for(24564, 2, 48, {0, 0, 5}), 3);
  EXPECT_EQ(mps_replicas_for(24564, 1, 16, {0, 0, 17}), std::nullopt);
  EXPECT_EQ(mps_share_bytes(24564, 3), 8188 * kMiB);
}

TEST(Planner, MpsReplicasStopAt16BelowComputeCapability75) {
  NodeView v100 = gpu_node("gpu-v100", "Tesla-V100-SXM2-16GB", 1, 16384, 7, 0);
  NodeView t4 = gpu_node("gpu-t4", "Tesla-T4", 1, 15360, 7, 5);
  std::vector<PodView> pods;
  for (int i = 0; i < 20; ++i) pods.push_back(mps_pod("p" + std::to_string(100 + i)));
  const Plan old = policy::plan(input({v100}, pods), catalog());
  ASSERT_EQ(old.actions.size(), 1U);
  EXPECT_EQ(old.actions[0].device_plugin_config.resources[0].replicas, 16);
  EXPECT_EQ(old.actions[0].serves.size(), 16U);
  EXPECT_EQ(old.unplaced.size(), 4U);
  const Plan newer = policy::plan(input({t4}, pods), catalog());
  ASSERT_EQ(newer.actions.size(), 1U);
  EXPECT_EQ(newer.actions[0].device_plugin_config.resources[0].replicas, 20);
}

TEST(Planner, MpsPodTooLargeForAnyGpuSaysSo) {
  const Plan plan = policy::plan(input({rtx4090()}, {mps_pod("big", "30Gi")}), catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_EQ(reason_for(plan, "ml/big"),
            "needs 30Gi per MPS replica but the largest GPU has 24564 MiB (gpu-4090) and MPS "
            "splits a GPU into at least 2 replicas: 12282 MiB each");
  const Plan compute = policy::plan(input({rtx4090()}, {mps_pod("hot", "", "60")}), catalog());
  EXPECT_THAT(reason_for(compute, "ml/hot"), HasSubstr("needs gpu-compute=60"));
}

// ---- MPS <-> MIG, in the right order (nvidia.md section 9).

TEST(Planner, MpsToMigMovesTheDevicePluginOffMpsFirst) {
  NodeView n = h100();
  n.labels["nvidia.com/gpu.sharing-strategy"] = "mps";
  n.labels["nvidia.com/mps.capable"] = "true";
  n.labels["nvidia.com/device-plugin.config"] = "gpushare-mps";
  n.allocatable = {{"nvidia.com/gpu", 0}, {"nvidia.com/gpu.shared", 4}};
  const Plan plan = policy::plan(input({n}, {mig_pod("p", "3g.40gb")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  const PlanAction& a = plan.actions[0];
  EXPECT_EQ(a.kind, ActionKind::kMig);
  EXPECT_THAT(a.labels, ElementsAre(Pair("nvidia.com/mig.config", a.config_name),
                                    Pair("nvidia.com/device-plugin.config", "mig-mixed")));
  EXPECT_THAT(a.steps, ElementsAre(LabelStep{"nvidia.com/device-plugin.config", "mig-mixed",
                                             "nvidia.com/mps.capable=false"},
                                   LabelStep{"nvidia.com/mig.config", a.config_name,
                                             "nvidia.com/mig.config.state=success"}));
}

TEST(Planner, MigToMpsDisablesMigFirst) {
  NodeView n = h20();
  n.labels["nvidia.com/mig.config"] = "all-1g.12gb";
  n.labels["nvidia.com/device-plugin.config"] = "mig-mixed";
  n.allocatable = {{"nvidia.com/gpu", 0}, {"nvidia.com/mig-1g.12gb", 7}};
  const Plan plan = policy::plan(input({n}, {mps_pod("a", "20Gi")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  const PlanAction& a = plan.actions[0];
  EXPECT_EQ(a.kind, ActionKind::kMps);
  EXPECT_EQ(a.device_plugin_config.resources[0].replicas, 4);  // 97871 / 4 = 24467 MiB >= 20Gi
  EXPECT_THAT(a.labels, ElementsAre(Pair("nvidia.com/mig.config", "all-disabled"),
                                    Pair("nvidia.com/device-plugin.config", a.config_name)));
  EXPECT_THAT(a.steps, ElementsAre(LabelStep{"nvidia.com/mig.config", "all-disabled",
                                             "nvidia.com/mig.config.state=success"},
                                   LabelStep{"nvidia.com/device-plugin.config", a.config_name,
                                             "nvidia.com/gpu.replicas=4"}));
}

TEST(Planner, MissingWellKnownConfigsKeepTheSwitchOff) {
  NodeView n = h20();
  n.labels["nvidia.com/mig.config"] = "all-1g.12gb";
  n.allocatable = {{"nvidia.com/mig-1g.12gb", 7}};
  PlanInput in = input({n}, {mps_pod("a", "20Gi")});
  in.mig_config_names = std::set<std::string>{"all-1g.12gb"};
  Plan plan = policy::plan(in, catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_THAT(reason_for(plan, "ml/a"), HasSubstr("no all-disabled entry"));

  PlanInput mig = input({h20()}, {mig_pod("p", "3g.48gb")});
  mig.device_plugin_config_names = std::set<std::string>{"default"};
  plan = policy::plan(mig, catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_THAT(reason_for(plan, "ml/p"), HasSubstr("no mig-mixed entry"));
  mig.device_plugin_config_names->insert("mig-mixed");
  EXPECT_EQ(policy::plan(mig, catalog()).actions.size(), 1U);
}

TEST(Planner, ANodeOffersMpsOrMigNeverBoth) {
  // MIG pods and MPS pods waiting, two idle nodes: each node gets one kind.
  const Plan plan = policy::plan(
      input({h100("gpu-a"), h100("gpu-b")}, {mig_pod("m", "3g.40gb"), mps_pod("s", "8Gi")}),
      catalog());
  ASSERT_EQ(plan.actions.size(), 2U);
  EXPECT_NE(plan.actions[0].node, plan.actions[1].node);
  EXPECT_NE(plan.actions[0].kind, plan.actions[1].kind);
  PodView both = mig_pod("both", "1g.10gb");
  both.containers[0].requests["nvidia.com/gpu.shared"] = "1";
  both.containers[0].limits["nvidia.com/gpu.shared"] = "1";
  const Plan mixed = policy::plan(input({h100()}, {both}), catalog());
  EXPECT_THAT(reason_for(mixed, "ml/both"), HasSubstr("MPS or MIG, never both"));
}

// ---- Fragmentation: a layout that leaves room for the next likely request wins.

TEST(Planner, LeftoverSpaceFollowsDemand) {
  // One 1g.10gb pod waits; a 3g.40gb pod runs elsewhere (on a busy node that offers the
  // cluster's only 3g.40gb). The space the pod leaves goes to what pods ask for: the 3g.40gb
  // that has one pod per instance, and 1g.10gb, not a 7g nobody asked for. (A waiting pod counts
  // twice in the demand mix, so two waiting 1g pods would rightly claim the whole GPU.)
  NodeView busy = h100("gpu-busy");
  busy.labels["nvidia.com/mig.config"] = "custom";
  busy.allocatable = {{"nvidia.com/mig-3g.40gb", 1}};
  busy.used = {{"nvidia.com/mig-3g.40gb", 1}};
  PodView running = mig_pod("r", "3g.40gb");
  running.node_name = "gpu-busy";
  running.phase = "Running";
  PlanInput in = input({busy, h100("gpu-idle")}, {mig_pod("a", "1g.10gb")});
  in.running = {running};
  const Plan plan = policy::plan(in, catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  const PlanAction& a = plan.actions[0];
  EXPECT_EQ(a.node, "gpu-idle");
  const GpuModel& model = *catalog().model_for_product("NVIDIA-H100-80GB-HBM3");
  expect_valid_mig_config(a, model, 1);
  EXPECT_GE(total(a, "1g.10gb"), 1);
  EXPECT_EQ(total(a, "3g.40gb"), 1);
  EXPECT_EQ(total(a, "7g.80gb") + total(a, "4g.40gb") + total(a, "2g.20gb"), 0);

  // Without the running 3g pod, only 1g.10gb is asked for: the GPU is all 1g.10gb.
  in.running.clear();
  const Plan only_small = policy::plan(in, catalog());
  ASSERT_EQ(only_small.actions.size(), 1U);
  EXPECT_EQ(total(only_small.actions[0], "1g.10gb"), 7);

  // Without filling, only the pods' instances are listed.
  in.settings.fill_mig_leftover = false;
  const Plan bare = policy::plan(in, catalog());
  ASSERT_EQ(bare.actions.size(), 1U);
  EXPECT_THAT(bare.actions[0].mig_config, ElementsAre(MigConfigEntry{{0}, true, {{"1g.10gb", 1}}}));
}

TEST(Planner, SmallPodsShareOneGpuAndAnEmptyGpuIsFilledToo) {
  // Best fit puts the three 1g on GPU 0. GPU 1 has MIG off: as it is it offers nothing under
  // MIG, so it is filled by demand as well rather than left empty.
  PlanInput in = input({h100("gpu", 2)},
                       {mig_pod("a", "1g.10gb"), mig_pod("b", "1g.10gb"), mig_pod("c", "1g.10gb")});
  in.settings.fill_mig_leftover = false;
  const Plan bare = policy::plan(in, catalog());
  ASSERT_EQ(bare.actions.size(), 1U);
  EXPECT_THAT(bare.actions[0].mig_config[0], (MigConfigEntry{{0}, true, {{"1g.10gb", 3}}}));
  in.settings.fill_mig_leftover = true;
  const Plan plan = policy::plan(in, catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  const PlanAction& a = plan.actions[0];
  expect_valid_mig_config(a, *catalog().model_for_product("NVIDIA-H100-80GB-HBM3"), 2);
  EXPECT_EQ(total(a, "1g.10gb"), 14);
}

TEST(Planner, IdenticalGpusShareOneEntry) {
  const Plan plan = policy::plan(input({h100("gpu", 4)}, {mig_pod("a", "7g.80gb")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_THAT(plan.actions[0].mig_config,
              ElementsAre(MigConfigEntry{{0, 1, 2, 3}, true, {{"7g.80gb", 1}}}));
}

TEST(Planner, AssignmentSearchesBeyondTheGreedyPath) {
  // 3g + 4g fit one GPU only as 4g@0 + 3g@4; with 2 GPUs and 4g, 3g, 3g, 1g the greedy path
  // must still find a placement for all.
  const GpuModel& model = *catalog().model_for_product("NVIDIA-H100-80GB-HBM3");
  const MigProfile* g4 = model.find_profile("4g.40gb");
  const MigProfile* g3 = model.find_profile("3g.40gb");
  const MigProfile* g1 = model.find_profile("1g.10gb");
  auto a = assign_mig_instances(model, 2, {g1, g3, g4, g3});
  ASSERT_TRUE(a);
  for (const auto& counts : *a) EXPECT_TRUE(placeable(model, counts)) << describe(counts);
  EXPECT_FALSE(assign_mig_instances(model, 1, {g4, g4}));
}

// ---- Every catalog model: a pending pod for each base profile gets a placeable plan.

TEST(Planner, EveryCatalogModelServesEveryBaseProfile) {
  for (const auto& model : catalog().models()) {
    ASSERT_FALSE(model.products.empty()) << model.model;
    for (const auto& profile : model.profiles) {
      if (profile.has_attribute()) continue;
      for (int gpus : {1, 2}) {
        NodeView n = mig_node("gpu-node", model.products.front(), gpus);
        const Plan plan = policy::plan(input({n}, {mig_pod("p", profile.name)}), catalog());
        ASSERT_EQ(plan.actions.size(), 1U) << model.model << " " << profile.name;
        EXPECT_THAT(plan.unplaced, IsEmpty());
        const PlanAction& a = plan.actions[0];
        EXPECT_THAT(a.serves, ElementsAre("ml/p"));
        EXPECT_GE(total(a, profile.name), 1) << model.model << " " << profile.name;
        expect_valid_mig_config(a, model, gpus);
      }
    }
  }
}

TEST(Planner, AttributeProfilesAreServedWhenAskedFor) {
  const Plan plan = policy::plan(input({h100()}, {mig_pod("video", "1g.10gb+me")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(total(plan.actions[0], "1g.10gb+me"), 1);
  expect_valid_mig_config(plan.actions[0], *catalog().model_for_product("NVIDIA-H100-80GB-HBM3"),
                          1);
}

TEST(Planner, A30FourUnitGrid) {
  NodeView n = mig_node("gpu-a30", "NVIDIA-A30", 1, 24576);
  const Plan plan =
      policy::plan(input({n}, {mig_pod("a", "2g.12gb"), mig_pod("b", "1g.6gb")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_THAT(plan.actions[0].mig_config,
              ElementsAre(MigConfigEntry{{0}, true, {{"1g.6gb", 2}, {"2g.12gb", 1}}}));
  expect_valid_mig_config(plan.actions[0], *catalog().model_for_product("NVIDIA-A30"), 1);
}

TEST(Planner, RtxPro6000TwelveUnitGrid) {
  NodeView n = mig_node("gpu-rtxpro", "NVIDIA-RTX-PRO-6000-Blackwell-Server-Edition", 1, 97887);
  const Plan plan =
      policy::plan(input({n}, {mig_pod("a", "2g.48gb"), mig_pod("b", "1g.24gb")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_THAT(plan.actions[0].mig_config,
              ElementsAre(MigConfigEntry{{0}, true, {{"1g.24gb", 2}, {"2g.48gb", 1}}}));
  const Plan whole = policy::plan(
      input({n}, {mig_pod("a", "2g.48gb"), mig_pod("b", "2g.48gb"), mig_pod("c", "1g.24gb")}),
      catalog());
  ASSERT_EQ(whole.actions.size(), 1U);
  EXPECT_THAT(whole.actions[0].serves, ElementsAre("ml/a", "ml/c"));  // c first, then a; b: no room
  EXPECT_THAT(reason_for(whole, "ml/b"), HasSubstr("no room left for it"));
}

// ---- Reasons a person can act on.

TEST(Planner, ReasonWhenNoNodesModelHasTheProfile) {
  const Plan plan = policy::plan(input({h100(), rtx4090()}, {mig_pod("p", "3g.48gb")}), catalog());
  EXPECT_EQ(reason_for(plan, "ml/p"),
            "no node's GPU model has MIG profile 3g.48gb (GPUs here: NVIDIA-GeForce-RTX-4090, "
            "NVIDIA-H100-80GB-HBM3)");
  const Plan unknown =
      policy::plan(input({h100()}, {pod("q", "nvidia.com/mig-9g.999gb")}), catalog());
  EXPECT_THAT(reason_for(unknown, "ml/q"), HasSubstr("in no GPU model of the catalog"));
}

TEST(Planner, ReasonWhenTheNodeIsTooSmallForThePod) {
  const Plan plan = policy::plan(input({h100()}, {mig_pod("p", "7g.80gb", 2)}), catalog());
  EXPECT_EQ(reason_for(plan, "ml/p"),
            "no idle node with a MIG-capable GPU offering 2 x 7g.80gb (gpu-h100: 1 GPU cannot "
            "hold 2 such instances)");
}

TEST(Planner, LongNodeListsAreCut) {
  std::vector<NodeView> nodes;
  std::vector<PodView> bound;
  for (int i = 0; i < 9; ++i) {
    nodes.push_back(h20("gpu-" + std::to_string(i)));
    bound.push_back(
        running(mig_pod("r" + std::to_string(i), "1g.12gb"), "gpu-" + std::to_string(i)));
  }
  const Plan plan = policy::plan(input(nodes, {mig_pod("p", "3g.48gb")}, bound), catalog());
  EXPECT_THAT(reason_for(plan, "ml/p"), HasSubstr("gpu-5: 1 running GPU pod; and 3 more nodes)"));
}

TEST(Planner, InvalidAnnotationsAreReported) {
  PodView p = pod("bad", "nvidia.com/gpu.shared", 1, {{"gpushare.io/gpu-compute", "300"}});
  const Plan plan = policy::plan(input({rtx4090()}, {p}), catalog());
  EXPECT_THAT(reason_for(plan, "ml/bad"), HasSubstr("invalid gpushare annotations"));
}

TEST(Planner, PodsWithoutManagedResourcesAreIgnored) {
  const Plan plan =
      policy::plan(input({h100()}, {pod("cpu", "cpu"), pod("full", "nvidia.com/gpu")}), catalog());
  EXPECT_THAT(plan.actions, IsEmpty());
  EXPECT_THAT(plan.unplaced, IsEmpty());
}

// ---- Determinism: same input, same plan, whatever the order of the input.

PlanInput mixed_cluster() {
  NodeView mps = rtx4090("gpu-4090-b");
  NodeView migged = h20("gpu-h20-c");
  migged.labels["nvidia.com/mig.config"] = "all-1g.12gb";
  migged.allocatable = {{"nvidia.com/mig-1g.12gb", 7}};
  NodeView pend = h100("gpu-h100-p");
  pend.labels["nvidia.com/mig.config.state"] = "pending";
  std::vector<PodView> pending = {mig_pod("m1", "1g.10gb"),
                                  mig_pod("m2", "1g.10gb"),
                                  mig_pod("m3", "3g.40gb", 1, 10),
                                  mig_pod("m4", "7g.96gb"),
                                  mig_pod("m5", "1g.12gb"),
                                  mig_pod("m6", "2g.24gb"),
                                  mig_pod("m7", "3g.48gb"),
                                  mig_pod("m8", "4g.40gb"),
                                  mps_pod("s1", "6Gi"),
                                  mps_pod("s2", "", "20"),
                                  mps_pod("s3"),
                                  mps_pod("s4", "40Gi"),
                                  mig_pod("m9", "1g.6gb", 2),
                                  mig_pod("mA", "2g.48gb"),
                                  mig_pod("mB", "1g.24gb", 1, -5)};
  return input(
      {h100("gpu-h100-a", 2), h20("gpu-h20-a"), h20("gpu-h20-b", 4), mps, migged, pend,
       mig_node("gpu-a30", "NVIDIA-A30", 1, 24576), rtx4090("gpu-4090-a"),
       mig_node("gpu-rtx", "NVIDIA-RTX-PRO-6000-Blackwell-Server-Edition", 2, 97887)},
      pending,
      {running(mig_pod("busy", "1g.12gb"), "gpu-h20-a"), running(mps_pod("client"), "gpu-4090-a")});
}

TEST(Planner, ShuffledInputGivesTheSamePlan) {
  const PlanInput base = mixed_cluster();
  const Plan expected = policy::plan(base, catalog());
  ASSERT_FALSE(expected.actions.empty());
  ASSERT_FALSE(expected.unplaced.empty());
  std::mt19937 rng(20250302);
  for (int round = 0; round < 25; ++round) {
    PlanInput in = base;
    std::shuffle(in.nodes.begin(), in.nodes.end(), rng);
    std::shuffle(in.pending.begin(), in.pending.end(), rng);
    std::shuffle(in.running.begin(), in.running.end(), rng);
    EXPECT_EQ(policy::plan(in, catalog()), expected) << "round " << round;
  }
}

TEST(Planner, MixedClusterPlanIsConsistent) {
  const PlanInput in = mixed_cluster();
  const Plan plan = policy::plan(in, catalog());
  std::set<std::string> nodes;
  std::set<std::string> pods;
  for (const auto& a : plan.actions) {
    EXPECT_TRUE(nodes.insert(a.node).second) << "two actions on " << a.node;
    EXPECT_NE(a.node, "gpu-h20-a");   // busy
    EXPECT_NE(a.node, "gpu-4090-a");  // busy
    EXPECT_NE(a.node, "gpu-h100-p");  // pending
    for (const auto& p : a.serves) EXPECT_TRUE(pods.insert(p).second) << p << " served twice";
    EXPECT_TRUE(std::is_sorted(a.serves.begin(), a.serves.end()));
    if (a.kind == ActionKind::kMig) {
      const NodeView* n = nullptr;
      for (const auto& v : in.nodes)
        if (v.name == a.node) n = &v;
      ASSERT_NE(n, nullptr);
      expect_valid_mig_config(a, *catalog().model_for_product(n->label("nvidia.com/gpu.product")),
                              std::stoi(n->label("nvidia.com/gpu.count")));
    }
  }
  for (const auto& u : plan.unplaced) {
    EXPECT_EQ(pods.count(u.pod), 0U) << u.pod;
    EXPECT_FALSE(u.reason.empty()) << u.pod;
  }
}

}  // namespace
}  // namespace gpushare::policy
