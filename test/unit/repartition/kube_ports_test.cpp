// KubeApiOps against the scripted apiserver: node writes are preconditioned PUTs that re-read
// and re-apply on 409, entries land in the right ConfigMap, config names come from both.
#include "repartition/kube_ports.h"

#include <gtest/gtest.h>

#include <mutex>

#include "kube/configmap_entry.h"
#include "test/unit/kube/object_store.h"

// The fake apiserver lives in test/unit/kube/ and each test folder is one binary
// (test/CMakeLists.txt), so this binary compiles its one source here.
#include "test/unit/kube/fake_apiserver.cpp"  // NOLINT(bugprone-suspicious-include)

namespace gpushare::repartition {
namespace {

using kube::testing::FakeApiServer;
using kube::testing::ObjectStore;
using nlohmann::json;

const std::string kNode = "/api/v1/nodes/gpu-1";

struct Fixture {
  ObjectStore store;
  FakeApiServer server{store.handler()};
  std::shared_ptr<kube::Client> client = [this] {
    kube::KubeConfig c;
    c.server = server.url();
    return std::make_shared<kube::Client>(c);
  }();
  KubeApiOps ops{client, OperatorConfigMaps{}, "test"};

  Fixture() {
    store.put(kNode, json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"gpu-1",
        "labels":{"nvidia.com/mig.config":"all-disabled"}},"spec":{"taints":[{"key":"x","effect":"NoSchedule"}]}})"));
  }
};

TEST(KubeApiOps, NodeUpdateRereadsOnConflictAndKeepsTheOtherChange) {
  Fixture f;
  f.store.race_next_puts(1, [](json& node) { node["metadata"]["labels"]["someone"] = "else"; });
  int runs = 0;
  auto r = f.ops.update_node("gpu-1", [&](NodeEdit& edit) {
    ++runs;
    edit.labels[kMigConfigLabel] = "gpushare-abc";
    edit.tainted = true;
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(*r);
  EXPECT_EQ(runs, 2);
  auto node = *f.store.get(kNode);
  EXPECT_EQ(node["metadata"]["labels"]["someone"], "else");
  EXPECT_EQ(node["metadata"]["labels"][kMigConfigLabel], "gpushare-abc");
  EXPECT_EQ(node["spec"]["taints"].size(), 2u);
}

TEST(KubeApiOps, DecliningMutationWritesNothing) {
  Fixture f;
  int before = f.store.writes();
  auto r = f.ops.update_node("gpu-1", [](NodeEdit&) { return false; });
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(f.store.writes(), before);
}

Action mig_action() {
  Action mig;
  mig.kind = policy::ActionKind::kMig;
  mig.config_name = "gpushare-mig";
  mig.mig_config = {{{0}, true, {{"3g.48gb", 2}}}};
  return mig;
}

Action mps_action() {
  Action mps;
  mps.kind = policy::ActionKind::kMps;
  mps.config_name = "gpushare-mps";
  mps.device_plugin_config.resources = {{"nvidia.com/gpu", 2}};
  return mps;
}

TEST(KubeApiOps, MissingNodeIsAnError) {
  Fixture f;
  EXPECT_FALSE(f.ops.update_node("nope", [](NodeEdit&) { return true; }).ok());
}

TEST(KubeApiOps, EntriesGoToTheirConfigMapsAndAreListed) {
  Fixture f;
  const Action mig = mig_action();
  const Action mps = mps_action();
  auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  // As the GPU Operator's install leaves them: both exist, mig-parted's with its own config.
  const std::string cms = "/api/v1/namespaces/gpu-operator/configmaps/";
  f.store.put(cms + "custom-mig-parted-config",
              json::parse(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"custom-mig-parted-config","namespace":"gpu-operator"},
      "data":{"config.yaml":"version: v1\nmig-configs:\n  all-disabled:\n    - devices: all\n      mig-enabled: false\n"}})"));
  f.store.put(cms + "device-plugin-config", json::parse(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"device-plugin-config","namespace":"gpu-operator"},"data":{}})"));
  auto w1 = f.ops.write_entry(mig, t0);
  ASSERT_TRUE(w1.ok()) << w1.error();
  EXPECT_EQ(*w1, t0);
  ASSERT_TRUE(f.ops.write_entry(mps, t0).ok());
  // Written again later: the first write's time stands (the propagation wait is not repeated).
  auto w2 = f.ops.write_entry(mig, t0 + std::chrono::seconds(500));
  ASSERT_TRUE(w2.ok());
  EXPECT_EQ(*w2, t0);
  auto names = f.ops.config_names();
  EXPECT_EQ(names.mig_parted, (std::set<std::string>{"all-disabled", "gpushare-mig"}));
  EXPECT_EQ(names.device_plugin, (std::set<std::string>{"gpushare-mps"}));
  // And the content, for the planner's per-GPU layouts ("devices: all" reads as no devices).
  ASSERT_EQ(names.mig_configs.count("gpushare-mig"), 1U);
  EXPECT_EQ(names.mig_configs.at("gpushare-mig"),
            (std::vector<policy::MigConfigEntry>{{{0}, true, {{"3g.48gb", 2}}}}));
  EXPECT_EQ(names.mig_configs.at("all-disabled"),
            (std::vector<policy::MigConfigEntry>{{{}, false, {}}}));
  auto cm = f.store.get("/api/v1/namespaces/gpu-operator/configmaps/custom-mig-parted-config");
  ASSERT_TRUE(cm);
  EXPECT_TRUE((*cm)["data"].contains("config.yaml"));
}

