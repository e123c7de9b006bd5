// Writing one entry into the GPU Operator's ConfigMaps: other keys and other mig-configs
// survive, a conflicting writer makes us re-read and retry, and an unchanged entry is no write.
#include "kube/configmap_entry.h"

#include <gtest/gtest.h>

#include "kube/lease.h"
#include "test/unit/kube/object_store.h"

namespace gpushare::kube {
namespace {

using nlohmann::json;
using testing::FakeApiServer;
using testing::ObjectStore;
using Clock = std::chrono::system_clock;

const std::string kDp = "/api/v1/namespaces/gpu-operator/configmaps/device-plugin-config";
const std::string kMig = "/api/v1/namespaces/gpu-operator/configmaps/custom-mig-parted-config";
const Clock::time_point kT0 = Clock::time_point(std::chrono::seconds(1'800'000'000));

const char* kOperatorMigConfig = R"(version: v1
mig-configs:
  all-disabled:
    - devices: all
      mig-enabled: false
  all-1g.12gb:
    - device-filter: ["0x233510DE"]
      devices: all
      mig-enabled: true
      mig-devices:
        "1g.12gb": 7
)";

json mps4() {
  return json::parse(R"({"version":"v1","sharing":{"mps":{"renameByDefault":true,
                         "resources":[{"name":"nvidia.com/gpu","replicas":4}]}}})");
}
json layout() {
  return json::parse(R"([{"devices":[0],"mig-enabled":true,"mig-devices":{"3g.48gb":2}}])");
}

struct Fixture {
  ObjectStore store;
  FakeApiServer server{store.handler()};
  Client client{[this] {
    KubeConfig c;
    c.server = server.url();
    return c;
  }()};
  RmwOptions fast() {
    RmwOptions o;
    o.backoff = std::chrono::milliseconds(1);
    return o;
  }
};

json config_map(const std::string& name, json data) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "gpu-operator"}}},
          {"data", std::move(data)}};
}

TEST(YamlJson, StringsKeepTheirTypeThroughYaml) {
  json value = {
      {"a", "0x10DE"}, {"b", "true"}, {"c", 3}, {"d", true}, {"e", json::array({1, "1"})}};
  EXPECT_EQ(yaml_to_json(to_yaml(value)), value);
}

TEST(MigParted, MergeKeepsOtherConfigsAndAddsOurs) {
  auto merged = merge_mig_parted(kOperatorMigConfig, "gpushare-abc", layout());
  ASSERT_TRUE(merged.ok()) << merged.error();
  ASSERT_TRUE(*merged);
  auto doc = yaml_to_json(**merged);
  ASSERT_TRUE(doc);
  auto before = *yaml_to_json(kOperatorMigConfig);
  EXPECT_EQ((*doc)["version"], "v1");
  EXPECT_EQ((*doc)["mig-configs"]["all-disabled"], before["mig-configs"]["all-disabled"]);
  EXPECT_EQ((*doc)["mig-configs"]["all-1g.12gb"], before["mig-configs"]["all-1g.12gb"]);
  EXPECT_EQ((*doc)["mig-configs"]["gpushare-abc"], layout());
}

TEST(MigParted, MergeOfTheSameEntryIsNoChange) {
  auto once = merge_mig_parted(kOperatorMigConfig, "gpushare-abc", layout());
  auto twice = merge_mig_parted(**once, "gpushare-abc", layout());
  ASSERT_TRUE(twice.ok());
  EXPECT_FALSE(*twice);
}

TEST(MigParted, MergeReplacesAChangedEntryOnly) {
  auto once = merge_mig_parted(kOperatorMigConfig, "gpushare-abc", layout());
  json other = json::parse(R"([{"devices":"all","mig-enabled":true,"mig-devices":{"1g.12gb":7}}])");
  auto twice = merge_mig_parted(**once, "gpushare-abc", other);
  ASSERT_TRUE(*twice);
  auto doc = *yaml_to_json(**twice);
  EXPECT_EQ(doc["mig-configs"]["gpushare-abc"], other);
  EXPECT_EQ(doc["mig-configs"].size(), 3u);
}

TEST(MigParted, MergeIntoEmptyStartsAFile) {
  auto merged = merge_mig_parted("", "gpushare-abc", layout());
  auto doc = *yaml_to_json(**merged);
  EXPECT_EQ(doc["version"], "v1");
  EXPECT_EQ(doc["mig-configs"]["gpushare-abc"], layout());
}

TEST(MigParted, MergeRejectsAFileThatIsNoMap) {
  EXPECT_FALSE(merge_mig_parted("- a\n- b\n", "x", layout()).ok());
  EXPECT_FALSE(merge_mig_parted("version: v1\nmig-configs: [1]\n", "x", layout()).ok());
}

