// What allocatable means "done": MIG counts over the node's GPUs, MPS GPUs x replicas.
#include "repartition/action.h"

#include <gtest/gtest.h>

#include "repartition/kube_ports.h"

namespace gpushare::repartition {
namespace {

TEST(ExpectedAllocatable, MigSumsOverDevices) {
  Action a;
  a.kind = kKindMig;
  a.mig_config = nlohmann::json::parse(R"([
      {"devices":[0,1],"mig-enabled":true,"mig-devices":{"3g.48gb":2}},
      {"devices":[2],"mig-enabled":true,"mig-devices":{"1g.12gb":2,"1g.12gb+me":1,"3g.48gb":1}},
      {"devices":[3],"mig-enabled":false}])");
  Counts want = {{"nvidia.com/mig-3g.48gb", 5},
                 {"nvidia.com/mig-1g.12gb", 2},
                 {"nvidia.com/mig-1g.12gb.me", 1}};
  EXPECT_EQ(expected_allocatable(a, {}), want);
}

TEST(ExpectedAllocatable, MigAllUsesTheGpuCount) {
  Action a;
  a.kind = kKindMig;
  a.mig_config = nlohmann::json::parse(
      R"([{"devices":"all","mig-enabled":true,"mig-devices":{"1g.12gb":7}}])");
  EXPECT_EQ(expected_allocatable(a, {{kGpuCountLabel, "8"}}),
            (Counts{{"nvidia.com/mig-1g.12gb", 56}}));
  EXPECT_TRUE(expected_allocatable(a, {}).empty());
}

TEST(ExpectedAllocatable, MpsIsGpusTimesReplicas) {
  Action a;
  a.kind = kKindMps;
  a.device_plugin_config = nlohmann::json::parse(
      R"({"version":"v1","sharing":{"mps":{"renameByDefault":true,"resources":[{"name":"nvidia.com/gpu","replicas":4}]}}})");
  EXPECT_EQ(expected_allocatable(a, {{kGpuCountLabel, "2"}}),
            (Counts{{"nvidia.com/gpu.shared", 8}}));
}

TEST(ExpectedAllocatable, MalformedIsUnknownNotACrash) {
  Action a;
  a.kind = kKindMps;
  a.device_plugin_config =
      nlohmann::json::parse(R"({"sharing":{"mps":{"renameByDefault":"yes"}}})");
  EXPECT_TRUE(expected_allocatable(a, {{kGpuCountLabel, "2"}}).empty());
  a.kind = kKindMig;
  a.mig_config = nlohmann::json::parse(R"([{"devices":[0],"mig-enabled":"true"}])");
  EXPECT_TRUE(expected_allocatable(a, {}).empty());
}

TEST(NodeEdit, KeepsOtherTaintsAndTogglesOurs) {
  auto node = nlohmann::json::parse(R"({"metadata":{"name":"n","labels":{"a":"1"}},
      "spec":{"taints":[{"key":"other","effect":"NoExecute"}]}})");
  NodeEdit edit = node_edit_of(node);
  EXPECT_FALSE(edit.tainted);
  edit.tainted = true;
  edit.annotations["x"] = "y";
  apply_node_edit(node, edit);
  EXPECT_EQ(node["spec"]["taints"].size(), 2u);
  EXPECT_TRUE(node_edit_of(node).tainted);
  edit.tainted = false;
  apply_node_edit(node, edit);
  EXPECT_EQ(node["spec"]["taints"].size(), 1u);
  EXPECT_EQ(node["spec"]["taints"][0]["key"], "other");
  EXPECT_EQ(node["metadata"]["annotations"]["x"], "y");
}

}  // namespace
}  // namespace gpushare::repartition
