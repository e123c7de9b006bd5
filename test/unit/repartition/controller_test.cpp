// The controller against fakes: the cluster as the cache would show it (and as the fake API
// writes change it), a scripted planner, and a log of every write in order.
#include "repartition/controller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include "policy/fit.h"

namespace gpushare::repartition {
namespace {

using std::chrono::seconds;
const Clock::time_point kT0 = Clock::time_point(seconds(1'800'000'000));
const std::string kMark(policy::kRepartitionAnnotation);

struct FakeNode {
  NodeEdit edit;
  Counts allocatable;
};

class FakeWorld : public ApiOps, public ClusterReader, public MetricsSink {
 public:
  std::map<std::string, FakeNode> nodes;
  std::vector<kube::PodRecord> pods;  // bound ones have view.node_name
  std::vector<std::string> log;
  std::vector<kube::EventSpec> events;
  std::map<std::string, double> counters;
  std::vector<double> observed;
  bool fail_entry = false;
  std::set<std::string> deleted;  // nodes the cache still shows but the API server no longer has

  // ApiOps
  Result<Clock::time_point> write_entry(const Action& a, Clock::time_point now) override {
    if (fail_entry) return Error{"boom"};
    log.push_back("entry " + a.config_name);
    auto [it, added] = written_.try_emplace(a.config_name, now);
    return it->second;
  }
  Result<bool> update_node(const std::string& node, const NodeMutation& mutate) override {
    auto it = nodes.find(node);
    if (it == nodes.end() || deleted.count(node) != 0) return Error{"not found"};
    if (race_next_update) {
      // As KubeApiOps on a 409: the mutation ran on a read that someone else's write made
      // stale, and runs again on the node as it is now.
      NodeEdit stale = it->second.edit;
      mutate(stale);
      race_next_update(it->second.edit);
      race_next_update = nullptr;
    }
    NodeEdit copy = it->second.edit;
    if (!mutate(copy)) return false;
    for (const auto& [k, v] : copy.labels) {
      auto old = it->second.edit.labels.find(k);
      if (old == it->second.edit.labels.end() || old->second != v)
        log.push_back("label " + k + "=" + v);
    }
    for (const auto& [k, v] : it->second.edit.labels) {
      if (copy.labels.count(k) == 0) log.push_back("unlabel " + k);
    }
    if (copy.tainted != it->second.edit.tainted) log.push_back(copy.tainted ? "taint" : "untaint");
    bool had = it->second.edit.annotations.count(kMark) != 0,
         has = copy.annotations.count(kMark) != 0;
    if (had != has) log.push_back(has ? "mark" : "unmark");
    it->second.edit = copy;
    return true;
  }
  // An accepted eviction removes the pod at once (grace period 0); keys in refuse_eviction are
  // protected by a PodDisruptionBudget.
  Result<EvictOutcome> evict(const std::string& ns, const std::string& name) override {
    const std::string key = ns + "/" + name;
    log.push_back("evict " + key);
    if (refuse_eviction.count(key) != 0) return EvictOutcome::kRefused;
    auto it = std::find_if(pods.begin(), pods.end(), [&](const auto& p) { return p.key() == key; });
    if (it == pods.end()) return EvictOutcome::kGone;
    pods.erase(it);
    return EvictOutcome::kEvicted;
  }
  void event(const kube::EventSpec& e) override { events.push_back(e); }
  ConfigNames config_names() override { return {}; }
  // Entries in the operator's ConfigMaps; prune_entries drops those the rule says nothing uses
  // (their age is kube/configmap_entry's business, tested there).
  std::set<std::string> entries;
  int prune_calls = 0;
  Result<std::vector<std::string>> prune_entries(const kube::PruneRule& rule) override {
    ++prune_calls;
    std::vector<std::string> removed;
    for (const auto& e : entries)
      if (!rule.in_use(e)) removed.push_back(e);
    for (const auto& e : removed) entries.erase(e);
    return removed;
  }
  std::set<std::string> refuse_eviction;
  std::function<void(NodeEdit&)> race_next_update;

  // ClusterReader
  bool following_now = true;
  bool following() const override { return following_now; }
  policy::Arrivals arrivals;
  policy::Arrivals recent_arrivals() const override { return arrivals; }
  policy::ClusterView snapshot() const override {
    policy::ClusterView v;
    for (const auto& [name, n] : nodes) {
      policy::NodeView view;
      view.name = name;
      view.labels = n.edit.labels;
      view.annotations = n.edit.annotations;
      view.allocatable = n.allocatable;
      v.nodes.push_back(view);
    }
    return v;
  }
  std::vector<kube::PodRecord> unschedulable_pods() const override {
    std::vector<kube::PodRecord> out;
    for (const auto& p : pods) {
      if (p.view.node_name.empty() && p.unschedulable) out.push_back(p);
    }
    return out;
  }
  std::vector<policy::NodeView> nodes_annotated(
      const std::vector<std::string>& keys) const override {
    std::vector<policy::NodeView> out;
    for (auto& view : snapshot().nodes) {
      if (std::any_of(keys.begin(), keys.end(),
                      [&](const std::string& k) { return view.annotations.count(k) != 0; }))
        out.push_back(std::move(view));
    }
    return out;
  }
  std::optional<std::string> pod_node(const std::string& key) const override {
    for (const auto& p : pods) {
      if (p.key() == key) return p.view.node_name;
    }
    return std::nullopt;
  }
  std::vector<kube::PodRecord> bound_pods() const override {
    std::vector<kube::PodRecord> out;
    for (const auto& p : pods) {
      if (!p.view.node_name.empty()) out.push_back(p);
    }
    return out;
  }
  std::vector<kube::PodRecord> pods_on_node(const std::string& node) const override {
    std::vector<kube::PodRecord> out;
    for (const auto& p : pods) {
      if (p.view.node_name == node) out.push_back(p);
    }
    return out;
  }

  // MetricsSink
  void inc(const std::string& name, const std::map<std::string, std::string>& labels) override {
    std::string key = name;
    for (const auto& [k, v] : labels) key += "," + k + "=" + v;
    counters[key] += 1;
  }
  void observe(const std::string&, double s) override { observed.push_back(s); }

  std::string label(const std::string& node, const std::string& key) {
    auto& l = nodes[node].edit.labels;
    return l.count(key) ? l[key] : "<none>";
  }
  bool marked(const std::string& node) { return nodes[node].edit.annotations.count(kMark) != 0; }

 private:
  std::map<std::string, Clock::time_point> written_;
};

kube::PodRecord pod(const std::string& name, const std::string& resource,
                    const std::string& node = "") {
  kube::PodRecord p;
  p.view.namespace_name = "ns";
  p.view.name = name;
  p.view.node_name = node;
  p.unschedulable = node.empty();
  p.gpu_requests[resource] = 1;
  return p;
}

Action mig_action(const std::string& node) {
  Action a;
  a.node = node;
  a.kind = policy::ActionKind::kMig;
  a.config_name = "gpushare-abc";
  a.mig_config = {{{0}, true, {{"3g.48gb", 2}}}};
  a.labels = {{kMigConfigLabel, "gpushare-abc"}, {kDevicePluginConfigLabel, "mig-mixed"}};
  a.serves = {"ns/p"};
  return a;
}

// MIG -> MPS: mig.config goes to all-disabled, then the device plugin to 4 MPS replicas a GPU.
Action mps_action(const std::string& node) {
  Action a;
  a.node = node;
  a.kind = policy::ActionKind::kMps;
  a.config_name = "gpushare-m4";
  a.device_plugin_config.resources = {{"nvidia.com/gpu", 4}};
  a.labels = {{kMigConfigLabel, "all-disabled"}, {kDevicePluginConfigLabel, "gpushare-m4"}};
  a.serves = {"ns/p"};
  return a;
}

// A node in MIG mode with three 1g.12gb instances, as GFD and the MIG manager label it.
void mig_node(FakeWorld& world, const std::string& node) {
  world.nodes[node].edit.labels = {{kMigConfigLabel, "e2e-h20-mixed"},
                                   {kMigConfigStateLabel, "success"},
                                   {"nvidia.com/mig-1g.12gb.count", "3"},
                                   {kGpuCountLabel, "1"}};
  world.nodes[node].allocatable["nvidia.com/mig-1g.12gb"] = 3;
}

struct Harness {
  FakeWorld world;
  std::vector<Action> next_plan;
  int plans = 0;
  bool leader = true;
  int leader_checks_left = -1;  // >= 0: leadership lapses after this many more checks
  ControllerSettings settings;
  std::unique_ptr<Controller> controller;
  policy::Arrivals planned_arrivals;  // of the last plan's input

  Harness() {
    settings.batch_window = seconds(1);
    settings.failure_backoff = seconds(300);
    settings.steps.propagation_delay = seconds(60);
    settings.steps.apply_timeout = seconds(600);
    restart();
  }
  // A new controller instance: the restart / new-leader case. Nothing carries over but the world.
  void restart() {
    controller = std::make_unique<Controller>(
        world, world, world,
        [this](const PlanInput& in) {
          ++plans;
          planned_arrivals = in.arrivals;
          std::vector<Action> out;
          for (const auto& a : next_plan) {
            if (in.cluster.find(a.node) != nullptr) out.push_back(a);
          }
          return out;
        },
        settings,
        [this] {
          if (leader_checks_left == 0) return false;
          if (leader_checks_left > 0) --leader_checks_left;
          return leader;
        });
  }
  void at(int s) { controller->reconcile(kT0 + seconds(s)); }
  // allowDisruption on; gpu-1 runs ns/batch (a whole GPU), ns/p waits for a 3g.48gb, and the plan
  // for it on gpu-1 may evict ns/batch. Settings made before this call hold.
  void plan_evicting_batch() {
    settings.steps.allow_disruption = true;
    restart();
    world.nodes["gpu-1"] = {};
    world.pods.push_back(pod("batch", "nvidia.com/gpu", "gpu-1"));
    world.pods.push_back(pod("p", "nvidia.com/mig-3g.48gb"));
    Action a = mig_action("gpu-1");
    a.disrupts = {"ns/batch"};
    next_plan = {a};
  }
  // Pod ns/p waits for a 3g.48gb, the plan is mig_action(node), and after the batch window the
  // controller has written the entry and marked the node (t = 1 s).
  void start_mig(const std::string& node) {
    world.pods.push_back(pod("p", "nvidia.com/mig-3g.48gb"));
    next_plan = {mig_action(node)};
    at(0);
    at(1);
  }
};

TEST(Controller, RepartitionsAnIdleNodeForMigStepByStep) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.world.pods.push_back(pod("p", "nvidia.com/mig-3g.48gb"));
  h.next_plan = {mig_action("gpu-1")};

  h.at(0);  // the batch window opens
  EXPECT_EQ(h.plans, 0);
  h.at(1);
  EXPECT_EQ(h.plans, 1);
  EXPECT_EQ(h.world.log, (std::vector<std::string>{"entry gpushare-abc", "taint", "mark"}));
  EXPECT_EQ(h.world.events.back().reason, "RepartitionStarted");
  h.at(30);  // still propagating; the served pod is not planned again
  EXPECT_EQ(h.plans, 1);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "<none>");
  h.at(61);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "gpushare-abc");
  EXPECT_EQ(h.world.label("gpu-1", kDevicePluginConfigLabel), "mig-mixed");
  h.at(62);  // the operator has not answered yet
  EXPECT_TRUE(h.world.marked("gpu-1"));
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "success";
  h.at(63);  // success, but allocatable is stale (gpu-operator#1607)
  EXPECT_TRUE(h.world.marked("gpu-1"));
  h.world.nodes["gpu-1"].allocatable["nvidia.com/mig-3g.48gb"] = 2;
  h.at(64);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_FALSE(h.world.nodes["gpu-1"].edit.tainted);
  EXPECT_EQ(h.world.events[h.world.events.size() - 2].reason, "RepartitionSucceeded");
  EXPECT_EQ(h.world.events.back().object.kind, "Pod");
  EXPECT_EQ(h.world.events.back().object.name, "p");
  EXPECT_EQ(h.world.counters["gpushare_repartition_steps_total,result=ok,step=succeeded"], 1);
  // The scheduler has not retried the pod yet: its stale Unschedulable must not start a second
  // node.
  h.at(66);
  h.at(68);
  EXPECT_EQ(h.plans, 1);
  // The pod gets scheduled: the histogram sees the whole wait.
  h.world.pods[0].view.node_name = "gpu-1";
  h.at(70);
  ASSERT_EQ(h.world.observed.size(), 1u);
  EXPECT_DOUBLE_EQ(h.world.observed[0], 70.0);
}

TEST(Controller, ThePlanSeesThePodsThatArrivedRecently) {
  // The planner sizes MPS nodes for them too and values MIG layouts with them (policy/planner.h,
  // PlanInput's arrivals): pods that came and went since the last plan are gone from the view
  // but not from demand.
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.world.pods.push_back(pod("p", "nvidia.com/gpu.shared"));
  h.world.arrivals = {{{std::int64_t{2} << 30, 5}, {0, 1}},
                      {{std::int64_t{2} << 30, 9}},
                      {{"nvidia.com/mig-1g.10gb", 12}}};
  h.at(0);
  h.at(1);
  ASSERT_EQ(h.plans, 1);
  EXPECT_EQ(h.planned_arrivals, h.world.arrivals);
}

TEST(Controller, APodTheSchedulerStillRefusesIsServedTwiceThenLeftAlone) {
  // Each success frees the node, yet the pod stays Unschedulable (it wants something the planner
  // does not model): without a limit every served_grace would change one more idle node for it.
  Harness h;
  h.settings.served_grace = seconds(60);
  h.settings.failure_backoff = seconds(300);
  h.restart();
  for (const char* n : {"gpu-1", "gpu-2", "gpu-3"}) h.world.nodes[n] = {};
  h.world.pods.push_back(pod("p", "nvidia.com/mig-3g.48gb"));
  int t = 0;
  auto serve_on = [&](const std::string& node) {
    h.next_plan = {mig_action(node)};
    h.at(t);
    h.at(t + 1);
    ASSERT_TRUE(h.world.marked(node)) << node;
    h.at(t + 61);
    auto& n = h.world.nodes[node];
    n.edit.labels[kMigConfigStateLabel] = "success";
    n.allocatable["nvidia.com/mig-3g.48gb"] = 2;
    h.at(t + 62);
    ASSERT_FALSE(h.world.marked(node)) << node;
    t += 62 + 61;  // past served_grace: the pod is a candidate again
  };
  serve_on("gpu-1");
  serve_on("gpu-2");
  h.next_plan = {mig_action("gpu-3")};
  h.at(t);
  h.at(t + 1);
  h.at(t + 2);
  EXPECT_FALSE(h.world.marked("gpu-3"));
  EXPECT_EQ(h.world.events.back().reason, "GpuRepartitionGaveUp");
  EXPECT_EQ(h.world.events.back().object.name, "p");
  EXPECT_EQ(h.world.counters["gpushare_repartition_failures_total,reason=pod-still-unschedulable"],
            1);
  // After failure_backoff it is served again.
  h.at(t + 301);
  h.at(t + 302);
  EXPECT_TRUE(h.world.marked("gpu-3"));
}

TEST(Controller, APodThatGotScheduledStartsItsCountAfresh) {
  Harness h;
  h.settings.max_repartitions_per_pod = 1;
  h.restart();
  h.world.nodes["gpu-1"] = {};
  h.world.nodes["gpu-2"] = {};
  h.start_mig("gpu-1");
  h.at(61);
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "success";
  h.world.nodes["gpu-1"].allocatable["nvidia.com/mig-3g.48gb"] = 2;
  h.at(62);
  ASSERT_FALSE(h.world.marked("gpu-1"));
  // Bound, then (a new pod of the same name) unschedulable again: not the same wait.
  h.world.pods[0].view.node_name = "gpu-1";
  h.at(70);
  h.world.pods[0].view.node_name.clear();
  h.next_plan = {mig_action("gpu-2")};
  h.at(200);
  h.at(201);
  EXPECT_TRUE(h.world.marked("gpu-2"));
}

TEST(Controller, MpsToMigLeavesMpsBeforeSettingMigConfig) {
  Harness h;
  h.world.nodes["gpu-1"].edit.labels = {{kMpsCapableLabel, "true"},
                                        {kSharingStrategyLabel, "mps"},
                                        {kDevicePluginConfigLabel, "mps-4"}};
  h.start_mig("gpu-1");
  h.at(61);
  EXPECT_EQ(h.world.label("gpu-1", kDevicePluginConfigLabel), "mig-mixed");
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "<none>");
  h.at(70);  // GFD still says MPS
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "<none>");
  h.world.nodes["gpu-1"].edit.labels[kMpsCapableLabel] = "false";
  h.world.nodes["gpu-1"].edit.labels[kSharingStrategyLabel] = "none";
  h.at(80);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "gpushare-abc");
  // In the write log, the device plugin moved strictly before mig.config.
  auto dp = std::find(h.world.log.begin(), h.world.log.end(),
                      "label nvidia.com/device-plugin.config=mig-mixed");
  auto mig =
      std::find(h.world.log.begin(), h.world.log.end(), "label nvidia.com/mig.config=gpushare-abc");
  ASSERT_NE(dp, h.world.log.end());
  ASSERT_NE(mig, h.world.log.end());
  EXPECT_LT(dp, mig);
}

