#include "kube/cache.h"

#include <algorithm>
#include <random>
#include <utility>

#include "codec/json.h"
#include "logging/log.h"

namespace gpushare::kube {

using codec::member;
using codec::string_member;
namespace {

const char* kind_name(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kNode:
      return "nodes";
    case ObjectKind::kPod:
      return "pods";
    case ObjectKind::kResourceSlice:
      break;
  }
  return "resourceslices";
}

// Exponential, capped, with +-20 % jitter so that replicas do not reconnect in lockstep.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), next_(initial), random_(std::random_device{}()) {}
  std::chrono::milliseconds next() {
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    auto delay = std::chrono::milliseconds(
        static_cast<std::int64_t>(static_cast<double>(next_.count()) * jitter(random_)));
    next_ = std::min(next_ * 2, max_);
    return delay;
  }
  void reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_, max_, next_;
  std::mt19937 random_;
};

std::string object_key(ObjectKind kind, const nlohmann::json& object) {
  const nlohmann::json& metadata = member(object, "metadata");
  std::string name = string_member(metadata, "name");
  if (kind != ObjectKind::kPod) return name;
  return string_member(metadata, "namespace") + "/" + name;
}

}  // namespace

ClusterCache::ClusterCache(std::shared_ptr<Client> client, CacheOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      arrivals_(static_cast<double>(options_.arrival_window.count())) {
  arrival_settings_.annotation_prefix = options_.annotation_prefix;
}

ClusterCache::~ClusterCache() { stop(); }

void ClusterCache::set_change_handler(ChangeHandler handler) { on_change_ = std::move(handler); }

void ClusterCache::start() {
  if (!threads_.empty()) return;
  stop_ = false;
  threads_.emplace_back([this] { run(ObjectKind::kNode); });
  threads_.emplace_back([this] { run(ObjectKind::kPod); });
  if (!options_.resource_slices_path.empty())
    threads_.emplace_back([this] { run(ObjectKind::kResourceSlice); });
}

void ClusterCache::stop() {
  {
    std::lock_guard lock(wait_mu_);
    stop_ = true;
  }
  wait_cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool ClusterCache::sleep_unless_stopped(std::chrono::milliseconds delay) {
  std::unique_lock lock(wait_mu_);
  return wait_cv_.wait_for(lock, delay, [this] { return stop_.load(); });
}

void ClusterCache::run(ObjectKind kind) {
  const std::string& path = kind == ObjectKind::kNode  ? options_.nodes_path
                            : kind == ObjectKind::kPod ? options_.pods_path
                                                       : options_.resource_slices_path;
  Backoff backoff(options_.backoff_initial, options_.backoff_max);
  bool listed_before = false;
  while (!stop_) {
    auto listed = client_->list(path, options_.page_size, &stop_);
    if (!listed) {
      if (listed.is(ErrorKind::kStopped) || stop_) return;
      failing(kind);
      ++counters_.watch_errors;
      auto delay = backoff.next();
      logging::warn("cache: list failed, retrying", {{"kind", kind_name(kind)},
                                                     {"retryMs", std::to_string(delay.count())},
                                                     {"error", listed.error().message}});
      if (sleep_unless_stopped(delay)) return;
      continue;
    }
    healthy(kind);
    ++counters_.lists;
    if (listed_before) ++counters_.relists;
    listed_before = true;
    replace_all(kind, listed->items);
    mark_synced(kind);
    notify(CacheChange{kind, ChangeType::kResynced, ""});
    backoff.reset();

    std::string resource_version = listed->resource_version;
    WatchHandler handler = [this, kind](const WatchEvent& e) { return handle_event(kind, e); };
    bool first_watch = true;
    while (!stop_) {
      if (!first_watch) ++counters_.watch_restarts;
      first_watch = false;
      std::uint64_t events_before = counters_.events + counters_.bookmarks;
      auto ended = client_->watch(path, resource_version, handler, &stop_,
                                  WatchOptions{options_.watch_timeout_seconds, true});
      if (stop_ || ended.is(ErrorKind::kStopped)) return;
      if (ended) {  // the server closed the stream at timeoutSeconds: watch again
        healthy(kind);
        continue;
      }
      if (ended.is(ErrorKind::kGone)) {
        // Our resourceVersion is older than the server keeps: only a new list is consistent.
        ++counters_.gone;
        logging::info("cache: watch expired (410), relisting", {{"kind", kind_name(kind)}});
        break;
      }
      failing(kind);
      ++counters_.watch_errors;
      // A watch that delivered events was healthy before it broke: start the backoff afresh.
      if (counters_.events + counters_.bookmarks != events_before) backoff.reset();
      auto delay = backoff.next();
      logging::warn("cache: watch ended, reconnecting", {{"kind", kind_name(kind)},
                                                         {"retryMs", std::to_string(delay.count())},
                                                         {"resourceVersion", resource_version},
                                                         {"error", ended.error().message}});
      if (sleep_unless_stopped(delay)) return;
    }
  }
}

bool ClusterCache::handle_event(ObjectKind kind, const WatchEvent& event) {
  healthy(kind);  // an event or a BOOKMARK: the watch is up
  if (event.type == "BOOKMARK") {
    ++counters_.bookmarks;  // the client already advanced the resourceVersion
    return true;
  }
  ++counters_.events;
  std::optional<CacheChange> change =
      kind == ObjectKind::kNode  ? apply_node(event.type, event.object)
      : kind == ObjectKind::kPod ? apply_pod(event.type, event.object)
                                 : apply_resource_slice(event.type, event.object);
  if (change) notify(*change);
  return !stop_;
}

void ClusterCache::replace_all(ObjectKind kind, std::vector<nlohmann::json>& items) {
  if (kind == ObjectKind::kNode) {
    std::vector<NodeRecord> nodes;
    nodes.reserve(items.size());
    for (const auto& item : items) {
      auto node = decode_node(item);
      if (!node) {
        ++counters_.decode_errors;
        logging::warn("cache: skipping node", {{"error", node.error()}});
        continue;
      }
      nodes.push_back(std::move(*node));
    }
    index_.replace_nodes(std::move(nodes));
    return;
  }
  if (kind == ObjectKind::kResourceSlice) {
    std::vector<ResourceSliceRecord> slices;
    for (const auto& item : items) {
      auto slice = decode_resource_slice(item);
      if (!slice) {
        ++counters_.decode_errors;
        logging::warn("cache: skipping resourceslice", {{"error", slice.error()}});
        continue;
      }
      if (*slice) slices.push_back(std::move(**slice));
    }
    index_.replace_resource_slices(std::move(slices));
    return;
  }
  std::vector<PodRecord> pods;
  for (const auto& item : items) {
    auto pod = decode_pod(item);
    if (!pod) {
      ++counters_.decode_errors;
      logging::warn("cache: skipping pod", {{"error", pod.error()}});
      continue;
    }
    if (pod->terminated || !keep(*pod)) continue;
    // A pod that appeared while the watch was down arrived then, as far as anyone can tell.
    if (!index_.pod_node(pod->key())) count_arrival(*pod);
    pods.push_back(std::move(*pod));
  }
  index_.replace_pods(std::move(pods));
  start_arrivals();
}

std::optional<CacheChange> ClusterCache::apply_node(const std::string& type,
                                                    const nlohmann::json& object) {
  std::string name = object_key(ObjectKind::kNode, object);
  if (type == "DELETED") {
    if (!index_.remove_node(name)) return std::nullopt;
    return CacheChange{ObjectKind::kNode, ChangeType::kDeleted, name};
  }
  auto node = decode_node(object);
  if (!node) {
    ++counters_.decode_errors;
    logging::warn("cache: skipping node event", {{"error", node.error()}});
    return std::nullopt;
  }
  switch (index_.upsert_node(std::move(*node))) {
    case ClusterIndex::NodeUpsert::kStale:
      return std::nullopt;
    case ClusterIndex::NodeUpsert::kModified:
      return CacheChange{ObjectKind::kNode, ChangeType::kModified, name};
    case ClusterIndex::NodeUpsert::kAdded:
      break;
  }
  return CacheChange{ObjectKind::kNode, ChangeType::kAdded, name};
}

void ClusterCache::observe_written_node(const nlohmann::json& node) {
  if (auto change = apply_node("MODIFIED", node)) notify(*change);
}

std::optional<CacheChange> ClusterCache::apply_pod(const std::string& type,
                                                   const nlohmann::json& object) {
  std::string key = object_key(ObjectKind::kPod, object);
  std::optional<PodRecord> pod;
  if (type != "DELETED") {
    auto decoded = decode_pod(object);
    if (!decoded) {
      ++counters_.decode_errors;
      logging::warn("cache: skipping pod event", {{"error", decoded.error()}});
      return std::nullopt;
    }
    // A pod that terminated or that we do not track is, for the cache, a deleted pod.
    if (!decoded->terminated && keep(*decoded)) pod = std::move(*decoded);
  }
  if (!pod) {
    if (!index_.remove_pod(key)) return std::nullopt;
    return CacheChange{ObjectKind::kPod, ChangeType::kDeleted, key};
  }
  if (!index_.pod_node(key)) count_arrival(*pod);
  const bool existed = index_.upsert_pod(std::move(*pod));
  return CacheChange{ObjectKind::kPod, existed ? ChangeType::kModified : ChangeType::kAdded, key};
}

std::optional<CacheChange> ClusterCache::apply_resource_slice(const std::string& type,
                                                              const nlohmann::json& object) {
  std::string name = object_key(ObjectKind::kResourceSlice, object);
  std::optional<ResourceSliceRecord> slice;
  if (type != "DELETED") {
    auto decoded = decode_resource_slice(object);
    if (!decoded) {
      ++counters_.decode_errors;
      logging::warn("cache: skipping resourceslice event", {{"error", decoded.error()}});
      return std::nullopt;
    }
    slice = std::move(*decoded);  // nullopt: not the NVIDIA driver's, or not one node's
  }
  if (!slice) {
    if (!index_.remove_resource_slice(name)) return std::nullopt;
    return CacheChange{ObjectKind::kResourceSlice, ChangeType::kDeleted, name};
  }
  const bool existed = index_.upsert_resource_slice(std::move(*slice));
  return CacheChange{ObjectKind::kResourceSlice,
                     existed ? ChangeType::kModified : ChangeType::kAdded, name};
}

bool ClusterCache::keep(const PodRecord& pod) const {
  if (options_.keep_pod) return options_.keep_pod(pod);
  return !pod.gpu_requests.empty();
}

void ClusterCache::mark_synced(ObjectKind kind) {
  {
    std::lock_guard lock(sync_mu_);
    (kind == ObjectKind::kNode  ? nodes_synced_
     : kind == ObjectKind::kPod ? pods_synced_
                                : slices_synced_) = true;
  }
  sync_cv_.notify_all();
}

void ClusterCache::notify(const CacheChange& change) {
  if (on_change_) on_change_(change);
}

void ClusterCache::failing(ObjectKind kind) {
  std::int64_t none = 0;
  const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
  failing_since_[static_cast<int>(kind)].compare_exchange_strong(none, now);
}

void ClusterCache::healthy(ObjectKind kind) { failing_since_[static_cast<int>(kind)].store(0); }

bool ClusterCache::is_current() const {
  if (!has_synced()) return false;
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  for (const auto& since : failing_since_) {
    const std::int64_t t = since.load();
    if (t != 0 && now - std::chrono::steady_clock::duration(t) > options_.stale_after) return false;
  }
  return true;
}

bool ClusterCache::is_following() const {
  if (!has_synced()) return false;
  for (const auto& since : failing_since_) {
    if (since.load() != 0) return false;
  }
  return true;
}

bool ClusterCache::synced_locked() const {
  return nodes_synced_ && pods_synced_ && (slices_synced_ || options_.resource_slices_path.empty());
}

bool ClusterCache::has_synced() const {
  std::lock_guard lock(sync_mu_);
  return synced_locked();
}

bool ClusterCache::wait_for_sync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(sync_mu_);
  return sync_cv_.wait_for(lock, timeout, [this] { return synced_locked(); });
}

policy::ClusterView ClusterCache::snapshot() const { return index_.snapshot(); }

std::shared_ptr<const policy::NodeView> ClusterCache::node(std::string_view name) const {
  return index_.node(name);
}

void ClusterCache::nodes(std::span<const std::string_view> names,
                         std::vector<std::shared_ptr<const policy::NodeView>>& out) const {
  index_.nodes(names, out);
}

std::shared_ptr<const policy::ClusterFacts> ClusterCache::facts() const { return index_.facts(); }

std::size_t ClusterCache::node_count() const { return index_.node_count(); }

std::vector<PodRecord> ClusterCache::pending_pods() const { return index_.pending_pods(); }

namespace {
double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

void ClusterCache::count_arrival(const PodRecord& pod) {
  if (options_.arrival_window.count() <= 0 || pod.gpu_requests.empty()) return;
  std::lock_guard lock(arrivals_mu_);
  arrivals_.add(steady_seconds(), pod.view, arrival_settings_);
}

void ClusterCache::start_arrivals() {
  std::lock_guard lock(arrivals_mu_);
  if (!arrivals_.started()) arrivals_.start(steady_seconds());
}

policy::Arrivals ClusterCache::recent_arrivals() const {
  std::lock_guard lock(arrivals_mu_);
  return arrivals_.read(steady_seconds());
}

std::vector<PodRecord> ClusterCache::unschedulable_pods() const {
  return index_.unschedulable_pods();
}

std::vector<PodRecord> ClusterCache::bound_pods() const { return index_.bound_pods(); }

std::optional<std::string> ClusterCache::pod_node(const std::string& key) const {
  return index_.pod_node(key);
}

std::vector<policy::NodeView> ClusterCache::nodes_annotated(
    const std::vector<std::string>& keys) const {
  return index_.nodes_annotated(keys);
}

std::vector<PodRecord> ClusterCache::pods_on_node(const std::string& node_name) const {
  return index_.pods_on_node(node_name);
}

CacheCounters ClusterCache::counters() const {
  CacheCounters c;
  c.lists = counters_.lists;
  c.relists = counters_.relists;
  c.watch_restarts = counters_.watch_restarts;
  c.watch_errors = counters_.watch_errors;
  c.gone = counters_.gone;
  c.events = counters_.events;
  c.bookmarks = counters_.bookmarks;
  c.decode_errors = counters_.decode_errors;
  return c;
}

}  // namespace gpushare::kube
