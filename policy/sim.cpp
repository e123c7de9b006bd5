// The simulator's event loop; sim.h says what it models.
#include "policy/sim.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <queue>
#include <set>
#include <tuple>

#include "policy/fit.h"
#include "policy/plan_demand.h"
#include "policy/plan_mps.h"

namespace gpushare::policy {
namespace {

constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;
constexpr double kNever = std::numeric_limits<double>::infinity();
constexpr std::string_view kNamespace = "sim";

enum class PodState { kFuture, kWaiting, kRunning, kDone };

struct PodRun {
  const SimPod* spec = nullptr;
  std::size_t id = 0;
  std::string resource;  // nvidia.com/mig-<profile> or nvidia.com/gpu.shared
  PodState state = PodState::kFuture;
  int node = -1;
  double start = 0;
  double held_share = 0;      // of one GPU, while running
  double served_until = -1;   // left out of plans until then (kNever: a change is under way)
  double backoff_until = -1;  // given up on until then
  int repartitions = 0;       // changes made for it that took effect
  PodView view;               // as admitted: what the planner reads
};

struct NodeRun {
  SimNode node;
  std::map<std::string, std::int64_t> allocatable;
  std::map<std::string, std::int64_t> used;
  int running = 0;
  bool marked = false;              // a change is under way
  std::vector<std::size_t> serves;  // pods the change under way serves
  StringMap labels;                 // GFD and operator labels for the current configuration
};

std::string mps_config_name(int replicas) { return "mps-" + std::to_string(replicas); }

void publish(NodeRun& n) {
  const SimNode& s = n.node;
  n.allocatable.clear();
  n.labels.clear();
  auto& l = n.labels;
  l[std::string(gfd::kProduct)] = s.product;
  l[std::string(gfd::kCount)] = std::to_string(s.gpus);
  l[std::string(gfd::kMemoryMiB)] = std::to_string(s.gpu_mib);
  l["nvidia.com/gpu.compute.major"] = std::to_string(s.compute_major);
  l["nvidia.com/gpu.compute.minor"] = std::to_string(s.compute_minor);
  l[std::string(gfd::kMigCapable)] = s.model != nullptr ? "true" : "false";
  if (s.model != nullptr) {
    l[std::string(gfd::kMigStrategy)] = "mixed";
    l[std::string(gfd::kMigConfig)] = s.mig_config;
    l[std::string(gfd::kMigConfigState)] = "success";
  }
  if (!s.device_plugin_config.empty())
    l[std::string(gfd::kDevicePluginConfig)] = s.device_plugin_config;
  if (s.mig) {
    ProfileCounts totals;
    for (const auto& gpu : s.per_gpu) {
      for (const auto& [profile, count] : gpu) totals[profile] += count;
    }
    for (const auto& [profile, count] : totals) {
      if (count <= 0) continue;
      const std::string resource = mig_resource_for_profile(profile);
      n.allocatable[resource] = count;
      l[resource + ".count"] = std::to_string(count);
    }
    l[std::string(gfd::kReplicas)] = "0";
    l[std::string(gfd::kMpsCapable)] = "false";
    l[std::string(gfd::kSharingStrategy)] = "none";
  } else if (s.mps_replicas > 1) {
    n.allocatable[std::string(kSharedGpuResource)] =
        static_cast<std::int64_t>(s.gpus) * s.mps_replicas;
    l[std::string(gfd::kReplicas)] = std::to_string(s.mps_replicas);
    l[std::string(gfd::kMpsCapable)] = "true";
    l[std::string(gfd::kSharingStrategy)] = "mps";
  } else {
    n.allocatable[std::string(kGpuResource)] = s.gpus;
    l[std::string(gfd::kReplicas)] = "1";
    l[std::string(gfd::kMpsCapable)] = "false";
    l[std::string(gfd::kSharingStrategy)] = "none";
  }
}

PodView admitted_view(const SimPod& pod, std::size_t id, const std::string& resource) {
  PodView v;
  v.namespace_name = std::string(kNamespace);
  v.name = "pod-" + std::to_string(id);
  ContainerView c;
  c.name = "main";
  c.limits[resource] = "1";
  c.requests[resource] = "1";
  v.containers.push_back(std::move(c));
  if (pod.profile.empty()) {
    v.annotations["gpushare.io/mode"] = "mps";
    v.annotations["gpushare.io/gpu-memory"] = std::to_string(pod.mps_memory_bytes / kMiB) + "Mi";
  } else {
    v.annotations["gpushare.io/mig-profile"] = pod.profile;
  }
  v.annotations["gpushare.io/assigned-resource"] = resource;
  v.priority = pod.priority;
  v.phase = "Pending";
  return v;
}

// Waiting pods of one kind (same resource, memory and priority): they fit the same nodes, so
// when the first does not fit, none does.
struct QueueKey {
  std::int32_t priority;
  std::string resource;
  std::int64_t memory;
  friend auto operator<=>(const QueueKey&, const QueueKey&) = default;
};

enum class EventKind { kFinish = 0, kApply = 1, kArrival = 2, kTick = 3 };

struct Event {
  double at;
  EventKind kind;
  std::size_t seq;
  std::size_t subject;  // pod id (arrival, finish) or node index (apply)
  bool operator>(const Event& o) const {
    return std::tie(at, kind, seq) > std::tie(o.at, o.kind, o.seq);
  }
};

class Simulation {
 public:
  Simulation(const std::vector<SimNode>& cluster, const std::vector<SimPod>& pods, SimPolicy policy,
             const SimSettings& settings, const Catalog& catalog)
      : policy_(policy),
        settings_(settings),
        catalog_(catalog),
        arrivals_(settings.arrival_window_s) {
    for (const auto& n : cluster) {
      NodeRun run;
      run.node = n;
      publish(run);
      nodes_.push_back(std::move(run));
      total_gpus_ += n.gpus;
      if (n.model != nullptr && n.mig) {
        record_mig_config(n.mig_config, n.per_gpu);
      }
      if (n.mps_replicas > 1) device_plugin_configs_.insert(n.device_plugin_config);
    }
    // The configs the GPU Operator ships (nvidia.md 5.4 and 6): every node may go back to them.
    mig_config_names_.insert(std::string(kMigAllDisabledConfig));
    mig_config_names_.insert("all-enabled");
    device_plugin_configs_.insert(std::string(kMigMixedDevicePluginConfig));
    pods_.resize(pods.size());
    for (std::size_t i = 0; i < pods.size(); ++i) {
      PodRun& p = pods_[i];
      p.spec = &pods[i];
      p.id = i;
      p.resource = pods[i].profile.empty() ? std::string(kSharedGpuResource)
                                           : mig_resource_for_profile(pods[i].profile);
      if (policy_ == SimPolicy::kOnDemand) p.view = admitted_view(pods[i], i, p.resource);
      if (pods[i].arrival_s < settings_.end_s) push(pods[i].arrival_s, EventKind::kArrival, i);
    }
    if (policy_ != SimPolicy::kStatic) push(tick_period(), EventKind::kTick, 0);
    // The cluster starts empty: every pod is an arrival, counted from time 0.
    arrivals_.start(0);
  }

