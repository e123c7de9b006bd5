// policy's plan -> the controller's actions (the planner's types, unchanged), and the planner
// gets the controller's view. The JSON the ConfigMaps receive: test/unit/codec/plan_json_test.cpp.
#include "repartition/planning.h"

#include <gtest/gtest.h>

namespace gpushare::repartition {
namespace {

using nlohmann::json;

TEST(Planning, ActionsKeepThePlannersTypes) {
  policy::PlanAction a;
  a.node = "gpu-004";
  a.kind = policy::ActionKind::kMig;
  a.config_name = "gpushare-0123456789abcdef";
  a.mig_config = {{{3}, true, {{"1g.12gb", 2}, {"1g.24gb", 1}, {"3g.48gb", 1}}}, {{4}, false, {}}};
  a.labels = {{"nvidia.com/mig.config", "gpushare-0123456789abcdef"},
              {"nvidia.com/device-plugin.config", "mig-mixed"}};
  a.serves = {"ns/pod-a", "ns/pod-b"};
  a.disrupts = {"ns/old"};
  Action out = to_action(a);
  EXPECT_EQ(out.node, a.node);
  EXPECT_EQ(out.kind, policy::ActionKind::kMig);
  EXPECT_EQ(out.config_name, a.config_name);
  EXPECT_EQ(out.mig_config, a.mig_config);
  EXPECT_EQ(out.labels.at("nvidia.com/device-plugin.config"), "mig-mixed");
  EXPECT_EQ(out.serves, a.serves);
  EXPECT_EQ(out.disrupts, a.disrupts);
  EXPECT_EQ(expected_allocatable(out, {}), (Counts{{"nvidia.com/mig-1g.12gb", 2},
                                                   {"nvidia.com/mig-1g.24gb", 1},
                                                   {"nvidia.com/mig-3g.48gb", 1}}));
  a.kind = policy::ActionKind::kMps;
  a.device_plugin_config.resources = {{"nvidia.com/gpu", 4}};
  EXPECT_EQ(to_action(a).device_plugin_config, a.device_plugin_config);
}

TEST(Planning, InputCarriesViewsAndConfigNames) {
  PlanInput in;
  in.cluster.nodes.push_back(policy::NodeView{});
  in.cluster.nodes[0].name = "n";
  kube::PodRecord p;
  p.view.namespace_name = "ns";
  p.view.name = "p";
  in.pending.push_back(p);
  in.config_names.mig_parted = std::set<std::string>{"all-disabled"};
  in.arrivals.mps_recent = {{std::int64_t{4} << 30, 7}};
  in.arrivals.mps_projected = {{std::int64_t{4} << 30, 21}};
  in.arrivals.mig_projected = {{"nvidia.com/mig-3g.40gb", 2}};
  policy::PlanSettings settings;
  settings.allow_disruption = true;
  auto out = to_policy_input(in, settings);
  ASSERT_EQ(out.nodes.size(), 1u);
  ASSERT_EQ(out.pending.size(), 1u);
  EXPECT_EQ(out.pending[0].name, "p");
  EXPECT_EQ(out.mig_config_names, in.config_names.mig_parted);
  EXPECT_FALSE(out.device_plugin_config_names);
  EXPECT_EQ(out.recent_mps_arrivals, in.arrivals.mps_recent);
  EXPECT_EQ(out.projected_mps_arrivals, in.arrivals.mps_projected);
  EXPECT_EQ(out.projected_mig_arrivals, in.arrivals.mig_projected);
  EXPECT_TRUE(out.settings.allow_disruption);
}

}  // namespace
}  // namespace gpushare::repartition

