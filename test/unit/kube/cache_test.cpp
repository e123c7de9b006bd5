// ClusterCache against a scripted apiserver: what each node's `used` is, and how the cache
// survives 410s, dropped connections and failed lists.
#include "kube/cache.h"

#include <gtest/gtest.h>

#include <deque>
#include <thread>

#include "test/support/fixtures.h"
#include "test/unit/kube/fake_apiserver.h"

namespace gpushare::kube {
namespace {

using nlohmann::json;
using testing::event_line;
using testing::FakeApiServer;
using testing::HttpRequest;
using testing::Responder;
using Script = std::function<void(const HttpRequest&, Responder&)>;

// Lists and watch streams per kind, scripted by the test. A list answers with the front of
// its queue (the last one repeats); a watch runs the next script, or stays open and quiet.
class ScriptedCluster {
 public:
  void list(ObjectKind kind, int status, const json& body) {
    std::lock_guard lock(mu_);
    at(kind).lists.emplace_back(status, body.dump());
  }
  void watch(ObjectKind kind, Script script) {
    std::lock_guard lock(mu_);
    at(kind).watches.push_back(std::move(script));
  }
  int list_calls(ObjectKind kind) {
    std::lock_guard lock(mu_);
    return at(kind).list_calls;
  }
  std::vector<HttpRequest> watch_requests(ObjectKind kind) {
    std::lock_guard lock(mu_);
    return at(kind).watch_requests;
  }

  void serve(const HttpRequest& req, Responder& r) {
    ObjectKind kind = req.path == "/api/v1/nodes" ? ObjectKind::kNode
                      : req.path == "/apis/resource.k8s.io/v1/resourceslices"
                          ? ObjectKind::kResourceSlice
                          : ObjectKind::kPod;
    if (req.param("watch") == "1") {
      Script script;
      {
        std::lock_guard lock(mu_);
        at(kind).watch_requests.push_back(req);
        if (!at(kind).watches.empty()) {
          script = std::move(at(kind).watches.front());
          at(kind).watches.pop_front();
        }
      }
      if (script) {
        script(req, r);
      } else {
        r.begin_stream();
        r.hold(std::chrono::seconds(30));
      }
      return;
    }
    std::pair<int, std::string> answer{200, R"({"items":[]})"};
    {
      std::lock_guard lock(mu_);
      Kind& k = at(kind);
      ++k.list_calls;
      if (!k.lists.empty()) {
        answer = k.lists.front();
        if (k.lists.size() > 1) k.lists.pop_front();
      }
    }
    r.send(answer.first, answer.second);
  }

 private:
  struct Kind {
    std::deque<std::pair<int, std::string>> lists;
    std::deque<Script> watches;
    int list_calls = 0;
    std::vector<HttpRequest> watch_requests;
  };
  Kind& at(ObjectKind kind) {
    return kind == ObjectKind::kNode ? nodes_ : kind == ObjectKind::kPod ? pods_ : slices_;
  }
  std::mutex mu_;
  Kind nodes_, pods_, slices_;
};

json list_of(const std::string& rv, std::vector<json> items) {
  return json{{"kind", "List"}, {"metadata", {{"resourceVersion", rv}}}, {"items", items}};
}

json gpu_node(const std::string& name) {
  json node = json::parse(gpushare::testing::read_fixture("kube/node_h100_mixed.json"));
  node["metadata"]["name"] = name;
  // Below every event's version in these tests, as a listed object's is in a real list.
  node["metadata"]["resourceVersion"] = "5";
  return node;
}

json pod(const std::string& name, const std::string& node_name, const std::string& phase,
         json requests, json init_requests = nullptr, const std::string& rv = "1") {
  json spec = {{"containers", {{{"name", "c"}, {"resources", {{"requests", requests}}}}}}};
  if (!node_name.empty()) spec["nodeName"] = node_name;
  if (!init_requests.is_null()) {
    spec["initContainers"] = {{{"name", "i"}, {"resources", {{"requests", init_requests}}}}};
  }
  return json{{"metadata", {{"name", name}, {"namespace", "ml"}, {"resourceVersion", rv}}},
              {"spec", spec},
              {"status", {{"phase", phase}}}};
}

json unschedulable(json p) {
  p["status"]["conditions"] = {{{"type", "PodScheduled"},
                                {"status", "False"},
                                {"reason", "Unschedulable"},
                                {"message", "no fit"}}};
  return p;
}

bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeApiServer>(
        [this](const HttpRequest& req, Responder& r) { cluster_.serve(req, r); });
    KubeConfig config;
    config.server = server_->url();
    client_ = std::make_shared<Client>(config);
    options_.pods_path = "/api/v1/pods";
    options_.backoff_initial = std::chrono::milliseconds(20);
    options_.backoff_max = std::chrono::milliseconds(200);
  }
  void TearDown() override {
    if (cache_) cache_->stop();
    server_->stop();
  }
  ClusterCache& start() {
    cache_ = std::make_unique<ClusterCache>(client_, options_);
    cache_->start();
    EXPECT_TRUE(cache_->wait_for_sync(std::chrono::seconds(5)));
    return *cache_;
  }
  std::int64_t used(const std::string& node, const std::string& resource) {
    auto view = cache_->node(node);
    if (!view) return -1;
    auto it = view->used.find(resource);
    return it == view->used.end() ? 0 : it->second;
  }