  SimReport run() {
    while (!events_.empty()) {
      const Event e = events_.top();
      if (e.at > settings_.end_s) break;
      events_.pop();
      advance(e.at);
      switch (e.kind) {
        case EventKind::kArrival:
          arrive(e.subject);
          break;
        case EventKind::kFinish:
          finish(e.subject);
          break;
        case EventKind::kApply:
          apply(e.subject);
          break;
        case EventKind::kTick:
          tick();
          push(now_ + tick_period(), EventKind::kTick, 0);
          break;
      }
    }
    advance(settings_.end_s);
    return report();
  }

 private:
  // ----- time and events -----
  double tick_period() const { return std::max(0.5, settings_.batch_window_s / 5); }

  void push(double at, EventKind kind, std::size_t subject) {
    events_.push(Event{at, kind, seq_++, subject});
  }

  void advance(double to) {
    if (to > now_) {
      allocated_integral_ += allocated_gpus_ * (to - now_);
      now_ = to;
    }
  }

  // ----- scheduling -----
  std::int64_t share_mib(const NodeRun& n) const {
    return n.node.mps_replicas > 1 ? mps_share_bytes(n.node.gpu_mib, n.node.mps_replicas) / kMiB
                                   : 0;
  }

  static std::int64_t free_of(const NodeRun& n, const std::string& resource) {
    auto it = n.allocatable.find(resource);
    if (it == n.allocatable.end()) return 0;
    auto used = n.used.find(resource);
    return it->second - (used == n.used.end() ? 0 : used->second);
  }

