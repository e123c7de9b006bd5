#include "repartition/steps.h"

#include <algorithm>

namespace gpushare::repartition {
namespace {

std::string label(const StringMap& labels, const std::string& key) {
  auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

long long seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::seconds>(to - from).count();
}

// GFD may refresh allocatable after the state says success (NVIDIA/gpu-operator#1607): only
// the counts we expect mean the new layout is served.
bool allocatable_shows(const Counts& expect, const Counts& allocatable) {
  for (const auto& [resource, count] : expect) {
    auto it = allocatable.find(resource);
    if (it == allocatable.end() || it->second != count) return false;
  }
  return true;
}

// The GPU pods on the node that the mark may not evict (all of them without allowDisruption).
std::vector<std::string> not_disruptable(const Mark& mark, const NodeState& node,
                                         const StepSettings& settings) {
  std::vector<std::string> out;
  for (const auto& pod : node.gpu_pods) {
    bool listed = std::find(mark.disrupts.begin(), mark.disrupts.end(), pod) != mark.disrupts.end();
    if (!settings.allow_disruption || !listed) out.push_back(pod);
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// No label has moved yet: the phases before the first flip.
bool before_labels(Phase phase) {
  return phase == Phase::kPropagating || phase == Phase::kDraining;
}

// GPU pods are on the node: evict them when the plan may, else give up.
Step busy_node(const Mark& mark, const NodeState& node, Clock::time_point now,
               const StepSettings& settings) {
  // Evictions happen only before the first label moves; a GPU pod that turns up later (one
  // that tolerates the taint) ends the change where it stands.
  const bool may_evict = before_labels(mark.phase);
  auto others = may_evict ? not_disruptable(mark, node, settings) : node.gpu_pods;
  if (!others.empty()) {
    return {StepKind::kAbort, "node-busy", "GPU pods run on the node: " + join(others)};
  }
  // Every one is the plan's to evict: evict, then wait for them to be gone.
  if (mark.phase == Phase::kPropagating) {
    return {StepKind::kEvict, "", "evicting " + join(node.gpu_pods)};
  }
  if (now - mark.phase_at >= settings.apply_timeout) {
    return {StepKind::kFailed, "drain-timeout",
            "still on the node after " + std::to_string(seconds_between(mark.phase_at, now)) +
                "s (a PodDisruptionBudget may refuse the eviction): " + join(node.gpu_pods)};
  }
  if (now - mark.evicted_at >= settings.evict_retry) {
    return {StepKind::kEvict, "", "evicting again " + join(node.gpu_pods)};
  }
  return {StepKind::kWait, "", "waiting for " + join(node.gpu_pods) + " to go"};
}

Step flip_or_leave(const Mark& mark, const NodeState& node, Clock::time_point now,
                   const StepSettings& settings) {
  // Re-checked right before any label moves: a GPU pod bound meanwhile wins over the plan.
  if (node.busy()) return busy_node(mark, node, now, settings);
  if (mark.kind == kKindMig && runs_mps(node.labels) && before_labels(mark.phase)) {
    return {StepKind::kLeaveMps, "", "moving the device plugin off MPS before MIG"};
  }
  if (mark.kind == kKindMps && before_labels(mark.phase) && needs_leave_mig(mark, node.labels)) {
    return {StepKind::kLeaveMig, "", "disabling MIG before MPS"};
  }
  return {StepKind::kFlipLabels, "", "switching the node labels to " + mark.config_name};
}

Step applying(const Mark& mark, const NodeState& node, Clock::time_point now,
              const StepSettings& settings) {
  const auto& labels = node.labels;
  bool done = false;
  if (mark.kind == kKindMig) {
    std::string state = label(labels, kMigConfigStateLabel);
    if (state == "failed") {
      bool stale =
          mark.state_at_flip == "failed" && now - mark.phase_at < settings.stale_failed_grace;
      if (!stale) {
        return {StepKind::kFailed, "mig-failed",
                "the MIG manager reported failed for " + label(labels, kMigConfigLabel)};
      }
    }
    done = label(labels, kMigConfigLabel) == mark.config_name && state == "success" &&
           allocatable_shows(mark.expect, node.allocatable);
  } else {
    done = label(labels, kDevicePluginConfigLabel) == mark.config_name &&
           label(labels, kSharingStrategyLabel) == "mps" &&
           allocatable_shows(mark.expect, node.allocatable);
  }
  if (done) return {StepKind::kSucceeded, "", "the node serves " + mark.config_name};
  if (now - mark.phase_at >= settings.apply_timeout) {
    return {StepKind::kFailed, "timeout",
            "no success after " + std::to_string(seconds_between(mark.phase_at, now)) + "s"};
  }
  return {StepKind::kWait, "", "waiting for the operator to apply " + mark.config_name};
}

}  // namespace

std::string to_string(StepKind kind) {
  switch (kind) {
    case StepKind::kWait:
      return "wait";
    case StepKind::kEvict:
      return "evict";
    case StepKind::kLeaveMps:
      return "leave-mps";
    case StepKind::kLeaveMig:
      return "leave-mig";
    case StepKind::kFlipLabels:
      return "flip-labels";
    case StepKind::kSucceeded:
      return "succeeded";
    case StepKind::kFailed:
      return "failed";
    case StepKind::kAbort:
      return "abort";
  }
  return "unknown";
}

bool needs_leave_mig(const Mark& mark, const StringMap& labels) {
  auto want = mark.labels.find(kMigConfigLabel);
  return want != mark.labels.end() && label(labels, kMigConfigLabel) != want->second;
}

bool serves_mig(const StringMap& labels, const Counts& allocatable) {
  for (const auto& [resource, count] : allocatable) {
    if (count > 0 && resource.rfind("nvidia.com/mig-", 0) == 0) return true;
  }
  const std::string suffix = ".count";
  for (const auto& [key, value] : labels) {
    if (key.rfind("nvidia.com/mig-", 0) == 0 && key.size() > suffix.size() &&
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0 && value != "0" &&
        !value.empty()) {
      return true;
    }
  }
  return false;
}

bool should_restore_labels(Phase phase, StepKind step) {
  switch (phase) {
    case Phase::kPropagating:
    case Phase::kDraining:
      return false;  // no label changed yet
    case Phase::kLeavingMps:
      return step != StepKind::kSucceeded;
    case Phase::kLeavingMig:
    case Phase::kApplying:
      return step == StepKind::kFailed;
  }
  return false;
}

bool runs_mps(const StringMap& labels) {
  return label(labels, kMpsCapableLabel) == "true" || label(labels, kSharingStrategyLabel) == "mps";
}

Step next_step(const Mark& mark, const NodeState& node, Clock::time_point now,
               const StepSettings& settings) {
  if (!node.exists) return {StepKind::kAbort, "node-gone", "the node was deleted"};
  switch (mark.phase) {
    case Phase::kPropagating:
    case Phase::kDraining:
      // Evictions overlap the propagation wait.
      if (node.busy()) return busy_node(mark, node, now, settings);
      // A label naming a key the pods cannot see yet fails for good (nvidia.md 1.5, 5.4).
      if (now < mark.written_at + settings.propagation_delay) {
        return {StepKind::kWait, "", "waiting for the ConfigMap entry to propagate"};
      }
      return flip_or_leave(mark, node, now, settings);
    case Phase::kLeavingMps:
      if (runs_mps(node.labels)) {
        if (now - mark.phase_at >= settings.apply_timeout) {
          return {StepKind::kFailed, "timeout", "the node still runs MPS"};
        }
        return {StepKind::kWait, "", "waiting for nvidia.com/mps.capable=false"};
      }
      return flip_or_leave(mark, node, now, settings);
    case Phase::kLeavingMig: {
      // "success" may be left from the previous value: no MIG resource served is the proof.
      std::string state = label(node.labels, kMigConfigStateLabel);
      if (state == "failed" &&
          !(mark.state_at_flip == "failed" && now - mark.phase_at < settings.stale_failed_grace)) {
        return {StepKind::kFailed, "mig-failed", "the MIG manager reported failed disabling MIG"};
      }
      if (state == "success" && !serves_mig(node.labels, node.allocatable))
        return flip_or_leave(mark, node, now, settings);
      if (now - mark.phase_at >= settings.apply_timeout) {
        return {StepKind::kFailed, "timeout", "MIG still enabled"};
      }
      return {StepKind::kWait, "", "waiting for MIG to be disabled"};
    }
    case Phase::kApplying:
      return applying(mark, node, now, settings);
  }
  return {StepKind::kWait, "", ""};
}

bool is_timeout(const Step& step) {
  return step.kind == StepKind::kFailed &&
         (step.reason == "timeout" || step.reason == "drain-timeout");
}

}  // namespace gpushare::repartition