namespace gpushare::repartition {
namespace {

// policy::plan behind policy_planner, end to end: an idle H20 and a pod waiting for 3g.48gb.
TEST(Planning, PolicyPlannerRepartitionsAnIdleH20ForA3g48gbPod) {
  policy::NodeView node;
  node.name = "h20-1";
  node.labels = {
      {"nvidia.com/gpu.product", "NVIDIA-H20"},  {"nvidia.com/gpu.count", "1"},
      {"nvidia.com/gpu.memory", "97871"},        {"nvidia.com/mig.capable", "true"},
      {"nvidia.com/mig.strategy", "mixed"},      {"nvidia.com/mig.config", "all-disabled"},
      {"nvidia.com/mig.config.state", "success"}};
  node.allocatable = {{"nvidia.com/gpu", 1}};
  kube::PodRecord pod;
  pod.view.namespace_name = "ns";
  pod.view.name = "big";
  policy::ContainerView c;
  c.name = "main";
  c.limits = {{"nvidia.com/mig-3g.48gb", "1"}};
  c.requests = c.limits;
  pod.view.containers = {c};
  pod.unschedulable = true;
  pod.gpu_requests = {{"nvidia.com/mig-3g.48gb", 1}};

  PlanInput in;
  in.cluster.nodes = {node};
  in.pending = {pod};
  auto plan = policy_planner(policy::Catalog::builtin(), policy::PlanSettings{});
  auto actions = plan(in);
  ASSERT_EQ(actions.size(), 1u);
  const Action& a = actions[0];
  EXPECT_EQ(a.node, "h20-1");
  EXPECT_EQ(a.kind, policy::ActionKind::kMig);
  EXPECT_EQ(a.serves, std::vector<std::string>{"ns/big"});
  EXPECT_EQ(a.labels.at(kMigConfigLabel), a.config_name);
  EXPECT_GE(expected_allocatable(a, node.labels).at("nvidia.com/mig-3g.48gb"), 1);
  // A busy node is never chosen.
  kube::PodRecord running;
  running.view.namespace_name = "ns";
  running.view.name = "r";
  running.view.node_name = "h20-1";
  running.view.phase = "Running";
  policy::ContainerView rc;
  rc.name = "main";
  rc.limits = {{"nvidia.com/gpu", "1"}};
  rc.requests = rc.limits;
  running.view.containers = {rc};
  in.running = {running};
  in.cluster.nodes[0].used = {{"nvidia.com/gpu", 1}};
  EXPECT_TRUE(plan(in).empty());
  // Unless allowDisruption is on and the pod says it may be evicted: the action names it, for
  // the controller to evict first.
  policy::PlanSettings disrupting;
  disrupting.allow_disruption = true;
  in.running[0].view.annotations = {{disrupting.disruptable_annotation, "true"}};
  actions = policy_planner(policy::Catalog::builtin(), disrupting)(in);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].disrupts, std::vector<std::string>{"ns/r"});
}

}  // namespace
}  // namespace gpushare::repartition

namespace gpushare::repartition {
namespace {

TEST(Planning, PolicyPlannerTurnsAnIdleGpuNodeIntoMps) {
  policy::NodeView node;
  node.name = "gpu-7";
  node.labels = {{"nvidia.com/gpu.product", "NVIDIA-GeForce-RTX-4090"},
                 {"nvidia.com/gpu.count", "1"},
                 {"nvidia.com/gpu.memory", "24564"}};
  node.allocatable = {{"nvidia.com/gpu", 1}};
  kube::PodRecord pod;
  pod.view.namespace_name = "ns";
  pod.view.name = "small";
  pod.view.annotations = {{"gpushare.io/mode", "mps"}, {"gpushare.io/gpu-memory", "4Gi"}};
  policy::ContainerView c;
  c.name = "main";
  c.limits = {{"nvidia.com/gpu.shared", "1"}};
  c.requests = c.limits;
  pod.view.containers = {c};
  pod.unschedulable = true;
  pod.gpu_requests = {{"nvidia.com/gpu.shared", 1}};
  PlanInput in;
  in.cluster.nodes = {node};
  in.pending = {pod};
  auto actions = policy_planner(policy::Catalog::builtin(), policy::PlanSettings{})(in);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, policy::ActionKind::kMps);
  EXPECT_EQ(actions[0].labels.at(kDevicePluginConfigLabel), actions[0].config_name);
  auto expect = expected_allocatable(actions[0], node.labels);
  ASSERT_EQ(expect.count("nvidia.com/gpu.shared"), 1u);
  EXPECT_GE(expect.at("nvidia.com/gpu.shared"), 2);
}

}  // namespace
}  // namespace gpushare::repartition