TEST(Controller, MigToMpsDisablesMigBeforeTheDevicePluginMoves) {
  Harness h;
  mig_node(h.world, "gpu-1");
  h.world.pods.push_back(pod("p", "nvidia.com/gpu.shared"));
  h.next_plan = {mps_action("gpu-1")};
  h.at(0);
  h.at(1);
  h.at(61);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "all-disabled");
  EXPECT_EQ(h.world.label("gpu-1", kDevicePluginConfigLabel), "<none>");
  h.at(62);  // "success" is the old value's: GFD still shows MIG
  EXPECT_EQ(h.world.label("gpu-1", kDevicePluginConfigLabel), "<none>");
  auto& node = h.world.nodes["gpu-1"];
  node.edit.labels.erase("nvidia.com/mig-1g.12gb.count");
  node.allocatable.erase("nvidia.com/mig-1g.12gb");
  h.at(70);
  EXPECT_EQ(h.world.label("gpu-1", kDevicePluginConfigLabel), "gpushare-m4");
  node.edit.labels[kSharingStrategyLabel] = "mps";
  node.allocatable["nvidia.com/gpu.shared"] = 4;
  h.at(75);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_EQ(h.world.events[h.world.events.size() - 2].reason, "RepartitionSucceeded");
}

TEST(Controller, AbortsWhenAGpuPodGotBoundMeanwhile) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.start_mig("gpu-1");
  ASSERT_TRUE(h.world.marked("gpu-1"));
  h.world.pods.push_back(pod("intruder", "nvidia.com/gpu", "gpu-1"));
  h.at(61);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_FALSE(h.world.nodes["gpu-1"].edit.tainted);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "<none>");
  EXPECT_EQ(h.world.nodes["gpu-1"].edit.annotations.count(kBackoffAnnotation), 0u);
  EXPECT_EQ(h.world.events.back().reason, "RepartitionAborted");
  EXPECT_EQ(h.world.counters["gpushare_repartition_failures_total,reason=node-busy"], 1);
}

