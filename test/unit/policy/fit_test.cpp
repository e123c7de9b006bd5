// policy::fit_node: one test per rule (policy/fit.h). Nodes carry the GFD labels that decide;
// test/fixtures/extender/nodes/ has the full objects they are taken from.
#include "policy/fit.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/catalog.h"

namespace gpushare::policy {
namespace {

const Catalog& catalog() { return Catalog::builtin(); }

PodDemand demand(std::initializer_list<std::pair<const std::string, std::int64_t>> r) {
  PodDemand d;
  d.resources = r;
  return d;
}

Intent no_intent() { return Intent{}; }

Intent memory_intent(std::int64_t bytes, std::string text) {
  Intent i;
  i.present = true;
  i.gpu_memory_bytes = bytes;
  i.gpu_memory_text = std::move(text);
  return i;
}

Intent compute_intent(int pct) {
  Intent i;
  i.present = true;
  i.gpu_compute_percent = pct;
  return i;
}

Intent product_intent(std::vector<std::string> products) {
  Intent i;
  i.present = true;
  i.gpu_products = std::move(products);
  return i;
}

constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;
constexpr std::int64_t kGiB = 1024 * kMiB;

// fixtures/extender/nodes/h20-mig.json
NodeView h20() {
  NodeView n;
  n.name = "gpu-h20";
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-H20"},
              {"nvidia.com/gpu.count", "1"},
              {"nvidia.com/gpu.replicas", "0"},
              {"nvidia.com/gpu.memory", "97871"},
              {"nvidia.com/gpu.sharing-strategy", "none"},
              {"nvidia.com/mig.capable", "true"},
              {"nvidia.com/mig.strategy", "mixed"},
              {"nvidia.com/mig.config.state", "success"},
              {"nvidia.com/mps.capable", "false"},
              {"nvidia.com/mig-1g.12gb.count", "2"},
              {"nvidia.com/mig-1g.24gb.count", "1"},
              {"nvidia.com/mig-3g.48gb.count", "1"}};
  n.allocatable = {{"nvidia.com/gpu", 0},
                   {"nvidia.com/mig-1g.12gb", 2},
                   {"nvidia.com/mig-1g.24gb", 1},
                   {"nvidia.com/mig-3g.48gb", 1}};
  return n;
}

// fixtures/extender/nodes/h100-mixed.json (nvidia.md 3.3)
NodeView h100_mixed() {
  NodeView n;
  n.name = "gpu-h100-mixed";
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"},
              {"nvidia.com/gpu.count", "1"},
              {"nvidia.com/gpu.replicas", "0"},
              {"nvidia.com/gpu.memory", "81559"},
              {"nvidia.com/mig.capable", "true"},
              {"nvidia.com/mig.strategy", "mixed"},
              {"nvidia.com/mig.config", "all-balanced"},
              {"nvidia.com/mig.config.state", "success"},
              {"nvidia.com/mps.capable", "false"},
              {"nvidia.com/mig-1g.10gb.count", "2"},
              {"nvidia.com/mig-2g.20gb.count", "1"},
              {"nvidia.com/mig-3g.40gb.count", "1"}};
  n.allocatable = {{"nvidia.com/gpu", 0},
                   {"nvidia.com/mig-1g.10gb", 2},
                   {"nvidia.com/mig-2g.20gb", 1},
                   {"nvidia.com/mig-3g.40gb", 1}};
  return n;
}

// fixtures/extender/nodes/h100-whole.json: MIG capable, all-disabled.
NodeView h100_whole() {
  NodeView n;
  n.name = "gpu-h100-whole";
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"},
              {"nvidia.com/gpu.count", "1"},
              {"nvidia.com/gpu.replicas", "1"},
              {"nvidia.com/gpu.memory", "81559"},
              {"nvidia.com/gpu.sharing-strategy", "none"},
              {"nvidia.com/mig.capable", "true"},
              {"nvidia.com/mig.strategy", "mixed"},
              {"nvidia.com/mig.config", "all-disabled"},
              {"nvidia.com/mig.config.state", "success"},
              {"nvidia.com/mps.capable", "false"}};
  n.allocatable = {{"nvidia.com/gpu", 1}};
  return n;
}