  ScriptedCluster cluster_;
  std::unique_ptr<FakeApiServer> server_;
  std::shared_ptr<Client> client_;
  CacheOptions options_;
  std::unique_ptr<ClusterCache> cache_;
};

constexpr const char* k2g = "nvidia.com/mig-2g.20gb";
constexpr const char* k1g = "nvidia.com/mig-1g.10gb";
constexpr const char* k3g = "nvidia.com/mig-3g.40gb";

TEST_F(CacheTest, UsedCountsNonTerminatedPodsWithTheInitContainerRule) {
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1"), gpu_node("n2")}));
  cluster_.list(ObjectKind::kPod, 200,
                list_of("20", {
                                  // init 2, containers 1: holds 2.
                                  pod("a", "n1", "Running", {{k2g, "1"}}, {{k2g, "2"}}),
                                  // containers 1, init 0: holds 1.
                                  pod("b", "n1", "Pending", {{k1g, "1"}}),
                                  // terminated: holds nothing.
                                  pod("done", "n1", "Succeeded", {{k3g, "1"}}),
                                  pod("failed", "n1", "Failed", {{k1g, "1"}}),
                                  // CPU only: not kept at all.
                                  pod("cpu", "n1", "Running", {{"cpu", "1"}}),
                                  // pending, not bound: held by no node.
                                  unschedulable(pod("wait", "", "Pending", {{k3g, "1"}})),
                                  pod("queued", "", "Pending", {{k1g, "1"}}),
                              }));
  ClusterCache& cache = start();
  EXPECT_TRUE(cache.has_synced());
  EXPECT_EQ(used("n1", k2g), 2);
  EXPECT_EQ(used("n1", k1g), 1);
  EXPECT_EQ(used("n1", k3g), 0);
  EXPECT_TRUE(cache.node("n2")->used.empty());
  EXPECT_EQ(cache.node("n3"), nullptr);
  EXPECT_EQ(cache.node("n1")->free(k1g), 1);

  auto snapshot = cache.snapshot();
  ASSERT_EQ(snapshot.nodes.size(), 2u);
  EXPECT_EQ(snapshot.nodes[0].name, "n1");
  EXPECT_EQ(snapshot.nodes[0].used.at(k2g), 2);
  EXPECT_EQ(snapshot.nodes[0].allocatable.at(k2g), 1);  // over-committed by the init container

  EXPECT_EQ(cache.node_count(), 2u);

  auto pending = cache.pending_pods();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].key(), "ml/queued");
  auto waiting = cache.unschedulable_pods();
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].key(), "ml/wait");
  EXPECT_EQ(waiting[0].unschedulable_message, "no fit");
  EXPECT_EQ(cache.pods_on_node("n1").size(), 2u);
  EXPECT_EQ(cache.counters().lists, 2u);
}

TEST_F(CacheTest, TheExtenderBusyNodeFixtureHoldsWhatItsPodsHold) {
  // test/fixtures/extender: the H20 node and the pods bound to it (two running 1g.12gb pods, a
  // finished 3g.48gb pod, a pending one whose init and main container each ask for one
  // 1g.24gb): what the extender's filter then reads as `used` (Filter.BusyNodeFromTheCache...).
  json node = json::parse(gpushare::testing::read_fixture("extender/nodes/h20-mig.json"));
  json pods = json::parse(gpushare::testing::read_fixture("extender/pods/h20-busy.json"));
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {node}));
  std::vector<json> items(pods["items"].begin(), pods["items"].end());
  cluster_.list(ObjectKind::kPod, 200, list_of("20", items));
  start();
  const auto view = cache_->node("gpu-h20");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->used, (std::map<std::string, std::int64_t>{{"nvidia.com/mig-1g.12gb", 2},
                                                             {"nvidia.com/mig-1g.24gb", 1}}));
  EXPECT_EQ(view->free("nvidia.com/mig-1g.12gb"), 0);
  EXPECT_EQ(view->free("nvidia.com/mig-3g.48gb"), 1);
}