TEST(Controller, NeverStartsOnABusyNodeEvenIfPlanned) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.world.pods.push_back(pod("running", "nvidia.com/gpu", "gpu-1"));
  h.start_mig("gpu-1");
  EXPECT_TRUE(h.world.log.empty());
  EXPECT_FALSE(h.world.marked("gpu-1"));
}

TEST(Controller, FailureBacksOffAndTheNextPlanSkipsTheNode) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.world.nodes["gpu-2"] = {};
  h.start_mig("gpu-1");
  h.at(61);
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "failed";
  h.at(62);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_FALSE(h.world.nodes["gpu-1"].edit.tainted);
  auto until = parse_time_text(h.world.nodes["gpu-1"].edit.annotations[kBackoffAnnotation]);
  ASSERT_TRUE(until);
  EXPECT_EQ(*until, kT0 + seconds(362));
  int warnings = 0;
  for (const auto& e : h.world.events) warnings += e.type == kube::EventType::kWarning;
  EXPECT_EQ(warnings, 2);  // the node and the served pod
  EXPECT_EQ(h.world.counters["gpushare_repartition_failures_total,reason=mig-failed"], 1);
  // The pod still waits: the next plan may not use gpu-1 but may use gpu-2.
  h.next_plan = {mig_action("gpu-1"), mig_action("gpu-2")};
  h.at(63);
  h.at(64);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_TRUE(h.world.marked("gpu-2"));
}