TEST(ConfigMapEntry, DevicePluginEntryKeepsOtherKeys) {
  Fixture f;
  f.store.put(
      kDp, config_map("device-plugin-config", {{"default", "version: v1\n"}, {"mps-2", "x: 1\n"}}));
  auto w = write_device_plugin_entry(f.client, "gpu-operator", "device-plugin-config",
                                     "gpushare-m4", mps4(), f.fast(), kT0);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_TRUE(w->written);
  EXPECT_EQ(w->written_at, kT0);
  auto cm = *f.store.get(kDp);
  EXPECT_EQ(cm["data"]["default"], "version: v1\n");
  EXPECT_EQ(cm["data"]["mps-2"], "x: 1\n");
  EXPECT_EQ(yaml_to_json(cm["data"]["gpushare-m4"].get<std::string>()), mps4());
  EXPECT_EQ(
      parse_time(
          cm["metadata"]["annotations"]["gpushare.io/written-at.gpushare-m4"].get<std::string>()),
      kT0);
}

TEST(ConfigMapEntry, SameContentIsNoWriteAndKeepsTheFirstTime) {
  Fixture f;
  f.store.put(kDp, config_map("device-plugin-config", json::object()));
  ASSERT_TRUE(write_device_plugin_entry(f.client, "gpu-operator", "device-plugin-config",
                                        "gpushare-m4", mps4(), f.fast(), kT0)
                  .ok());
  int writes = f.store.writes();
  auto again =
      write_device_plugin_entry(f.client, "gpu-operator", "device-plugin-config", "gpushare-m4",
                                mps4(), f.fast(), kT0 + std::chrono::seconds(90));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->written);
  EXPECT_EQ(again->written_at, kT0);
  EXPECT_EQ(f.store.writes(), writes);
}

TEST(ConfigMapEntry, ConflictRereadsAndKeepsTheOtherWritersKey) {
  Fixture f;
  f.store.put(kMig, config_map("custom-mig-parted-config", {{"config.yaml", kOperatorMigConfig}}));
  // Two racing writers in a row: each adds its own key before our PUT lands.
  int n = 0;
  f.store.race_next_puts(2, [&n](json& cm) { cm["data"]["someone-" + std::to_string(++n)] = "v"; });
  auto w = write_mig_parted_entry(f.client, "gpu-operator", "custom-mig-parted-config",
                                  "gpushare-abc", layout(), f.fast(), kT0);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_TRUE(w->written);
  auto cm = *f.store.get(kMig);
  EXPECT_EQ(cm["data"]["someone-1"], "v");
  EXPECT_EQ(cm["data"]["someone-2"], "v");
  auto doc = *yaml_to_json(cm["data"]["config.yaml"].get<std::string>());
  EXPECT_EQ(doc["mig-configs"].size(), 3u);
  EXPECT_EQ(doc["mig-configs"]["gpushare-abc"], layout());
}

TEST(ConfigMapEntry, GivesUpAfterBoundedConflicts) {
  Fixture f;
  f.store.put(kDp, config_map("device-plugin-config", json::object()));
  f.store.race_next_puts(100, [](json& cm) { cm["data"]["busy"] = "1"; });
  auto w = write_device_plugin_entry(f.client, "gpu-operator", "device-plugin-config", "e", mps4(),
                                     f.fast(), kT0);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.kind(), ErrorKind::kConflict);
}

TEST(ConfigMapEntry, AMissingConfigMapIsNotFoundAndNotCreated) {
  // The operator reads only the ConfigMap its ClusterPolicy names: one we created would be read
  // by nobody.
  Fixture f;
  auto w = write_mig_parted_entry(f.client, "gpu-operator", "custom-mig-parted-config",
                                  "gpushare-abc", layout(), f.fast(), kT0);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.kind(), ErrorKind::kNotFound);
  EXPECT_FALSE(f.store.get(kMig));
}

// ---- garbage collection ------------------------------------------------------------------

// A ConfigMap whose entries were written by us at the given ages (minutes before kT0), plus
// entries with no written-at annotation.
json with_written_at(json cm, const std::map<std::string, int>& minutes_ago) {
  for (const auto& [entry, minutes] : minutes_ago) {
    cm["metadata"]["annotations"][std::string(kWrittenAtPrefix) + entry] =
        micro_time(kT0 - std::chrono::minutes(minutes));
  }
  return cm;
}

TEST(EntryGc, RemovesOnlyOurUnusedEntriesPastTheGrace) {
  const json cm =
      with_written_at(config_map("c", json::object()),
                      {{"gpushare-old", 30}, {"gpushare-new", 2}, {"gpushare-used", 90}});
  PruneRule rule;
  rule.now = kT0;
  rule.grace = std::chrono::minutes(10);
  rule.in_use = [](const std::string& e) { return e == "gpushare-used"; };
  struct Case {
    const char* name;
    std::vector<std::string> present;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"old unused goes; young, used and foreign stay",
       {"gpushare-old", "gpushare-new", "gpushare-used", "all-balanced", "gpushare-foreign"},
       {"gpushare-old"}},
      {"an annotation for an entry that is not there removes nothing", {"all-balanced"}, {}},
      {"nothing present", {}, {}},
  };
  for (const Case& c : cases) EXPECT_EQ(entries_to_prune(cm, c.present, rule), c.want) << c.name;

  // Not told what is in use: nothing counts as used (the controller always says).
  rule.in_use = nullptr;
  EXPECT_EQ(entries_to_prune(cm, {"gpushare-used"}, rule),
            std::vector<std::string>{"gpushare-used"});
}