TEST_F(CacheTest, WatchEventsMoveUsedAndNotify) {
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1")}));
  cluster_.list(ObjectKind::kPod, 200, list_of("20", {pod("a", "n1", "Running", {{k1g, "1"}})}));
  cluster_.watch(ObjectKind::kPod, [](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("ADDED", pod("b", "", "Pending", {{k3g, "1"}}, nullptr, "21").dump()));
    // b gets bound by the scheduler: now it holds its resources on n1.
    r.chunk(event_line("MODIFIED", pod("b", "n1", "Pending", {{k3g, "1"}}, nullptr, "22").dump()));
    // a finishes: it holds nothing any more.
    r.chunk(
        event_line("MODIFIED", pod("a", "n1", "Succeeded", {{k1g, "1"}}, nullptr, "23").dump()));
    r.hold(std::chrono::seconds(30));
  });
  // Shared with the handler, which runs on the cache's thread until the cache stops (TearDown).
  auto mu = std::make_shared<std::mutex>();
  auto changes = std::make_shared<std::vector<std::pair<ChangeType, std::string>>>();
  cache_ = std::make_unique<ClusterCache>(client_, options_);
  cache_->set_change_handler([mu, changes](const CacheChange& c) {
    if (c.kind != ObjectKind::kPod) return;
    std::lock_guard lock(*mu);
    changes->emplace_back(c.type, c.key);
  });
  cache_->start();
  // The view changes before the handler hears of it: wait for both.
  const auto heard = [&] {
    std::lock_guard lock(*mu);
    return changes->size();
  };
  ASSERT_TRUE(
      eventually([&] { return used("n1", k3g) == 1 && used("n1", k1g) == 0 && heard() >= 4; }));
  EXPECT_TRUE(cache_->pending_pods().empty());
  EXPECT_EQ(cache_->counters().events, 3u);
  std::lock_guard lock(*mu);
  std::vector<std::pair<ChangeType, std::string>> expected{{ChangeType::kResynced, ""},
                                                           {ChangeType::kAdded, "ml/b"},
                                                           {ChangeType::kModified, "ml/b"},
                                                           {ChangeType::kDeleted, "ml/a"}};
  EXPECT_EQ(*changes, expected);
  EXPECT_EQ(cluster_.watch_requests(ObjectKind::kPod).at(0).param("resourceVersion"), "20");
}

json slice(const std::string& node_name, const std::string& rv) {
  json s = json::parse(gpushare::testing::read_fixture("kube/resourceslice_static_h100.json"));
  s["spec"]["nodeName"] = node_name;
  s["spec"]["pool"]["name"] = node_name;
  s["metadata"]["resourceVersion"] = rv;
  return s;
}

TEST_F(CacheTest, ResourceSlicesAreWatchedOnlyWhenAskedAndMakeNodesDra) {
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1")}));
  cluster_.list(ObjectKind::kPod, 200, list_of("20", {}));
  start();
  EXPECT_EQ(cluster_.list_calls(ObjectKind::kResourceSlice), 0);
  EXPECT_FALSE(cache_->node("n1")->dra.has_value());
  cache_->stop();

  // dra.enabled: not synced until the slices are listed; a slice event changes the node's view.
  cluster_.list(ObjectKind::kResourceSlice, 503, json{{"message", "resource.k8s.io/v1 down"}});
  cluster_.list(ObjectKind::kResourceSlice, 200, list_of("30", {}));
  cluster_.watch(ObjectKind::kResourceSlice, [](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("ADDED", slice("n1", "31").dump()));
    r.hold(std::chrono::seconds(30));
  });
  options_.resource_slices_path = "/apis/resource.k8s.io/v1/resourceslices";
  start();
  EXPECT_GE(cluster_.list_calls(ObjectKind::kResourceSlice), 2);
  ASSERT_TRUE(eventually([&] { return cache_->node("n1")->dra.has_value(); }));
  EXPECT_EQ(cache_->node("n1")->dra->profiles, (std::vector<std::string>{"1g.10gb", "3g.40gb"}));
  EXPECT_EQ(cluster_.watch_requests(ObjectKind::kResourceSlice).at(0).param("resourceVersion"),
            "30");
}