  bool fits(const NodeRun& n, const PodRun& p) const {
    if (n.marked || free_of(n, p.resource) < 1) return false;
    if (p.spec->profile.empty()) return share_mib(n) * kMiB >= p.spec->mps_memory_bytes;
    return true;
  }

  // gpushare's extender with its default policy (score.h, binpack): a node that already holds a
  // GPU pod scores 6 + floor(4 (U + 1) / A), an idle one 2 + floor(3 (U + 1) / A); the highest
  // score wins, then the fuller node, then the first by name. Idle nodes stay idle while busy
  // ones have room: that is what lets the controller find nodes to repartition.
  int choose_node(const PodRun& p) const {
    int best = -1;
    std::tuple<int, double> best_key{};
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      const NodeRun& n = nodes_[i];
      if (!fits(n, p)) continue;
      const double a = static_cast<double>(n.allocatable.at(p.resource));
      const double u = a - static_cast<double>(free_of(n, p.resource));
      const double fill = (u + 1) / a;
      const int score = n.running > 0 ? 6 + static_cast<int>(std::floor(4 * fill))
                                      : 2 + static_cast<int>(std::floor(3 * fill));
      std::tuple<int, double> key{score, fill};
      if (best < 0 || key > best_key) {
        best = static_cast<int>(i);
        best_key = key;
      }
    }
    return best;
  }

  void start(PodRun& p, int node) {
    NodeRun& n = nodes_[static_cast<std::size_t>(node)];
    p.state = PodState::kRunning;
    p.node = node;
    p.start = now_;
    ++n.used[p.resource];
    ++n.running;
    if (p.spec->profile.empty()) {
      p.held_share = 1.0 / n.node.mps_replicas;
    } else {
      const MigProfile* profile = n.node.model->find_profile(p.spec->profile);
      p.held_share = profile == nullptr ? 0
                                        : static_cast<double>(profile->compute_slices) /
                                              n.node.model->compute_slices;
    }
    allocated_gpus_ += p.held_share;
    push(now_ + p.spec->runtime_s, EventKind::kFinish, p.id);
  }

  QueueKey key_of(const PodRun& p) const {
    return {p.spec->priority, p.resource, p.spec->mps_memory_bytes};
  }

  void arrive(std::size_t id) {
    PodRun& p = pods_[id];
    p.state = PodState::kWaiting;
    ++arrived_;
    if (policy_ == SimPolicy::kOnDemand) arrivals_.add(now_, p.view, settings_.plan);
    auto& queue = queues_[key_of(p)];
    // Behind others of its kind it cannot start before them.
    if (queue.empty()) {
      if (int node = choose_node(p); node >= 0) {
        start(p, node);
        return;
      }
    }
    queue.push_back(id);
  }

  void finish(std::size_t id) {
    PodRun& p = pods_[id];
    NodeRun& n = nodes_[static_cast<std::size_t>(p.node)];
    p.state = PodState::kDone;
    --n.used[p.resource];
    --n.running;
    allocated_gpus_ -= p.held_share;
    schedule_waiting();
  }

