// The repartition step machine, pure: given a node's mark, what the cluster shows of the node
// now, and the time, what is the next thing to do. No I/O, no clock: the controller performs
// the step (each one idempotent) and calls again; tests walk it table by table.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "repartition/mark.h"

namespace gpushare::repartition {

struct NodeState {
  bool exists = true;
  StringMap labels;
  Counts allocatable;
  // "ns/name" of the pods bound to the node, not terminated, that hold nvidia.com/* resources
  // (one being deleted still holds its GPU until it is gone).
  std::vector<std::string> gpu_pods;
  bool busy() const { return !gpu_pods.empty(); }
};

struct StepSettings {
  std::chrono::seconds propagation_delay{60};
  std::chrono::seconds apply_timeout{600};
  // GPU pods listed in the mark's `disrupts` are evicted before any label moves; any other GPU
  // pod on the node still aborts.
  bool allow_disruption = false;
  std::chrono::seconds evict_retry{10};  // a refused eviction (PodDisruptionBudget) is retried
  // How long a MIG-manager "failed" left from before our flip is taken as stale.
  std::chrono::seconds stale_failed_grace{60};
};

enum class StepKind {
  kWait,        // nothing to do yet
  kEvict,       // evict the node's GPU pods (all in mark.disrupts); phase -> kDraining
  kLeaveMps,    // set device-plugin.config to mark.leave_mps_to; phase -> kLeavingMps
  kLeaveMig,    // set only nvidia.com/mig.config from mark.labels; phase -> kLeavingMig
  kFlipLabels,  // set mark.labels (resourceVersion precondition); phase -> kApplying
  kSucceeded,   // clear the mark; Normal events
  kFailed,      // clear the mark, back the node off; Warning events
  kAbort,       // clear the mark without backoff: the node is no longer ours to change
};

std::string to_string(StepKind kind);

struct Step {
  StepKind kind = StepKind::kWait;
  std::string reason;   // for failures and aborts: a metric label ("timeout", "mig-failed", ...)
  std::string message;  // for a person (events, logs)
};

Step next_step(const Mark& mark, const NodeState& node, Clock::time_point now,
               const StepSettings& settings);

// A failure decided by the clock (applyTimeout ran out while waiting for the node), not by
// something the node said.
bool is_timeout(const Step& step);

// The MPS action also changes nvidia.com/mig.config (MIG -> MPS): that goes first, alone.
bool needs_leave_mig(const Mark& mark, const StringMap& labels);
// MIG devices still show: an nvidia.com/mig-* resource in allocatable, or a GFD
// nvidia.com/mig-<profile>.count label above 0. GFD is paused while the MIG manager works, so
// its labels stay until MIG is really off: that is what tells a fresh "success" from a stale one.
bool serves_mig(const StringMap& labels, const Counts& allocatable);

// Whether ending a repartition that stood in phase with step puts back the labels it changed
// (Mark::restore_labels).
//  - Given up while leaving MPS (MIG not touched yet): the device plugin goes back to its MPS
//    config, as the node was.
//  - Failed once mig.config or the device-plugin config moved: back to the old values, so the
//    operator re-applies the layout the GPUs had, and a later try of the same config is a label
//    change again (the MIG manager acts only on a changed value, nvidia.md 5.1; a failed value
//    left in place would make every retry of it wait for a success that never comes).
//  - Aborted because a GPU pod got there meanwhile: labels stay; changing them again would
//    trigger another reconfiguration under a running pod.
bool should_restore_labels(Phase phase, StepKind step);

// The node still runs MPS: the device plugin's MPS daemon is there or GFD says so.
bool runs_mps(const StringMap& labels);

}  // namespace gpushare::repartition
