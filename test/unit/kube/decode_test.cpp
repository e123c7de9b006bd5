#include "kube/decode.h"

#include <gtest/gtest.h>

#include "codec/objects.h"
#include "test/support/fixtures.h"

namespace gpushare::kube {
namespace {

nlohmann::json fixture(const std::string& name) {
  return nlohmann::json::parse(gpushare::testing::read_fixture("kube/" + name));
}

TEST(DecodeNode, RealShapedGfdNodeKeepsLabelsAndOnlyNvidiaAllocatable) {
  auto node = decode_node(fixture("node_h100_mixed.json"));
  ASSERT_TRUE(node.ok()) << node.error();
  EXPECT_EQ(node->view.name, "gpu-node-1");
  EXPECT_EQ(node->uid, "5b0c3d4e-8f1a-4c2b-9d3e-1a2b3c4d5e6f");
  EXPECT_EQ(node->resource_version, "123456");
  EXPECT_EQ(node->view.label("nvidia.com/gpu.product"), "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(node->view.label("nvidia.com/mig.strategy"), "mixed");
  EXPECT_EQ(node->view.label("nvidia.com/mig-1g.10gb.memory"), "9984");
  EXPECT_EQ(node->view.annotations.at("node.alpha.kubernetes.io/ttl"), "0");
  EXPECT_FALSE(node->view.unschedulable);
  std::map<std::string, std::int64_t> expected{{"nvidia.com/gpu", 0},
                                               {"nvidia.com/mig-1g.10gb", 2},
                                               {"nvidia.com/mig-2g.20gb", 1},
                                               {"nvidia.com/mig-3g.40gb", 1}};
  EXPECT_EQ(node->view.allocatable, expected);  // no cpu, memory, pods
  EXPECT_TRUE(node->view.used.empty());
}

TEST(DecodeNode, CordonedNode) {
  auto json = fixture("node_h100_mixed.json");
  json["spec"]["unschedulable"] = true;
  auto node = decode_node(json);
  ASSERT_TRUE(node.ok());
  EXPECT_TRUE(node->view.unschedulable);
}

TEST(DecodeNode, TaintsAndPodTolerationsReachTheCache) {
  auto json = fixture("node_h100_mixed.json");
  json["spec"]["taints"] = nlohmann::json::parse(
      R"([{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}])");
  auto node = decode_node(json);
  ASSERT_TRUE(node.ok());
  ASSERT_EQ(node->view.taints.size(), 1U);
  EXPECT_EQ(node->view.taints[0].key, "nvidia.com/gpu");
  auto pod = decode_pod(nlohmann::json::parse(R"({"metadata": {"name": "p", "namespace": "ml"},
      "spec": {"containers": [], "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
               "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                 {"nodeSelectorTerms": [{"matchExpressions":
                   [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}}})"));
  ASSERT_TRUE(pod.ok()) << pod.error();
  ASSERT_EQ(pod->view.tolerations.size(), 1U);
  ASSERT_TRUE(pod->view.required_node_terms.has_value());
  EXPECT_EQ(pod->view.required_node_terms->size(), 1U);
}

TEST(DecodeNode, BadGpuQuantityNamesTheField) {
  auto json = fixture("node_h100_mixed.json");
  json["status"]["allocatable"]["nvidia.com/gpu"] = "half";
  auto node = decode_node(json);
  ASSERT_FALSE(node.ok());
  EXPECT_NE(
      node.error().find("node.status.allocatable[\"nvidia.com/gpu\"]: \"half\" is not a quantity"),
      std::string::npos)
      << node.error();
}

TEST(DecodePod, FieldsOfTheWrongTypeReadAsAbsentAndThePodIsKept) {
  // The watch cache decodes leniently (codec::DecodeMode::kLenient): one odd field must not drop
  // a pod that holds GPUs from the node's accounting. The strict decoder refuses the same pod.
  auto json = fixture("pod_training_running.json");
  json["metadata"]["labels"]["odd"] = 7;
  json["spec"]["nodeSelector"] = "not a map";
  json["spec"]["priority"] = 1e12;
  auto pod = decode_pod(json);
  ASSERT_TRUE(pod.ok()) << pod.error();
  EXPECT_EQ(pod->view.labels.count("odd"), 0U);
  EXPECT_EQ(pod->view.labels.at("app"), "trainer");
  EXPECT_TRUE(pod->view.node_selector.empty());
  EXPECT_EQ(pod->gpu_requests.at("nvidia.com/mig-2g.20gb"), 2);
  EXPECT_FALSE(codec::decode_pod(json).ok());
}

TEST(DecodeNode, MissingNameIsAnError) { EXPECT_FALSE(decode_node(nlohmann::json::object()).ok()); }

TEST(DecodePod, ContainersInitFirstWithResourcesAsText) {
  auto pod = decode_pod(fixture("pod_training_running.json"));
  ASSERT_TRUE(pod.ok()) << pod.error();
  const auto& v = pod->view;
  EXPECT_EQ(v.namespace_name, "ml");
  EXPECT_EQ(v.name, "trainer-0");
  EXPECT_EQ(v.node_name, "gpu-node-1");
  EXPECT_EQ(v.phase, "Running");
  EXPECT_EQ(v.priority, 1000);
  EXPECT_EQ(v.labels.at("app"), "trainer");
  EXPECT_EQ(v.annotations.at("gpushare.io/gpu-memory"), "20Gi");
  ASSERT_EQ(v.containers.size(), 4u);
  EXPECT_TRUE(v.containers[0].init);
  EXPECT_EQ(v.containers[0].name, "warmup");
  EXPECT_EQ(v.containers[1].name, "log-shipper");
  EXPECT_EQ(v.containers[1].index, 1u);
  EXPECT_FALSE(v.containers[2].init);
  EXPECT_EQ(v.containers[2].index, 0u);
  EXPECT_EQ(v.containers[2].requests.at("memory"), "16Gi");
  EXPECT_EQ(v.containers[3].limits.at("nvidia.com/mig-1g.10gb"), "1");
  EXPECT_TRUE(v.containers[3].requests.empty());
  EXPECT_FALSE(pod->terminated);
  EXPECT_FALSE(pod->unschedulable);
  EXPECT_EQ(pod->key(), "ml/trainer-0");
}

TEST(DecodePod, EffectiveRequestIsMaxOfInitPeakAndContainerSum) {
  auto pod = decode_pod(fixture("pod_training_running.json"));
  ASSERT_TRUE(pod.ok());
  // warmup (init) asks for 2, the containers for 1 in all: the pod holds 2 while it starts.
  // eval has only a limit: its request defaults to it.
  ResourceCounts expected{{"nvidia.com/mig-2g.20gb", 2}, {"nvidia.com/mig-1g.10gb", 1}};
  EXPECT_EQ(pod->gpu_requests, expected);
}

TEST(DecodePod, ContainerSumWinsOverSmallerInitContainer) {
  nlohmann::json pod = {
      {"metadata", {{"name", "p"}, {"namespace", "d"}}},
      {"spec",
       {{"initContainers",
         {{{"name", "i"}, {"resources", {{"requests", {{"nvidia.com/gpu", "1"}}}}}}}},
        {"containers",
         {{{"name", "a"}, {"resources", {{"requests", {{"nvidia.com/gpu", "1"}}}}}},
          {{"name", "b"}, {"resources", {{"requests", {{"nvidia.com/gpu", "2"}}}}}}}}}}};
  auto decoded = decode_pod(pod);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->gpu_requests.at("nvidia.com/gpu"), 3);
}

TEST(DecodePod, SidecarsAddToContainersAndToLaterInitContainers) {
  // sidecar s (1) runs beside everything after it: init i2 peaks at 2 + 1 = 3; the
  // containers run at 1 + 1 = 2; the pod needs 3.
  nlohmann::json pod = {
      {"metadata", {{"name", "p"}, {"namespace", "d"}}},
      {"spec",
       {{"initContainers",
         {{{"name", "s"},
           {"restartPolicy", "Always"},
           {"resources", {{"requests", {{"nvidia.com/gpu", "1"}}}}}},
          {{"name", "i2"}, {"resources", {{"requests", {{"nvidia.com/gpu", "2"}}}}}}}},
        {"containers",
         {{{"name", "a"}, {"resources", {{"requests", {{"nvidia.com/gpu", "1"}}}}}}}}}}};
  auto decoded = decode_pod(pod);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->gpu_requests.at("nvidia.com/gpu"), 3);
  pod["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] = "4";
  decoded = decode_pod(pod);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->gpu_requests.at("nvidia.com/gpu"), 5);
}

TEST(DecodePod, UnschedulableConditionAndPending) {
  auto pod = decode_pod(fixture("pod_unschedulable.json"));
  ASSERT_TRUE(pod.ok()) << pod.error();
  EXPECT_TRUE(pod->view.node_name.empty());
  EXPECT_EQ(pod->view.generate_name, "infer-");
  EXPECT_EQ(pod->view.phase, "Pending");
  EXPECT_TRUE(pod->unschedulable);
  EXPECT_EQ(pod->unschedulable_message,
            "0/3 nodes are available: 3 Insufficient nvidia.com/mig-3g.40gb.");
  EXPECT_EQ(pod->gpu_requests.at("nvidia.com/mig-3g.40gb"), 1);
}

TEST(DecodePod, TerminatedPhases) {
  auto json = fixture("pod_training_running.json");
  for (const char* phase : {"Succeeded", "Failed"}) {
    json["status"]["phase"] = phase;
    auto pod = decode_pod(json);
    ASSERT_TRUE(pod.ok());
    EXPECT_TRUE(pod->terminated) << phase;
  }
}

TEST(DecodePod, BadGpuQuantityNamesThePodAndTheContainer) {
  auto json = fixture("pod_unschedulable.json");
  json["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/mig-3g.40gb"] = "lots";
  auto pod = decode_pod(json);
  ASSERT_FALSE(pod.ok());
  const std::string name = json["metadata"]["namespace"].get<std::string>() + "/" +
                           json["metadata"]["name"].get<std::string>();
  const std::string container = json["spec"]["containers"][0]["name"];
  EXPECT_EQ(pod.error().rfind("pod " + name + ": container \"" + container +
                                  "\": nvidia.com/mig-3g.40gb=\"lots\" is not a quantity",
                              0),
            0U)
      << pod.error();
}

}  // namespace
}  // namespace gpushare::kube