TEST_F(CacheTest, Gone410Relists) {
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1")}));
  cluster_.list(ObjectKind::kPod, 200, list_of("20", {pod("a", "n1", "Running", {{k1g, "1"}})}));
  cluster_.list(ObjectKind::kPod, 200, list_of("90", {pod("z", "n1", "Running", {{k2g, "1"}})}));
  cluster_.watch(ObjectKind::kPod, [](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("ERROR",
                       R"({"kind":"Status","code":410,"reason":"Expired","message":"too old"})"));
    r.end_stream();
  });
  start();
  ASSERT_TRUE(eventually([&] { return used("n1", k2g) == 1; }));
  EXPECT_EQ(used("n1", k1g), 0);  // the relist replaced everything
  EXPECT_EQ(cluster_.list_calls(ObjectKind::kPod), 2);
  auto counters = cache_->counters();
  EXPECT_EQ(counters.gone, 1u);
  EXPECT_EQ(counters.relists, 1u);
  // The new watch starts from the relist's resourceVersion.
  ASSERT_TRUE(eventually([&] { return cluster_.watch_requests(ObjectKind::kPod).size() == 2; }));
  EXPECT_EQ(cluster_.watch_requests(ObjectKind::kPod)[1].param("resourceVersion"), "90");
}

json mps_pod(const std::string& name, const std::string& memory, const std::string& rv) {
  json p = pod(name, "", "Pending", {{"nvidia.com/gpu.shared", "1"}}, nullptr, rv);
  p["metadata"]["annotations"] = {{"gpushare.io/mode", "mps"}};
  if (!memory.empty()) p["metadata"]["annotations"]["gpushare.io/gpu-memory"] = memory;
  return p;
}

TEST_F(CacheTest, GpuPodsCountAsArrivalsOnceWhenFirstSeen) {
  constexpr std::int64_t kGi = std::int64_t{1} << 30;
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1")}));
  cluster_.list(ObjectKind::kPod, 200, list_of("20", {mps_pod("a", "2Gi", "20")}));
  // After the 410, the relist holds a and b as before, and c, which came during the gap.
  cluster_.list(ObjectKind::kPod, 200,
                list_of("90", {mps_pod("a", "2Gi", "20"), mps_pod("b", "4Gi", "22"),
                               mps_pod("c", "", "80")}));
  cluster_.watch(ObjectKind::kPod, [](const HttpRequest& req, Responder& r) {
    r.begin_stream();
    if (req.param("resourceVersion") == "20") {
      r.chunk(event_line("ADDED", mps_pod("b", "4Gi", "21").dump()));
      r.chunk(event_line("MODIFIED", mps_pod("b", "4Gi", "22").dump()));
      r.chunk(event_line("ADDED", pod("m", "", "Pending", {{k1g, "1"}}, nullptr, "23").dump()));
      r.chunk(event_line("ERROR",
                         R"({"kind":"Status","code":410,"reason":"Expired","message":"old"})"));
      r.end_stream();
      return;
    }
    r.hold(std::chrono::seconds(30));
  });
  options_.arrival_window = std::chrono::seconds(3600);
  start();
  ASSERT_TRUE(eventually([&] { return cache_->counters().relists == 1; }));
  ASSERT_TRUE(eventually([&] { return cache_->pending_pods().size() == 3; }));
  const policy::Arrivals arrivals = cache_->recent_arrivals();
  EXPECT_EQ(arrivals.mps_recent,
            (std::map<std::int64_t, std::int64_t>{{0, 1}, {2 * kGi, 1}, {4 * kGi, 1}}));
  // Projected: a was in the first list, so it counts as it is. b and c came after it, within the
  // first minute of an hour's window: read as a rate, each stands for 3600 / 60 arrivals
  // (policy::RecentArrivals). Counted once each all the same, or they would be 120.
  EXPECT_EQ(arrivals.mps_projected,
            (std::map<std::int64_t, std::int64_t>{{0, 60}, {2 * kGi, 1}, {4 * kGi, 60}}));
  // The MIG pod m came and went between the lists: an arrival all the same, read the same way.
  EXPECT_EQ(arrivals.mig_projected, (std::map<std::string, std::int64_t>{{k1g, 60}}));
}

