// CONTRACT.md section 3, rules 1-7: one named test (or table row) per rule.
#include "policy/admission.h"

#include <gtest/gtest.h>

namespace gpushare::policy {
namespace {

ContainerView gpu_container(std::string name, std::string count, bool init = false,
                            std::size_t index = 0) {
  ContainerView c;
  c.name = std::move(name);
  c.init = init;
  c.index = index;
  c.limits["nvidia.com/gpu"] = count;
  c.limits["cpu"] = "1";
  return c;
}

ContainerView sidecar() {
  ContainerView c;
  c.name = "sidecar";
  c.index = 1;
  c.limits["cpu"] = "100m";
  return c;
}

PodView pod(StringMap annotations, std::vector<ContainerView> containers) {
  PodView p;
  p.namespace_name = "ml";
  p.name = "infer-0";
  p.annotations = std::move(annotations);
  p.containers = std::move(containers);
  return p;
}

NodeView h20_node() {
  NodeView n;
  n.name = "gpu-h20";
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-H20"},
              {"nvidia.com/mig.capable", "true"},
              {"nvidia.com/mig.strategy", "mixed"},
              {"nvidia.com/mig.config.state", "success"}};
  n.allocatable = {
      {"nvidia.com/mig-1g.12gb", 2}, {"nvidia.com/mig-1g.24gb", 1}, {"nvidia.com/mig-3g.48gb", 1}};
  return n;
}

NodeView rtx4090_mps_node(int replicas) {
  NodeView n;
  n.name = "gpu-4090";
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-GeForce-RTX-4090"},
              {"nvidia.com/gpu.memory", "24564"},
              {"nvidia.com/gpu.replicas", std::to_string(replicas)},
              {"nvidia.com/gpu.sharing-strategy", "mps"},
              {"nvidia.com/mps.capable", "true"},
              {"nvidia.com/gpu.count", "1"}};
  n.allocatable = {{"nvidia.com/gpu.shared", replicas}, {"nvidia.com/gpu", 0}};
  return n;
}

AdmissionDecision decide(const PodView& p, const ClusterView& cluster = {},
                         std::string_view op = "CREATE") {
  return decide_admission(p, op, facts_of(cluster), Catalog::builtin(), AdmissionSettings{});
}

const std::string kAssigned = "gpushare.io/assigned-resource";

TEST(AdmissionRule1, PodWithoutIntentOrManagedResourceIsOutOfScope) {
  auto d = decide(pod({{"team", "a"}}, {gpu_container("main", "1")}));
  EXPECT_EQ(d.outcome, AdmissionOutcome::kOutOfScope);
  EXPECT_TRUE(d.renames.empty());
  EXPECT_TRUE(d.annotation_key.empty());
}

TEST(AdmissionRule1, DirectSharedResourceIsInScopeWithoutAnnotations) {
  ContainerView c;
  c.name = "main";
  c.limits["nvidia.com/gpu.shared"] = "1";
  auto d = decide(pod({}, {c}));
  EXPECT_EQ(d.outcome, AdmissionOutcome::kAllowed);
  EXPECT_EQ(d.assigned_resource, "nvidia.com/gpu.shared");
  EXPECT_EQ(d.annotation_key, kAssigned);
}

TEST(AdmissionRule1, OperationsOtherThanCreateAreAllowedUnchanged) {
  for (const char* op : {"UPDATE", "DELETE", "CONNECT"}) {
    auto d = decide(pod({{"gpushare.io/mode", "mps"}}, {gpu_container("main", "2")}), {}, op);
    EXPECT_EQ(d.outcome, AdmissionOutcome::kOutOfScope) << op;
    EXPECT_TRUE(d.renames.empty()) << op;
  }
}

