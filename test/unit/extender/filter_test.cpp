// POST /filter (extender/extender.h): both modes, null handling, subset property, 400s.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "test/unit/extender/helpers.h"

namespace gpushare::extender {
namespace {

using nlohmann::json;
using namespace gpushare::extender::testing;

const ExtenderSettings kSettings{};

NodeSource cache() { return node_source_from(all_nodes()); }

json filter(const std::string& body, const NodeSource& source = cache()) {
  ExtenderResult r = handle_filter(body, source, kSettings);
  EXPECT_EQ(r.http_status, 200) << r.body;
  return json::parse(r.body);
}

TEST(Filter, CacheModeMatchesGoldenReply) {
  const ExtenderResult r = handle_filter(
      gpushare::testing::read_fixture("extender/args/cache-mig-1g12gb.json"), cache(), kSettings);
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), fixture_json("expected/filter-cache-mig-1g12gb.json")) << r.body;
  EXPECT_TRUE(r.managed);
  EXPECT_FALSE(r.payload_mode);
  EXPECT_EQ(r.pod, "ml/train-0");  // the server's log line names it
  EXPECT_EQ(r.nodes, 6u);
  EXPECT_EQ(r.passed, 1u);
  EXPECT_EQ(r.failed, 2u);
  EXPECT_EQ(r.unresolvable, 3u);
}

TEST(Filter, ReplyUsesGoFieldNamesInGoOrder) {
  const ExtenderResult r = handle_filter(
      cache_args(pod_json("nvidia.com/mig-1g.12gb"), {"gpu-h20"}), cache(), kSettings);
  EXPECT_EQ(
      r.body,
      R"({"Nodes":null,"NodeNames":["gpu-h20"],"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":""})");
}

TEST(Filter, PayloadModeEchoesTheNodeBytesAsSent) {
  // Fields gpushare does not read, labels it does not read, odd spacing and escapes: all come
  // back byte for byte, because the reply copies each passing item from the body.
  const std::string node =
      R"({"metadata" : {"name":"gpu-h20","labels":{"nvidia.com/gpu.product":"NVIDIA-H20",)"
      R"("nvidia.com/mig.strategy":"mixed","nvidia.com/mig.capable":"true","x/é":"y"},)"
      R"("annotations":{"a":"b"}},"status":{"allocatable":{"nvidia.com/mig-1g.12gb":"2",)"
      R"("cpu":"96"},"images":[{"names":["n"],"sizeBytes":1.5e9}]}})";
  const std::string body = R"({"Pod":)" + pod_json("nvidia.com/mig-1g.12gb").dump() +
                           R"(,"Nodes":{"items":[ )" + node + R"( ]},"NodeNames":null})";
  const ExtenderResult r = handle_filter(body, NodeSource{}, kSettings);
  ASSERT_EQ(r.http_status, 200) << r.body;
  ASSERT_EQ(r.passed, 1u) << r.body;
  EXPECT_NE(r.body.find(R"("items":[)" + node + "]"), std::string::npos) << r.body;
  EXPECT_EQ(json::parse(r.body)["Nodes"]["items"][0], json::parse(node));
}

TEST(Filter, PayloadModeEchoesPassingNodeObjectsUnchanged) {
  const std::string body = gpushare::testing::read_fixture("extender/args/payload-shared-5gi.json");
  const ExtenderResult r = handle_filter(body, NodeSource{}, kSettings);
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_TRUE(r.payload_mode);
  const json reply = json::parse(r.body);
  EXPECT_TRUE(reply["NodeNames"].is_null());
  EXPECT_EQ(reply["Nodes"]["apiVersion"], "v1");
  EXPECT_EQ(reply["Nodes"]["kind"], "NodeList");
  EXPECT_EQ(reply["Nodes"]["metadata"], json::object());
  ASSERT_EQ(reply["Nodes"]["items"].size(), 1u);
  EXPECT_EQ(reply["Nodes"]["items"][0], node_json("rtx4090-mps.json"));
  EXPECT_EQ(reply["FailedNodes"],
            (json{{"gpu-h100-whole",
                   "MPS sharing is off (nvidia.com/gpu.sharing-strategy=none, "
                   "nvidia.com/mps.capable=false); gpushare can switch it to MPS when idle"}}));
  EXPECT_EQ(
      reply["FailedAndUnresolvableNodes"],
      (json{{"cpu-1",
             "no NVIDIA GPU (no nvidia.com/gpu.product label, no nvidia.com/* allocatable)"}}));
  EXPECT_EQ(reply["Error"], "");
}