TEST_F(CacheTest, NoArrivalsAreKeptWithoutAWindow) {
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1")}));
  cluster_.list(ObjectKind::kPod, 200, list_of("20", {mps_pod("a", "2Gi", "20")}));
  start();
  EXPECT_EQ(cache_->recent_arrivals(), policy::Arrivals{});
}

TEST_F(CacheTest, DroppedConnectionReconnectsFromTheLastVersionWithoutRelisting) {
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1")}));
  cluster_.list(ObjectKind::kPod, 200, list_of("20", {}));
  cluster_.watch(ObjectKind::kPod, [](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("ADDED", pod("a", "n1", "Running", {{k1g, "1"}}, nullptr, "31").dump()));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r.drop();
  });
  cluster_.watch(ObjectKind::kPod, [](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("ADDED", pod("b", "n1", "Running", {{k1g, "1"}}, nullptr, "32").dump()));
    r.hold(std::chrono::seconds(30));
  });
  start();
  ASSERT_TRUE(eventually([&] { return used("n1", k1g) == 2; }));
  auto watches = cluster_.watch_requests(ObjectKind::kPod);
  ASSERT_GE(watches.size(), 2u);
  EXPECT_EQ(watches[1].param("resourceVersion"), "31");
  EXPECT_EQ(cluster_.list_calls(ObjectKind::kPod), 1);
  auto counters = cache_->counters();
  EXPECT_EQ(counters.watch_errors, 1u);
  EXPECT_EQ(counters.watch_restarts, 1u);
  EXPECT_EQ(counters.relists, 0u);
}

TEST_F(CacheTest, BookmarkThenCleanCloseRewatchesFromTheBookmark) {
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1")}));
  cluster_.watch(ObjectKind::kNode, [](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("BOOKMARK", R"({"kind":"Node","metadata":{"resourceVersion":"77"}})"));
    r.end_stream();  // timeoutSeconds reached
  });
  start();
  ASSERT_TRUE(eventually([&] { return cluster_.watch_requests(ObjectKind::kNode).size() >= 2; }));
  EXPECT_EQ(cluster_.watch_requests(ObjectKind::kNode)[1].param("resourceVersion"), "77");
  EXPECT_EQ(cache_->counters().bookmarks, 1u);
  EXPECT_EQ(cache_->counters().watch_errors, 0u);
}

TEST_F(CacheTest, NodeEventsUpdateLabelsAndDeletion) {
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1"), gpu_node("n2")}));
  cluster_.watch(ObjectKind::kNode, [](const HttpRequest&, Responder& r) {
    json changed = gpu_node("n1");
    changed["metadata"]["labels"]["nvidia.com/mig.config.state"] = "pending";
    changed["metadata"]["resourceVersion"] = "11";
    r.begin_stream();
    r.chunk(event_line("MODIFIED", changed.dump()));
    json gone = gpu_node("n2");
    gone["metadata"]["resourceVersion"] = "12";
    r.chunk(event_line("DELETED", gone.dump()));
    r.hold(std::chrono::seconds(30));
  });
  start();
  ASSERT_TRUE(eventually([&] { return cache_->node("n2") == nullptr; }));
  EXPECT_EQ(cache_->node("n1")->label("nvidia.com/mig.config.state"), "pending");
}