// fixtures/extender/nodes/rtx4090-mps.json
NodeView rtx4090() {
  NodeView n;
  n.name = "gpu-4090";
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-GeForce-RTX-4090"},
              {"nvidia.com/gpu.count", "1"},
              {"nvidia.com/gpu.replicas", "4"},
              {"nvidia.com/gpu.memory", "24564"},
              {"nvidia.com/gpu.sharing-strategy", "mps"},
              {"nvidia.com/mig.capable", "false"},
              {"nvidia.com/mps.capable", "true"}};
  n.allocatable = {{"nvidia.com/gpu", 0}, {"nvidia.com/gpu.shared", 4}};
  return n;
}

NodeView cpu_only() {
  NodeView n;
  n.name = "cpu-1";
  n.labels = {{"kubernetes.io/os", "linux"}};
  return n;
}

const PodDemand kMig1g12 = demand({{"nvidia.com/mig-1g.12gb", 1}});
const PodDemand kShared = demand({{"nvidia.com/gpu.shared", 1}});

TEST(FitNode, PodWithoutManagedResourceFitsEveryNode) {
  for (const auto& n : {h20(), cpu_only(), rtx4090()}) {
    EXPECT_TRUE(fit_node(demand({{"nvidia.com/gpu", 1}}), no_intent(), n, catalog()).fits)
        << n.name;
    EXPECT_TRUE(fit_node(PodDemand{}, no_intent(), n, catalog()).fits) << n.name;
  }
}