TEST(Filter, PayloadModeIgnoresTheCache) {
  // Nodes come from the payload; an empty NodeSource is never asked.
  NodeSource never = [](std::span<const std::string_view> names,
                        std::vector<const policy::NodeView*>& out) {
    ADD_FAILURE() << "asked the cache for " << names.size() << " nodes";
    out.assign(names.size(), nullptr);
  };
  const json reply =
      filter(payload_args(pod_json("nvidia.com/mig-1g.12gb"), {node_json("h20-mig.json")}), never);
  EXPECT_EQ(reply["Nodes"]["items"].size(), 1u);
}

TEST(Filter, GoldenShapedPodWithNullContainersPassesEveryNode) {
  const json reply = filter(gpushare::testing::read_fixture("extender/args/golden-null-pod.json"));
  EXPECT_EQ(reply["NodeNames"], (json{"gpu-h20", "cpu-1"}));
  EXPECT_EQ(reply["FailedNodes"], json::object());
  EXPECT_EQ(reply["FailedAndUnresolvableNodes"], json::object());
}

TEST(Filter, NullsAreAcceptedEverywhereGoWritesThem) {
  json pod = {{"metadata", {{"name", "p"}, {"annotations", nullptr}, {"labels", nullptr}}},
              {"spec",
               {{"initContainers", nullptr},
                {"containers",
                 {{{"name", "c"}, {"resources", {{"limits", nullptr}, {"requests", nullptr}}}}}}}},
              {"status", nullptr}};
  EXPECT_EQ(filter(cache_args(pod, {"cpu-1"}))["NodeNames"], (json{"cpu-1"}));
  // Nodes.items null: no nodes.
  const json reply = filter(json{
      {"Pod", pod_json("nvidia.com/gpu.shared")},
      {"Nodes", {{"items", nullptr}}},
      {"NodeNames", nullptr}}.dump());
  EXPECT_EQ(reply["Nodes"]["items"], json::array());
}

TEST(Filter, BothNodesAndNodeNamesNullMeansNoNodes) {
  const json reply = filter(json{
      {"Pod", pod_json("nvidia.com/gpu.shared")},
      {"Nodes", nullptr},
      {"NodeNames", nullptr}}.dump());
  EXPECT_EQ(reply["NodeNames"], json::array());
  EXPECT_TRUE(reply["Nodes"].is_null());
}

TEST(Filter, NodeNamesIsAnEmptyArrayNeverNullWhenNothingPasses) {
  const ExtenderResult r =
      handle_filter(cache_args(pod_json("nvidia.com/mig-1g.12gb"), {"cpu-1"}), cache(), kSettings);
  EXPECT_NE(r.body.find(R"("NodeNames":[])"), std::string::npos) << r.body;
}

TEST(Filter, PodWithoutManagedResourcesPassesEveryNodeUntouched) {
  // Plain nvidia.com/gpu, no GPU at all, and gpushare annotations that would be invalid.
  for (const json& pod : {pod_json("nvidia.com/gpu"), pod_json(""),
                          pod_json("", 1, json{{"gpushare.io/mode", "bogus"}})}) {
    const std::vector<std::string> names = {"cpu-1", "gpu-h100-pending", "not-cached", "gpu-4090"};
    const ExtenderResult r = handle_filter(cache_args(pod, names), cache(), kSettings);
    EXPECT_FALSE(r.managed);
    EXPECT_EQ(json::parse(r.body)["NodeNames"], json(names));
    // Payload mode: the very objects that came in.
    const std::vector<json> items = {node_json("cpu-only.json"), node_json("h100-pending.json")};
    const json reply = filter(payload_args(pod, items));
    EXPECT_EQ(reply["Nodes"]["items"], json(items));
  }
}

TEST(Filter, UnknownNodeNameIsFailedNotInCacheYet) {
  const json reply = filter(cache_args(pod_json("nvidia.com/gpu.shared"), {"gpu-new"}));
  EXPECT_EQ(reply["FailedNodes"], (json{{"gpu-new", "not in gpushare's node cache yet"}}));
  // Without any cache (offline, no --nodes) every name is unknown.
  const json none =
      filter(cache_args(pod_json("nvidia.com/gpu.shared"), {"gpu-4090"}), NodeSource{});
  EXPECT_EQ(none["FailedNodes"], (json{{"gpu-4090", "not in gpushare's node cache yet"}}));
}