// Read-your-writes: the controller's own write is visible at once, and the watch's event from
// before that write (an older resourceVersion) does not undo it.
TEST_F(CacheTest, OwnWriteIsSeenAtOnceAndAnOlderWatchEventDoesNotUndoIt) {
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1")}));
  std::atomic<bool> release{false};
  cluster_.watch(ObjectKind::kNode, [&release](const HttpRequest&, Responder& r) {
    r.begin_stream();
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    json before_our_write = gpu_node("n1");
    before_our_write["metadata"]["labels"]["nvidia.com/mig.config.state"] = "pending";
    before_our_write["metadata"]["resourceVersion"] = "20";
    r.chunk(event_line("MODIFIED", before_our_write.dump()));
    json later = gpu_node("n1");
    later["metadata"]["labels"]["nvidia.com/mig.config.state"] = "failed";
    later["metadata"]["resourceVersion"] = "30";
    r.chunk(event_line("MODIFIED", later.dump()));
    r.hold(std::chrono::seconds(30));
  });
  // Node modifications only (lists and pods notify too). Shared with the handler, which runs on
  // the cache's thread until the cache stops (TearDown).
  auto counted = std::make_shared<std::atomic<int>>(0);
  std::atomic<int>& changes = *counted;
  cache_ = std::make_unique<ClusterCache>(client_, options_);
  cache_->set_change_handler([counted](const CacheChange& c) {
    if (c.kind == ObjectKind::kNode && c.type == ChangeType::kModified) ++*counted;
  });
  cache_->start();
  ASSERT_TRUE(cache_->wait_for_sync(std::chrono::seconds(5)));
  const int after_sync = changes;  // 0: the watch holds its events back

  json written = gpu_node("n1");
  written["metadata"]["labels"]["nvidia.com/mig.config.state"] = "success";
  written["metadata"]["resourceVersion"] = "25";
  cache_->observe_written_node(written);
  EXPECT_EQ(cache_->node("n1")->label("nvidia.com/mig.config.state"), "success");
  EXPECT_EQ(changes, after_sync + 1);  // as a watch event would, it wakes the controller

  release = true;  // rv 20 (ignored), then rv 30 (applied)
  // The view changes before the handler hears of it: wait for both.
  ASSERT_TRUE(eventually([&] {
    return cache_->node("n1")->label("nvidia.com/mig.config.state") == "failed" &&
           changes >= after_sync + 2;
  }));
  EXPECT_EQ(changes, after_sync + 2);
}

TEST_F(CacheTest, FailedListBacksOffAndRetries) {
  cluster_.list(ObjectKind::kNode, 500,
                json{{"kind", "Status"}, {"code", 500}, {"message", "etcd down"}});
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1")}));
  start();
  EXPECT_NE(cache_->node("n1"), nullptr);
  EXPECT_EQ(cluster_.list_calls(ObjectKind::kNode), 2);
  EXPECT_EQ(cache_->counters().watch_errors, 1u);
  EXPECT_EQ(cache_->counters().relists, 0u);
}

TEST_F(CacheTest, NotCurrentWhileAWatchKeepsFailingAndCurrentAgainWhenItRecovers) {
  // has_synced() stays true for ever; is_current() (what /readyz follows) turns false once the
  // node watch has been failing for longer than stale_after, and true at its next BOOKMARK.
  options_.stale_after = std::chrono::milliseconds(150);
  cluster_.list(ObjectKind::kNode, 200, list_of("10", {gpu_node("n1")}));
  for (int i = 0; i < 8; ++i) {
    cluster_.watch(ObjectKind::kNode, [](const HttpRequest&, Responder& r) {
      r.send(500, R"({"kind":"Status","code":500,"reason":"InternalError","message":"etcd"})");
    });
  }
  cluster_.watch(ObjectKind::kNode, [](const HttpRequest&, Responder& r) {
    r.begin_stream();
    r.chunk(event_line("BOOKMARK", R"({"kind":"Node","metadata":{"resourceVersion":"20"}})"));
    r.hold(std::chrono::seconds(30));
  });
  ClusterCache& cache = start();
  EXPECT_TRUE(eventually([&] { return !cache.is_current(); }));
  EXPECT_TRUE(cache.has_synced());
  EXPECT_TRUE(eventually([&] { return cache.is_current(); }));
  EXPECT_GE(cache.counters().watch_errors, 8U);
}

TEST_F(CacheTest, NotSyncedUntilBothKindsListed) {
  cluster_.list(ObjectKind::kPod, 403,
                json{{"kind", "Status"}, {"code", 403}, {"reason", "Forbidden"}});
  cache_ = std::make_unique<ClusterCache>(client_, options_);
  cache_->start();
  EXPECT_FALSE(cache_->wait_for_sync(std::chrono::milliseconds(300)));
  EXPECT_FALSE(cache_->has_synced());
}

TEST_F(CacheTest, StopIsPromptWhileWatchesAreOpen) {
  start();
  ASSERT_TRUE(eventually([&] {
    return !cluster_.watch_requests(ObjectKind::kNode).empty() &&
           !cluster_.watch_requests(ObjectKind::kPod).empty();
  }));
  auto started = std::chrono::steady_clock::now();
  cache_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(600));
}

TEST_F(CacheTest, CustomKeepPodTracksEveryPod) {
  cluster_.list(ObjectKind::kPod, 200, list_of("20", {pod("cpu", "", "Pending", {{"cpu", "1"}})}));
  options_.keep_pod = [](const PodRecord&) { return true; };
  start();
  EXPECT_EQ(cache_->pending_pods().size(), 1u);
}

}  // namespace
}  // namespace gpushare::kube
