// codec/objects.h on the extender's node fixtures and hand-written objects: Node and Pod JSON to
// policy views, NodeLists, and the depth-bounded parser.
#include "codec/objects.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "codec/json.h"
#include "test/support/fixtures.h"

namespace gpushare::codec {
namespace {

using nlohmann::json;

// test/fixtures/extender/nodes/<file>
json node_json(const std::string& file) {
  return json::parse(gpushare::testing::read_fixture("extender/nodes/" + file));
}

policy::NodeView node_view(const std::string& file) {
  auto v = decode_node(node_json(file));
  if (!v) throw std::runtime_error(file + ": " + v.error());
  return std::move(v).value();
}

TEST(DecodeNode, ReadsGfdLabelsAndNvidiaAllocatableOnly) {
  const policy::NodeView n = node_view("h20-mig.json");
  EXPECT_EQ(n.name, "gpu-h20");
  EXPECT_EQ(n.label("nvidia.com/gpu.product"), "NVIDIA-H20");
  EXPECT_EQ(n.label("nvidia.com/mig-1g.12gb.count"), "2");
  EXPECT_EQ(n.allocatable, (std::map<std::string, std::int64_t>{{"nvidia.com/gpu", 0},
                                                                {"nvidia.com/mig-1g.12gb", 2},
                                                                {"nvidia.com/mig-1g.24gb", 1},
                                                                {"nvidia.com/mig-3g.48gb", 1}}));
  EXPECT_TRUE(n.used.empty());
  EXPECT_FALSE(n.unschedulable);
  EXPECT_EQ(n.annotations.at("node.alpha.kubernetes.io/ttl"), "0");
}

TEST(DecodeNode, NullsAndUnschedulable) {
  const json node = {
      {"metadata", {{"name", "n"}, {"labels", nullptr}, {"annotations", nullptr}}},
      {"spec", {{"unschedulable", true}}},
      {"status", {{"allocatable", {{"nvidia.com/gpu.shared", "16"}, {"cpu", "not checked"}}}}}};
  auto v = decode_node(node);
  ASSERT_TRUE(v) << v.error();
  EXPECT_TRUE(v->unschedulable);
  EXPECT_EQ(v->allocatable.at("nvidia.com/gpu.shared"), 16);
  EXPECT_EQ(v->allocatable.count("cpu"), 0u);
}

TEST(DecodeNode, ErrorsNameThePath) {
  auto v =
      decode_node(json{{"metadata", {{"name", "n"}, {"labels", {{"a", 1}}}}}}, "Nodes.items[3]");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), "Nodes.items[3].metadata.labels[\"a\"]: expected string, got number");
  v = decode_node(json{{"metadata", nullptr}});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), "Node.metadata: missing; a Node needs metadata.name");
  v = decode_node(json::array());
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), "Node: expected object, got array");
}

TEST(DecodePod, ContainersInitFirstWithTheirResources) {
  const json pod = {
      {"metadata",
       {{"name", "p"}, {"namespace", "ns"}, {"annotations", {{"gpushare.io/mode", "mig"}}}}},
      {"spec",
       {{"initContainers",
         {{{"name", "i"}, {"resources", {{"limits", {{"nvidia.com/mig-1g.12gb", "1"}}}}}}}},
        {"containers",
         {{{"name", "c"}, {"resources", {{"requests", {{"nvidia.com/mig-1g.12gb", 2}}}}}}}},
        {"nodeName", "gpu-h20"},
        {"priority", 1000}}},
      {"status", {{"phase", "Pending"}}}};
  auto v = decode_pod(pod);
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->display_name(), "ns/p");
  ASSERT_EQ(v->containers.size(), 2u);
  EXPECT_TRUE(v->containers[0].init);
  EXPECT_EQ(v->containers[0].limits.at("nvidia.com/mig-1g.12gb"), "1");
  EXPECT_FALSE(v->containers[1].init);
  EXPECT_EQ(v->containers[1].requests.at("nvidia.com/mig-1g.12gb"),
            "2");  // a JSON number becomes its text
  EXPECT_EQ(v->node_name, "gpu-h20");
  EXPECT_EQ(v->priority, 1000);
  EXPECT_EQ(v->phase, "Pending");
  EXPECT_EQ(v->annotations.at("gpushare.io/mode"), "mig");
}

// Both shapes keep what decode_pod reads of the containers and the metadata; only the full one
// keeps the node constraints, which then decode as absent.
TEST(PodShape, WithoutNodeConstraintsDropsOnlyThose) {
  const std::string pod = R"({"metadata":{"name":"p","annotations":{"a":"b"},"uid":"u"},
    "spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"1"}},"env":[]}],
            "nodeName":"n1","nodeSelector":{"k":"v"},"tolerations":[{"key":"t"}],
            "affinity":{"nodeAffinity":{}},"priority":5,"volumes":[]},
    "status":{"phase":"Pending"}})";
  auto full = parse_json_shaped(pod, &pod_shape());
  auto narrow = parse_json_shaped(pod, &pod_shape_without_node_constraints());
  ASSERT_TRUE(full.ok() && narrow.ok());
  for (const char* key : {"nodeName", "nodeSelector", "tolerations", "affinity"}) {
    EXPECT_TRUE(full->at("spec").contains(key)) << key;
    EXPECT_FALSE(narrow->at("spec").contains(key)) << key;
  }
  for (const nlohmann::json* shaped : {&full.value(), &narrow.value()}) {
    EXPECT_FALSE(shaped->at("spec").contains("volumes"));
    EXPECT_FALSE(shaped->at("metadata").contains("uid"));
    auto view = decode_pod(*shaped);
    ASSERT_TRUE(view.ok()) << view.error();
    EXPECT_EQ(view->annotations, (policy::StringMap{{"a", "b"}}));
    ASSERT_EQ(view->containers.size(), 1U);
    EXPECT_EQ(view->containers[0].limits.at("nvidia.com/gpu"), "1");
    EXPECT_EQ(view->priority, 5);
    EXPECT_EQ(view->phase, "Pending");
  }
  EXPECT_EQ(decode_pod(*full)->node_selector, (policy::StringMap{{"k", "v"}}));
  EXPECT_TRUE(decode_pod(*narrow)->node_selector.empty());
  EXPECT_TRUE(decode_pod(*narrow)->tolerations.empty());
}

TEST(DecodePod, PriorityOutsideInt32IsAnError) {
  auto v = decode_pod(json{{"spec", {{"priority", 4294967296LL}}}});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), "Pod.spec.priority: expected a 32-bit integer, got 4294967296");
}

TEST(DecodeNodeList, NodeListOrBareArray) {
  const json a = node_json("h20-mig.json");
  const json b = node_json("cpu-only.json");
  auto list = decode_node_list(json{{"apiVersion", "v1"}, {"kind", "NodeList"}, {"items", {a, b}}});
  ASSERT_TRUE(list) << list.error();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].name, "cpu-1");
  auto bare = decode_node_list(json{a});
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->size(), 1u);
  EXPECT_TRUE(decode_node_list(json{{"items", nullptr}})->empty());
  auto bad = decode_node_list(json{{"items", {a, 7}}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "NodeList.items[1]: expected object, got number");
}

}  // namespace
}  // namespace gpushare::codec