TEST(FitNode, NodeWithoutNvidiaGpuIsUnresolvable) {
  const NodeFit f = fit_node(kMig1g12, no_intent(), cpu_only(), catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_TRUE(f.unresolvable);
  EXPECT_EQ(f.reason,
            "no NVIDIA GPU (no nvidia.com/gpu.product label, no nvidia.com/* allocatable)");
  EXPECT_TRUE(fit_node(kShared, no_intent(), cpu_only(), catalog()).unresolvable);
}

TEST(FitNode, MigConfigStatePendingIsResolvable) {
  NodeView n = h20();
  n.labels["nvidia.com/mig.config.state"] = "pending";
  n.labels.erase("nvidia.com/gpu.product");  // GFD drops it while pending (gpu-operator#2495)
  const NodeFit f = fit_node(kMig1g12, no_intent(), n, catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable);
  EXPECT_EQ(f.reason, "mig.config.state=pending: node is being repartitioned");
  // The whole node's device plugin is paused, so shared requests wait too.
  n.labels["nvidia.com/mig.config.state"] = "rebooting";
  EXPECT_EQ(fit_node(kShared, no_intent(), n, catalog()).reason,
            "mig.config.state=rebooting: node is being repartitioned");
}

TEST(FitNode, MigConfigStateFailedDoesNotBlock) {
  NodeView n = h20();
  n.labels["nvidia.com/mig.config.state"] = "failed";
  EXPECT_TRUE(fit_node(kMig1g12, no_intent(), n, catalog()).fits);
}

TEST(FitNode, RepartitionAnnotationIsResolvable) {
  NodeView n = h20();
  n.annotations[std::string(kRepartitionAnnotation)] = "gpushare-h20-7x1g12";
  const NodeFit f = fit_node(kMig1g12, no_intent(), n, catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable);
  EXPECT_EQ(f.reason,
            "gpushare.io/repartition=gpushare-h20-7x1g12: gpushare is repartitioning this node");
  n.annotations[std::string(kRepartitionAnnotation)] = "";
  EXPECT_EQ(fit_node(kMig1g12, no_intent(), n, catalog()).reason,
            "gpushare.io/repartition: gpushare is repartitioning this node");
}

TEST(FitNode, TheControllersMarkShowsOnlyItsConfigName) {
  // The mark as repartition/mark.cpp writes it: the reason names the layout, not the JSON.
  struct Case {
    std::string value;
    std::string shown;
  };
  const std::vector<Case> cases = {
      {R"({"configName":"gpushare-ab94fccb0dbff18c","expect":{"nvidia.com/mig-3g.48gb":4},)"
       R"("kind":"mig","labels":{"nvidia.com/mig.config":"gpushare-ab94fccb0dbff18c"},)"
       R"("phase":"propagating","serves":["ns/wants-3g"]})",
       "gpushare.io/repartition=gpushare-ab94fccb0dbff18c"},
      {R"({"kind":"mig"})", "gpushare.io/repartition"},
      {R"({"configName":"unterminated)", "gpushare.io/repartition"},
      {std::string(200, 'x'), "gpushare.io/repartition"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(repartition_mark_summary(c.value), c.shown) << c.value;
    NodeView n = h20();
    n.annotations[std::string(kRepartitionAnnotation)] = c.value;
    EXPECT_EQ(fit_node(kMig1g12, no_intent(), n, catalog()).reason,
              c.shown + ": gpushare is repartitioning this node");
  }
}

TEST(FitNode, GpuProductExactMatchFits) {
  EXPECT_TRUE(fit_node(kMig1g12, product_intent({"NVIDIA-H20"}), h20(), catalog()).fits);
  EXPECT_TRUE(
      fit_node(kMig1g12, product_intent({"NVIDIA-H100-80GB-HBM3", "NVIDIA-H20"}), h20(), catalog())
          .fits);
}

TEST(FitNode, GpuProductMismatchIsUnresolvable) {
  const NodeFit f = fit_node(kMig1g12, product_intent({"NVIDIA-H100-80GB-HBM3"}), h20(), catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_TRUE(f.unresolvable);
  EXPECT_EQ(f.reason, "GPU is NVIDIA-H20; gpu-product asks for NVIDIA-H100-80GB-HBM3");
}

TEST(FitNode, GpuProductIsNeverASubstringMatch) {
  EXPECT_TRUE(fit_node(kMig1g12, product_intent({"NVIDIA-H2"}), h20(), catalog()).unresolvable);
  EXPECT_TRUE(fit_node(kMig1g12, product_intent({"H20"}), h20(), catalog()).unresolvable);
  EXPECT_TRUE(fit_node(kMig1g12, product_intent({"NVIDIA-H20-X"}), h20(), catalog()).unresolvable);
}

TEST(FitNode, GpuProductWorksForModelsOutsideTheCatalog) {
  EXPECT_TRUE(
      fit_node(kShared, product_intent({"NVIDIA-GeForce-RTX-4090"}), rtx4090(), catalog()).fits);
  EXPECT_TRUE(fit_node(kShared, product_intent({"NVIDIA-GeForce-RTX-3090"}), rtx4090(), catalog())
                  .unresolvable);
}

TEST(FitNode, GpuProductStripsGfdSuffixes) {
  NodeView n = rtx4090();
  n.labels["nvidia.com/gpu.product"] = "NVIDIA-GeForce-RTX-4090-SHARED";
  EXPECT_TRUE(fit_node(kShared, product_intent({"NVIDIA-GeForce-RTX-4090"}), n, catalog()).fits);
  EXPECT_EQ(base_product("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"), "NVIDIA-A100-SXM4-40GB");
  EXPECT_EQ(base_product("NVIDIA-H100-80GB-HBM3-MIG-1g.10gb-SHARED"), "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(base_product("NVIDIA-A100-SXM4-40GB-MIG-INVALID"), "NVIDIA-A100-SXM4-40GB");
  EXPECT_EQ(base_product("NVIDIA-H20"), "NVIDIA-H20");
  EXPECT_EQ(base_product(""), "");
}

TEST(FitNode, GpuProductLabelMissingIsResolvable) {
  NodeView n = h20();
  n.labels.erase("nvidia.com/gpu.product");
  const NodeFit f = fit_node(kMig1g12, product_intent({"NVIDIA-H20"}), n, catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable);
}

TEST(FitNode, MigProfileOfferedFits) {
  EXPECT_TRUE(fit_node(kMig1g12, no_intent(), h20(), catalog()).fits);
  EXPECT_TRUE(
      fit_node(demand({{"nvidia.com/mig-1g.12gb", 2}}), no_intent(), h20(), catalog()).fits);
  EXPECT_TRUE(
      fit_node(demand({{"nvidia.com/mig-3g.40gb", 1}}), no_intent(), h100_mixed(), catalog()).fits);
}

TEST(FitNode, MigProfileBusyIsResolvableAndSaysHowManyAreFree) {
  NodeView n = h20();
  n.used["nvidia.com/mig-1g.12gb"] = 2;
  NodeFit f = fit_node(kMig1g12, no_intent(), n, catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable);
  EXPECT_EQ(f.reason, "needs nvidia.com/mig-1g.12gb: 0 of 2 free");
  n.used["nvidia.com/mig-1g.12gb"] = 1;
  f = fit_node(demand({{"nvidia.com/mig-1g.12gb", 2}}), no_intent(), n, catalog());
  EXPECT_EQ(f.reason, "needs 2 nvidia.com/mig-1g.12gb: 1 of 2 free");
}

TEST(FitNode, MigProfileAbsentOnCapableNodeIsResolvable) {
  const NodeFit f =
      fit_node(demand({{"nvidia.com/mig-3g.40gb", 1}}), no_intent(), h100_whole(), catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable);
  EXPECT_EQ(
      f.reason,
      "offers no nvidia.com/mig-3g.40gb (0 of 0 free); gpushare can repartition it when idle");
  // H20 without a 3g.48gb in its current layout.
  NodeView n = h20();
  n.allocatable.erase("nvidia.com/mig-3g.48gb");
  n.labels.erase("nvidia.com/mig-3g.48gb.count");
  EXPECT_EQ(
      fit_node(demand({{"nvidia.com/mig-3g.48gb", 1}}), no_intent(), n, catalog()).reason,
      "offers no nvidia.com/mig-3g.48gb (0 of 0 free); gpushare can repartition it when idle");
}

TEST(FitNode, MigProfileTheModelCannotHaveIsUnresolvable) {
  const NodeFit f = fit_node(kMig1g12, no_intent(), h100_mixed(), catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_TRUE(f.unresolvable);
  EXPECT_EQ(f.reason,
            "NVIDIA-H100-80GB-HBM3 (H100-80GB) has no MIG profile for nvidia.com/mig-1g.12gb");
}

TEST(FitNode, MigOnNodeNotMigCapableIsUnresolvable) {
  const NodeFit f = fit_node(kMig1g12, no_intent(), rtx4090(), catalog());
  EXPECT_TRUE(f.unresolvable);
  EXPECT_EQ(f.reason,
            "not MIG-capable (nvidia.com/mig.capable=false): cannot offer nvidia.com/mig-1g.12gb");
  NodeView n = rtx4090();
  n.labels.erase("nvidia.com/mig.capable");
  EXPECT_EQ(fit_node(kMig1g12, no_intent(), n, catalog()).reason,
            "not MIG-capable (nvidia.com/mig.capable=unset): cannot offer nvidia.com/mig-1g.12gb");
}

TEST(FitNode, MigUnderSingleStrategyIsUnresolvable) {
  NodeView n;
  n.name = "gpu-a100-single";
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"},
              {"nvidia.com/mig.capable", "true"},
              {"nvidia.com/mig.strategy", "single"}};
  n.allocatable = {{"nvidia.com/gpu", 7}};
  const NodeFit f = fit_node(demand({{"nvidia.com/mig-1g.5gb", 1}}), no_intent(), n, catalog());
  EXPECT_TRUE(f.unresolvable);
  EXPECT_NE(f.reason.find("nvidia.com/mig.strategy=single"), std::string::npos) << f.reason;
}

TEST(FitNode, MigOnModelOutsideTheCatalogIsUnresolvableUnlessPublished) {
  NodeView n;
  n.name = "gpu-future";
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-Z900"},
              {"nvidia.com/mig.capable", "true"},
              {"nvidia.com/mig.strategy", "mixed"}};
  n.allocatable = {{"nvidia.com/gpu", 1}};
  const auto d = demand({{"nvidia.com/mig-1g.30gb", 1}});
  NodeFit f = fit_node(d, no_intent(), n, catalog());
  EXPECT_TRUE(f.unresolvable);
  EXPECT_EQ(f.reason,
            "NVIDIA-Z900 is not in gpushare's GPU catalog and offers no nvidia.com/mig-1g.30gb, "
            "so gpushare cannot create it");
  // What the node advertises needs no catalog.
  n.allocatable["nvidia.com/mig-1g.30gb"] = 3;
  EXPECT_TRUE(fit_node(d, no_intent(), n, catalog()).fits);
}

TEST(FitNode, MigLabelledButNotYetAllocatableIsResolvable) {
  NodeView n;
  n.name = "gpu-future";
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-Z900"}, {"nvidia.com/mig-1g.30gb.count", "3"}};
  n.allocatable = {{"nvidia.com/gpu", 0}};
  const NodeFit f = fit_node(demand({{"nvidia.com/mig-1g.30gb", 1}}), no_intent(), n, catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable);
  EXPECT_NE(f.reason.find("GFD labels 3"), std::string::npos) << f.reason;
}

TEST(FitNode, MigProfileWithAttributeUsesDevicePluginName) {
  NodeView n = h100_whole();
  // 1g.10gb+me is advertised as nvidia.com/mig-1g.10gb.me; the catalog knows the H100 has it.
  const NodeFit f = fit_node(demand({{"nvidia.com/mig-1g.10gb.me", 1}}), no_intent(), n, catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable) << f.reason;
}

TEST(FitNode, SharedFitsWhenMpsIsOnAndAReplicaIsFree) {
  NodeView n = rtx4090();
  EXPECT_TRUE(fit_node(kShared, no_intent(), n, catalog()).fits);
  n.used["nvidia.com/gpu.shared"] = 3;
  EXPECT_TRUE(fit_node(kShared, no_intent(), n, catalog()).fits);
}

TEST(FitNode, SharedWithoutAFreeReplicaIsResolvable) {
  NodeView n = rtx4090();
  n.used["nvidia.com/gpu.shared"] = 4;
  const NodeFit f = fit_node(kShared, no_intent(), n, catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable);
  EXPECT_EQ(f.reason, "needs nvidia.com/gpu.shared: 0 of 4 free");
}

TEST(FitNode, SharedOnNodeWithoutMpsIsResolvable) {
  NodeFit f = fit_node(kShared, no_intent(), h100_whole(), catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable);
  EXPECT_EQ(
      f.reason,
      "MPS sharing is off (nvidia.com/gpu.sharing-strategy=none, nvidia.com/mps.capable=false); "
      "gpushare can switch it to MPS when idle");
  // A MIG node can be switched to MPS once idle (nvidia.md section 9): resolvable too.
  f = fit_node(kShared, no_intent(), h20(), catalog());
  EXPECT_FALSE(f.unresolvable);
  // Time-slicing also advertises nvidia.com/gpu.shared, but it is not MPS.
  NodeView ts = rtx4090();
  ts.labels["nvidia.com/gpu.sharing-strategy"] = "time-slicing";
  ts.labels["nvidia.com/mps.capable"] = "false";
  f = fit_node(kShared, no_intent(), ts, catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_NE(f.reason.find("sharing-strategy=time-slicing"), std::string::npos) << f.reason;
}

TEST(FitNode, SharedMemoryShareIsGpuMemoryOverReplicas) {
  // 24564 MiB / 4 replicas = 6141 MiB per replica, integer division as the MPS daemon does.
  EXPECT_TRUE(fit_node(kShared, memory_intent(6141 * kMiB, "6141Mi"), rtx4090(), catalog()).fits);
  const NodeFit f = fit_node(kShared, memory_intent(6142 * kMiB, "6142Mi"), rtx4090(), catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable);  // 2 replicas would give 12282 MiB
  EXPECT_EQ(f.reason,
            "MPS share too small: 6141 MiB per replica (24564 MiB / 4 replicas), needs "
            "gpu-memory=6142Mi");
}

TEST(FitNode, SharedMemoryBeyondHalfTheGpuIsUnresolvable) {
  const NodeFit f = fit_node(kShared, memory_intent(20 * kGiB, "20Gi"), rtx4090(), catalog());
  EXPECT_TRUE(f.unresolvable);
  EXPECT_EQ(
      f.reason,
      "GPU has 24564 MiB; even 2 MPS replicas give 12282 MiB each, less than gpu-memory=20Gi");
  // Also where MPS is off: no configuration of this GPU can serve it.
  NodeView n = rtx4090();
  n.labels["nvidia.com/gpu.sharing-strategy"] = "none";
  EXPECT_TRUE(fit_node(kShared, memory_intent(20 * kGiB, "20Gi"), n, catalog()).unresolvable);
}

TEST(FitNode, SharedComputeShareIsHundredOverReplicas) {
  EXPECT_TRUE(fit_node(kShared, compute_intent(25), rtx4090(), catalog()).fits);
  NodeFit f = fit_node(kShared, compute_intent(26), rtx4090(), catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_FALSE(f.unresolvable);
  EXPECT_EQ(
      f.reason,
      "MPS share too small: 25% of the SMs per replica (100 / 4 replicas), needs gpu-compute=26");
  f = fit_node(kShared, compute_intent(51), rtx4090(), catalog());
  EXPECT_TRUE(f.unresolvable);
  // 3 replicas: 100 / 3 = 33, an integer.
  NodeView n = rtx4090();
  n.labels["nvidia.com/gpu.replicas"] = "3";
  EXPECT_TRUE(fit_node(kShared, compute_intent(33), n, catalog()).fits);
  EXPECT_FALSE(fit_node(kShared, compute_intent(34), n, catalog()).fits);
}

TEST(FitNode, SharedReplicasFallBackToAllocatableOverGpuCount) {
  NodeView n = rtx4090();
  n.labels.erase("nvidia.com/gpu.replicas");
  n.labels["nvidia.com/gpu.count"] = "2";
  n.allocatable["nvidia.com/gpu.shared"] = 4;  // 2 GPUs x 2 replicas: 50% each
  EXPECT_TRUE(fit_node(kShared, compute_intent(50), n, catalog()).fits);
  n.labels.erase("nvidia.com/gpu.count");
  const NodeFit f = fit_node(kShared, compute_intent(50), n, catalog());
  EXPECT_FALSE(f.fits);
  EXPECT_NE(f.reason.find("no nvidia.com/gpu.replicas label"), std::string::npos) << f.reason;
}

TEST(FitNode, SharedMemoryFallsBackToTheCatalog) {
  NodeView n = h100_whole();
  n.labels["nvidia.com/gpu.sharing-strategy"] = "mps";
  n.labels["nvidia.com/mps.capable"] = "true";
  n.labels["nvidia.com/gpu.replicas"] = "2";
  n.labels.erase("nvidia.com/gpu.memory");
  n.allocatable = {{"nvidia.com/gpu", 0}, {"nvidia.com/gpu.shared", 2}};
  // H100-80GB: the largest profile holds 79.25 GiB; half is well above 30Gi.
  EXPECT_TRUE(fit_node(kShared, memory_intent(30 * kGiB, "30Gi"), n, catalog()).fits);
  EXPECT_TRUE(fit_node(kShared, memory_intent(60 * kGiB, "60Gi"), n, catalog()).unresolvable);
}

TEST(FitNode, AnImpossibleResourceOutranksOneThatOnlyWaits) {
  NodeView n = h20();
  n.used["nvidia.com/mig-1g.12gb"] = 2;
  const auto d = demand({{"nvidia.com/mig-1g.12gb", 1}, {"nvidia.com/mig-1g.10gb", 1}});
  const NodeFit f = fit_node(d, no_intent(), n, catalog());
  EXPECT_TRUE(f.unresolvable);
  EXPECT_NE(f.reason.find("nvidia.com/mig-1g.10gb"), std::string::npos) << f.reason;
}

TEST(FitNode, HasNvidiaGpu) {
  EXPECT_FALSE(has_nvidia_gpu(cpu_only()));
  EXPECT_TRUE(has_nvidia_gpu(h20()));
  NodeView n = cpu_only();
  n.allocatable["nvidia.com/gpu"] = 0;  // a registered device plugin
  EXPECT_TRUE(has_nvidia_gpu(n));
  NodeView pending = cpu_only();
  pending.labels["nvidia.com/mig.config.state"] = "pending";
  EXPECT_TRUE(has_nvidia_gpu(pending));
}

}  // namespace
}  // namespace gpushare::policy

namespace gpushare::policy {
namespace {

TEST(FitNode, TrimmingToTheLabelsFitReadsChangesNoVerdict) {
  EXPECT_TRUE(fit_reads_label("nvidia.com/gpu.product"));
  EXPECT_TRUE(fit_reads_label("nvidia.com/mig-1g.10gb.me.count"));
  EXPECT_FALSE(fit_reads_label("nvidia.com/mig-1g.10gb.memory"));
  EXPECT_FALSE(fit_reads_label("nvidia.com/mig.config"));
  EXPECT_FALSE(fit_reads_label("kubernetes.io/hostname"));
  NodeView n = h20();
  n.labels["nvidia.com/mig-1g.12gb.memory"] = "11008";
  n.labels["kubernetes.io/hostname"] = "gpu-h20";
  NodeView trimmed = n;
  erase_if(trimmed.labels, [](const auto& kv) { return !fit_reads_label(kv.first); });
  EXPECT_EQ(trimmed.labels.size() + 2, n.labels.size());
  for (const auto& d : {kMig1g12, kShared, demand({{"nvidia.com/mig-3g.40gb", 1}})}) {
    const NodeFit a = fit_node(d, no_intent(), n, catalog());
    const NodeFit b = fit_node(d, no_intent(), trimmed, catalog());
    EXPECT_EQ(a.fits, b.fits);
    EXPECT_EQ(a.reason, b.reason);
  }
}

}  // namespace
}  // namespace gpushare::policy