TEST(Filter, InvalidIntentMakesEveryNodeUnresolvable) {
  const json pod = pod_json("nvidia.com/gpu.shared", 1, json{{"gpushare.io/placement", "random"}});
  const ExtenderResult r =
      handle_filter(cache_args(pod, {"gpu-4090", "cpu-1", "gpu-new"}), cache(), kSettings);
  ASSERT_EQ(r.http_status, 200);
  const json reply = json::parse(r.body);
  EXPECT_EQ(reply["NodeNames"], json::array());
  ASSERT_EQ(reply["FailedAndUnresolvableNodes"].size(), 3u);
  const std::string reason = reply["FailedAndUnresolvableNodes"]["gpu-4090"];
  EXPECT_NE(reason.find("invalid gpushare annotations"), std::string::npos) << reason;
  EXPECT_NE(reason.find("gpushare.io/placement"), std::string::npos) << reason;
  EXPECT_EQ(reply["Error"], "");
}

TEST(Filter, AnnotationPrefixComesFromSettings) {
  ExtenderSettings s;
  s.annotation_prefix = "share.example.com/";
  const json pod =
      pod_json("nvidia.com/gpu.shared", 1, json{{"share.example.com/gpu-memory", "20Gi"}});
  const json reply = json::parse(handle_filter(cache_args(pod, {"gpu-4090"}), cache(), s).body);
  EXPECT_EQ(reply["FailedAndUnresolvableNodes"].size(), 1u) << reply;
}

TEST(Filter, BusyNodeFromTheCacheFailsWithCounts) {
  auto nodes = all_nodes();
  for (auto& n : nodes)
    if (n.name == "gpu-h20") n.used["nvidia.com/mig-1g.12gb"] = 2;
  const json reply =
      filter(cache_args(pod_json("nvidia.com/mig-1g.12gb"), {"gpu-h20"}), node_source_from(nodes));
  EXPECT_EQ(reply["FailedNodes"], (json{{"gpu-h20", "needs nvidia.com/mig-1g.12gb: 0 of 2 free"}}));
}

TEST(Filter, MpsNodeServesSharedPodsWithinTheirShare) {
  const json ok =
      pod_json("nvidia.com/gpu.shared", 1,
               json{{"gpushare.io/gpu-memory", "6000Mi"}, {"gpushare.io/gpu-compute", "25"}});
  EXPECT_EQ(filter(cache_args(ok, {"gpu-4090"}))["NodeNames"], (json{"gpu-4090"}));
  const json big = pod_json("nvidia.com/gpu.shared", 1, json{{"gpushare.io/gpu-memory", "8Gi"}});
  EXPECT_EQ(filter(cache_args(big, {"gpu-4090"}))["FailedNodes"],
            (json{{"gpu-4090",
                   "MPS share too small: 6141 MiB per replica (24564 MiB / 4 replicas), needs "
                   "gpu-memory=8Gi"}}));
}

TEST(Filter, GpuProductMatchesExactlyAcrossModes) {
  const json pod = pod_json("nvidia.com/gpu.shared", 1,
                            json{{"gpushare.io/gpu-product", "NVIDIA-GeForce-RTX-4090"}});
  EXPECT_EQ(filter(cache_args(pod, {"gpu-4090", "gpu-t4"}))["NodeNames"], (json{"gpu-4090"}));
  const json reply =
      filter(payload_args(pod, {node_json("t4.json"), node_json("rtx4090-mps.json")}));
  ASSERT_EQ(reply["Nodes"]["items"].size(), 1u);
  EXPECT_EQ(reply["Nodes"]["items"][0]["metadata"]["name"], "gpu-4090");
  EXPECT_EQ(reply["FailedAndUnresolvableNodes"]["gpu-t4"],
            "GPU is Tesla-T4; gpu-product asks for NVIDIA-GeForce-RTX-4090");
}

TEST(Filter, MigSingleStrategyNodeIsUnresolvable) {
  const json reply = filter(cache_args(pod_json("nvidia.com/mig-1g.5gb"), {"gpu-a100-single"}));
  EXPECT_EQ(reply["FailedAndUnresolvableNodes"].size(), 1u) << reply;
}

TEST(Filter, LowerCaseKeysAreAcceptedLikeGoDoes) {
  const json body = {
      {"pod", pod_json("nvidia.com/mig-1g.12gb")}, {"nodes", nullptr}, {"nodenames", {"gpu-h20"}}};
  EXPECT_EQ(filter(body.dump())["NodeNames"], (json{"gpu-h20"}));
}

