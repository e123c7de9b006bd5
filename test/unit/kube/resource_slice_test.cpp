// ResourceSlices -> what a node's view says of its DRA GPUs: decoding the NVIDIA driver's slices
// (test/fixtures/kube/resourceslice_*.json, shaped as docs/reference/nvidia-dra-driver.md says),
// and the index merging a node's slices whichever comes first.
#include "kube/resource_slice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/cluster_index.h"
#include "test/support/fixtures.h"

namespace gpushare::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

nlohmann::json fixture(const std::string& name) {
  return nlohmann::json::parse(gpushare::testing::read_fixture("kube/" + name));
}

ResourceSliceRecord decoded(const nlohmann::json& slice) {
  auto r = decode_resource_slice(slice);
  EXPECT_TRUE(r) << (r ? "" : r.error());
  EXPECT_TRUE(r && r->has_value());
  return r && *r ? **r : ResourceSliceRecord{};
}

TEST(DecodeResourceSlice, StaticMigDevicesGiveProductAndProfiles) {
  const ResourceSliceRecord s = decoded(fixture("resourceslice_static_h100.json"));
  EXPECT_EQ(s.name, "0-gpu.nvidia.com-node-a-x7k2p");
  EXPECT_EQ(s.node_name, "node-a");
  EXPECT_EQ(s.resource_version, "4711");
  EXPECT_THAT(s.gpus.products, ElementsAre("NVIDIA-H100-80GB-HBM3"));
  EXPECT_THAT(s.gpus.profiles, ElementsAre("1g.10gb", "3g.40gb"));
  EXPECT_EQ(s.gpus.devices, 2);
}

TEST(DecodeResourceSlice, DynamicMigIsACountersSliceAndADevicesSlice) {
  const ResourceSliceRecord counters = decoded(fixture("resourceslice_dynamic_counters.json"));
  EXPECT_EQ(counters.node_name, "node-b");
  EXPECT_EQ(counters.gpus.devices, 0);
  EXPECT_THAT(counters.gpus.profiles, IsEmpty());
  const ResourceSliceRecord devices = decoded(fixture("resourceslice_dynamic_gpu0.json"));
  EXPECT_EQ(devices.gpus.devices, 3);  // the whole GPU and two MIG placements
  EXPECT_THAT(devices.gpus.profiles, ElementsAre("1g.10gb", "1g.10gb+me"));
}

TEST(DecodeResourceSlice, QualifiedAttributeNamesReadTheSame) {
  nlohmann::json slice = fixture("resourceslice_static_h100.json");
  for (auto& device : slice["spec"]["devices"]) {
    nlohmann::json qualified = nlohmann::json::object();
    for (auto& [k, v] : device["attributes"].items()) qualified["gpu.nvidia.com/" + k] = v;
    device["attributes"] = qualified;
  }
  EXPECT_THAT(decoded(slice).gpus.profiles, ElementsAre("1g.10gb", "3g.40gb"));
}

TEST(DecodeResourceSlice, SlicesThatSayNothingOfOneNodesGpusAreSkipped) {
  struct Case {
    const char* what;
    const char* pointer;
    nlohmann::json value;
  };
  const std::vector<Case> cases = {
      {"another driver", "/spec/driver", "dra.example.com"},
      {"a network-attached pool (no nodeName)", "/spec/nodeName", nullptr},
  };
  for (const auto& c : cases) {
    nlohmann::json slice = fixture("resourceslice_static_h100.json");
    slice[nlohmann::json::json_pointer(c.pointer)] = c.value;
    auto r = decode_resource_slice(slice);
    ASSERT_TRUE(r) << c.what;
    EXPECT_FALSE(r->has_value()) << c.what;
  }
  nlohmann::json nameless = fixture("resourceslice_static_h100.json");
  nameless["metadata"].erase("name");
  EXPECT_FALSE(decode_resource_slice(nameless));
}

NodeRecord bare_node(const std::string& name) {
  NodeRecord r;
  r.view.name = name;
  return r;
}

TEST(ClusterIndexDra, ANodesViewMergesItsSlicesWhicheverComesFirst) {
  ClusterIndex index;
  index.upsert_resource_slice(decoded(fixture("resourceslice_dynamic_counters.json")));
  index.upsert_resource_slice(decoded(fixture("resourceslice_dynamic_gpu0.json")));
  index.replace_nodes({bare_node("node-a"), bare_node("node-b")});
  EXPECT_FALSE(index.node("node-a")->dra.has_value());
  ASSERT_TRUE(index.node("node-b")->dra.has_value());
  EXPECT_EQ(index.node("node-b")->dra->devices, 3);

  EXPECT_FALSE(index.upsert_resource_slice(decoded(fixture("resourceslice_static_h100.json"))));
  ASSERT_TRUE(index.node("node-a")->dra.has_value());
  EXPECT_THAT(index.node("node-a")->dra->profiles, ElementsAre("1g.10gb", "3g.40gb"));
  EXPECT_THAT(index.facts()->products, ElementsAre("NVIDIA-H100-80GB-HBM3"));
  EXPECT_THAT(index.facts()->published_profiles, ElementsAre("1g.10gb", "1g.10gb+me", "3g.40gb"));

  // A node event keeps what its slices say.
  NodeRecord relabelled = bare_node("node-a");
  relabelled.view.labels["team"] = "ml";
  index.upsert_node(relabelled);
  ASSERT_TRUE(index.node("node-a")->dra.has_value());

  EXPECT_TRUE(index.remove_resource_slice("0-gpu.nvidia.com-node-a-x7k2p"));
  EXPECT_FALSE(index.remove_resource_slice("0-gpu.nvidia.com-node-a-x7k2p"));
  EXPECT_FALSE(index.node("node-a")->dra.has_value());
  EXPECT_THAT(index.facts()->published_profiles, ElementsAre("1g.10gb", "1g.10gb+me"));

  // A relist replaces every slice: node-b's are gone.
  index.replace_resource_slices({decoded(fixture("resourceslice_static_h100.json"))});
  EXPECT_FALSE(index.node("node-b")->dra.has_value());
  EXPECT_TRUE(index.node("node-a")->dra.has_value());
  EXPECT_THAT(index.facts()->published_profiles, ElementsAre("1g.10gb", "3g.40gb"));
}

}  // namespace
}  // namespace gpushare::kube