  // Every waiting kind in priority-then-arrival order of its first pod, while it still fits.
  void schedule_waiting() {
    using Head = std::tuple<std::int32_t, double, std::size_t, const QueueKey*>;
    auto order = [](const Head& a, const Head& b) {
      // Highest priority first, then earliest arrival, then id.
      if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
      if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) > std::get<1>(b);
      return std::get<2>(a) > std::get<2>(b);
    };
    std::priority_queue<Head, std::vector<Head>, decltype(order)> heads(order);
    for (auto& [key, queue] : queues_) {
      if (queue.empty()) continue;
      const PodRun& p = pods_[queue.front()];
      heads.emplace(p.spec->priority, p.spec->arrival_s, p.id, &key);
    }
    while (!heads.empty()) {
      const QueueKey* key = std::get<3>(heads.top());
      heads.pop();
      auto& queue = queues_[*key];
      PodRun& p = pods_[queue.front()];
      const int node = choose_node(p);
      if (node < 0) continue;  // none of its kind fits now
      queue.pop_front();
      start(p, node);
      if (!queue.empty()) {
        const PodRun& next = pods_[queue.front()];
        heads.emplace(next.spec->priority, next.spec->arrival_s, next.id, key);
      }
    }
  }

  // ----- the controller -----
  std::vector<std::size_t> plannable() const {
    std::vector<std::size_t> out;
    for (const auto& [key, queue] : queues_) {
      for (std::size_t id : queue) {
        const PodRun& p = pods_[id];
        if (p.served_until > now_ || p.backoff_until > now_) continue;
        out.push_back(id);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void tick() {
    // Pods a change was made for, and that still wait: the give-up rule of the controller.
    std::vector<std::size_t> pending = plannable();
    std::vector<std::size_t> kept;
    for (std::size_t id : pending) {
      PodRun& p = pods_[id];
      if (p.repartitions >= settings_.max_repartitions_per_pod) {
        p.repartitions = 0;
        p.backoff_until = now_ + settings_.failure_backoff_s;
        continue;
      }
      kept.push_back(id);
    }
    if (kept.empty()) {
      batch_started_ = -1;
      return;
    }
    if (batch_started_ < 0) batch_started_ = now_;
    if (now_ - batch_started_ < settings_.batch_window_s) return;
    batch_started_ = -1;
    ++plans_;
    if (policy_ == SimPolicy::kOnDemand)
      plan_on_demand(kept);
    else
      plan_greedy(kept);
  }

  void record_mig_config(const std::string& name, const std::vector<ProfileCounts>& per_gpu) {
    mig_config_names_.insert(name);
    if (mig_configs_.count(name) != 0) return;
    // Known layouts in the shape mig-parted reads: one entry per distinct GPU layout.
    std::vector<MigConfigEntry> entries;
    for (std::size_t g = 0; g < per_gpu.size(); ++g) {
      auto it = std::find_if(entries.begin(), entries.end(),
                             [&](const MigConfigEntry& e) { return e.mig_devices == per_gpu[g]; });
      if (it == entries.end()) {
        entries.push_back(MigConfigEntry{{}, true, per_gpu[g]});
        it = std::prev(entries.end());
      }
      it->devices.push_back(static_cast<int>(g));
    }
    mig_configs_[name] = std::move(entries);
  }

  NodeView node_view(const NodeRun& n) const {
    NodeView v;
    v.name = n.node.name;
    v.labels = n.labels;
    v.allocatable = n.allocatable;
    for (const auto& [resource, count] : n.used) {
      if (count > 0) v.used[resource] = count;
    }
    return v;
  }

  void plan_on_demand(const std::vector<std::size_t>& pending) {
    PlanInput in;
    in.settings = settings_.plan;
    for (const auto& n : nodes_) {
      if (!n.marked) in.nodes.push_back(node_view(n));
    }
    for (const auto& p : pods_) {
      if (p.state != PodState::kRunning || nodes_[static_cast<std::size_t>(p.node)].marked)
        continue;
      PodView v = p.view;
      v.node_name = nodes_[static_cast<std::size_t>(p.node)].node.name;
      v.phase = "Running";
      in.running.push_back(std::move(v));
    }
    for (std::size_t id : pending) in.pending.push_back(pods_[id].view);
    in.mig_config_names = mig_config_names_;
    in.device_plugin_config_names = device_plugin_configs_;
    in.mig_configs = mig_configs_;
    set_arrivals(in, arrivals_.read(now_));
    const double t0 = settings_.clock_ms ? settings_.clock_ms() : 0;
    const Plan plan = policy::plan(in, catalog_);
    if (settings_.clock_ms) planner_ms_.push_back(settings_.clock_ms() - t0);
    for (const auto& action : plan.actions) {
      auto node = std::find_if(nodes_.begin(), nodes_.end(),
                               [&](const NodeRun& n) { return n.node.name == action.node; });
      if (node == nodes_.end() || node->marked || node->running > 0) continue;  // as begin() does
      SimNode next = node->node;
      if (action.kind == ActionKind::kMig) {
        next.mig = true;
        next.mps_replicas = 0;
        next.per_gpu.assign(static_cast<std::size_t>(next.gpus), {});
        for (const auto& entry : action.mig_config) {
          for (int d : entry.devices) {
            if (d >= 0 && d < next.gpus)
              next.per_gpu[static_cast<std::size_t>(d)] = entry.mig_devices;
          }
        }
        next.mig_config = action.config_name;
        next.device_plugin_config = std::string(kMigMixedDevicePluginConfig);
        record_mig_config(action.config_name, next.per_gpu);
      } else {
        next.mig = false;
        next.per_gpu.clear();
        next.mps_replicas = action.device_plugin_config.resources.empty()
                                ? 0
                                : action.device_plugin_config.resources.front().replicas;
        if (next.model != nullptr) next.mig_config = std::string(kMigAllDisabledConfig);
        next.device_plugin_config = action.config_name;
        device_plugin_configs_.insert(action.config_name);
      }
      std::vector<std::size_t> serves;
      for (const auto& key : action.serves) {
        // "sim/pod-<id>"
        const std::size_t id = std::stoul(key.substr(key.rfind('-') + 1));
        serves.push_back(id);
      }
      begin_change(static_cast<std::size_t>(node - nodes_.begin()), std::move(next),
                   std::move(serves));
    }
  }

  static std::string clock_text(double s) {
    const long total = static_cast<long>(s);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%ldh%02ldm%02lds", total / 3600, total / 60 % 60, total % 60);
    return buf;
  }

  static std::string config_text(const SimNode& n) {
    if (!n.mig) return "mps " + std::to_string(n.mps_replicas) + " replicas";
    std::map<ProfileCounts, int> gpus;
    for (const auto& g : n.per_gpu) ++gpus[g];
    std::string out = "mig";
    for (const auto& [counts, k] : gpus)
      out += " " + std::to_string(k) + "x[" + describe(counts) + "]";
    return out;
  }

  void begin_change(std::size_t node, SimNode next, std::vector<std::size_t> serves) {
    NodeRun& n = nodes_[node];
    changes_.push_back(clock_text(now_) + " " + n.node.name + " " + config_text(n.node) + " -> " +
                       config_text(next) + " (serves " + std::to_string(serves.size()) + ")");
    n.marked = true;
    n.serves = std::move(serves);
    for (std::size_t id : n.serves) pods_[id].served_until = kNever;
    pending_change_[node] = std::move(next);
    ++reconfigurations_;
    push(now_ + settings_.reconfigure_s, EventKind::kApply, node);
  }

  void apply(std::size_t node) {
    NodeRun& n = nodes_[node];
    n.node = std::move(pending_change_[node]);
    pending_change_.erase(node);
    n.used.clear();  // idle: it took no pod while marked
    publish(n);
    n.marked = false;
    for (std::size_t id : n.serves) {
      PodRun& p = pods_[id];
      p.served_until = now_ + settings_.served_grace_s;
      if (p.state == PodState::kWaiting) ++p.repartitions;
    }
    n.serves.clear();
    schedule_waiting();
  }

  // The naive baseline: the first waiting pod's profile on every GPU of the first idle node.
  void plan_greedy(const std::vector<std::size_t>& pending) {
    // Capacity created in this pass: resource -> (share MiB, replicas left) for what it covers.
    std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> created;
    std::vector<std::pair<std::size_t, std::vector<std::size_t>>> serves_by_node;
    std::vector<std::pair<std::size_t, SimNode>> changes;
    std::set<std::size_t> taken;
    std::vector<std::size_t> order = pending;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const SimPod& pa = *pods_[a].spec;
      const SimPod& pb = *pods_[b].spec;
      if (pa.priority != pb.priority) return pa.priority > pb.priority;
      return pa.arrival_s < pb.arrival_s;
    });
    for (std::size_t id : order) {
      const PodRun& p = pods_[id];
      bool covered = false;
      for (std::size_t c = 0; c < created.size(); ++c) {
        auto& [resource, share, left] = created[c];
        if (left > 0 && resource == p.resource &&
            (p.spec->profile.empty() ? share * kMiB >= p.spec->mps_memory_bytes : true)) {
          --left;
          serves_by_node[c].second.push_back(id);
          covered = true;
          break;
        }
      }
      if (covered) continue;
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        const NodeRun& n = nodes_[i];
        if (n.marked || n.running > 0 || taken.count(i) != 0) continue;
        SimNode next = n.node;
        std::int64_t capacity = 0;
        std::int64_t share = 0;
        if (!p.spec->profile.empty()) {
          if (n.node.model == nullptr) continue;
          const MigProfile* profile = n.node.model->find_profile(p.spec->profile);
          if (profile == nullptr) continue;
          ProfileCounts gpu;
          while (true) {
            ProfileCounts more = gpu;
            ++more[profile->name];
            if (!placeable(*n.node.model, more)) break;
            gpu = std::move(more);
          }
          if (gpu.empty()) continue;
          next.mig = true;
          next.mps_replicas = 0;
          next.per_gpu.assign(static_cast<std::size_t>(next.gpus), gpu);
          next.mig_config = "greedy-all-" + profile->name;
          next.device_plugin_config = std::string(kMigMixedDevicePluginConfig);
          capacity = static_cast<std::int64_t>(gpu.begin()->second) * next.gpus;
        } else {
          const int max_r =
              (n.node.compute_major > 7 || (n.node.compute_major == 7 && n.node.compute_minor >= 5))
                  ? settings_.plan.max_mps_replicas
                  : settings_.plan.max_mps_replicas_before_7_5;
          int replicas = 0;
          for (int r = max_r; r >= 2; --r) {
            if (mps_share_bytes(n.node.gpu_mib, r) >= p.spec->mps_memory_bytes) {
              replicas = r;
              break;
            }
          }
          if (replicas == 0) continue;
          next.mig = false;
          next.per_gpu.clear();
          next.mps_replicas = replicas;
          if (next.model != nullptr) next.mig_config = std::string(kMigAllDisabledConfig);
          next.device_plugin_config = mps_config_name(replicas);
          capacity = static_cast<std::int64_t>(replicas) * next.gpus;
          share = mps_share_bytes(n.node.gpu_mib, replicas) / kMiB;
        }
        taken.insert(i);
        created.emplace_back(p.resource, share, capacity - 1);
        serves_by_node.emplace_back(i, std::vector<std::size_t>{id});
        changes.emplace_back(i, std::move(next));
        break;
      }
    }
    for (std::size_t c = 0; c < changes.size(); ++c) {
      SimNode& next = changes[c].second;
      if (next.mig) record_mig_config(next.mig_config, next.per_gpu);
      begin_change(changes[c].first, std::move(next), std::move(serves_by_node[c].second));
    }
  }

