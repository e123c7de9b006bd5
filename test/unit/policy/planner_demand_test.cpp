// The planner's demand-aware rules (planner.h step 4, plan_demand.h): relay out only the GPUs
// the pods need, fill from demand, choose nodes by the capacity their change costs rather than
// by name, and an oracle: on small clusters the planner serves as many waiting pods as an
// exhaustive search over every layout of every idle node.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "policy/catalog.h"
#include "policy/layout.h"
#include "policy/plan_demand.h"
#include "policy/plan_mps.h"
#include "policy/planner.h"
#include "test/unit/policy/plan_builders.h"

namespace gpushare::policy {
namespace {

using namespace ::gpushare::policy::testing;  // NOLINT(google-build-using-namespace)
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const GpuModel& h20_model() { return *catalog().model_for_product("NVIDIA-H20"); }
const GpuModel& h100_model() { return *catalog().model_for_product("NVIDIA-H100-80GB-HBM3"); }

// An idle node at the GPU Operator's all-balanced on every GPU, as GFD and the plugin show it.
NodeView balanced(NodeView n, const GpuModel& model, int gpus) {
  n.labels["nvidia.com/mig.config"] = "all-balanced";
  n.labels["nvidia.com/gpu.replicas"] = "0";
  n.allocatable.clear();
  for (const auto& [profile, count] : model.balanced) {
    const std::string resource = mig_resource_for_profile(profile);
    n.allocatable[resource] = static_cast<std::int64_t>(count) * gpus;
    n.labels[resource + ".count"] = std::to_string(count * gpus);
  }
  return n;
}

ProfileCounts balanced_gpu(const GpuModel& model) {
  return ProfileCounts(model.balanced.begin(), model.balanced.end());
}

// ---- shared/cases/planner: the two minimal inputs of issue 9 (goldens in fixtures/plan/).

TEST(PlannerDemand, OnePodRelaysOutOneGpuOfABalancedH20) {
  const NodeView node = balanced(h20("h20-000", 8), h20_model(), 8);
  const Plan plan = policy::plan(input({node}, {mig_pod("p", "1g.24gb")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  const PlanAction& a = plan.actions[0];
  expect_valid_mig_config(a, h20_model(), 8);
  // GPU 0 for the pod; GPUs 1-7 keep 2 x 1g.12gb, 2g.24gb, 3g.48gb each, listed with exactly
  // those counts so mig-parted leaves them alone (nvidia.md 4.2).
  ASSERT_EQ(a.mig_config.size(), 2U);
  EXPECT_THAT(a.mig_config[0].devices, ElementsAre(0));
  EXPECT_GE(a.mig_config[0].mig_devices.at("1g.24gb"), 1);
  EXPECT_THAT(a.mig_config[1].devices, ElementsAre(1, 2, 3, 4, 5, 6, 7));
  EXPECT_EQ(a.mig_config[1].mig_devices, balanced_gpu(h20_model()));
  EXPECT_THAT(a.why, HasSubstr("relays out GPU 0 of 8"));
}

TEST(PlannerDemand, MpsPodGoesToTheGpuThatCannotDoMigWhateverTheNames) {
  const NodeView h100_node = balanced(h100("a-h100", 8), h100_model(), 8);
  NodeView rtx = idle_rtx4090("z-rtx4090");
  for (bool rtx_first : {false, true}) {
    NodeView r = rtx;
    r.name = rtx_first ? "a-rtx4090" : "z-rtx4090";
    const Plan plan = policy::plan(input({h100_node, r}, {mps_pod("small", "2Gi")}), catalog());
    ASSERT_EQ(plan.actions.size(), 1U);
    EXPECT_EQ(plan.actions[0].node, r.name) << "rtx first: " << rtx_first;
    EXPECT_EQ(plan.actions[0].kind, ActionKind::kMps);
  }
}

// ---- Current layouts (plan_demand.h).

TEST(PlannerDemand, CurrentLayoutComesFromTheNamedConfigWhenItMatchesTheNode) {
  const GpuModel& model = h100_model();
  NodeView n = h100("gpu", 2);
  n.labels["nvidia.com/mig.config"] = "custom";
  n.allocatable = {
      {"nvidia.com/mig-3g.40gb", 3}, {"nvidia.com/mig-1g.10gb", 2}, {"nvidia.com/mig-2g.20gb", 1}};
  std::map<std::string, std::vector<MigConfigEntry>> configs = {
      {"custom",
       {MigConfigEntry{{0}, true, {{"3g.40gb", 2}}},
        MigConfigEntry{{1}, true, {{"1g.10gb", 2}, {"2g.20gb", 1}, {"3g.40gb", 1}}}}}};
  auto layout = current_mig_layout(n, model, 2, configs);
  ASSERT_TRUE(layout);
  EXPECT_EQ((*layout)[0], (ProfileCounts{{"3g.40gb", 2}}));
  EXPECT_EQ((*layout)[1], (ProfileCounts{{"1g.10gb", 2}, {"2g.20gb", 1}, {"3g.40gb", 1}}));

  // The node offers something else (the config changed under it): not trusted; the counts do
  // not spread evenly either, so the layout is unknown.
  n.allocatable["nvidia.com/mig-3g.40gb"] = 2;
  EXPECT_FALSE(current_mig_layout(n, model, 2, configs));
  // Being reconfigured: unknown.
  n.labels["nvidia.com/mig.config.state"] = "pending";
  EXPECT_FALSE(current_mig_layout(n, model, 2, configs));
}

TEST(PlannerDemand, CurrentLayoutFallsBackToEvenCounts) {
  const GpuModel& model = h20_model();
  auto layout = current_mig_layout(balanced(h20("gpu", 4), model, 4), model, 4, {});
  ASSERT_TRUE(layout);
  EXPECT_EQ(layout->size(), 4U);
  for (const auto& gpu : *layout) EXPECT_EQ(gpu, balanced_gpu(model));
  // MIG off: every GPU empty.
  auto off = current_mig_layout(h20("gpu", 2), model, 2, {});
  ASSERT_TRUE(off);
  EXPECT_EQ(*off, std::vector<ProfileCounts>(2));
}

TEST(PlannerDemand, UnknownLayoutRelaysOutEveryGpu) {
  NodeView n = h100("gpu", 2);
  n.labels["nvidia.com/mig.config"] = "someone-elses";
  n.allocatable = {{"nvidia.com/mig-7g.80gb", 1}, {"nvidia.com/mig-1g.10gb", 7}};
  const Plan plan = policy::plan(input({n}, {mig_pod("p", "3g.40gb")}), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  expect_valid_mig_config(plan.actions[0], h100_model(), 2);
  EXPECT_THAT(plan.actions[0].why, HasSubstr("per-GPU layout is not known"));
}

// ---- Filling and rebalancing from demand.

// A GPU's space goes to the layout worth the most pods: seven 1g.10gb pods and two 3g.40gb pods
// wait, nothing offers either; seven 1g instances serve seven pods, where two 3g ones serve two
// and one 3g with four 1g five.
TEST(PlannerDemand, FillServesTheMostPodsAGpuCanHold) {
  const GpuModel& model = h100_model();
  DemandSupply ds;
  ds.add_demand("nvidia.com/mig-1g.10gb", 7);
  ds.add_demand("nvidia.com/mig-3g.40gb", 2);
  const ProfileCounts filled = fill_by_demand(model, {}, ds);
  EXPECT_EQ(filled, (ProfileCounts{{"1g.10gb", 7}}));
  // What the GPU must hold already stays, and the rest is sized around it.
  DemandSupply again;
  again.add_demand("nvidia.com/mig-1g.10gb", 7);
  again.add_demand("nvidia.com/mig-3g.40gb", 2);
  EXPECT_EQ(fill_by_demand(model, {{"3g.40gb", 1}}, again),
            (ProfileCounts{{"3g.40gb", 1}, {"1g.10gb", 4}}));
}

// fill_by_demand tries every multiset of base profiles one GPU can hold; plan_demand.h bounds
// that at 78 for the built-in models (what one fill costs). A catalog entry that raises it
// should revisit the search.
TEST(PlannerDemand, FillSearchVisitsAtMost78LayoutsPerBuiltInModel) {
  for (const GpuModel& model : catalog().models()) {
    std::vector<const MigProfile*> base;
    for (const MigProfile& p : model.profiles) {
      if (!p.has_attribute()) base.push_back(&p);
    }
    int layouts = 0;
    ProfileCounts current;
    std::function<void(std::size_t)> visit = [&](std::size_t i) {
      ++layouts;
      for (std::size_t j = i; j < base.size(); ++j) {
        ++current[base[j]->name];
        if (placeable(model, current)) visit(j);
        if (--current[base[j]->name] == 0) current.erase(base[j]->name);
      }
    };
    visit(0);
    EXPECT_GT(layouts, 1) << model.model;
    EXPECT_LE(layouts, 78) << model.model;
  }
}

TEST(PlannerDemand, FillFollowsDemandAgainstSupply) {
  const GpuModel& model = h100_model();
  DemandSupply ds;
  // 10 pods want 1g.10gb and 14 instances exist; 3 want 3g.40gb and none exist.
  ds.add_demand("nvidia.com/mig-1g.10gb", 10);
  ds.add_supply("nvidia.com/mig-1g.10gb", 14);
  ds.add_demand("nvidia.com/mig-3g.40gb", 3);
  const ProfileCounts filled = fill_by_demand(model, {}, ds);
  // The scarce profile first; then the space left goes where it is worth the most pods: a
  // second 3g.40gb (the third pod's chance ~0.98) is worth less than four more 1g.10gb beyond
  // the 14 (each the chance that demand of 10, plus its headroom, reaches it: ~0.47, 0.37, ...).
  EXPECT_EQ(filled, (ProfileCounts{{"3g.40gb", 1}, {"1g.10gb", 4}}));
  // Supply follows what was added.
  EXPECT_EQ(ds.supply("nvidia.com/mig-3g.40gb"), 1);
  EXPECT_EQ(ds.supply("nvidia.com/mig-1g.10gb"), 18);
  // Worth in pods: an instance nobody asks for is worth nothing; one of a scarce profile ~1.
  EXPECT_EQ(layout_gain(model, {{"7g.80gb", 1}}, ds), 0);
  DemandSupply empty;
  empty.add_demand("nvidia.com/mig-3g.40gb", 5);
  EXPECT_NEAR(layout_gain(model, {{"3g.40gb", 2}}, empty), 2.0, 0.01);
}

// An instance is worth the chance that demand reaches it: ~1 well below demand, ~0 well past
// it, and in between a tail that widens with the demand (plan_demand.h). The linear worth of
// earlier versions, min(1, demand / supply), kept every instance of a pool twice its demand at
// 0.5, so layouts a shifting mix had left behind looked as valuable as what it now wanted.
TEST(PlannerDemand, AnInstanceIsWorthTheChanceThatDemandReachesIt) {
  const GpuModel& model = h100_model();
  const ProfileCounts seven_small{{"1g.10gb", 7}};
  DemandSupply oversupplied;  // 10 pods, 40 instances: the GPU's 7 are the pool's last ones
  oversupplied.add_demand("nvidia.com/mig-1g.10gb", 10);
  oversupplied.add_supply("nvidia.com/mig-1g.10gb", 40);
  EXPECT_LT(oversupplied.value_of(model, seven_small), 0.01);
  EXPECT_LT(oversupplied.gain("nvidia.com/mig-1g.10gb"), 0.01);
  DemandSupply short_of_it;  // 40 pods, 10 instances
  short_of_it.add_demand("nvidia.com/mig-1g.10gb", 40);
  short_of_it.add_supply("nvidia.com/mig-1g.10gb", 10);
  EXPECT_GT(short_of_it.value_of(model, seven_small), 6.99);
  EXPECT_GT(short_of_it.gain("nvidia.com/mig-1g.10gb"), 0.999);
  // At the demand itself the next instance is still likely needed (headroom), and each further
  // one less so.
  DemandSupply even;
  even.add_demand("nvidia.com/mig-1g.10gb", 10);
  even.add_supply("nvidia.com/mig-1g.10gb", 10);
  const double next = even.gain("nvidia.com/mig-1g.10gb");
  EXPECT_GT(next, 0.5);
  EXPECT_LT(next, 1.0);
  even.add_supply("nvidia.com/mig-1g.10gb", 5);
  EXPECT_LT(even.gain("nvidia.com/mig-1g.10gb"), next);
  // The same holds past the exact sum's range (normal approximation): no step at its edge.
  DemandSupply large;
  large.add_demand("nvidia.com/mig-1g.10gb", 400);
  large.add_supply("nvidia.com/mig-1g.10gb", 400);
  EXPECT_GT(large.gain("nvidia.com/mig-1g.10gb"), 0.9);
  large.add_supply("nvidia.com/mig-1g.10gb", 100);
  EXPECT_LT(large.gain("nvidia.com/mig-1g.10gb"), 0.01);
}

// An idle all-balanced H20, and a busy H20 of 32 x 1g.24gb running 12 pods of it; a 4g.48gb
// pod waits (no node offers one), and the busy node is no candidate for it.
struct TwoH20s {
  NodeView idle = balanced(h20("h20-idle", 8), h20_model(), 8);
  NodeView busy = h20("h20-busy", 8);
  std::vector<PodView> bound;
  TwoH20s() {
    busy.labels["nvidia.com/mig.config"] = "custom";
    busy.allocatable = {{"nvidia.com/mig-1g.24gb", 32}};
    for (int i = 0; i < 12; ++i)
      bound.push_back(running(mig_pod("r" + std::to_string(i), "1g.24gb"), "h20-busy"));
  }
  PlanInput with_pod_waiting() const {
    return input({busy, idle}, {mig_pod("more", "4g.48gb")}, bound);
  }
};

TEST(PlannerDemand, IdleGpusFollowDemandOnlyWithEnoughEvidence) {
  // GPUs of the idle node that no waiting pod needs are relaid out when demand clearly values
  // 1g.24gb more than their balanced layout.
  TwoH20s h20s;
  Plan plan = policy::plan(h20s.with_pod_waiting(), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].node, "h20-idle");
  EXPECT_THAT(plan.actions[0].why, HasSubstr("no waiting pod needs, relaid out to follow demand"));

  // With 2 running pods (under the evidence threshold) only the pod's GPU changes.
  TwoH20s few;
  few.bound.resize(2);
  plan = policy::plan(few.with_pod_waiting(), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_THAT(plan.actions[0].why, HasSubstr("relays out GPU 0 of 8"));

  // And the knob turns it off.
  PlanInput in = h20s.with_pod_waiting();
  in.settings.rebalance_idle_gpus = false;
  plan = policy::plan(in, catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_THAT(plan.actions[0].why, HasSubstr("relays out GPU 0 of 8"));
}

TEST(PlannerDemand, IdleGpusKeepTheirLayoutForTheMigPodsComingWhenTheyWouldFillTheModel) {
  // As above: the idle node's GPUs the waiting pod does not need would be relaid out for
  // 1g.24gb. The H20s offer 88 compute slices (32 x 1g.24gb and 8 balanced GPUs of 7).
  const TwoH20s h20s;
  struct Case {
    const char* name;
    std::int64_t scale;  // projected arrivals: 1g.12gb, 2g.24gb and 3g.48gb, times this
    const char* why;
  };
  // Projected, the balanced profiles' pods ask for 56 slices per step of scale (16 x 1g.12gb,
  // 8 x 2g.24gb, 8 x 3g.48gb), the pods counted now for 16 (12 x 1g.24gb, 1 x 4g.48gb): 132
  // (1.5 x 88) or more is scarce. Then the balanced GPUs are worth more to what is coming than
  // a layout sized for the 1g.24gb pods counted now, and they stay.
  const std::vector<Case> cases = {
      {"none", 0, "no waiting pod needs, relaid out to follow demand"},
      {"plenty", 1, "no waiting pod needs, relaid out to follow demand"},      // 72 slices
      {"just short", 2, "no waiting pod needs, relaid out to follow demand"},  // 128
      {"scarce", 3, "relays out GPU 0 of 8"},                                  // 184
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    PlanInput in = h20s.with_pod_waiting();
    if (c.scale > 0) {
      in.projected_mig_arrivals = {{"nvidia.com/mig-1g.12gb", 16 * c.scale},
                                   {"nvidia.com/mig-2g.24gb", 8 * c.scale},
                                   {"nvidia.com/mig-3g.48gb", 8 * c.scale}};
    }
    const Plan plan = policy::plan(in, catalog());
    ASSERT_EQ(plan.actions.size(), 1U);
    EXPECT_EQ(plan.actions[0].node, "h20-idle");
    EXPECT_THAT(plan.actions[0].why, HasSubstr(c.why));
  }
}

TEST(PlannerDemand, NodeWhoseCapacityIsUsedLessIsChangedFirst) {
  // Two idle H100s: one all-balanced (whose profiles 20 running pods use), one all-1g.20gb that
  // nobody uses. A 7g pod goes to the second: its change costs no capacity anyone uses.
  NodeView used = balanced(h100("a-balanced", 1), h100_model(), 1);
  NodeView unused = h100("b-unused", 1);
  unused.labels["nvidia.com/mig.config"] = "all-1g.20gb";
  unused.allocatable = {{"nvidia.com/mig-1g.20gb", 4}};
  NodeView busy = balanced(h100("c-busy", 8), h100_model(), 8);
  std::vector<PodView> bound;
  for (int i = 0; i < 20; ++i) {
    const char* profile = i % 2 == 0 ? "1g.10gb" : (i % 4 == 1 ? "2g.20gb" : "3g.40gb");
    bound.push_back(running(mig_pod("r" + std::to_string(i), profile), "c-busy"));
  }
  const Plan plan =
      policy::plan(input({used, unused, busy}, {mig_pod("big", "7g.80gb")}, bound), catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].node, "b-unused");
}

TEST(PlannerDemand, CountDemandCountsBoundAndWaitingPodsOnce) {
  PodView done = running(mps_pod("done", "2Gi"), "n");
  done.phase = "Succeeded";
  PodView unbound_running = mps_pod("lost", "2Gi");  // running without a node: not counted
  unbound_running.phase = "Running";
  const DemandCount count = count_demand(
      {running(mig_pod("a", "1g.12gb", 2), "n"), running(mps_pod("b", "2Gi"), "n"), done},
      {mig_pod("c", "1g.12gb"), mps_pod("d"), mps_pod("e", "2Gi"), unbound_running},
      PlanSettings{});
  EXPECT_EQ(count.mig, (std::map<std::string, std::int64_t>{{"nvidia.com/mig-1g.12gb", 3}}));
  // Pods that state no gpu-memory count under 0; "lost" is pending here, so it is counted.
  EXPECT_EQ(count.mps, (std::map<std::int64_t, std::int64_t>{{0, 1}, {2048 * kMiB, 3}}));
}

// One step of a RecentArrivals test: a pod arrives (or none), then the window is read.
struct ArrivalStep {
  double at_s;
  const char* pod;  // "mig": a 1g.12gb pod; "mps" or "mps <gpu-memory>": an MPS pod; "": none
  std::map<std::int64_t, std::int64_t> mps;
  std::map<std::string, std::int64_t> mig;
};

const std::string kMig12 = "nvidia.com/mig-1g.12gb";

Arrivals arrive_and_read(RecentArrivals& arrivals, const ArrivalStep& step) {
  const std::string what = step.pod;
  if (what == "mig") {
    arrivals.add(step.at_s, mig_pod("m", "1g.12gb"), PlanSettings{});
  } else if (what.starts_with("mps")) {
    arrivals.add(step.at_s, mps_pod("p", what.size() > 4 ? what.substr(4) : ""), PlanSettings{});
  }
  return arrivals.read(step.at_s);
}

TEST(PlannerDemand, RecentArrivalsKeepTheWindowOnly) {
  // A 100 s window, never started: every figure is as counted.
  const std::vector<ArrivalStep> steps = {
      {0, "mps 2Gi", {{2048 * kMiB, 1}}, {}},
      {10, "mig", {{2048 * kMiB, 1}}, {{kMig12, 1}}},  // a MIG pod is no MPS arrival
      {50, "mps 4Gi", {{2048 * kMiB, 1}, {4096 * kMiB, 1}}, {{kMig12, 1}}},
      {60, "mps", {{0, 1}, {2048 * kMiB, 1}, {4096 * kMiB, 1}}, {{kMig12, 1}}},
      {100, "", {{0, 1}, {2048 * kMiB, 1}, {4096 * kMiB, 1}}, {{kMig12, 1}}},  // t - 100 <= 0: in
      {101, "", {{0, 1}, {4096 * kMiB, 1}}, {{kMig12, 1}}},
      {111, "", {{0, 1}, {4096 * kMiB, 1}}, {}},
      {160, "", {{0, 1}}, {}},
      {161, "", {}, {}},
      {500, "mps 2Gi", {{2048 * kMiB, 1}}, {}},
  };
  RecentArrivals arrivals(100);
  for (const auto& step : steps) {
    SCOPED_TRACE(step.at_s);
    const Arrivals read = arrive_and_read(arrivals, step);
    EXPECT_EQ(read.mps_recent, step.mps);
    EXPECT_EQ(read.mps_projected, step.mps);
    EXPECT_EQ(read.mig_projected, step.mig);
  }
}

TEST(PlannerDemand, RecentArrivalsAreReadAsARateUntilAWindowHasPassed) {
  // A 600 s window; one 2 GiB pod was there when counting began at 0 (the cache's first list).
  // One 1g.12gb pod arrives at 30 s, as the first 4 GiB pod does: MIG is read the same way.
  const std::vector<ArrivalStep> steps = {
      {30, "", {{2048 * kMiB, 1}, {4096 * kMiB, 10}}, {{kMig12, 10}}},  // 1 in 60 s (the least)
      {120, "", {{2048 * kMiB, 1}, {4096 * kMiB, 5}}, {{kMig12, 5}}},   // 1 in 120 s
      {300, "mps 4Gi", {{2048 * kMiB, 1}, {4096 * kMiB, 4}}, {{kMig12, 2}}},  // 2 in 300 s
      {450,
       "mps 2Gi",
       {{2048 * kMiB, 2}, {4096 * kMiB, 3}},  // 2 GiB: 1 + 1; 1 x 600 / 450 rounds up to 2
       {{kMig12, 2}}},
      {600, "", {{2048 * kMiB, 2}, {4096 * kMiB, 2}}, {{kMig12, 1}}},  // a window has passed
      {601, "", {{2048 * kMiB, 1}, {4096 * kMiB, 2}}, {{kMig12, 1}}},  // the first-list pod left
  };
  RecentArrivals arrivals(600);
  arrivals.add(0, mps_pod("there", "2Gi"), PlanSettings{});
  arrivals.start(0);
  arrivals.add(30, mps_pod("first", "4Gi"), PlanSettings{});
  arrivals.add(30, mig_pod("mig", "1g.12gb"), PlanSettings{});
  // mps_recent counts what arrived, never projected.
  EXPECT_EQ(arrivals.read(30).mps_recent,
            (std::map<std::int64_t, std::int64_t>{{2048 * kMiB, 1}, {4096 * kMiB, 1}}));
  for (const auto& step : steps) {
    SCOPED_TRACE(step.at_s);
    const Arrivals read = arrive_and_read(arrivals, step);
    EXPECT_EQ(read.mps_projected, step.mps);
    EXPECT_EQ(read.mig_projected, step.mig);
  }
}

TEST(PlannerDemand, AnMpsNodeKeepsItsReplicasForTheSmallerPodsThatArrive) {
  // An idle RTX 4090 offers 4 replicas of 6 GiB; an 8 GiB pod waits. With no other MPS demand,
  // the node is re-sized to 2 replicas for it. When 40 pods of 2 GiB arrived within the window,
  // its 4 replicas are worth more than 2 larger ones: it keeps them and the pod is told why.
  PlanInput in = input({rtx4090("rtx")}, {mps_pod("big", "8Gi")});
  const Plan alone = policy::plan(in, catalog());
  ASSERT_EQ(alone.actions.size(), 1U);
  EXPECT_EQ(alone.actions[0].device_plugin_config.resources.at(0).replicas, 2);
  EXPECT_THAT(alone.actions[0].serves, ElementsAre("ml/big"));

  // Counted (recent) or only projected at the rate seen, the node keeps its replicas.
  for (bool projected : {false, true}) {
    SCOPED_TRACE(projected);
    PlanInput with = in;
    (projected ? with.projected_mps_arrivals : with.recent_mps_arrivals) = {{2048 * kMiB, 40}};
    const Plan busy = policy::plan(with, catalog());
    EXPECT_TRUE(busy.actions.empty());
    ASSERT_EQ(busy.unplaced.size(), 1U);
    EXPECT_THAT(busy.unplaced[0].reason,
                HasSubstr("rtx: keeps its 4 MPS replicas per GPU: 2 larger ones for it would be "
                          "worth less"));
  }
}

TEST(PlannerDemand, RecentMpsArrivalsSizeTheMpsNode) {
  // Two idle all-balanced 8-GPU nodes, an H100 and an H20, whose profiles the pods filling
  // c-busy (an H20) use; two 4 GiB MPS pods wait. Either node serves both, and the H100's change
  // costs no capacity anyone uses. When 200 such pods arrived within the window (most ended
  // since), the H20's 8 x 23 replicas of 4 GiB are worth more than the H100's 8 x 19, by more
  // than the H20's MIG instances are.
  const NodeView small = balanced(h100("a-h100", 8), h100_model(), 8);
  const NodeView large = balanced(h20("b-h20", 8), h20_model(), 8);
  const NodeView busy = balanced(h20("c-busy", 8), h20_model(), 8);
  std::vector<PodView> bound;
  for (const auto& [profile, per_gpu] : h20_model().balanced) {
    for (int i = 0; i < 8 * per_gpu; ++i)
      bound.push_back(running(mig_pod(profile + "-" + std::to_string(i), profile), "c-busy"));
  }
  PlanInput in = input({small, large, busy}, {mps_pod("p1", "4Gi"), mps_pod("p2", "4Gi")}, bound);
  const Plan snapshot_only = policy::plan(in, catalog());
  ASSERT_EQ(snapshot_only.actions.size(), 1U);
  EXPECT_EQ(snapshot_only.actions[0].node, "a-h100");
  EXPECT_EQ(snapshot_only.actions[0].device_plugin_config.resources.at(0).replicas, 19);

  in.recent_mps_arrivals = {{4 * 1024 * kMiB, 200}};
  const Plan with_arrivals = policy::plan(in, catalog());
  ASSERT_EQ(with_arrivals.actions.size(), 1U);
  EXPECT_EQ(with_arrivals.actions[0].node, "b-h20");
  EXPECT_EQ(with_arrivals.actions[0].device_plugin_config.resources.at(0).replicas, 23);
  EXPECT_THAT(with_arrivals.actions[0].serves, ElementsAre("ml/p1", "ml/p2"));
}

TEST(PlannerDemand, MpsReplicaSizeServesTheMostWaitingPods) {
  // One RTX (1 GPU): three 2 GiB pods and one 10 GiB pod wait. Sizing for the 10 GiB pod (2
  // replicas) would serve 2 pods; 11 replicas serve the three small ones.
  const Plan plan =
      policy::plan(input({idle_rtx4090()}, {mps_pod("a", "2Gi"), mps_pod("b", "2Gi"),
                                            mps_pod("c", "2Gi"), mps_pod("big", "10Gi")}),
                   catalog());
  ASSERT_EQ(plan.actions.size(), 1U);
  EXPECT_EQ(plan.actions[0].device_plugin_config.resources.at(0).replicas, 11);
  EXPECT_THAT(plan.actions[0].serves, ElementsAre("ml/a", "ml/b", "ml/c"));
}

// ---- Oracle: on small clusters, as many waiting pods served as any layout could serve.

// Every option one idle single-GPU node has: nothing, each maximal MIG layout, each MPS size.
struct NodeOption {
  ProfileCounts mig;
  int replicas = 0;
  std::int64_t share_bytes = 0;
};

std::vector<NodeOption> options_for(const NodeView& n) {
  std::vector<NodeOption> out = {NodeOption{}};
  const std::string product = n.label("nvidia.com/gpu.product");
  const GpuModel* model = catalog().model_for_product(product);
  const std::int64_t mib = std::stoll(n.label("nvidia.com/gpu.memory"));
  if (model != nullptr) {
    EnumerateOptions opts;
    opts.maximal_only = true;
    for (auto& layout : reachable_layouts(*model, opts)) out.push_back({layout, 0, 0});
  }
  for (int r = 2; r <= 48; ++r) out.push_back({{}, r, mps_share_bytes(mib, r)});
  return out;
}

struct Want {
  std::string profile;      // MIG
  std::int64_t memory = 0;  // MPS
};

// Most pods one choice of options serves: MIG pods by profile counts; MPS pods largest need
// first onto the largest shares (optimal for one replica per pod).
int served_by(const std::vector<const NodeOption*>& choice, const std::vector<Want>& wants) {
  std::map<std::string, int> capacity;
  std::vector<std::int64_t> shares;
  for (const NodeOption* o : choice) {
    for (const auto& [p, n] : o->mig) capacity[p] += n;
    for (int k = 0; k < o->replicas; ++k) shares.push_back(o->share_bytes);
  }
  int served = 0;
  std::vector<std::int64_t> needs;
  for (const auto& w : wants) {
    if (!w.profile.empty()) {
      if (capacity[w.profile] > 0) {
        --capacity[w.profile];
        ++served;
      }
    } else {
      needs.push_back(w.memory);
    }
  }
  std::sort(needs.rbegin(), needs.rend());
  std::sort(shares.rbegin(), shares.rend());
  std::size_t s = 0;
  for (std::int64_t need : needs) {
    if (s < shares.size() && shares[s] >= need) {
      ++s;
      ++served;
    }
  }
  return served;
}

int oracle(const std::vector<NodeView>& nodes, const std::vector<Want>& wants) {
  std::vector<std::vector<NodeOption>> options;
  for (const auto& n : nodes) options.push_back(options_for(n));
  std::vector<const NodeOption*> choice(nodes.size());
  int best = 0;
  std::function<void(std::size_t)> walk = [&](std::size_t i) {
    if (i == nodes.size()) {
      best = std::max(best, served_by(choice, wants));
      return;
    }
    for (const auto& o : options[i]) {
      choice[i] = &o;
      walk(i + 1);
    }
  };
  walk(0);
  return best;
}

TEST(PlannerDemand, ServesAsManyWaitingPodsAsExhaustiveSearch) {
  const std::vector<std::string> h100_profiles = {"1g.10gb", "1g.20gb", "2g.20gb",
                                                  "3g.40gb", "4g.40gb", "7g.80gb"};
  const std::vector<std::string> h20_profiles = {"1g.12gb", "1g.24gb", "2g.24gb",
                                                 "3g.48gb", "4g.48gb", "7g.96gb"};
  const std::vector<std::string> memories = {"2Gi", "4Gi", "8Gi", "12Gi", "30Gi"};
  std::mt19937 rng(9);
  for (int round = 0; round < 60; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<NodeView> nodes;
    const int node_count = 1 + static_cast<int>(rng() % 2);
    for (int i = 0; i < node_count; ++i) {
      const std::string name = "n" + std::to_string(i);
      switch (rng() % 3) {
        case 0:
          nodes.push_back(h100(name));
          break;
        case 1:
          nodes.push_back(h20(name));
          break;
        default:
          nodes.push_back(idle_rtx4090(name));
      }
    }
    std::vector<PodView> pods;
    std::vector<Want> wants;
    const int pod_count = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < pod_count; ++i) {
      const std::string name = "p" + std::to_string(i);
      switch (rng() % 3) {
        case 0: {
          const std::string& p = h100_profiles[rng() % h100_profiles.size()];
          pods.push_back(mig_pod(name, p));
          wants.push_back({p, 0});
          break;
        }
        case 1: {
          const std::string& p = h20_profiles[rng() % h20_profiles.size()];
          pods.push_back(mig_pod(name, p));
          wants.push_back({p, 0});
          break;
        }
        default: {
          const std::string& m = memories[rng() % memories.size()];
          pods.push_back(mps_pod(name, m));
          wants.push_back({"", std::stoll(m) * 1024 * kMiB});
        }
      }
    }
    const Plan plan = policy::plan(input(nodes, pods), catalog());
    std::size_t served = 0;
    for (const auto& a : plan.actions) served += a.serves.size();
    std::string shown;
    for (const auto& n : nodes) shown += n.name + "=" + n.label("nvidia.com/gpu.product") + " ";
    for (const auto& w : wants)
      shown += w.profile.empty() ? std::to_string(w.memory / kMiB) + "Mi " : w.profile + " ";
    EXPECT_EQ(static_cast<int>(served), oracle(nodes, wants)) << shown;
  }
}

}  // namespace
}  // namespace gpushare::policy