TEST(Controller, AFailedMigConfigIsTakenBackSoARetryIsAChange) {
  // The MIG manager acts only when the label value changes: left on the failed value, a later
  // plan of the same config would flip nothing and wait for a success that never comes.
  Harness h;
  h.world.nodes["gpu-1"].edit.labels = {{kMigConfigLabel, "all-disabled"},
                                        {kMigConfigStateLabel, "success"},
                                        {kDevicePluginConfigLabel, "default"}};
  h.start_mig("gpu-1");
  h.at(61);
  ASSERT_EQ(h.world.label("gpu-1", kMigConfigLabel), "gpushare-abc");
  ASSERT_EQ(h.world.label("gpu-1", kDevicePluginConfigLabel), "mig-mixed");
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "failed";
  h.at(62);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "all-disabled");
  EXPECT_EQ(h.world.label("gpu-1", kDevicePluginConfigLabel), "default");
  // After the back-off the same plan flips the label again.
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "success";
  h.world.nodes["gpu-1"].edit.annotations.erase(kBackoffAnnotation);
  h.at(400);
  h.at(401);
  h.at(461);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "gpushare-abc");
}

TEST(Controller, ARetriedFlipRemembersTheLabelsAsTheyAreNow) {
  Harness h;
  h.world.nodes["gpu-1"].edit.labels = {{kMigConfigLabel, "all-disabled"}};
  h.start_mig("gpu-1");
  // Between the flip's read and its write, someone else set mig.config: the write conflicts and
  // the mutation runs again; what it keeps to restore is that newer value.
  h.world.race_next_update = [](NodeEdit& e) { e.labels[kMigConfigLabel] = "operator-choice"; };
  h.at(61);
  ASSERT_EQ(h.world.label("gpu-1", kMigConfigLabel), "gpushare-abc");
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "failed";
  h.at(62);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "operator-choice");
}

