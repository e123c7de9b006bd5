// The cluster as gpushare needs it, kept current by list+watch: nodes (labels, allocatable
// nvidia.com/* resources) and the GPU pods bound to them, so that each node's `used` is what
// the scheduler would count. One thread per kind; a 410 relists, a broken watch reconnects
// with capped exponential backoff from the last resourceVersion.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "kube/cluster_index.h"
#include "kube/decode.h"
#include "kube/paths.h"
#include "policy/plan_demand.h"
#include "policy/views.h"

namespace gpushare::kube {

struct CacheOptions {
  std::string nodes_path = paths::nodes();
  // Terminated pods hold nothing, so the server leaves them out (and sends DELETED when a
  // pod terminates); this is the selector kube-scheduler's own pod informer uses.
  std::string pods_path = paths::live_pods();
  // ResourceSlices (dra.enabled): which nodes a DRA driver publishes GPUs for. Empty: not
  // watched, as on clusters without the resource.k8s.io/v1 API.
  std::string resource_slices_path;
  int page_size = 500;
  int watch_timeout_seconds = 300;
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{30'000};
  // Which pods to keep in memory. Empty means: pods with nvidia.com/* requests (the only ones
  // that hold GPU resources or wait for them), which keeps a large cluster's cache small.
  std::function<bool(const PodRecord&)> keep_pod;
  // How long a list or watch of either kind may keep failing before is_current() says no. A
  // watch that recovers is seen as healthy at its first event or BOOKMARK (kube-apiserver sends
  // one about every minute on a quiet watch), so this stays above a minute.
  std::chrono::milliseconds stale_after{120'000};
  // Above zero: MIG and MPS pods are counted as they first appear, for this long (the
  // repartition planner's arrivals, policy::RecentArrivals): on their ADDED event, or at a
  // relist when the cache did not hold them. Their gpu-memory is read under this annotation
  // prefix.
  std::chrono::seconds arrival_window{0};
  std::string annotation_prefix = "gpushare.io/";
};

// For metrics. All are totals since start().
struct CacheCounters {
  std::uint64_t lists = 0;           // successful full lists, nodes and pods
  std::uint64_t relists = 0;         // lists after the first of each kind (410 or a restart)
  std::uint64_t watch_restarts = 0;  // watches opened again after one ended
  std::uint64_t watch_errors = 0;    // watches or lists that failed (dropped connection, 5xx)
  std::uint64_t gone = 0;            // 410 answers: resourceVersion too old
  std::uint64_t events = 0;          // ADDED, MODIFIED and DELETED events applied
  std::uint64_t bookmarks = 0;
  std::uint64_t decode_errors = 0;  // objects skipped because they could not be decoded
};

enum class ObjectKind { kNode, kPod, kResourceSlice };
enum class ChangeType { kAdded, kModified, kDeleted, kResynced };

struct CacheChange {
  ObjectKind kind;
  ChangeType type;
  std::string key;  // node or slice name, or "namespace/name"; empty for kResynced (a whole relist)
};
// Called on the cache's watch threads after the change is visible, outside any cache lock;
// the node and pod threads may call it at the same time. Keep it short (wake a worker).
using ChangeHandler = std::function<void(const CacheChange&)>;

class ClusterCache {
 public:
  explicit ClusterCache(std::shared_ptr<Client> client, CacheOptions options = {});
  ~ClusterCache();  // stop()
  ClusterCache(const ClusterCache&) = delete;
  ClusterCache& operator=(const ClusterCache&) = delete;

  void set_change_handler(ChangeHandler handler);  // before start()
  void start();
  // Ends both threads and joins them; a blocked watch ends within about 100 ms.
  void stop();

  // Read-your-writes: a Node as kube-apiserver returned it from gpushare's own write, applied
  // now rather than when the watch gets to it, so that the extender's next answer already sees
  // the mark, taint or labels just written (or cleared). The watch's events for the same node
  // that are older than this one (by resourceVersion) are then ignored. Notifies as a watch
  // event would.
  void observe_written_node(const nlohmann::json& node);

  // Every kind watched has been listed once.
  bool has_synced() const;
  // Synced, and no list or watch has been failing for longer than options.stale_after: the
  // cache still follows the cluster. /readyz follows this, so a replica whose watches keep
  // failing stops taking admission and extender calls from a stale view.
  bool is_current() const;
  bool wait_for_sync(std::chrono::milliseconds timeout) const;
  // Synced, and no list or watch is failing at this moment (stricter than is_current, which
  // forgives failures shorter than stale_after): what the controller asks before it judges a
  // timeout on what the cache shows.
  bool is_following() const;

  // Every node, sorted by name, with `used` filled in: a copy (the planner's input).
  policy::ClusterView snapshot() const;
  // One node as the index serves it, shared and immutable; nullptr when unknown.
  std::shared_ptr<const policy::NodeView> node(std::string_view name) const;
  // ClusterIndex::nodes: many names under one lock.
  void nodes(std::span<const std::string_view> names,
             std::vector<std::shared_ptr<const policy::NodeView>>& out) const;
  // What admission reads of the whole cluster, kept current per node change.
  std::shared_ptr<const policy::ClusterFacts> facts() const;
  std::size_t node_count() const;

  // Kept pods without a node, sorted by key; `unschedulable` marks those the scheduler gave up on.
  std::vector<PodRecord> pending_pods() const;
  // Only those with PodScheduled=False reason Unschedulable: what repartitioning may serve.
  std::vector<PodRecord> unschedulable_pods() const;
  std::vector<PodRecord> pods_on_node(const std::string& node_name) const;
  std::vector<PodRecord> bound_pods() const;
  std::optional<std::string> pod_node(const std::string& key) const;
  std::vector<policy::NodeView> nodes_annotated(const std::vector<std::string>& keys) const;
  // MIG and MPS pods that first appeared within options.arrival_window, as counted and as
  // projected at the rate seen since the first pod list (policy::RecentArrivals); empty when
  // the window is zero.
  policy::Arrivals recent_arrivals() const;

  CacheCounters counters() const;

 private:
  struct AtomicCounters {
    std::atomic<std::uint64_t> lists{0}, relists{0}, watch_restarts{0}, watch_errors{0}, gone{0},
        events{0}, bookmarks{0}, decode_errors{0};
  };

  void run(ObjectKind kind);
  bool handle_event(ObjectKind kind, const WatchEvent& event);
  void replace_all(ObjectKind kind, std::vector<nlohmann::json>& items);
  std::optional<CacheChange> apply_node(const std::string& type, const nlohmann::json& object);
  std::optional<CacheChange> apply_pod(const std::string& type, const nlohmann::json& object);
  std::optional<CacheChange> apply_resource_slice(const std::string& type,
                                                  const nlohmann::json& object);
  bool synced_locked() const;  // sync_mu_ held
  bool keep(const PodRecord& pod) const;
  bool sleep_unless_stopped(std::chrono::milliseconds delay);
  void mark_synced(ObjectKind kind);
  void notify(const CacheChange& change);
  void count_arrival(const PodRecord& pod);
  // After the first pod list: the pods it held were running or waiting already; what comes
  // later arrives at the rate RecentArrivals reads until a window has passed.
  void start_arrivals();

  const std::shared_ptr<Client> client_;
  const CacheOptions options_;
  ChangeHandler on_change_;

  ClusterIndex index_;
  mutable std::mutex arrivals_mu_;
  mutable policy::RecentArrivals arrivals_;
  // How arrivals read a pod's intent (its annotation prefix): built once, not per arrival.
  policy::PlanSettings arrival_settings_;

  std::atomic<bool> stop_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;

  mutable std::mutex sync_mu_;
  mutable std::condition_variable sync_cv_;
  bool nodes_synced_ = false;
  bool pods_synced_ = false;
  bool slices_synced_ = false;

  AtomicCounters counters_;
  // Per kind (node, pod, resource slice): steady_clock nanoseconds since the first failure of
  // the current run of failures; 0 while lists and watches succeed.
  std::atomic<std::int64_t> failing_since_[3] = {0, 0, 0};
  void failing(ObjectKind kind);
  void healthy(ObjectKind kind);

  std::vector<std::thread> threads_;
};

}  // namespace gpushare::kube