  // ----- the report -----
  SimReport report() const {
    SimReport r;
    r.policy = std::string(to_string(policy_));
    std::vector<double> waits;
    for (const auto& p : pods_) {
      if (p.state == PodState::kFuture) continue;
      ++r.pods;
      const std::string request =
          p.spec->profile.empty() ? "mps " + std::to_string(p.spec->mps_memory_bytes / kMiB) + "Mi"
                                  : "mig " + p.spec->profile;
      double wait = 0;
      if (p.state == PodState::kWaiting) {
        ++r.waiting;
        ++r.waiting_by_request[request];
        wait = settings_.end_s - p.spec->arrival_s;
      } else {
        ++r.served;
        wait = p.start - p.spec->arrival_s;
      }
      waits.push_back(wait);
      if (wait > settings_.long_wait_s) {
        r.long_wait_share += 1;
        ++r.long_wait_by_request[request];
      }
    }
    if (!waits.empty()) {
      double sum = 0;
      for (double w : waits) sum += w;
      r.wait_mean_s = sum / static_cast<double>(waits.size());
      r.long_wait_share /= static_cast<double>(waits.size());
    }
    r.wait_p50_s = quantile(waits, 0.50);
    r.wait_p95_s = quantile(waits, 0.95);
    if (total_gpus_ > 0 && settings_.end_s > 0)
      r.gpu_allocated = allocated_integral_ / (settings_.end_s * total_gpus_);
    r.reconfigurations = reconfigurations_;
    r.plans = plans_;
    r.planner_ms = planner_ms_;
    r.changes = changes_;
    return r;
  }