TEST(Controller, AFailedMigToMpsPutsBackTheOriginalMigConfig) {
  // Two steps changed mig.config (leave MIG, then flip): the value restored is the one from
  // before the first.
  Harness h;
  mig_node(h.world, "gpu-1");
  h.world.pods.push_back(pod("p", "nvidia.com/gpu.shared"));
  h.next_plan = {mps_action("gpu-1")};
  h.at(0);
  h.at(1);
  h.at(61);
  ASSERT_EQ(h.world.label("gpu-1", kMigConfigLabel), "all-disabled");
  auto& node = h.world.nodes["gpu-1"];
  node.edit.labels.erase("nvidia.com/mig-1g.12gb.count");
  node.allocatable.erase("nvidia.com/mig-1g.12gb");
  h.at(70);  // MIG is off (no MIG resource shows): the device plugin moves
  ASSERT_EQ(h.world.label("gpu-1", kDevicePluginConfigLabel), "gpushare-m4");
  h.at(70 + 600);  // no MPS ever shows
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_EQ(h.world.counters["gpushare_repartition_failures_total,reason=timeout"], 1);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "e2e-h20-mixed");
  EXPECT_EQ(h.world.label("gpu-1", kDevicePluginConfigLabel), "<none>");
}

TEST(Controller, AllowDisruptionEvictsThePlannedPodsBeforeAnyLabelMoves) {
  Harness h;
  h.plan_evicting_batch();
  h.at(0);
  h.at(1);  // entry, mark, taint
  ASSERT_TRUE(h.world.marked("gpu-1"));
  h.at(2);  // evict
  auto mark = decode_mark(h.world.nodes["gpu-1"].edit.annotations[kMark]);
  ASSERT_TRUE(mark.ok());
  EXPECT_EQ(mark->phase, Phase::kDraining);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "<none>");
  h.at(61);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "gpushare-abc");
  auto taint = std::find(h.world.log.begin(), h.world.log.end(), "taint");
  auto evicted = std::find(h.world.log.begin(), h.world.log.end(), "evict ns/batch");
  auto flipped =
      std::find(h.world.log.begin(), h.world.log.end(), "label nvidia.com/mig.config=gpushare-abc");
  ASSERT_NE(evicted, h.world.log.end());
  EXPECT_LT(taint, evicted);  // no new GPU pod can take its place
  EXPECT_LT(evicted, flipped);
  EXPECT_EQ(std::count(h.world.log.begin(), h.world.log.end(), "evict ns/batch"), 1);
  bool told = false;
  for (const auto& e : h.world.events) {
    told = told || (e.object.name == "batch" && e.reason == "GpuRepartitionEvicted" &&
                    e.type == kube::EventType::kWarning);
  }
  EXPECT_TRUE(told);
}