// Keys in another casing miss the shaped parse; the body is parsed again whole and each passing
// Node is echoed from that parse (the same object, re-serialised), not from the body's bytes.
TEST(Filter, LowerCaseKeysInPayloadModeEchoEachPassingNodeObject) {
  const json body = {
      {"pod", pod_json("nvidia.com/mig-1g.12gb")},
      {"nodes", {{"items", {node_json("h20-mig.json"), node_json("cpu-only.json")}}}},
      {"nodenames", nullptr}};
  const ExtenderResult r = handle_filter(body.dump(), NodeSource{}, kSettings);
  ASSERT_EQ(r.http_status, 200) << r.body;
  EXPECT_TRUE(r.payload_mode);
  const json reply = json::parse(r.body);
  ASSERT_EQ(reply["Nodes"]["items"].size(), 1u) << r.body;
  EXPECT_EQ(reply["Nodes"]["items"][0], node_json("h20-mig.json"));
  EXPECT_EQ(reply["FailedAndUnresolvableNodes"].size(), 1u) << r.body;
}

TEST(Filter, NodeNamesWinWhenBothAreSent) {
  const json body = {{"Pod", pod_json("nvidia.com/mig-1g.12gb")},
                     {"Nodes", {{"items", {node_json("cpu-only.json")}}}},
                     {"NodeNames", {"gpu-h20"}}};
  const json reply = filter(body.dump());
  EXPECT_TRUE(reply["Nodes"].is_null());
  EXPECT_EQ(reply["NodeNames"], (json{"gpu-h20"}));
}

// Returned names are a subset of the input, and every input name gets exactly one verdict.
TEST(Filter, ReturnedNamesAreAlwaysASubsetOfTheInput) {
  const std::vector<std::string> pool = {
      "gpu-h100-mixed", "gpu-h20",         "gpu-4090", "gpu-h100-pending", "gpu-h100-whole",
      "gpu-t4",         "gpu-a100-single", "cpu-1",    "ghost-1",          "ghost-2"};
  const std::vector<json> pods = {
      pod_json("nvidia.com/mig-1g.12gb"),
      pod_json("nvidia.com/mig-3g.40gb", 1),
      pod_json("nvidia.com/gpu.shared"),
      pod_json("nvidia.com/mig-1g.10gb", 2),
      pod_json("nvidia.com/gpu"),
      pod_json("nvidia.com/gpu.shared", 1, json{{"gpushare.io/gpu-memory", "5Gi"}})};
  std::mt19937 rng(20250302);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> names;
    const std::size_t n = rng() % (pool.size() + 1);
    for (std::size_t i = 0; i < n; ++i) names.push_back(pool[rng() % pool.size()]);
    const json& pod = pods[rng() % pods.size()];
    const json reply = filter(cache_args(pod, names));
    const std::set<std::string> input(names.begin(), names.end());
    std::set<std::string> seen;
    for (const auto& name : reply["NodeNames"]) {
      EXPECT_TRUE(input.count(name.get<std::string>())) << name;
      seen.insert(name.get<std::string>());
    }
    for (const auto* map : {&reply["FailedNodes"], &reply["FailedAndUnresolvableNodes"]}) {
      for (const auto& [name, reason] : map->items()) {
        EXPECT_TRUE(input.count(name)) << name;
        EXPECT_TRUE(seen.insert(name).second) << name << " has two verdicts";
        EXPECT_FALSE(reason.get<std::string>().empty()) << name;
      }
    }
    EXPECT_EQ(seen, input);
  }
}

TEST(Filter, PayloadReturnsOnlyInputObjects) {
  const std::vector<json> items = {node_json("h100-mixed.json"),  node_json("h20-mig.json"),
                                   node_json("rtx4090-mps.json"), node_json("h100-pending.json"),
                                   node_json("h100-whole.json"),  node_json("t4.json"),
                                   node_json("a100-single.json"), node_json("cpu-only.json")};
  for (const json& pod : {pod_json("nvidia.com/mig-1g.12gb"), pod_json("nvidia.com/mig-1g.10gb"),
                          pod_json("nvidia.com/gpu.shared"), pod_json("nvidia.com/gpu")}) {
    const json reply = filter(payload_args(pod, items));
    std::size_t verdicts = reply["FailedNodes"].size() + reply["FailedAndUnresolvableNodes"].size();
    for (const auto& out : reply["Nodes"]["items"]) {
      EXPECT_NE(std::find(items.begin(), items.end(), out), items.end());
      ++verdicts;
    }
    EXPECT_EQ(verdicts, items.size());
  }
}