  SimPolicy policy_;
  const SimSettings& settings_;
  const Catalog& catalog_;
  std::vector<NodeRun> nodes_;
  std::vector<PodRun> pods_;
  std::map<QueueKey, std::deque<std::size_t>> queues_;
  std::map<std::size_t, SimNode> pending_change_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::set<std::string> mig_config_names_;
  std::set<std::string> device_plugin_configs_;
  std::map<std::string, std::vector<MigConfigEntry>> mig_configs_;
  RecentArrivals arrivals_;  // what the controller's watch cache keeps
  std::size_t seq_ = 0;
  double now_ = 0;
  double batch_started_ = -1;
  double allocated_gpus_ = 0;
  double allocated_integral_ = 0;
  int total_gpus_ = 0;
  std::size_t arrived_ = 0;
  std::size_t reconfigurations_ = 0;
  std::size_t plans_ = 0;
  std::vector<double> planner_ms_;
  std::vector<std::string> changes_;
};

}  // namespace

std::string_view to_string(SimPolicy policy) {
  switch (policy) {
    case SimPolicy::kStatic:
      return "static";
    case SimPolicy::kOnDemand:
      return "on-demand";
    case SimPolicy::kGreedy:
      return "greedy";
  }
  return "static";
}

std::optional<SimPolicy> sim_policy_named(std::string_view name) {
  for (SimPolicy p : {SimPolicy::kStatic, SimPolicy::kOnDemand, SimPolicy::kGreedy}) {
    if (to_string(p) == name) return p;
  }
  return std::nullopt;
}

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(q * static_cast<double>(values.size()));
  const std::size_t i = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return values[std::min(i, values.size() - 1)];
}

SimReport simulate(const std::vector<SimNode>& cluster, const std::vector<SimPod>& pods,
                   SimPolicy policy, const SimSettings& settings, const Catalog& catalog) {
  Simulation sim(cluster, pods, policy, settings, catalog);
  return sim.run();
}

}  // namespace gpushare::policy
