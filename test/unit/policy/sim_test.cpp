// The repartitioning simulator (policy/sim.h) and its workloads (policy/sim_workload.h): traces
// parse and print, generators are deterministic and hit the load asked for, the event loop
// keeps its books (every pod served or waiting, nothing held after it ends), and each policy
// does what sim.h says it does.
#include "policy/sim.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "policy/catalog.h"
#include "policy/sim_workload.h"

namespace gpushare::policy {
namespace {

using ::testing::HasSubstr;

const Catalog& catalog() { return Catalog::builtin(); }
constexpr std::int64_t kGiB = std::int64_t{1024} * 1024 * 1024;

std::vector<SimNode> cluster(int nodes) {
  auto c = generate_cluster(nodes, catalog());
  EXPECT_TRUE(c) << c.error();
  return c ? *c : std::vector<SimNode>{};
}

std::vector<SimPod> workload(const std::vector<SimNode>& nodes, double hours, double load) {
  WorkloadSpec spec;
  spec.hours = hours;
  spec.load = load;
  auto pods = generate_workload(spec, nodes, catalog());
  EXPECT_TRUE(pods) << pods.error();
  return pods ? *pods : std::vector<SimPod>{};
}

SimSettings short_run(double hours) {
  SimSettings s;
  s.end_s = hours * 3600;
  return s;
}

// ---- Traces.

TEST(SimTrace, ParsesAndPrintsBack) {
  auto pods = parse_trace(
      "arrival_s,kind,value,runtime_s,priority\n"
      "# a comment\n"
      "\n"
      "12.5, mig, 1g.24gb, 600\n"
      "3,mps,4Gi,1200,100\n");
  ASSERT_TRUE(pods) << pods.error();
  ASSERT_EQ(pods->size(), 2U);
  EXPECT_EQ((*pods)[0], (SimPod{3, "", 4 * kGiB, 1200, 100}));  // sorted by arrival
  EXPECT_EQ((*pods)[1], (SimPod{12.5, "1g.24gb", 0, 600, 0}));
  auto again = parse_trace(format_trace(*pods));
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(*again, *pods);
}

TEST(SimTrace, ErrorsNameTheLineAndTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1,mig,1g.24gb\n", "line 1: expected arrival_s,kind,value,runtime_s[,priority], got 3"},
      {"x,mig,1g.24gb,60\n", "line 1: arrival_s must be a number >= 0, got \"x\""},
      {"\n-1,mig,1g.24gb,60\n", "line 2: arrival_s must be a number >= 0"},
      {"1,gpu,1,60\n", "kind must be mig or mps, got \"gpu\""},
      {"1,mps,lots,60\n", "mps needs a memory quantity such as 4Gi, got \"lots\""},
      {"1,mig,,60\n", "mig needs a profile name"},
      {"1,mig,1g.24gb,0\n", "runtime_s must be a number > 0, got \"0\""},
      {"1,mig,1g.24gb,60,high\n", "priority must be an integer, got \"high\""},
  };
  for (const auto& [text, message] : cases) {
    auto parsed = parse_trace(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_THAT(parsed.error(), HasSubstr(message)) << text;
  }
}

// ---- Generators.

TEST(SimWorkload, ClusterIsTheIssuesMix) {
  const auto nodes = cluster(20);
  ASSERT_EQ(nodes.size(), 20U);
  std::map<std::string, int> products;
  for (const auto& n : nodes) {
    ++products[n.product];
    EXPECT_EQ(n.gpus, 8);
    if (n.model != nullptr) {
      EXPECT_TRUE(n.mig);
      EXPECT_EQ(n.mig_config, "all-balanced");
      EXPECT_EQ(n.per_gpu.front(),
                ProfileCounts(n.model->balanced.begin(), n.model->balanced.end()));
    } else {
      EXPECT_EQ(n.mps_replicas, 4);
    }
  }
  EXPECT_EQ(products["NVIDIA-H100-80GB-HBM3"], 8);
  EXPECT_EQ(products["NVIDIA-H20"], 8);
  EXPECT_EQ(products["NVIDIA-GeForce-RTX-4090"], 4);
  EXPECT_FALSE(generate_cluster(0, catalog()));
}

TEST(SimWorkload, SameSeedSameTraceOtherSeedOtherTrace) {
  const auto nodes = cluster(5);
  WorkloadSpec spec;
  spec.hours = 1;
  auto a = generate_workload(spec, nodes, catalog());
  auto b = generate_workload(spec, nodes, catalog());
  spec.seed = 2;
  auto c = generate_workload(spec, nodes, catalog());
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

TEST(SimWorkload, OfferedLoadIsWhatWasAskedFor) {
  // Arrivals x mean GPU share x mean run time over GPU-hours, within 10% on a long trace.
  const auto nodes = cluster(20);
  for (double load : {0.5, 1.0}) {
    WorkloadSpec spec;
    spec.load = load;
    spec.hours = 24;
    spec.runtime_sigma = 0.5;  // a tighter tail keeps the sample mean close
    auto pods = generate_workload(spec, nodes, catalog());
    ASSERT_TRUE(pods);
    double work = 0;
    for (const auto& p : *pods) work += gpu_share_of(p, nodes, catalog()) * p.runtime_s;
    const double offered = work / (spec.hours * 3600 * 160);
    EXPECT_NEAR(offered, load, 0.1 * load);
  }
}

TEST(SimWorkload, MixesAskForWhatTheyShould) {
  const auto nodes = cluster(5);
  auto balanced = workload_mix("balanced", nodes, catalog());
  ASSERT_TRUE(balanced);
  for (const auto& e : *balanced) {
    if (e.profile.empty()) {
      EXPECT_LE(e.mps_memory_bytes, 24564LL * 1024 * 1024 / 4);  // fits the RTX's 4 replicas
    } else {
      bool in_balanced = false;
      for (const auto& n : nodes) {
        if (n.model != nullptr && n.model->balanced.count(e.profile) != 0) in_balanced = true;
      }
      EXPECT_TRUE(in_balanced) << e.profile;
    }
  }
  // The default mix asks for profiles all-balanced lacks; the shifting one moves to larger ones.
  auto def = workload_mix("default", nodes, catalog());
  ASSERT_TRUE(def);
  bool has_7g = false;
  for (const auto& e : *def) has_7g |= e.profile == "7g.96gb";
  EXPECT_TRUE(has_7g);
  auto share_of_7g = [&](double progress) {
    auto mix = workload_mix("shifting", nodes, catalog(), progress);
    double w7 = 0;
    double total = 0;
    for (const auto& e : *mix) {
      total += e.weight;
      if (e.profile == "7g.96gb") w7 += e.weight;
    }
    return w7 / total;
  };
  EXPECT_LT(share_of_7g(0), share_of_7g(1));
  EXPECT_FALSE(workload_mix("typo", nodes, catalog()));
}

// ---- The event loop and the policies.

SimReport run(const std::vector<SimNode>& nodes, const std::vector<SimPod>& pods, SimPolicy policy,
              const SimSettings& settings) {
  return simulate(nodes, pods, policy, settings, catalog());
}

TEST(Sim, StaticServesWhatTheLayoutOffersAndNothingElse) {
  const auto nodes = cluster(5);  // gpu-004 is the RTX, at 4 replicas of ~6 GiB
  const std::vector<SimPod> pods = {{10, "1g.12gb", 0, 600, 0},
                                    {20, "1g.24gb", 0, 600, 0},  // all-balanced has none
                                    {30, "", 4 * kGiB, 600, 0},
                                    {40, "", 8 * kGiB, 600, 0}};  // more than a 4-replica share
  const SimReport r = run(nodes, pods, SimPolicy::kStatic, short_run(1));
  EXPECT_EQ(r.pods, 4U);
  EXPECT_EQ(r.served, 2U);
  EXPECT_EQ(r.waiting, 2U);
  EXPECT_EQ(r.reconfigurations, 0U);
  EXPECT_EQ(r.waiting_by_request.at("mig 1g.24gb"), 1U);
  EXPECT_EQ(r.waiting_by_request.at("mps 8192Mi"), 1U);
  // Both waited until the end (an hour): over 5 minutes; the two served ones waited 0 s.
  EXPECT_EQ(r.long_wait_by_request,
            (std::map<std::string, std::size_t>{{"mig 1g.24gb", 1}, {"mps 8192Mi", 1}}));
  EXPECT_DOUBLE_EQ(r.long_wait_share, 0.5);
  EXPECT_DOUBLE_EQ(r.wait_p50_s, 0);
}

TEST(Sim, OnDemandRepartitionsAnIdleNodeAfterTheBatchWindowAndTheDelay) {
  const auto nodes = cluster(5);
  const std::vector<SimPod> pods = {{10, "1g.24gb", 0, 600, 0}};
  const SimReport r = run(nodes, pods, SimPolicy::kOnDemand, short_run(1));
  EXPECT_EQ(r.served, 1U);
  EXPECT_EQ(r.reconfigurations, 1U);
  // Planned once the 10 s window has passed (ticks every 2 s), applied 60 s later.
  EXPECT_GE(r.wait_mean_s, 70);
  EXPECT_LE(r.wait_mean_s, 75);
  ASSERT_EQ(r.changes.size(), 1U);
  EXPECT_THAT(r.changes[0], HasSubstr("gpu-001"));  // the first H20
}

TEST(Sim, GreedyGivesTheWholeNodeToTheFirstPodsProfile) {
  const auto nodes = cluster(5);
  const std::vector<SimPod> pods = {{10, "1g.24gb", 0, 600, 0}};
  const SimReport r = run(nodes, pods, SimPolicy::kGreedy, short_run(1));
  EXPECT_EQ(r.served, 1U);
  ASSERT_EQ(r.changes.size(), 1U);
  EXPECT_THAT(r.changes[0], HasSubstr("-> mig 8x[1g.24gb x4]"));
}

TEST(Sim, NoNodeWithRunningPodsIsChanged) {
  // 17 long 1g.12gb pods: binpack fills gpu-001's 16 instances, the 17th lands on gpu-003, so
  // both H20s are busy. A 1g.24gb pod (H20 only) then finds no idle H20 under either policy.
  const auto nodes = cluster(5);
  std::vector<SimPod> pods;
  for (int i = 0; i < 17; ++i) pods.push_back({1.0 + i, "1g.12gb", 0, 7200, 0});
  pods.push_back({100, "1g.24gb", 0, 600, 0});
  for (SimPolicy p : {SimPolicy::kOnDemand, SimPolicy::kGreedy}) {
    const SimReport r = run(nodes, pods, p, short_run(1));
    EXPECT_EQ(r.served, 17U) << to_string(p);
    EXPECT_EQ(r.waiting_by_request.at("mig 1g.24gb"), 1U) << to_string(p);
    for (const auto& c : r.changes) {
      EXPECT_THAT(c, ::testing::Not(HasSubstr("gpu-001"))) << c;
      EXPECT_THAT(c, ::testing::Not(HasSubstr("gpu-003"))) << c;
    }
  }
}

TEST(Sim, BooksBalance) {
  const auto nodes = cluster(10);
  const auto pods = workload(nodes, 2, 0.9);
  for (SimPolicy p : {SimPolicy::kStatic, SimPolicy::kOnDemand, SimPolicy::kGreedy}) {
    const SimReport r = run(nodes, pods, p, short_run(2));
    EXPECT_EQ(r.pods, pods.size()) << to_string(p);
    EXPECT_EQ(r.served + r.waiting, r.pods) << to_string(p);
    std::size_t by_request = 0;
    for (const auto& [k, n] : r.waiting_by_request) by_request += n;
    EXPECT_EQ(by_request, r.waiting);
    std::size_t long_waits = 0;
    for (const auto& [k, n] : r.long_wait_by_request) long_waits += n;
    EXPECT_DOUBLE_EQ(static_cast<double>(long_waits) / static_cast<double>(r.pods),
                     r.long_wait_share);
    EXPECT_GE(r.gpu_allocated, 0);
    EXPECT_LE(r.gpu_allocated, 1);
    EXPECT_LE(r.wait_p50_s, r.wait_p95_s);
    EXPECT_EQ(r.changes.size(), r.reconfigurations);
  }
}

TEST(Sim, SameInputSameReport) {
  const auto nodes = cluster(10);
  const auto pods = workload(nodes, 1, 0.8);
  const SimReport a = run(nodes, pods, SimPolicy::kOnDemand, short_run(1));
  const SimReport b = run(nodes, pods, SimPolicy::kOnDemand, short_run(1));
  EXPECT_EQ(a.served, b.served);
  EXPECT_EQ(a.changes, b.changes);
  EXPECT_DOUBLE_EQ(a.wait_mean_s, b.wait_mean_s);
}

TEST(Sim, OnDemandServesWhatStaticLeavesWaiting) {
  // The default mix asks for profiles all-balanced lacks: static leaves them waiting for ever,
  // repartitioning serves them (a short smoke of what BENCHMARKS.md measures at length).
  const auto nodes = cluster(10);
  const auto pods = workload(nodes, 2, 0.6);
  const SimReport fixed = run(nodes, pods, SimPolicy::kStatic, short_run(2));
  const SimReport on_demand = run(nodes, pods, SimPolicy::kOnDemand, short_run(2));
  EXPECT_GT(fixed.waiting, 0U);
  EXPECT_LT(on_demand.waiting, fixed.waiting);
  EXPECT_LT(on_demand.wait_mean_s, fixed.wait_mean_s);
}

TEST(Sim, ClusterFromNodeObjects) {
  NodeView mig;
  mig.name = "h20";
  mig.labels = {{"nvidia.com/gpu.product", "NVIDIA-H20"},
                {"nvidia.com/gpu.count", "2"},
                {"nvidia.com/mig.capable", "true"},
                {"nvidia.com/mig.config", "all-balanced"}};
  mig.allocatable = {
      {"nvidia.com/mig-1g.12gb", 4}, {"nvidia.com/mig-2g.24gb", 2}, {"nvidia.com/mig-3g.48gb", 2}};
  NodeView rtx;
  rtx.name = "rtx";
  rtx.labels = {{"nvidia.com/gpu.product", "NVIDIA-GeForce-RTX-4090"},
                {"nvidia.com/gpu.count", "1"},
                {"nvidia.com/gpu.memory", "24564"}};
  rtx.allocatable = {{"nvidia.com/gpu.shared", 4}};
  auto built = cluster_from_nodes({rtx, mig}, catalog());
  ASSERT_TRUE(built) << built.error();
  ASSERT_EQ(built->size(), 2U);
  EXPECT_EQ((*built)[0].name, "h20");
  EXPECT_EQ((*built)[0].per_gpu.size(), 2U);
  EXPECT_EQ((*built)[0].per_gpu[1].at("1g.12gb"), 2);
  EXPECT_EQ((*built)[1].mps_replicas, 4);

  mig.allocatable["nvidia.com/mig-1g.12gb"] = 3;  // not even over 2 GPUs
  auto uneven = cluster_from_nodes({mig}, catalog());
  ASSERT_FALSE(uneven);
  EXPECT_THAT(uneven.error(), HasSubstr("cannot be spread evenly over 2 GPUs"));
}

}  // namespace
}  // namespace gpushare::policy
