// codec/plan_json.h: the mig-parted entries and the device plugin config exactly as CONTRACT.md
// section 5 and the GPU Operator read them, and the same content the planner hashes into the
// config name (policy::canonical_text), so a name always stands for what is written.
#include "codec/plan_json.h"

#include <gtest/gtest.h>

#include <vector>

namespace gpushare::codec {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

TEST(PlanJson, MigPartedEntriesInTheContractsOrder) {
  const std::vector<policy::MigConfigEntry> entries = {
      {{3}, true, {{"1g.12gb", 2}, {"1g.24gb", 1}, {"3g.48gb", 1}}}, {{4, 5}, false, {}}};
  EXPECT_EQ(
      mig_config_json<ordered_json>(entries).dump(),
      R"([{"devices":[3],"mig-enabled":true,"mig-devices":{"1g.12gb":2,"1g.24gb":1,"3g.48gb":1}},)"
      R"({"devices":[4,5],"mig-enabled":false}])");
}

TEST(PlanJson, DevicePluginConfig) {
  policy::DevicePluginConfig c;
  c.resources = {{"nvidia.com/gpu", 4}};
  EXPECT_EQ(
      device_plugin_config_json<ordered_json>(c).dump(),
      R"({"version":"v1","sharing":{"mps":{"renameByDefault":true,"resources":[{"name":"nvidia.com/gpu","replicas":4}]}}})");
}

TEST(PlanJson, WhatIsWrittenIsWhatTheNameHashes) {
  // Sorted keys (json, not ordered_json) give canonical_text's byte order.
  const policy::MigConfigEntry e{{0, 1}, true, {{"1g.12gb", 2}, {"3g.48gb", 1}}};
  EXPECT_EQ(mig_config_json<json>(std::vector<policy::MigConfigEntry>{e}).dump(),
            policy::canonical_text(std::vector<policy::MigConfigEntry>{e}));
  policy::DevicePluginConfig c;
  c.resources = {{"nvidia.com/gpu", 7}};
  EXPECT_EQ(device_plugin_config_json<json>(c).dump(), policy::canonical_text(c));
}

TEST(PlanJson, WholePlan) {
  policy::Plan plan;
  policy::PlanAction a;
  a.node = "gpu-1";
  a.kind = policy::ActionKind::kMps;
  a.config_name = "gpushare-m";
  a.device_plugin_config.resources = {{"nvidia.com/gpu", 2}};
  a.labels = {{"nvidia.com/device-plugin.config", "gpushare-m"}};
  a.serves = {"ns/p"};
  a.steps = {{"nvidia.com/device-plugin.config", "gpushare-m", "nvidia.com/mps.capable=true"}};
  plan.actions = {a};
  plan.unplaced = {{"ns/q", "no node"}};
  EXPECT_EQ(
      plan_json(plan).dump(),
      R"({"actions":[{"node":"gpu-1","kind":"mps","configName":"gpushare-m",)"
      R"("devicePluginConfig":{"version":"v1","sharing":{"mps":{"renameByDefault":true,"resources":[{"name":"nvidia.com/gpu","replicas":2}]}}},)"
      R"("labels":{"nvidia.com/device-plugin.config":"gpushare-m"},"serves":["ns/p"],)"
      R"("steps":[{"label":"nvidia.com/device-plugin.config","value":"gpushare-m","waitFor":"nvidia.com/mps.capable=true"}]}],)"
      R"("unplaced":[{"pod":"ns/q","reason":"no node"}]})");
}

}  // namespace
}  // namespace gpushare::codec