TEST(AdmissionRule2, EveryContainerIncludingInitIsRenamed) {
  auto d =
      decide(pod({{"gpushare.io/mig-profile", "1g.12gb"}},
                 {gpu_container("setup", "1", true, 0), gpu_container("main", "2"), sidecar()}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kAllowed) << d.message;
  ASSERT_EQ(d.renames.size(), 2u);
  EXPECT_EQ(d.renames[0].container, 0u);
  EXPECT_EQ(d.renames[1].container, 1u);
  for (const auto& r : d.renames) {
    EXPECT_EQ(r.from, "nvidia.com/gpu");
    EXPECT_EQ(r.to, "nvidia.com/mig-1g.12gb");
  }
}

TEST(AdmissionRule3, MpsMapsToOneSharedGpu) {
  auto d = decide(pod({{"gpushare.io/mode", "mps"}}, {gpu_container("main", "1")}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kAllowed);
  ASSERT_EQ(d.renames.size(), 1u);
  EXPECT_EQ(d.renames[0].to, "nvidia.com/gpu.shared");
  EXPECT_EQ(d.rule, "3.3 mps");
}

TEST(AdmissionRule3, MpsMappingOfTwoIsDeniedNamingContainerAndCount) {
  auto d = decide(pod({{"gpushare.io/mode", "mps"}}, {gpu_container("trainer", "2")}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kDenied);
  EXPECT_NE(d.message.find("container \"trainer\""), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("asks for 2 nvidia.com/gpu.shared"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("limited to 1 per container"), std::string::npos) << d.message;
  EXPECT_TRUE(d.renames.empty());
}

TEST(AdmissionRule3, DirectSharedRequestOfTwoIsDeniedWithoutAnnotations) {
  ContainerView c;
  c.name = "main";
  c.limits["nvidia.com/gpu.shared"] = "2";
  c.requests["nvidia.com/gpu.shared"] = "2";
  auto d = decide(pod({}, {c}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kDenied);
  EXPECT_NE(d.message.find("asks for 2 nvidia.com/gpu.shared"), std::string::npos) << d.message;
}

TEST(AdmissionRule3, SharedCountInInitContainerIsCheckedToo) {
  ContainerView c = gpu_container("warmup", "3", true);
  auto d = decide(pod({{"gpushare.io/mode", "mps"}}, {c}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kDenied);
  EXPECT_NE(d.message.find("init container \"warmup\""), std::string::npos) << d.message;
}

struct MigCase {
  const char* name;
  StringMap annotations;
  std::vector<NodeView> nodes;
  std::string resource;
};

class AdmissionRule4 : public ::testing::TestWithParam<MigCase> {};

TEST_P(AdmissionRule4, MapsToTheRightProfile) {
  const auto& c = GetParam();
  auto d = decide(pod(c.annotations, {gpu_container("main", "1")}), ClusterView{c.nodes});
  ASSERT_EQ(d.outcome, AdmissionOutcome::kAllowed) << d.message;
  ASSERT_EQ(d.renames.size(), 1u);
  EXPECT_EQ(d.renames[0].to, c.resource);
  EXPECT_EQ(d.assigned_resource, c.resource);
}

INSTANTIATE_TEST_SUITE_P(
    Table, AdmissionRule4,
    ::testing::Values(
        MigCase{
            "NamedProfile", {{"gpushare.io/mig-profile", "1g.12gb"}}, {}, "nvidia.com/mig-1g.12gb"},
        MigCase{"PlusWrittenAsDot",
                {{"gpushare.io/mig-profile", "1g.10gb+me"}},
                {},
                "nvidia.com/mig-1g.10gb.me"},
        MigCase{"ContractExampleH20_20Gi",
                {{"gpushare.io/gpu-product", "NVIDIA-H20"}, {"gpushare.io/gpu-memory", "20Gi"}},
                {},
                "nvidia.com/mig-1g.24gb"},
        MigCase{"H20FromClusterNodes",
                {{"gpushare.io/mode", "mig"}, {"gpushare.io/gpu-memory", "20Gi"}},
                {h20_node()},
                "nvidia.com/mig-1g.24gb"},
        MigCase{"ComputeBreaksMemoryTie",
                {{"gpushare.io/gpu-product", "NVIDIA-H20"},
                 {"gpushare.io/mode", "mig"},
                 {"gpushare.io/gpu-compute", "25"}},
                {},
                "nvidia.com/mig-2g.24gb"},
        MigCase{"SmallestWithoutRequirements",
                {{"gpushare.io/mode", "mig"}},
                {h20_node()},
                "nvidia.com/mig-1g.12gb"},
        MigCase{"H100ProductExact",
                {{"gpushare.io/gpu-product", "NVIDIA-H100-80GB-HBM3"},
                 {"gpushare.io/gpu-memory", "30Gi"}},
                {},
                "nvidia.com/mig-3g.40gb"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(AdmissionRule4, NoProfileLargeEnoughIsDeniedWithTheLargest) {
  auto d =
      decide(pod({{"gpushare.io/gpu-product", "NVIDIA-H20"}, {"gpushare.io/gpu-memory", "200Gi"}},
                 {gpu_container("main", "1")}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kDenied);
  EXPECT_NE(d.message.find("200Gi"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("7g.96gb"), std::string::npos) << d.message;
}

TEST(AdmissionRule4, ProfileNotOnTheNamedProductIsDenied) {
  auto d = decide(
      pod({{"gpushare.io/gpu-product", "NVIDIA-H20"}, {"gpushare.io/mig-profile", "1g.10gb"}},
          {gpu_container("main", "1")}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kDenied);
  EXPECT_NE(d.message.find("1g.10gb"), std::string::npos) << d.message;
}

TEST(AdmissionRule4, ProductIsMatchedExactlyNeverBySubstring) {
  auto d = decide(pod({{"gpushare.io/gpu-product", "NVIDIA-H2"}, {"gpushare.io/mode", "mig"}},
                      {gpu_container("main", "1")}));
  EXPECT_EQ(d.outcome, AdmissionOutcome::kDenied) << d.assigned_resource;
}

TEST(AdmissionRule4, NamedProfileTooSmallForMemoryIsDenied) {
  auto d = decide(pod({{"gpushare.io/mig-profile", "1g.12gb"}, {"gpushare.io/gpu-memory", "20Gi"}},
                      {gpu_container("main", "1")}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kDenied);
  EXPECT_NE(d.message.find("does not meet gpu-memory 20Gi"), std::string::npos) << d.message;
}

TEST(AdmissionRule4, RoundingUpIsAWarning) {
  auto d =
      decide(pod({{"gpushare.io/gpu-product", "NVIDIA-H20"}, {"gpushare.io/gpu-memory", "20Gi"}},
                 {gpu_container("main", "1")}));
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_NE(d.warnings[0].find("rounded up to MIG profile 1g.24gb"), std::string::npos)
      << d.warnings[0];
  EXPECT_LE(d.warnings[0].size(), 120u);
}

TEST(AdmissionRule4, ProfilePublishedByANodeIsKnownEvenIfNotInCatalog) {
  NodeView n = h20_node();
  n.allocatable["nvidia.com/mig-3g.39gb"] = 1;  // a driver-drifted name (NVIDIA/mig-parted#31)
  auto d = decide(pod({{"gpushare.io/mig-profile", "3g.39gb"}}, {gpu_container("main", "1")}),
                  ClusterView{{n}});
  ASSERT_EQ(d.outcome, AdmissionOutcome::kAllowed) << d.message;
  EXPECT_EQ(d.assigned_resource, "nvidia.com/mig-3g.39gb");
}

TEST(AdmissionRule5, AutoPicksMpsWhenAReplicaIsBigEnough) {
  auto d = decide(pod({{"gpushare.io/gpu-memory", "8Gi"}}, {gpu_container("main", "1")}),
                  ClusterView{{rtx4090_mps_node(2), h20_node()}});
  ASSERT_EQ(d.outcome, AdmissionOutcome::kAllowed);
  EXPECT_EQ(d.assigned_resource, "nvidia.com/gpu.shared");
  EXPECT_EQ(d.rule, "3.5 auto -> mps");
}

TEST(AdmissionRule5, AutoFallsBackToMigWhenReplicasAreTooSmall) {
  // 24564 MiB / 4 replicas = 6141 MiB per replica < 8Gi.
  auto d = decide(pod({{"gpushare.io/gpu-memory", "8Gi"}}, {gpu_container("main", "1")}),
                  ClusterView{{rtx4090_mps_node(4), h20_node()}});
  ASSERT_EQ(d.outcome, AdmissionOutcome::kAllowed) << d.message;
  EXPECT_EQ(d.assigned_resource, "nvidia.com/mig-1g.12gb");
  EXPECT_EQ(d.rule, "3.5 auto -> mig");
}

TEST(AdmissionRule5, AutoComputeUsesIntegerPercentPerReplica) {
  // 3 replicas give 33%, not 33.3%: 34% does not fit.
  auto d = decide(pod({{"gpushare.io/gpu-compute", "34"}}, {gpu_container("main", "1")}),
                  ClusterView{{rtx4090_mps_node(3), h20_node()}});
  EXPECT_NE(d.assigned_resource, "nvidia.com/gpu.shared");
  auto fits = decide(pod({{"gpushare.io/gpu-compute", "33"}}, {gpu_container("main", "1")}),
                     ClusterView{{rtx4090_mps_node(3), h20_node()}});
  EXPECT_EQ(fits.assigned_resource, "nvidia.com/gpu.shared");
}

TEST(AdmissionRule5, AutoWithProfileIsMig) {
  auto d = decide(pod({{"gpushare.io/mode", "auto"}, {"gpushare.io/mig-profile", "3g.48gb"}},
                      {gpu_container("main", "1")}),
                  ClusterView{{rtx4090_mps_node(2)}});
  EXPECT_EQ(d.assigned_resource, "nvidia.com/mig-3g.48gb");
}

TEST(AdmissionRule6, MalformedAnnotationIsDeniedWithTheParserMessage) {
  auto d = decide(pod({{"gpushare.io/gpu-memory", "lots"}}, {gpu_container("main", "1")}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kDenied);
  EXPECT_NE(d.message.find("gpushare.io/gpu-memory=\"lots\""), std::string::npos) << d.message;
}

TEST(AdmissionRule6, FractionalGpuCountIsDenied) {
  auto d = decide(pod({{"gpushare.io/mode", "mps"}}, {gpu_container("main", "500m")}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kDenied);
  EXPECT_NE(d.message.find("whole numbers"), std::string::npos) << d.message;
}

TEST(AdmissionRule7, DecisionIsRecordedAsAnnotation) {
  auto d = decide(pod({{"gpushare.io/mode", "mps"}}, {gpu_container("main", "1")}));
  EXPECT_EQ(d.annotation_key, kAssigned);
  EXPECT_EQ(d.annotation_value, "nvidia.com/gpu.shared");
}

TEST(AdmissionRule7, ReinvocationOnMutatedPodIsStable) {
  ContainerView c;
  c.name = "main";
  c.limits["nvidia.com/mig-1g.24gb"] = "1";
  auto d =
      decide(pod({{"gpushare.io/gpu-memory", "20Gi"}, {kAssigned, "nvidia.com/mig-1g.24gb"}}, {c}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kAllowed);
  EXPECT_TRUE(d.renames.empty());
  EXPECT_EQ(d.annotation_value, "nvidia.com/mig-1g.24gb");
}

TEST(Admission, IntentWithoutAnyGpuRequestIsAllowedWithAWarning) {
  ContainerView c;
  c.name = "main";
  c.limits["cpu"] = "1";
  auto d = decide(pod({{"gpushare.io/mode", "mps"}}, {c}));
  EXPECT_EQ(d.outcome, AdmissionOutcome::kAllowed);
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_TRUE(d.annotation_key.empty());
}

TEST(Admission, ContainerAskingBothGpuAndTargetIsDenied) {
  ContainerView c = gpu_container("main", "1");
  c.limits["nvidia.com/gpu.shared"] = "1";
  auto d = decide(pod({{"gpushare.io/mode", "mps"}}, {c}));
  ASSERT_EQ(d.outcome, AdmissionOutcome::kDenied);
  EXPECT_NE(d.message.find("both nvidia.com/gpu and nvidia.com/gpu.shared"), std::string::npos)
      << d.message;
}

}  // namespace
}  // namespace gpushare::policy