TEST(Controller, AllowDisruptionLeavesAPodThePlanDoesNotList) {
  Harness h;
  h.plan_evicting_batch();
  h.world.pods.push_back(pod("precious", "nvidia.com/gpu", "gpu-1"));
  h.at(0);
  h.at(1);
  EXPECT_TRUE(h.world.log.empty());
  EXPECT_FALSE(h.world.marked("gpu-1"));
  // Bound after the mark: the change is given up without evicting anyone.
  std::erase_if(h.world.pods, [](const auto& p) { return p.view.name == "precious"; });
  h.at(20);
  h.at(21);
  ASSERT_TRUE(h.world.marked("gpu-1"));
  h.world.pods.push_back(pod("intruder", "nvidia.com/gpu", "gpu-1"));
  h.at(22);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_EQ(std::count(h.world.log.begin(), h.world.log.end(), "evict ns/batch"), 0);
  EXPECT_EQ(h.world.events.back().reason, "RepartitionAborted");
}

TEST(Controller, ARefusedEvictionIsRetriedThenTheDrainTimesOut) {
  Harness h;
  h.settings.steps.evict_retry = seconds(10);
  h.plan_evicting_batch();
  h.world.refuse_eviction = {"ns/batch"};
  h.at(0);
  h.at(1);
  h.at(2);   // evict: refused
  h.at(5);   // too soon to retry
  h.at(12);  // retry
  EXPECT_EQ(std::count(h.world.log.begin(), h.world.log.end(), "evict ns/batch"), 2);
  EXPECT_EQ(h.world.counters["gpushare_repartition_steps_total,result=refused,step=evict"], 2);
  h.at(2 + 600);  // applyTimeout counts from the first eviction
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_FALSE(h.world.nodes["gpu-1"].edit.tainted);
  EXPECT_EQ(h.world.counters["gpushare_repartition_failures_total,reason=drain-timeout"], 1);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "<none>");
  EXPECT_EQ(h.world.nodes["gpu-1"].edit.annotations.count(kBackoffAnnotation), 1u);
}

TEST(Controller, ATimeoutIsNotJudgedWhileTheClusterViewIsStale) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.start_mig("gpu-1");
  h.at(61);
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "pending";
  h.world.following_now = false;  // kube-apiserver restarting: the cache still shows "pending"
  h.at(700);
  EXPECT_TRUE(h.world.marked("gpu-1"));
  EXPECT_EQ(h.world.counters["gpushare_repartition_failures_total,reason=timeout"], 0);
  // The watches are back and show what happened meanwhile: the layout took.
  h.world.following_now = true;
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "success";
  h.world.nodes["gpu-1"].allocatable["nvidia.com/mig-3g.48gb"] = 2;
  h.at(701);
  EXPECT_EQ(h.world.counters["gpushare_repartition_failures_total,reason=timeout"], 0);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_EQ(h.world.events[h.world.events.size() - 2].reason, "RepartitionSucceeded");
  // And a change that is still pending once the view is current fails as before.
  Harness h2;
  h2.world.nodes["gpu-1"] = {};
  h2.start_mig("gpu-1");
  h2.at(61);
  h2.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "pending";
  h2.world.following_now = false;
  h2.at(700);
  h2.world.following_now = true;
  h2.at(701);  // the operator's components get a whole applyTimeout from the view's return
  EXPECT_TRUE(h2.world.marked("gpu-1"));
  h2.at(1300);
  EXPECT_TRUE(h2.world.marked("gpu-1"));
  h2.at(1301);
  EXPECT_FALSE(h2.world.marked("gpu-1"));
  EXPECT_EQ(h2.world.counters["gpushare_repartition_failures_total,reason=timeout"], 1);
}

