// POST /prioritize (extender/extender.h): a bare HostPriorityList, integer scores 0..10.
#include <gtest/gtest.h>

#include "test/unit/extender/helpers.h"

namespace gpushare::extender {
namespace {

using nlohmann::json;
using namespace gpushare::extender::testing;

// The 4090 fixture twice more, with 0, 1 and 3 of its 4 replicas held.
NodeSource mps_cluster() {
  auto nodes = all_nodes();
  for (auto& n : nodes)
    if (n.name == "gpu-4090") n.used["nvidia.com/gpu.shared"] = 1;
  auto idle = node_view("rtx4090-mps.json");
  idle.name = "gpu-4090-idle";
  auto full = node_view("rtx4090-mps.json");
  full.name = "gpu-4090-nearly-full";
  full.used["nvidia.com/gpu.shared"] = 3;
  nodes.push_back(idle);
  nodes.push_back(full);
  return node_source_from(nodes);
}

json prioritize(const std::string& body, const NodeSource& source, const ExtenderSettings& s = {}) {
  const ExtenderResult r = handle_prioritize(body, source, s);
  EXPECT_EQ(r.http_status, 200) << r.body;
  return json::parse(r.body);
}

std::map<std::string, int> scores(const json& list) {
  std::map<std::string, int> out;
  for (const auto& e : list) out[e["Host"]] = e["Score"];
  return out;
}

const std::vector<std::string> kMpsNames = {"gpu-4090-idle", "gpu-4090", "gpu-4090-nearly-full",
                                            "gpu-h20",       "cpu-1",    "ghost"};

TEST(Prioritize, BareArrayWithOneIntegerEntryPerInputNodeInOrder) {
  const ExtenderResult r = handle_prioritize(
      cache_args(pod_json("nvidia.com/gpu.shared"), kMpsNames), mps_cluster(), {});
  ASSERT_EQ(r.http_status, 200);
  const json list = json::parse(r.body);
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), kMpsNames.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(list[i].size(), 2u);
    EXPECT_EQ(list[i]["Host"], kMpsNames[i]);
    ASSERT_TRUE(list[i]["Score"].is_number_integer()) << list[i];
    EXPECT_GE(list[i]["Score"].get<int>(), 0);
    EXPECT_LE(list[i]["Score"].get<int>(), 10);
  }
  // Integers on the wire: Go rejects 5.0 for an int64.
  EXPECT_EQ(r.body.find('.'), std::string::npos) << r.body;
}

TEST(Prioritize, BinpackIsTheDefaultAndFillsSharingNodes) {
  const auto s =
      scores(prioritize(cache_args(pod_json("nvidia.com/gpu.shared"), kMpsNames), mps_cluster()));
  EXPECT_GT(s.at("gpu-4090-nearly-full"), s.at("gpu-4090"));
  EXPECT_GT(s.at("gpu-4090"), s.at("gpu-4090-idle"));
  EXPECT_GT(s.at("gpu-4090-idle"), s.at("gpu-h20"));  // fits now beats "after switching to MPS"
  EXPECT_EQ(s.at("gpu-h20"), 1);
  EXPECT_EQ(s.at("cpu-1"), 0);
  EXPECT_EQ(s.at("ghost"), 0);
}

TEST(Prioritize, SpreadFromTheAnnotation) {
  const json pod = pod_json("nvidia.com/gpu.shared", 1, json{{"gpushare.io/placement", "spread"}});
  const auto s = scores(prioritize(cache_args(pod, kMpsNames), mps_cluster()));
  EXPECT_EQ(s.at("gpu-4090-idle"), 10);
  EXPECT_GT(s.at("gpu-4090-idle"), s.at("gpu-4090"));
  EXPECT_GT(s.at("gpu-4090"), s.at("gpu-4090-nearly-full"));
  EXPECT_GT(s.at("gpu-4090-nearly-full"), s.at("gpu-h20"));
}

TEST(Prioritize, SpreadFromSettingsAndTheAnnotationWins) {
  ExtenderSettings spread;
  spread.default_placement = policy::PlacementPolicy::kSpread;
  auto s = scores(
      prioritize(cache_args(pod_json("nvidia.com/gpu.shared"), kMpsNames), mps_cluster(), spread));
  EXPECT_GT(s.at("gpu-4090-idle"), s.at("gpu-4090-nearly-full"));
  const json pod = pod_json("nvidia.com/gpu.shared", 1, json{{"gpushare.io/placement", "binpack"}});
  s = scores(prioritize(cache_args(pod, kMpsNames), mps_cluster(), spread));
  EXPECT_LT(s.at("gpu-4090-idle"), s.at("gpu-4090-nearly-full"));
}

TEST(Prioritize, ExactProfileBeatsRepartitioning) {
  // Both are H100s; 3g.40gb exists on gpu-h100-mixed now, gpu-h100-whole must be repartitioned.
  const auto s = scores(prioritize(
      cache_args(pod_json("nvidia.com/mig-3g.40gb"), {"gpu-h100-whole", "gpu-h100-mixed"}),
      node_source_from(all_nodes())));
  EXPECT_EQ(s.at("gpu-h100-whole"), 1);
  EXPECT_GE(s.at("gpu-h100-mixed"), 2);
}

TEST(Prioritize, PodWithoutManagedResourcesScoresEveryNodeZero) {
  const json list = prioritize(cache_args(pod_json("nvidia.com/gpu"), kMpsNames), mps_cluster());
  for (const auto& e : list) EXPECT_EQ(e["Score"], 0) << e;
}

TEST(Prioritize, InvalidIntentScoresEveryNodeZero) {
  const json pod = pod_json("nvidia.com/gpu.shared", 1, json{{"gpushare.io/placement", "random"}});
  for (const auto& e : prioritize(cache_args(pod, kMpsNames), mps_cluster()))
    EXPECT_EQ(e["Score"], 0) << e;
}

TEST(Prioritize, PayloadModeScoresTheNodesInTheBody) {
  const std::string body = gpushare::testing::read_fixture("extender/args/payload-shared-5gi.json");
  const json list = prioritize(body, NodeSource{});
  EXPECT_EQ(list, json::parse(R"([{"Host":"gpu-4090","Score":2},{"Host":"gpu-h100-whole","Score":1},
                                  {"Host":"cpu-1","Score":0}])"));
}

TEST(Prioritize, EmptyAndNullNodeListsGiveAnEmptyArray) {
  EXPECT_EQ(prioritize(cache_args(pod_json("nvidia.com/gpu.shared"), {}), mps_cluster()),
            json::array());
  const json body = {
      {"Pod", pod_json("nvidia.com/gpu.shared")}, {"Nodes", nullptr}, {"NodeNames", nullptr}};
  const ExtenderResult r = handle_prioritize(body.dump(), mps_cluster(), {});
  EXPECT_EQ(r.body, "[]");
}

TEST(Prioritize, MalformedBodyIs400) {
  const ExtenderResult r = handle_prioritize("not json", mps_cluster(), {});
  EXPECT_EQ(r.http_status, 400);
  EXPECT_TRUE(json::parse(r.body).contains("error"));
}

}  // namespace
}  // namespace gpushare::extender
