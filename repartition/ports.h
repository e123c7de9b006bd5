// The controller's edges as small interfaces, so that its logic runs against fakes in tests:
// what it reads of the cluster (the watch cache), what it writes (the apiserver), and where
// its counters go (server/'s Metrics lives above repartition/ in the dependency order).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "kube/configmap_entry.h"
#include "kube/decode.h"
#include "kube/events.h"
#include "policy/plan_demand.h"
#include "policy/planner.h"
#include "policy/views.h"
#include "repartition/action.h"

namespace gpushare::repartition {

// The parts of a Node the controller edits. The real implementation reads the Node, applies
// the edit and PUTs it back with the resourceVersion it read.
struct NodeEdit {
  StringMap labels;
  StringMap annotations;
  bool tainted = false;  // kTaintKey:NoSchedule present
};
// Returns false to write nothing (what it expected to find is no longer there).
using NodeMutation = std::function<bool(NodeEdit&)>;

// nullopt: that ConfigMap could not be read, so the planner does not know.
struct ConfigNames {
  std::optional<std::set<std::string>> mig_parted;
  std::optional<std::set<std::string>> device_plugin;
  // The mig-parted configs' content where readable: the planner takes each node's per-GPU
  // layout from the config its nvidia.com/mig.config names (policy/plan_demand.h).
  std::map<std::string, std::vector<policy::MigConfigEntry>> mig_configs;
};

enum class EvictOutcome {
  kEvicted,  // accepted: the pod terminates with its grace period
  kGone,     // no such pod any more
  kRefused,  // 429: a PodDisruptionBudget does not allow it now; try again later
};

class ApiOps {
 public:
  virtual ~ApiOps() = default;
  // Adds the action's entry to the GPU Operator ConfigMap (read-modify-write); returns when
  // that content was first written there (now, when this call wrote it).
  virtual Result<std::chrono::system_clock::time_point> write_entry(
      const Action& action, std::chrono::system_clock::time_point now) = 0;
  // Read, mutate, write back with a resourceVersion precondition; a conflict re-reads and runs
  // the mutation again (bounded). true: written; false: the mutation declined.
  virtual Result<bool> update_node(const std::string& node, const NodeMutation& mutate) = 0;
  // Evicts the pod through the Eviction API (policy/v1), which honours PodDisruptionBudgets and
  // the pod's termination grace period, unlike a plain delete.
  virtual Result<EvictOutcome> evict(const std::string& namespace_name,
                                     const std::string& name) = 0;
  // Best effort: a lost Event must not stop a repartition.
  virtual void event(const kube::EventSpec& event) = 0;
  // Entry names present in the device-plugin and mig-parted ConfigMaps (planner input).
  virtual ConfigNames config_names() = 0;
  // Removes gpushare's own entries no node uses from both ConfigMaps (kube/configmap_entry.h
  // says which); returns the names removed.
  virtual Result<std::vector<std::string>> prune_entries(const kube::PruneRule& rule) = 0;
};

class ClusterReader {
 public:
  virtual ~ClusterReader() = default;
  // Every node, sorted by name: a copy of the whole cluster, taken only to plan or prune.
  virtual policy::ClusterView snapshot() const = 0;
  // Only the nodes carrying one of these annotations, sorted by name (every pass).
  virtual std::vector<policy::NodeView> nodes_annotated(
      const std::vector<std::string>& keys) const = 0;
  virtual std::vector<kube::PodRecord> unschedulable_pods() const = 0;
  virtual std::vector<kube::PodRecord> pods_on_node(const std::string& node) const = 0;
  virtual std::vector<kube::PodRecord> bound_pods() const = 0;
  // The pod's node, "" while it waits, nullopt when it is gone.
  virtual std::optional<std::string> pod_node(const std::string& key) const = 0;
  // The view follows the cluster now: every watch is up. While one is failing (kube-apiserver
  // restarting, a network cut) the view may be minutes old, and a timeout judged on it would fail
  // a change that has in fact taken.
  virtual bool following() const = 0;
  // MIG and MPS pods that arrived within the arrival window, counted and projected
  // (policy::RecentArrivals; the planner's PlanInput arrivals).
  virtual policy::Arrivals recent_arrivals() const = 0;
};

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void inc(const std::string& name, const std::map<std::string, std::string>& labels) = 0;
  virtual void observe(const std::string& name, double seconds) = 0;
};

}  // namespace gpushare::repartition