TEST(Controller, ApplyTimeoutFails) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.start_mig("gpu-1");
  h.at(61);
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "pending";
  h.at(600);
  EXPECT_TRUE(h.world.marked("gpu-1"));
  h.at(661);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_EQ(h.world.counters["gpushare_repartition_failures_total,reason=timeout"], 1);
}

TEST(Controller, ANewLeaderResumesMidStep) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.start_mig("gpu-1");
  h.restart();  // the old leader is gone; the new one has no memory
  h.next_plan.clear();
  h.at(30);
  // Propagation counts from what this replica saw (t = 30), not from the time the old leader
  // wrote: its clock may not agree with ours.
  h.at(61);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "<none>");
  h.at(90);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "gpushare-abc");
  EXPECT_EQ(h.plans, 1);  // the served pod was never planned again
}

// A new leader whose clock runs 10 minutes ahead of the old one's (the same as the old one's
// clock being behind): the times in the mark look 10 minutes old. Each delay still runs in full
// from when the new leader saw the mark.
TEST(Controller, ANewLeaderWithAClockAheadStillWaitsEachDelayInFull) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.start_mig("gpu-1");  // entry and mark written at t = 1 by the old leader's clock
  h.restart();
  h.next_plan.clear();
  h.at(601);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "<none>");  // not propagated yet
  h.at(660);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "<none>");
  h.at(661);
  EXPECT_EQ(h.world.label("gpu-1", kMigConfigLabel), "gpushare-abc");

  // Applying, flipped at 661 by this leader; then another failover, to a clock 20 minutes
  // further ahead: applyTimeout (600 s) has not passed for anyone who watched.
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "pending";
  h.restart();
  h.at(661 + 1200);
  EXPECT_TRUE(h.world.marked("gpu-1"));
  h.at(661 + 1200 + 599);
  EXPECT_TRUE(h.world.marked("gpu-1"));
  h.at(661 + 1200 + 600);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_EQ(h.world.counters["gpushare_repartition_failures_total,reason=timeout"], 1);
}

// An entry written for a node that was deleted before its mark, then used for another node a
// second later: the second node still waits out the propagation from the write.
TEST(Controller, AnEntryWrittenForANodeThatVanishedStillPropagatesForTheNext) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.world.deleted.insert("gpu-1");
  h.world.pods.push_back(pod("p", "nvidia.com/mig-3g.48gb"));
  h.next_plan = {mig_action("gpu-1")};
  h.at(100);
  h.at(101);  // entry written at 101, the mark fails: gpu-1 is gone
  EXPECT_FALSE(h.world.marked("gpu-1"));
  h.world.nodes.erase("gpu-1");
  h.world.nodes["gpu-2"] = {};
  h.next_plan = {mig_action("gpu-2")};
  h.at(102);  // a new batch window
  h.at(103);
  ASSERT_TRUE(h.world.marked("gpu-2"));
  h.at(104);
  EXPECT_EQ(h.world.label("gpu-2", kMigConfigLabel), "<none>");  // 3 s after the write
  h.at(161);
  EXPECT_EQ(h.world.label("gpu-2", kMigConfigLabel), "gpushare-abc");
}

TEST(Controller, ABackOffLastsInFullFromWhenThisReplicaSawIt) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.start_mig("gpu-1");
  h.at(61);
  h.world.nodes["gpu-1"].edit.labels[kMigConfigStateLabel] = "failed";
  h.at(62);  // backed off until 362 by this leader's clock
  ASSERT_FALSE(h.world.marked("gpu-1"));
  // This leader still sees the pod waiting: at 361 the node is still backed off.
  h.world.nodes["gpu-1"].edit.labels.erase(kMigConfigStateLabel);
  h.at(300);
  h.at(361);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  // A new leader 10 minutes ahead sees the back-off for the first time at 700: by its clock the
  // end (362) is long past, yet it skips the node for failure_backoff from 700.
  h.restart();
  h.at(700);
  h.at(702);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  h.at(999);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  h.at(1000);
  h.at(1002);
  EXPECT_TRUE(h.world.marked("gpu-1"));
}

TEST(Controller, FollowersDoNothing) {
  Harness h;
  h.leader = false;
  h.world.nodes["gpu-1"] = {};
  h.world.pods.push_back(pod("p", "nvidia.com/mig-3g.48gb"));
  h.next_plan = {mig_action("gpu-1")};
  h.at(0);
  h.at(100);
  EXPECT_EQ(h.plans, 0);
  EXPECT_TRUE(h.world.log.empty());
}

TEST(Controller, IgnoresPodsThatAskForNoManagedResource) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.world.pods.push_back(pod("plain", "nvidia.com/gpu"));
  h.at(0);
  h.at(100);
  EXPECT_EQ(h.plans, 0);
}

