// codec/mig_parted: the mig-parted `mig-configs` content (nvidia.md 4.1) as the planner's
// entries. Lenient: a config with any unreadable entry is left out, the others are kept.
#include "codec/mig_parted.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gpushare::codec {
namespace {

using policy::MigConfigEntry;

TEST(MigParted, ReadsEntriesAllDevicesAndMigOff) {
  const auto configs = decode_mig_configs(nlohmann::json::parse(R"({
    "all-disabled": [{"devices": "all", "mig-enabled": false}],
    "all-balanced": [
      {"device-filter": ["0x233010DE"], "devices": "all", "mig-enabled": true,
       "mig-devices": {"1g.10gb": 2, "2g.20gb": 1, "3g.40gb": 1}},
      {"device-filter": "0x232910DE", "devices": "all", "mig-enabled": true,
       "mig-devices": {"1g.12gb": 2, "2g.24gb": 1, "3g.48gb": 1}}],
    "node-a": [{"devices": [0], "mig-enabled": true, "mig-devices": {"3g.40gb": 2, "1g.10gb": 0}},
               {"devices": [1, 2], "mig-enabled": true, "mig-devices": {}}]})"));
  ASSERT_EQ(configs.size(), 3U);
  EXPECT_EQ(configs.at("all-disabled"), (std::vector<MigConfigEntry>{{{}, false, {}}}));
  EXPECT_EQ(configs.at("all-balanced").size(), 2U);
  EXPECT_EQ(configs.at("all-balanced")[1].mig_devices.at("3g.48gb"), 1);
  // Zero counts are dropped; an empty map is MIG on with nothing on it.
  EXPECT_EQ(configs.at("node-a"),
            (std::vector<MigConfigEntry>{{{0}, true, {{"3g.40gb", 2}}}, {{1, 2}, true, {}}}));
}

TEST(MigParted, AConfigWithAnUnreadableEntryIsLeftOut) {
  const std::vector<std::string> bad = {
      R"([{"devices": "some", "mig-enabled": true}])",
      R"([{"devices": [0], "mig-enabled": "yes"}])",
      R"([{"devices": [-1], "mig-enabled": true, "mig-devices": {}}])",
      R"([{"devices": [], "mig-enabled": true, "mig-devices": {}}])",
      R"([{"devices": [0], "mig-enabled": true, "mig-devices": {"1g.10gb": "2"}}])",
      R"([{"devices": [0], "mig-enabled": true, "mig-devices": []}])",
      R"([{"mig-enabled": true, "mig-devices": {}}])",
      R"([])",
      R"({"devices": "all"})",
      R"("all")",
  };
  for (const auto& entries : bad) {
    nlohmann::json doc = {
        {"broken", nlohmann::json::parse(entries)},
        {"fine", nlohmann::json::parse(R"([{"devices": "all", "mig-enabled": false}])")}};
    const auto configs = decode_mig_configs(doc);
    EXPECT_EQ(configs.count("broken"), 0U) << entries;
    EXPECT_EQ(configs.count("fine"), 1U) << entries;
  }
  EXPECT_TRUE(decode_mig_configs(nlohmann::json::array()).empty());
  EXPECT_TRUE(decode_mig_configs(nlohmann::json()).empty());
}

}  // namespace
}  // namespace gpushare::codec