TEST(Filter, MalformedBodiesAre400WithAnError) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty body: expected an ExtenderArgs JSON object"},
      {"{", "not JSON at byte 2: syntax error while parsing object key"},
      {"[]", "ExtenderArgs: expected object"},
      {R"({"Nodes":null,"NodeNames":["a"]})", "ExtenderArgs.Pod: missing or null"},
      {R"({"Pod":null,"NodeNames":["a"]})", "ExtenderArgs.Pod: missing or null"},
      {R"({"Pod":{},"NodeNames":"a"})", "NodeNames: expected array"},
      {R"({"Pod":{},"NodeNames":[1]})", "NodeNames[0]: expected string"},
      {R"({"Pod":{},"Nodes":[]})", "Nodes: expected NodeList object"},
      {R"({"Pod":{},"Nodes":{"items":[{"metadata":{}}]}})",
       "Nodes.items[0].metadata.name: missing or empty"},
      {R"({"Pod":{"spec":{"containers":{}}},"NodeNames":[]})",
       "Pod.spec.containers: expected array"},
      {R"({"Pod":{"metadata":{"annotations":{"a":1}}},"NodeNames":[]})",
       "Pod.metadata.annotations[\"a\"]: expected string"},
      {R"({"Pod":{"spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu.shared":"x"}}}]}},"NodeNames":[]})",
       "Pod: container \"c\": nvidia.com/gpu.shared=\"x\" is not a quantity"},
      {R"({"Pod":{},"Nodes":{"items":[{"metadata":{"name":"n"},"status":{"allocatable":{"nvidia.com/gpu":"lots"}}}]}})",
       "Nodes.items[0].status.allocatable[\"nvidia.com/gpu\"]"},
      {std::string(100, '[') + std::string(100, ']'), "nested deeper"},
  };
  for (const auto& [body, want] : cases) {
    const ExtenderResult r = handle_filter(body, cache(), kSettings);
    EXPECT_EQ(r.http_status, 400) << body;
    const json reply = json::parse(r.body);
    ASSERT_TRUE(reply.contains("error")) << r.body;
    EXPECT_NE(reply["error"].get<std::string>().find(want), std::string::npos)
        << reply["error"] << " vs " << want;
    EXPECT_EQ(reply["error"], r.error);
  }
}

// A node NVIDIA's DRA driver serves: known to the cache with its ResourceSlices' summary, and
// in a full-node request as a Node object without nvidia.com/* capacity or GFD labels.
policy::NodeView dra_node() {
  policy::NodeView n;
  n.name = "dra-h100";
  n.dra = policy::DraGpus{{"NVIDIA-H100-80GB-HBM3"}, {"1g.10gb", "3g.40gb"}, 9};
  return n;
}

TEST(Filter, DraNodesPassToKubeSchedulersOwnAllocationInBothModes) {
  std::vector<policy::NodeView> nodes = all_nodes();
  nodes.push_back(dra_node());
  const NodeSource source = node_source_from(nodes);
  const json mig = pod_json("nvidia.com/mig-1g.10gb");
  EXPECT_EQ(filter(cache_args(mig, {"dra-h100", "gpu-h20"}), source)["NodeNames"],
            (json{"dra-h100"}));

  const json dra_object = {{"metadata", {{"name", "dra-h100"}}},
                           {"status", {{"allocatable", {{"cpu", "64"}}}}}};
  json reply = filter(payload_args(mig, {dra_object, node_json("h20-mig.json")}), source);
  ASSERT_EQ(reply["Nodes"]["items"].size(), 1u);
  EXPECT_EQ(reply["Nodes"]["items"][0]["metadata"]["name"], "dra-h100");

  // gpu-product is still gpushare's to enforce; MPS is not offered through DRA.
  const json h20_only =
      pod_json("nvidia.com/mig-1g.10gb", 1, json{{"gpushare.io/gpu-product", "NVIDIA-H20"}});
  reply = filter(cache_args(h20_only, {"dra-h100"}), source);
  EXPECT_EQ(reply["NodeNames"], json::array());
  EXPECT_EQ(reply["FailedAndUnresolvableNodes"]["dra-h100"],
            "DRA GPUs are NVIDIA-H100-80GB-HBM3; gpu-product asks for NVIDIA-H20");
  reply = filter(cache_args(pod_json("nvidia.com/gpu.shared"), {"dra-h100"}), source);
  EXPECT_EQ(reply["NodeNames"], json::array());
}

}  // namespace
}  // namespace gpushare::extender