TEST(Controller, ClearsAnUnreadableMark) {
  Harness h;
  h.world.nodes["gpu-1"].edit.annotations[kMark] = "garbage";
  h.world.nodes["gpu-1"].edit.tainted = true;
  h.at(0);
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_FALSE(h.world.nodes["gpu-1"].edit.tainted);
}

TEST(Controller, EntryWriteFailureMarksNothing) {
  Harness h;
  h.world.fail_entry = true;
  h.world.nodes["gpu-1"] = {};
  h.start_mig("gpu-1");
  EXPECT_FALSE(h.world.marked("gpu-1"));
  EXPECT_EQ(h.world.counters["gpushare_repartition_failures_total,reason=configmap"], 1);
}

}  // namespace
}  // namespace gpushare::repartition

namespace gpushare::repartition {
namespace {

TEST(Controller, LoopRunsOnNotifyAndStops) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  std::atomic<int> leader_checks{0};
  ControllerSettings s = h.settings;
  s.tick = std::chrono::milliseconds(10'000);  // only notify() can wake it within the test
  Controller c(
      h.world, h.world, h.world, [](const PlanInput&) { return std::vector<Action>{}; }, s,
      [&] {
        ++leader_checks;
        return false;
      });
  c.start();
  c.notify();
  for (int i = 0; i < 200 && leader_checks == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  c.stop();
  EXPECT_GE(leader_checks.load(), 1);
}

// ConfigMap entries nothing names any more are pruned by the leader every entry_gc_interval;
// those a node is labelled with, and those a mark in flight may still label it with, stay.
TEST(Controller, PrunesConfigMapEntriesNoNodeUses) {
  Harness h;
  h.settings.entry_gc_interval = seconds(300);
  h.restart();
  mig_node(h.world, "gpu-2");  // labelled e2e-h20-mixed
  h.world.nodes["gpu-1"] = {};
  h.world.entries = {"e2e-h20-mixed", "gpushare-abc", "gpushare-orphan"};
  h.start_mig("gpu-1");  // writes gpushare-abc and marks gpu-1 with it
  // The first pass (t=0) pruned before the mark existed: the fake has no grace, so
  // gpushare-abc went too; put it back as the entry write of t=1 would have left it.
  EXPECT_EQ(h.world.prune_calls, 1);
  EXPECT_EQ(h.world.entries, (std::set<std::string>{"e2e-h20-mixed"}));
  h.world.entries = {"e2e-h20-mixed", "gpushare-abc", "gpushare-orphan"};
  h.at(200);
  EXPECT_EQ(h.world.prune_calls, 1);  // not before the interval
  h.at(301);
  EXPECT_EQ(h.world.prune_calls, 2);
  EXPECT_EQ(h.world.entries, (std::set<std::string>{"e2e-h20-mixed", "gpushare-abc"}));
  EXPECT_EQ(h.world.counters["gpushare_repartition_entries_pruned_total,result=removed"],
            3);  // two at t=0, one now

  // A mark that cannot be read might name anything: nothing is pruned that round.
  h.world.nodes["gpu-3"].edit.annotations[kMark] = "{not json";
  h.world.entries.insert("gpushare-later");
  h.at(700);
  EXPECT_EQ(h.world.prune_calls, 2);
  EXPECT_EQ(h.world.entries.count("gpushare-later"), 1u);

  // Only the Lease holder prunes.
  h.world.nodes.erase("gpu-3");
  h.leader = false;
  h.at(1100);
  EXPECT_EQ(h.world.prune_calls, 2);
  h.leader = true;
  h.at(1101);
  EXPECT_EQ(h.world.prune_calls, 3);
  EXPECT_EQ(h.world.entries.count("gpushare-later"), 0u);
}

// Fencing: leadership is bounded by the Lease's renew deadline and a pass takes time, so each
// node's writes start only while this replica still leads.
TEST(Controller, LeadershipLostMidPassStopsTheRemainingNodes) {
  Harness h;
  h.world.nodes["gpu-1"] = {};
  h.world.nodes["gpu-2"] = {};
  h.world.pods.push_back(pod("p", "nvidia.com/mig-3g.48gb"));
  h.world.pods.push_back(pod("q", "nvidia.com/mig-3g.48gb"));
  Action second = mig_action("gpu-2");
  second.serves = {"ns/q"};
  h.next_plan = {mig_action("gpu-1"), second};
  h.at(0);
  h.leader_checks_left = 2;  // the pass's own check, then gpu-1's; gone before gpu-2's
  h.at(1);
  EXPECT_TRUE(h.world.marked("gpu-1"));
  EXPECT_FALSE(h.world.marked("gpu-2"));
  EXPECT_EQ(std::count(h.world.log.begin(), h.world.log.end(), "mark"), 1);
}

}  // namespace
}  // namespace gpushare::repartition
