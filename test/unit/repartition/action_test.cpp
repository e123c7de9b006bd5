// What allocatable means "done": MIG counts over the node's GPUs, MPS GPUs x replicas.
#include "repartition/action.h"

#include <gtest/gtest.h>

#include "repartition/kube_ports.h"

namespace gpushare::repartition {
namespace {

TEST(ExpectedAllocatable, MigSumsOverDevices) {
  Action a;
  a.kind = policy::ActionKind::kMig;
  a.mig_config = {{{0, 1}, true, {{"3g.48gb", 2}}},
                  {{2}, true, {{"1g.12gb", 2}, {"1g.12gb+me", 1}, {"3g.48gb", 1}}},
                  {{3}, false, {}}};
  Counts want = {{"nvidia.com/mig-3g.48gb", 5},
                 {"nvidia.com/mig-1g.12gb", 2},
                 {"nvidia.com/mig-1g.12gb.me", 1}};  // '+' written as '.'
  EXPECT_EQ(expected_allocatable(a, {}), want);
}

TEST(ExpectedAllocatable, MpsIsGpusTimesReplicas) {
  Action a;
  a.kind = policy::ActionKind::kMps;
  a.device_plugin_config.resources = {{"nvidia.com/gpu", 4}};
  EXPECT_EQ(expected_allocatable(a, {{kGpuCountLabel, "2"}}),
            (Counts{{"nvidia.com/gpu.shared", 8}}));
  a.device_plugin_config.rename_by_default = false;
  EXPECT_EQ(expected_allocatable(a, {{kGpuCountLabel, "2"}}), (Counts{{"nvidia.com/gpu", 8}}));
  // Without the GPU count the total is unknown: only the labels are waited for.
  EXPECT_TRUE(expected_allocatable(a, {}).empty());
  EXPECT_TRUE(expected_allocatable(a, {{kGpuCountLabel, "two"}}).empty());
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