TEST(KubeApiOps, AMissingOperatorConfigMapIsNamedAndNotCreated) {
  // The operator mounts only the ConfigMap its ClusterPolicy names: one we created would be read
  // by nobody, and the node would wait for a layout that never comes.
  Fixture f;
  const Action mig = mig_action();
  auto written = f.ops.write_entry(mig, std::chrono::system_clock::now());
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.error().find("gpu-operator/custom-mig-parted-config does not exist"),
            std::string::npos)
      << written.error();
  EXPECT_NE(written.error().find("spec.migManager.config.name"), std::string::npos);
  EXPECT_FALSE(f.store.get("/api/v1/namespaces/gpu-operator/configmaps/custom-mig-parted-config"));
  const Action mps = mps_action();
  written = f.ops.write_entry(mps, std::chrono::system_clock::now());
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.error().find("spec.devicePlugin.config.name"), std::string::npos)
      << written.error();
}

TEST(KubeApiOps, EvictionGoesThroughTheEvictionApi) {
  // As kube-apiserver answers: 201 accepted, 429 when a PodDisruptionBudget does not allow it,
  // 404 for a pod that is gone; anything else is an error.
  std::mutex mu;
  std::vector<json> bodies;
  std::vector<std::string> paths;
  FakeApiServer server([&](const kube::testing::HttpRequest& req, kube::testing::Responder& r) {
    {
      std::lock_guard lock(mu);
      paths.push_back(req.method + " " + req.path);
      bodies.push_back(json::parse(req.body, nullptr, false));
    }
    const std::string status = R"({"kind":"Status","status":"Failure","code":)";
    if (req.path.find("/pods/ok/") != std::string::npos)
      return r.send(201, R"({"kind":"Status","status":"Success"})");
    if (req.path.find("/pods/pdb/") != std::string::npos)
      return r.send(
          429,
          status +
              R"(429,"reason":"TooManyRequests","message":"Cannot evict pod as it would violate the pod's disruption budget."})");
    if (req.path.find("/pods/gone/") != std::string::npos)
      return r.send(404,
                    status + R"(404,"reason":"NotFound","message":"pods \"gone\" not found"})");
    return r.send(403,
                  status + R"(403,"reason":"Forbidden","message":"no pods/eviction for you"})");
  });
  kube::KubeConfig c;
  c.server = server.url();
  KubeApiOps ops{std::make_shared<kube::Client>(c), OperatorConfigMaps{}, "test"};
  auto ok = ops.evict("batch", "ok");
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(*ok, EvictOutcome::kEvicted);
  auto pdb = ops.evict("batch", "pdb");
  ASSERT_TRUE(pdb.ok()) << pdb.error();
  EXPECT_EQ(*pdb, EvictOutcome::kRefused);
  auto gone = ops.evict("batch", "gone");
  ASSERT_TRUE(gone.ok()) << gone.error();
  EXPECT_EQ(*gone, EvictOutcome::kGone);
  auto denied = ops.evict("batch", "other");
  ASSERT_FALSE(denied.ok());
  EXPECT_NE(denied.error().find("batch/other"), std::string::npos) << denied.error();
  std::lock_guard lock(mu);
  ASSERT_FALSE(paths.empty());
  EXPECT_EQ(paths[0], "POST /api/v1/namespaces/batch/pods/ok/eviction");
  EXPECT_EQ(bodies[0]["apiVersion"], "policy/v1");
  EXPECT_EQ(bodies[0]["kind"], "Eviction");
  EXPECT_EQ(bodies[0]["metadata"]["name"], "ok");
  EXPECT_EQ(bodies[0]["metadata"]["namespace"], "batch");
}

}  // namespace
}  // namespace gpushare::repartition
