// The node annotation (policy::kRepartitionAnnotation) that holds a repartition in progress.
// All state lives there, in the cluster, so that a restarted or newly elected replica reads
// it back and resumes at the same step; the extender filters out every node that has it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "repartition/action.h"

namespace gpushare::repartition {

using Clock = std::chrono::system_clock;

enum class Phase {
  kPropagating,  // entry written; waiting for the ConfigMap volume to catch up
  kDraining,     // allowDisruption: evictions sent; waiting for the GPU pods to be gone
  kLeavingMps,   // MPS -> MIG: device-plugin.config moved off MPS; waiting for mps.capable=false
  kLeavingMig,   // MIG -> MPS: mig.config set alone; waiting for success and no MIG resources
  kApplying,     // labels flipped; waiting for the operator to report success and allocatable
};

std::string to_string(Phase phase);

struct Mark {
  std::string config_name;
  std::string kind;
  Phase phase = Phase::kPropagating;
  Clock::time_point started_at{};  // the mark was set
  Clock::time_point phase_at{};    // the current phase began: timeouts count from here
  Clock::time_point written_at{};  // the ConfigMap entry first held this content
  StringMap labels;                // to flip
  std::vector<std::string> serves;
  // Running pods the plan may evict (allowDisruption); any other GPU pod on the node aborts.
  std::vector<std::string> disrupts;
  // The last round of evictions (kDraining): a refused one (a PodDisruptionBudget) is retried
  // after StepSettings::evict_retry.
  Clock::time_point evicted_at{};
  Counts expect;  // allocatable that means "done" (may be empty)
  // MPS -> MIG: the device-plugin.config value to leave MPS with ("" removes the label).
  std::optional<std::string> leave_mps_to;
  // Labels as they were before we changed them in kLeavingMps, put back if we give up there.
  StringMap restore_labels;
  // The MIG manager's state when we flipped: a "failed" left over from an earlier value is
  // not ours (nvidia.md 5.1), so it only counts once the grace period is over.
  std::string state_at_flip;
};

std::string encode_mark(const Mark& mark);
Result<Mark> decode_mark(const std::string& text);

// RFC 3339 with microseconds, as the annotations store times.
std::string format_time(Clock::time_point time);
std::optional<Clock::time_point> parse_time_text(const std::string& text);

}  // namespace gpushare::repartition