TEST(EntryGc, KeepsAtMostMaxUnusedOldestFirstButNoneYoungerThanMinAge) {
  std::map<std::string, int> ages;
  std::vector<std::string> present;
  for (int i = 0; i < 6; ++i) {
    const std::string name = "gpushare-" + std::to_string(i);
    ages[name] = i == 5 ? 0 : 5 - i;  // gpushare-0 is oldest (5 min), gpushare-5 brand new
    present.push_back(name);
  }
  const json cm = with_written_at(config_map("c", json::object()), ages);
  PruneRule rule;
  rule.now = kT0;
  rule.grace = std::chrono::minutes(10);
  rule.max_kept = 2;
  rule.min_age = std::chrono::minutes(1);
  rule.in_use = [](const std::string&) { return false; };
  // Six unused, two may stay: the four oldest go; gpushare-5 (0 min) would be too young anyway.
  EXPECT_EQ(entries_to_prune(cm, present, rule),
            (std::vector<std::string>{"gpushare-0", "gpushare-1", "gpushare-2", "gpushare-3"}));
  rule.max_kept = 0;  // even then, an entry younger than min_age stays (a write about to be marked)
  auto all_but_newest = entries_to_prune(cm, present, rule);
  EXPECT_EQ(all_but_newest.size(), 5u);
  EXPECT_EQ(std::count(all_but_newest.begin(), all_but_newest.end(), "gpushare-5"), 0);
}

TEST(EntryGc, DropFromMigPartedKeepsEverythingElse) {
  auto merged = merge_mig_parted(kOperatorMigConfig, "gpushare-abc", layout());
  ASSERT_TRUE(merged.ok() && *merged);
  EXPECT_EQ(mig_parted_entry_names(**merged),
            (std::vector<std::string>{"all-disabled", "all-1g.12gb", "gpushare-abc"}));
  auto dropped = drop_mig_parted_entries(**merged, {"gpushare-abc"});
  ASSERT_TRUE(dropped.ok()) << dropped.error();
  EXPECT_EQ(*yaml_to_json(*dropped), *yaml_to_json(kOperatorMigConfig));
  EXPECT_FALSE(drop_mig_parted_entries("[1, 2]", {"x"}).ok());
  EXPECT_TRUE(mig_parted_entry_names("not: [yaml").empty());
}

TEST(EntryGc, PrunesBothConfigMapsInPreconditionedWrites) {
  Fixture f;
  auto merged = merge_mig_parted(kOperatorMigConfig, "gpushare-orphan", layout());
  f.store.put(kMig,
              with_written_at(config_map("custom-mig-parted-config", {{"config.yaml", **merged}}),
                              {{"gpushare-orphan", 60}}));
  f.store.put(
      kDp, with_written_at(config_map("device-plugin-config", {{"default", "version: v1\n"},
                                                               {"gpushare-mps", to_yaml(mps4())},
                                                               {"gpushare-live", to_yaml(mps4())}}),
                           {{"gpushare-mps", 60}, {"gpushare-live", 60}}));
  PruneRule rule;
  rule.now = kT0;
  rule.in_use = [](const std::string& e) { return e == "gpushare-live"; };
  // Someone adds a key while we prune: our write conflicts, is decided again, and keeps theirs.
  f.store.race_next_puts(1, [](json& cm) { cm["data"]["someone"] = "v"; });
  auto dp =
      prune_device_plugin_entries(f.client, "gpu-operator", "device-plugin-config", rule, f.fast());
  ASSERT_TRUE(dp.ok()) << dp.error().message;
  EXPECT_EQ(*dp, std::vector<std::string>{"gpushare-mps"});
  json cm = *f.store.get(kDp);
  EXPECT_FALSE(cm["data"].contains("gpushare-mps"));
  EXPECT_TRUE(cm["data"].contains("gpushare-live"));
  EXPECT_TRUE(cm["data"].contains("default"));
  EXPECT_EQ(cm["data"]["someone"], "v");
  EXPECT_FALSE(
      cm["metadata"]["annotations"].contains(std::string(kWrittenAtPrefix) + "gpushare-mps"));
  EXPECT_TRUE(
      cm["metadata"]["annotations"].contains(std::string(kWrittenAtPrefix) + "gpushare-live"));

  auto mig = prune_mig_parted_entries(f.client, "gpu-operator", "custom-mig-parted-config", rule,
                                      f.fast());
  ASSERT_TRUE(mig.ok()) << mig.error().message;
  EXPECT_EQ(*mig, std::vector<std::string>{"gpushare-orphan"});
  EXPECT_EQ(mig_parted_entry_names((*f.store.get(kMig))["data"]["config.yaml"].get<std::string>()),
            (std::vector<std::string>{"all-disabled", "all-1g.12gb"}));

  // Nothing left to prune: no write at all.
  const int writes = f.store.writes();
  auto again = prune_mig_parted_entries(f.client, "gpu-operator", "custom-mig-parted-config", rule,
                                        f.fast());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(f.store.writes(), writes);
}

}  // namespace
}  // namespace gpushare::kube
