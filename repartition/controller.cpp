#include "repartition/controller.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "logging/log.h"
#include "policy/fit.h"
#include "policy/pod_demand.h"

namespace gpushare::repartition {
namespace {

const std::string kMarkKey(policy::kRepartitionAnnotation);

std::optional<std::string> annotation(const policy::NodeView& node, const std::string& key) {
  auto it = node.annotations.find(key);
  if (it == node.annotations.end()) return std::nullopt;
  return it->second;
}

// Keys of observed_ (repartition/observed_times.h).
const std::string kEntryTimes = "entry/";
std::string phase_key(const std::string& node) { return "phase/" + node; }
std::string evicted_key(const std::string& node) { return "evicted/" + node; }
std::string backoff_key(const std::string& node) { return "backoff/" + node; }

kube::ObjectReference node_ref(const std::string& node) {
  kube::ObjectReference ref;
  ref.kind = "Node";
  ref.name = node;
  return ref;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// "ns/name" (PodRecord::key) -> {ns, name}; nullopt for anything else.
std::optional<std::pair<std::string, std::string>> split_pod_key(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return std::nullopt;
  return std::pair{key.substr(0, slash), key.substr(slash + 1)};
}

// Sets labels[key] = value, remembering in restore the value it had before the first change
// ("" for absent): a later step that changes the same label again must not lose the original.
void remember_and_set(StringMap& labels, StringMap& restore, const std::string& key,
                      const std::string& value) {
  auto it = labels.find(key);
  restore.try_emplace(key, it == labels.end() ? std::string() : it->second);
  labels[key] = value;
}

}  // namespace

bool wants_managed_gpu(const kube::PodRecord& pod) {
  for (const auto& [resource, count] : pod.gpu_requests) {
    if (count > 0 && policy::is_managed_resource(resource)) return true;
  }
  return false;
}

Controller::Controller(ClusterReader& cluster, ApiOps& api, MetricsSink& metrics, PlanFn plan,
                       ControllerSettings settings, std::function<bool()> is_leader)
    : cluster_(cluster),
      api_(api),
      metrics_(metrics),
      plan_(std::move(plan)),
      settings_(settings),
      is_leader_(std::move(is_leader)) {}

Controller::~Controller() { stop(); }

void Controller::notify() { loop_.wake(); }

void Controller::start() {
  // Waiting steps (propagation, the operator's apply) need a clock, not only changes.
  loop_.start(
      std::chrono::duration_cast<std::chrono::milliseconds>(settings_.tick),
      base::PeriodicThread::FirstRound::kAfterPeriod, [this] { reconcile(Clock::now()); },
      settings_.min_pass_gap);
}

void Controller::stop() { loop_.stop(); }

void Controller::step_metric(const std::string& step, const std::string& result) {
  metrics_.inc("gpushare_repartition_steps_total", {{"step", step}, {"result", result}});
}

std::vector<std::string> Controller::gpu_pods(const std::string& node) const {
  std::vector<std::string> out;
  for (const auto& pod : cluster_.pods_on_node(node)) {
    if (pod.terminated) continue;
    for (const auto& [resource, count] : pod.gpu_requests) {
      if (count > 0) {
        out.push_back(pod.key());
        break;
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Controller::pod_event(const std::string& key, kube::EventType type, const std::string& reason,
                           const std::string& message) {
  auto pod = split_pod_key(key);
  if (!pod) return;
  kube::EventSpec e;
  e.object.kind = "Pod";
  e.object.namespace_name = pod->first;
  e.object.name = pod->second;
  e.type = type;
  e.reason = reason;
  e.message = message;
  api_.event(e);
}

void Controller::pod_events(const Mark& mark, kube::EventType type, const std::string& reason,
                            const std::string& message) {
  for (const auto& key : mark.serves) pod_event(key, type, reason, message);
}

bool Controller::backed_off(const policy::NodeView& node, Clock::time_point now) {
  auto until = annotation(node, kBackoffAnnotation);
  if (!until) return false;
  auto t = parse_time_text(*until);
  if (!t) return false;
  // The back-off lasts failure_backoff from when this replica saw it set (or set it), whatever
  // the clock of the replica that wrote its end.
  return now < observed_.local(backoff_key(node.name), *t, now) + settings_.failure_backoff;
}

Mark Controller::as_observed(const std::string& node, const Mark& mark, Clock::time_point now) {
  Mark local = mark;
  local.phase_at = observed_.local(phase_key(node), mark.phase_at, now);
  local.written_at = observed_.local(kEntryTimes + mark.config_name, mark.written_at, now);
  if (mark.evicted_at != Clock::time_point{})
    local.evicted_at = observed_.local(evicted_key(node), mark.evicted_at, now);
  return local;
}

void Controller::reconcile(Clock::time_point now) {
  if (!is_leader_()) {
    batch_started_.reset();  // a new leader starts its own window
    return;
  }
  observed_.sweep(kEntryTimes);
  if (!cluster_.following()) {
    view_stale_ = true;
  } else if (view_stale_) {
    view_stale_ = false;
    view_back_at_ = now;
  }
  // Pruning judges what is in use from the cluster as it was before this pass changed anything
  // (an unreadable mark cleared below still stops this round's pruning).
  std::optional<policy::ClusterView> before;
  if (now >= next_entry_gc_) before = cluster_.snapshot();

  // 1. Resume every node in progress, whoever started it. Only marked or backed-off nodes are
  // read here: a pass runs on every cluster change, and a copy of every node each time made the
  // controller the busiest thread of the server under a stream of pod events (BENCHMARKS.md,
  // issue 13, scheduling throughput).
  std::set<std::string> served;
  for (const auto& node : cluster_.nodes_annotated({kMarkKey, kBackoffAnnotation})) {
    // Looked at every pass, so that this replica keeps the time it first saw it (observed_).
    if (annotation(node, kBackoffAnnotation)) backed_off(node, now);
    auto text = annotation(node, kMarkKey);
    if (!text) continue;
    resume(node, *text, now);
    if (auto mark = decode_mark(*text); mark)
      served.insert(mark->serves.begin(), mark->serves.end());
  }

  if (before) {
    next_entry_gc_ = now + settings_.entry_gc_interval;
    prune_entries(*before, now);
  }

  for (auto it = recently_served_.begin(); it != recently_served_.end();) {
    if (now >= it->second) {
      it = recently_served_.erase(it);
    } else {
      served.insert(it->first);
      ++it;
    }
  }

  // 2. Pods that still wait and are not already being served.
  std::vector<kube::PodRecord> unschedulable;
  for (auto& pod : cluster_.unschedulable_pods()) {
    if (wants_managed_gpu(pod)) unschedulable.push_back(std::move(pod));
  }
  track_scheduling(unschedulable, now);
  forget_pods_that_left(unschedulable, now);
  std::vector<kube::PodRecord> pending;
  for (auto& pod : unschedulable) {
    if (served.count(pod.key()) == 0 && !given_up(pod.key(), now))
      pending.push_back(std::move(pod));
  }
  if (pending.empty()) {
    batch_started_.reset();
    return;
  }
  // 3. Let a burst of pods arrive, so that one plan serves them together.
  if (!batch_started_) batch_started_ = now;
  if (now - *batch_started_ < settings_.batch_window) return;
  batch_started_.reset();

  PlanInput input;
  std::set<std::string, std::less<>> planned_nodes;
  for (auto& node : cluster_.snapshot().nodes) {
    if (annotation(node, kMarkKey) || backed_off(node, now)) continue;
    planned_nodes.insert(node.name);
    input.cluster.nodes.push_back(std::move(node));
  }
  for (auto& pod : cluster_.bound_pods()) {
    if (planned_nodes.count(pod.view.node_name) != 0) input.running.push_back(std::move(pod));
  }
  input.pending = std::move(pending);
  input.config_names = api_.config_names();
  input.arrivals = cluster_.recent_arrivals();
  std::vector<Action> actions = plan_(input);
  metrics_.inc("gpushare_repartition_plans_total", {});
  // Pods no layout can serve wait on every pass: "nothing to do" goes to debug, not every 10 s
  // to info.
  logging::write(actions.empty() ? spdlog::level::debug : spdlog::level::info,
                 "repartition: planned",
                 {{"actions", std::to_string(actions.size())},
                  {"pendingPods", std::to_string(input.pending.size())}});
  for (const auto& action : actions) {
    const policy::NodeView* node = input.cluster.find(action.node);
    if (node == nullptr) {
      logging::warn("repartition: plan names a node that is not available",
                    {{"node", action.node}});
      continue;
    }
    begin(action, *node, now);
  }
}

void Controller::prune_entries(const policy::ClusterView& view, Clock::time_point now) {
  // Every config name a node is labelled with or that a mark may still label it with.
  std::set<std::string> in_use;
  for (const auto& node : view.nodes) {
    for (const std::string* key : {&kMigConfigLabel, &kDevicePluginConfigLabel}) {
      if (const std::string& value = node.label(*key); !value.empty()) in_use.insert(value);
    }
    auto text = annotation(node, kMarkKey);
    if (!text) continue;
    auto mark = decode_mark(*text);
    if (!mark) {
      // A mark we cannot read could name anything: prune nothing this round.
      logging::warn("repartition: not pruning ConfigMap entries: unreadable mark",
                    {{"node", node.name}, {"error", mark.error()}});
      return;
    }
    in_use.insert(mark->config_name);
    for (const StringMap* labels : {&mark->labels, &mark->restore_labels})
      for (const auto& [key, value] : *labels) in_use.insert(value);
    if (mark->leave_mps_to) in_use.insert(*mark->leave_mps_to);
  }
  kube::PruneRule rule;
  rule.in_use = [&in_use](const std::string& entry) { return in_use.count(entry) > 0; };
  rule.now = now;
  rule.grace = settings_.entry_grace;
  rule.max_kept = settings_.max_unused_entries;
  auto removed = api_.prune_entries(rule);
  if (!removed) {
    metrics_.inc("gpushare_repartition_entries_pruned_total", {{"result", "error"}});
    logging::warn("repartition: pruning ConfigMap entries failed", {{"error", removed.error()}});
    return;
  }
  for (const auto& entry : *removed) {
    metrics_.inc("gpushare_repartition_entries_pruned_total", {{"result", "removed"}});
    logging::info("repartition: removed a ConfigMap entry no node uses", {{"entry", entry}});
  }
}

void Controller::begin(const Action& action, const policy::NodeView& node, Clock::time_point now) {
  // Fenced: a pass takes time, and leadership is bounded by the Lease's renew deadline, so every
  // node's writes start only while this replica still leads (and each write is
  // resourceVersion-preconditioned, kube/update.h).
  if (!is_leader_()) return;
  // GPU pods on the node: only ones the plan may evict (allowDisruption, `disrupts`).
  for (const auto& pod : gpu_pods(node.name)) {
    const auto& ok = action.disrupts;
    if (!settings_.steps.allow_disruption || std::find(ok.begin(), ok.end(), pod) == ok.end()) {
      logging::info("repartition: not starting, a GPU pod runs there",
                    {{"node", node.name}, {"pod", pod}});
      metrics_.inc("gpushare_repartition_failures_total", {{"reason", "node-busy"}});
      return;
    }
  }
  // (a) The entry first: a label must never name a key the operator cannot see.
  auto written = api_.write_entry(action, now);
  if (!written) {
    logging::warn("repartition: cannot write the ConfigMap entry",
                  {{"node", node.name}, {"entry", action.config_name}, {"error", written.error()}});
    step_metric("write-entry", "error");
    metrics_.inc("gpushare_repartition_failures_total", {{"reason", "configmap"}});
    return;
  }
  step_metric("write-entry", "ok");

  Mark mark;
  mark.config_name = action.config_name;
  mark.kind = std::string(policy::to_string(action.kind));
  mark.phase = Phase::kPropagating;
  mark.started_at = mark.phase_at = now;
  mark.written_at = *written;
  observed_.own(phase_key(node.name), now, now);
  // An entry this write created counts from now; one that was there already counts from when
  // this replica first saw it (observed_: possibly earlier, in this process).
  if (*written == now) observed_.own(kEntryTimes + mark.config_name, now, now);
  mark.labels = action.labels;
  mark.serves = action.serves;
  mark.disrupts = action.disrupts;
  mark.expect = expected_allocatable(action, node.labels);
  if (action.kind == policy::ActionKind::kMig) {
    auto dp = action.labels.find(kDevicePluginConfigLabel);
    mark.leave_mps_to = dp == action.labels.end() ? std::string() : dp->second;
  }
  const std::string text = encode_mark(mark);
  // (c) Mark and taint in one preconditioned write; a node someone else marked meanwhile is left
  // alone.
  auto marked = api_.update_node(node.name, [&](NodeEdit& edit) {
    if (edit.annotations.count(kMarkKey) != 0) return false;
    edit.annotations[kMarkKey] = text;
    edit.tainted = true;
    return true;
  });
  if (!marked || !*marked) {
    logging::warn("repartition: not marked",
                  {{"node", node.name}, {"error", marked ? "already marked" : marked.error()}});
    step_metric("mark", marked ? "skipped" : "error");
    return;
  }
  step_metric("mark", "ok");
  logging::info("repartition: started", {{"node", node.name},
                                         {"kind", mark.kind},
                                         {"config", action.config_name},
                                         {"entryWrittenAt", format_time(mark.written_at)},
                                         {"serves", join(action.serves)}});
  kube::EventSpec e;
  e.object = node_ref(node.name);
  e.reason = "RepartitionStarted";
  e.message = "gpushare is changing this node to " + mark.kind + " layout " + action.config_name +
              " for " + join(action.serves);
  api_.event(e);
}

void Controller::resume(const policy::NodeView& node, const std::string& annotation_text,
                        Clock::time_point now) {
  if (!is_leader_()) return;  // fenced, as begin()
  auto mark = decode_mark(annotation_text);
  if (!mark) {
    // Not ours to interpret: clear it so the node does not stay filtered out for ever.
    logging::warn("repartition: clearing an unreadable mark",
                  {{"node", node.name}, {"error", mark.error()}});
    Step step{StepKind::kAbort, "bad-mark", mark.error()};
    finish(node.name, annotation_text, Mark{}, step, now);
    return;
  }
  NodeState state;
  state.labels = node.labels;
  state.allocatable = node.allocatable;
  state.gpu_pods = gpu_pods(node.name);
  Step step = next_step(as_observed(node.name, *mark, now), state, now, settings_.steps);
  if (is_timeout(step) &&
      (view_stale_ || (view_back_at_ && now - *view_back_at_ < settings_.steps.apply_timeout))) {
    // While the view is stale it may predate a layout that has taken; and after an outage the
    // MIG manager and device plugin, which could not see our labels either, get a whole
    // applyTimeout from the view's return.
    logging::debug("repartition: timeout deferred after an API outage",
                   {{"node", node.name}, {"detail", step.message}});
    return;
  }
  if (step.kind == StepKind::kWait) return;
  if (step.kind == StepKind::kEvict) {
    evict(node.name, annotation_text, *mark, state.gpu_pods, now);
    return;
  }

  if (step.kind == StepKind::kLeaveMps || step.kind == StepKind::kLeaveMig ||
      step.kind == StepKind::kFlipLabels) {
    Mark next = *mark;
    next.phase_at = now;
    auto flipped = api_.update_node(node.name, [&](NodeEdit& edit) {
      // Precondition: the mark is still the one this step was decided on.
      auto it = edit.annotations.find(kMarkKey);
      if (it == edit.annotations.end() || it->second != annotation_text) return false;
      // After a 409 this runs again on the node as it is now: start from the mark again, so that
      // restore_labels records what is there now, not what a stale read showed.
      next = *mark;
      next.phase_at = now;
      if (step.kind == StepKind::kLeaveMps) {
        auto dp = edit.labels.find(kDevicePluginConfigLabel);
        next.restore_labels.try_emplace(kDevicePluginConfigLabel,
                                        dp == edit.labels.end() ? std::string() : dp->second);
        // No target named: unset, and the config-manager falls back to the operator's default.
        std::string target = mark->leave_mps_to.value_or(std::string());
        if (target.empty()) {
          edit.labels.erase(kDevicePluginConfigLabel);
        } else {
          edit.labels[kDevicePluginConfigLabel] = target;
        }
        next.phase = Phase::kLeavingMps;
      } else if (step.kind == StepKind::kLeaveMig) {
        auto st = edit.labels.find(kMigConfigStateLabel);
        next.state_at_flip = st == edit.labels.end() ? std::string() : st->second;
        remember_and_set(edit.labels, next.restore_labels, kMigConfigLabel,
                         mark->labels.at(kMigConfigLabel));
        next.phase = Phase::kLeavingMig;
      } else {
        auto st = edit.labels.find(kMigConfigStateLabel);
        next.state_at_flip = st == edit.labels.end() ? std::string() : st->second;
        for (const auto& [k, v] : mark->labels)
          remember_and_set(edit.labels, next.restore_labels, k, v);
        next.phase = Phase::kApplying;
      }
      it->second = encode_mark(next);
      return true;
    });
    if (flipped && *flipped) observed_.own(phase_key(node.name), now, now);
    std::string name = to_string(step.kind);
    if (!flipped) {
      logging::warn("repartition: step failed",
                    {{"node", node.name}, {"step", name}, {"error", flipped.error()}});
      step_metric(name, "error");
    } else {
      step_metric(name, *flipped ? "ok" : "skipped");
      if (*flipped) {
        logging::info(
            "repartition: step",
            {{"node", node.name},
             {"detail", step.message},
             {"entryWrittenAt", format_time(mark->written_at)},
             {"entrySeenAt", format_time(as_observed(node.name, *mark, now).written_at)}});
      }
    }
    return;
  }
  finish(node.name, annotation_text, *mark, step, now);
}

void Controller::evict(const std::string& node, const std::string& annotation_text,
                       const Mark& mark, const std::vector<std::string>& pods,
                       Clock::time_point now) {
  // The mark first: a replica that takes over mid-drain waits evict_retry before evicting again.
  Mark next = mark;
  if (next.phase != Phase::kDraining) {
    next.phase = Phase::kDraining;
    next.phase_at = now;
  }
  next.evicted_at = now;
  auto marked = api_.update_node(node, [&](NodeEdit& edit) {
    auto it = edit.annotations.find(kMarkKey);
    if (it == edit.annotations.end() || it->second != annotation_text) return false;
    it->second = encode_mark(next);
    return true;
  });
  if (marked && *marked) {
    observed_.own(evicted_key(node), now, now);
    if (next.phase_at == now) observed_.own(phase_key(node), now, now);
  }
  if (!marked || !*marked) {
    step_metric("evict", marked ? "skipped" : "error");
    if (!marked)
      logging::warn("repartition: cannot record the eviction",
                    {{"node", node}, {"error", marked.error()}});
    return;
  }
  for (const auto& key : pods) {
    auto pod = split_pod_key(key);
    if (!pod) continue;
    auto outcome = api_.evict(pod->first, pod->second);
    if (!outcome) {
      logging::warn("repartition: eviction failed",
                    {{"node", node}, {"pod", key}, {"error", outcome.error()}});
      step_metric("evict", "error");
      continue;
    }
    switch (*outcome) {
      case EvictOutcome::kEvicted:
        step_metric("evict", "ok");
        logging::info("repartition: evicted (allowDisruption)", {{"node", node}, {"pod", key}});
        pod_event(key, kube::EventType::kWarning, "GpuRepartitionEvicted",
                  "evicted so that node " + node + " can change to " + mark.kind + " layout " +
                      mark.config_name + " for " + join(mark.serves) +
                      " (the pod allowed it with its disruptable annotation)");
        break;
      case EvictOutcome::kGone:
        step_metric("evict", "gone");
        break;
      case EvictOutcome::kRefused:
        step_metric("evict", "refused");
        logging::info("repartition: eviction refused for now (PodDisruptionBudget)",
                      {{"node", node}, {"pod", key}});
        break;
    }
  }
}

void Controller::finish(const std::string& node, const std::string& annotation_text,
                        const Mark& mark, const Step& step, Clock::time_point now) {
  const bool failed = step.kind == StepKind::kFailed;
  if (step.reason != "node-gone") {
    auto cleared = api_.update_node(node, [&](NodeEdit& edit) {
      auto it = edit.annotations.find(kMarkKey);
      if (it == edit.annotations.end() || it->second != annotation_text) return false;
      edit.annotations.erase(it);
      edit.tainted = false;
      if (failed)
        edit.annotations[kBackoffAnnotation] = format_time(now + settings_.failure_backoff);
      observed_.own(backoff_key(node), now + settings_.failure_backoff, now);
      if (should_restore_labels(mark.phase, step.kind)) {
        for (const auto& [k, v] : mark.restore_labels) {
          if (v.empty()) {
            edit.labels.erase(k);
          } else {
            edit.labels[k] = v;
          }
        }
      }
      return true;
    });
    if (!cleared || !*cleared) {
      step_metric(to_string(step.kind), cleared ? "skipped" : "error");
      if (!cleared)
        logging::warn("repartition: cannot clear the mark",
                      {{"node", node}, {"error", cleared.error()}});
      return;  // the next pass sees the mark again and retries
    }
  }
  step_metric(to_string(step.kind), "ok");
  kube::EventSpec e;
  e.object = node_ref(node);
  if (step.kind == StepKind::kSucceeded) {
    logging::info("repartition: done", {{"node", node}, {"detail", step.message}});
    e.reason = "RepartitionSucceeded";
    e.message = "the node now serves " + mark.kind + " layout " + mark.config_name;
    api_.event(e);
    for (const auto& key : mark.serves) {
      recently_served_[key] = now + settings_.served_grace;
      ++repartitions_for_[key];
    }
    pod_events(mark, kube::EventType::kNormal, "GpuRepartitioned",
               "node " + node + " was repartitioned (" + mark.config_name + ") to serve this pod");
    return;
  }
  metrics_.inc("gpushare_repartition_failures_total", {{"reason", step.reason}});
  logging::warn("repartition: ended", {{"node", node},
                                       {"outcome", to_string(step.kind)},
                                       {"reason", step.reason},
                                       {"detail", step.message}});
  if (step.reason == "node-gone") return;
  e.type = kube::EventType::kWarning;
  e.reason = failed ? "RepartitionFailed" : "RepartitionAborted";
  e.message = (mark.config_name.empty() ? std::string("repartition") : mark.config_name) + ": " +
              step.message +
              (failed ? "; the node is skipped for " +
                            std::to_string(settings_.failure_backoff.count()) + "s"
                      : "");
  api_.event(e);
  if (failed) {
    pod_events(mark, kube::EventType::kWarning, "GpuRepartitionFailed",
               "repartitioning node " + node + " failed (" + step.message +
                   "); another node will be tried");
  }
}

void Controller::forget_pods_that_left(const std::vector<kube::PodRecord>& unschedulable,
                                       Clock::time_point now) {
  std::set<std::string> waiting;
  for (const auto& pod : unschedulable) waiting.insert(pod.key());
  std::erase_if(repartitions_for_, [&](const auto& kv) { return waiting.count(kv.first) == 0; });
  std::erase_if(pod_backoff_,
                [&](const auto& kv) { return waiting.count(kv.first) == 0 || now >= kv.second; });
}

bool Controller::given_up(const std::string& key, Clock::time_point now) {
  if (pod_backoff_.count(key) != 0) return true;
  auto it = repartitions_for_.find(key);
  if (it == repartitions_for_.end() || it->second < settings_.max_repartitions_per_pod)
    return false;
  const int times = it->second;
  repartitions_for_.erase(it);
  pod_backoff_[key] = now + settings_.failure_backoff;
  metrics_.inc("gpushare_repartition_failures_total", {{"reason", "pod-still-unschedulable"}});
  logging::warn("repartition: pod still unschedulable after repartitions for it; backing off",
                {{"pod", key},
                 {"repartitions", std::to_string(times)},
                 {"backoffSeconds", std::to_string(settings_.failure_backoff.count())}});
  pod_event(
      key, kube::EventType::kWarning, "GpuRepartitionGaveUp",
      std::to_string(times) +
          " node(s) were repartitioned for this pod and the scheduler still did not place it: "
          "it needs something gpushare does not model (CPU, memory, pod affinity, topology "
          "spread, ...); see its FailedScheduling events. gpushare tries again in " +
          std::to_string(settings_.failure_backoff.count()) + "s");
  return true;
}

void Controller::track_scheduling(const std::vector<kube::PodRecord>& unschedulable,
                                  Clock::time_point now) {
  for (const auto& pod : unschedulable) first_unschedulable_.try_emplace(pod.key(), now);
  // A pod that left the pending list was bound or deleted; only a bound one counts. One lookup
  // per tracked pod: not a scan of every pod (per node) on every pass.
  for (auto it = first_unschedulable_.begin(); it != first_unschedulable_.end();) {
    const std::optional<std::string> node = cluster_.pod_node(it->first);
    if (node && node->empty()) {
      ++it;
      continue;
    }
    if (node) {
      metrics_.observe("gpushare_repartition_pending_to_scheduled_seconds",
                       std::chrono::duration<double>(now - it->second).count());
    }
    it = first_unschedulable_.erase(it);
  }
}

}  // namespace gpushare::repartition
