// The step machine, table by table: every phase's transitions, failures, timeouts, the abort
// when a GPU pod got bound, and the MPS -> MIG order. Resuming after a restart is the same
// call on the same mark: the machine keeps no memory of its own.
#include "repartition/steps.h"

#include <gtest/gtest.h>

namespace gpushare::repartition {
namespace {

using std::chrono::seconds;
const Clock::time_point kT0 = Clock::time_point(seconds(1'800'000'000));

Mark mig_mark(Phase phase, Clock::time_point phase_at = kT0) {
  Mark m;
  m.config_name = "gpushare-abc";
  m.kind = kKindMig;
  m.phase = phase;
  m.started_at = kT0;
  m.phase_at = phase_at;
  m.written_at = kT0;
  m.labels = {{kMigConfigLabel, "gpushare-abc"}, {kDevicePluginConfigLabel, "mig-mixed"}};
  m.expect = {{"nvidia.com/mig-3g.48gb", 2}};
  m.leave_mps_to = "mig-mixed";
  return m;
}

Mark mps_mark(Phase phase, Clock::time_point phase_at = kT0) {
  Mark m;
  m.config_name = "gpushare-m4";
  m.kind = kKindMps;
  m.phase = phase;
  m.started_at = m.written_at = kT0;
  m.phase_at = phase_at;
  m.labels = {{kDevicePluginConfigLabel, "gpushare-m4"}};
  m.expect = {{"nvidia.com/gpu.shared", 8}};
  return m;
}

struct Row {
  const char* name;
  Mark mark;
  NodeState node;
  int at;  // seconds after kT0
  StepKind want;
  const char* reason = "";
};

NodeState node(StringMap labels, Counts allocatable = {}, std::vector<std::string> gpu_pods = {}) {
  NodeState n;
  n.labels = std::move(labels);
  n.allocatable = std::move(allocatable);
  n.gpu_pods = std::move(gpu_pods);
  return n;
}

const std::vector<std::string> kRunning = {"ns/running"};

StepSettings settings() {
  StepSettings s;
  s.propagation_delay = seconds(60);
  s.apply_timeout = seconds(600);
  s.stale_failed_grace = seconds(60);
  return s;
}

TEST(Steps, Table) {
  const Counts migDone = {{"nvidia.com/mig-3g.48gb", 2}};
  const StringMap mps = {{kMpsCapableLabel, "true"}, {kSharingStrategyLabel, "mps"}};
  const StringMap applied = {{kMigConfigLabel, "gpushare-abc"}, {kMigConfigStateLabel, "success"}};
  NodeState gone;
  gone.exists = false;
  Mark flipped_from_failed = mig_mark(Phase::kApplying);
  flipped_from_failed.state_at_flip = "failed";

  Mark mig_to_mps = mps_mark(Phase::kPropagating);
  mig_to_mps.labels[kMigConfigLabel] = "all-disabled";
  Mark leaving_mig = mig_to_mps;
  leaving_mig.phase = Phase::kLeavingMig;
  leaving_mig.phase_at = kT0 + seconds(60);
  const StringMap mig_on = {{kMigConfigLabel, "gpushare-abc"},
                            {kMigConfigStateLabel, "success"},
                            {"nvidia.com/mig-3g.48gb.count", "2"}};
  StringMap mig_on_success = mig_on;
  mig_on_success[kMigConfigLabel] = "all-disabled";

  const std::vector<Row> rows = {
      {"propagating waits for the delay", mig_mark(Phase::kPropagating), node({}), 59,
       StepKind::kWait},
      {"propagated: flip", mig_mark(Phase::kPropagating), node({}), 60, StepKind::kFlipLabels},
      {"propagated but busy: abort", mig_mark(Phase::kPropagating), node({}, {}, kRunning), 60,
       StepKind::kAbort, "node-busy"},
      {"busy while still waiting: abort at once", mig_mark(Phase::kPropagating),
       node({}, {}, kRunning), 10, StepKind::kAbort, "node-busy"},
      {"MPS node to MIG: leave MPS first", mig_mark(Phase::kPropagating), node(mps), 60,
       StepKind::kLeaveMps},
      {"MPS node to MPS: flip directly", mps_mark(Phase::kPropagating), node(mps), 60,
       StepKind::kFlipLabels},
      {"leaving MPS: wait for mps.capable=false", mig_mark(Phase::kLeavingMps), node(mps), 100,
       StepKind::kWait},
      {"left MPS: flip MIG", mig_mark(Phase::kLeavingMps),
       node({{kMpsCapableLabel, "false"}, {kSharingStrategyLabel, "none"}}), 100,
       StepKind::kFlipLabels},
      {"left MPS but busy: abort", mig_mark(Phase::kLeavingMps),
       node({{kMpsCapableLabel, "false"}}, {}, kRunning), 100, StepKind::kAbort, "node-busy"},
      {"still MPS after timeout: fail", mig_mark(Phase::kLeavingMps), node(mps), 600,
       StepKind::kFailed, "timeout"},
      {"applying: pending", mig_mark(Phase::kApplying),
       node({{kMigConfigLabel, "gpushare-abc"}, {kMigConfigStateLabel, "pending"}}), 30,
       StepKind::kWait},
      {"applying: success but stale allocatable", mig_mark(Phase::kApplying), node(applied, {}), 30,
       StepKind::kWait},
      {"applying: success and allocatable", mig_mark(Phase::kApplying), node(applied, migDone), 30,
       StepKind::kSucceeded},
      {"applying: success of the old value", mig_mark(Phase::kApplying),
       node({{kMigConfigLabel, "old"}, {kMigConfigStateLabel, "success"}}, migDone), 30,
       StepKind::kWait},
      {"applying: failed", mig_mark(Phase::kApplying),
       node({{kMigConfigLabel, "gpushare-abc"}, {kMigConfigStateLabel, "failed"}}), 30,
       StepKind::kFailed, "mig-failed"},
      {"applying: a failed left from before the flip is not ours yet", flipped_from_failed,
       node({{kMigConfigLabel, "gpushare-abc"}, {kMigConfigStateLabel, "failed"}}), 30,
       StepKind::kWait},
      {"applying: ...but counts once the grace is over", flipped_from_failed,
       node({{kMigConfigLabel, "gpushare-abc"}, {kMigConfigStateLabel, "failed"}}), 61,
       StepKind::kFailed, "mig-failed"},
      {"applying: timeout", mig_mark(Phase::kApplying),
       node({{kMigConfigLabel, "gpushare-abc"}, {kMigConfigStateLabel, "pending"}}), 600,
       StepKind::kFailed, "timeout"},
      {"applying: busy does not matter any more", mig_mark(Phase::kApplying),
       node(applied, migDone, kRunning), 30, StepKind::kSucceeded},
      {"mps applying: wait for strategy", mps_mark(Phase::kApplying),
       node({{kDevicePluginConfigLabel, "gpushare-m4"}}), 30, StepKind::kWait},
      {"mps applying: replicas not yet in allocatable", mps_mark(Phase::kApplying),
       node({{kDevicePluginConfigLabel, "gpushare-m4"}, {kSharingStrategyLabel, "mps"}},
            {{"nvidia.com/gpu.shared", 4}}),
       30, StepKind::kWait},
      {"mps applying: done", mps_mark(Phase::kApplying),
       node({{kDevicePluginConfigLabel, "gpushare-m4"}, {kSharingStrategyLabel, "mps"}},
            {{"nvidia.com/gpu.shared", 8}}),
       30, StepKind::kSucceeded},
      {"mps applying: timeout", mps_mark(Phase::kApplying), node({}), 601, StepKind::kFailed,
       "timeout"},
      {"MIG node to MPS: disable MIG first", mig_to_mps, node(mig_on, migDone), 60,
       StepKind::kLeaveMig},
      {"MIG already at the target value: flip directly", mig_to_mps,
       node({{kMigConfigLabel, "all-disabled"}}), 60, StepKind::kFlipLabels},
      {"leaving MIG: a stale success while GFD still shows MIG", leaving_mig,
       node(mig_on_success, {}), 70, StepKind::kWait},
      {"leaving MIG: done", leaving_mig,
       node({{kMigConfigLabel, "all-disabled"}, {kMigConfigStateLabel, "success"}}), 70,
       StepKind::kFlipLabels},
      {"leaving MIG: failed", leaving_mig,
       node({{kMigConfigLabel, "all-disabled"}, {kMigConfigStateLabel, "failed"}}), 70,
       StepKind::kFailed, "mig-failed"},
      {"leaving MIG: timeout", leaving_mig, node(mig_on_success), 661, StepKind::kFailed,
       "timeout"},
      {"node deleted", mig_mark(Phase::kApplying), gone, 1, StepKind::kAbort, "node-gone"},
  };
  for (const auto& row : rows) {
    Step step = next_step(row.mark, row.node, kT0 + seconds(row.at), settings());
    EXPECT_EQ(to_string(step.kind), to_string(row.want)) << row.name << ": " << step.message;
    EXPECT_EQ(step.reason, row.reason) << row.name;
  }
}

TEST(Steps, DisruptionEvictsThePlannedPodsBeforeAnyLabelMoves) {
  StepSettings s = settings();
  s.allow_disruption = true;
  s.evict_retry = seconds(10);
  Mark planned = mig_mark(Phase::kPropagating);
  planned.disrupts = {"ns/a", "ns/b"};
  Mark draining = planned;
  draining.phase = Phase::kDraining;
  draining.phase_at = draining.evicted_at = kT0 + seconds(5);
  const StringMap mps = {{kMpsCapableLabel, "true"}, {kSharingStrategyLabel, "mps"}};
  StepSettings off = s;
  off.allow_disruption = false;
  struct Case {
    const char* name;
    Mark mark;
    NodeState node;
    int at;
    StepKind want;
    const char* reason;
    const StepSettings* settings;
  };
  const std::vector<Case> cases = {
      {"planned pods: evict at once, before the propagation wait", planned,
       node({}, {}, {"ns/a", "ns/b"}), 1, StepKind::kEvict, "", &s},
      {"a pod the plan does not list: abort", planned, node({}, {}, {"ns/a", "ns/x"}), 1,
       StepKind::kAbort, "node-busy", &s},
      {"allowDisruption off (config changed): abort", planned, node({}, {}, {"ns/a"}), 1,
       StepKind::kAbort, "node-busy", &off},
      {"draining: wait for them to go", draining, node({}, {}, {"ns/b"}), 10, StepKind::kWait, "",
       &s},
      {"draining: evict again after evict_retry (a budget refused)", draining,
       node({}, {}, {"ns/b"}), 15, StepKind::kEvict, "", &s},
      {"draining: give up after applyTimeout", draining, node({}, {}, {"ns/b"}), 605,
       StepKind::kFailed, "drain-timeout", &s},
      {"drained before the entry propagated: wait", draining, node({}), 30, StepKind::kWait, "",
       &s},
      {"drained and propagated: flip", draining, node({}), 60, StepKind::kFlipLabels, "", &s},
      {"drained MPS node to MIG: leave MPS first", draining, node(mps), 60, StepKind::kLeaveMps, "",
       &s},
      {"labels moved: no eviction any more, a GPU pod aborts", mig_mark(Phase::kLeavingMps),
       node({{kMpsCapableLabel, "false"}}, {}, {"ns/a"}), 100, StepKind::kAbort, "node-busy", &s},
  };
  for (const auto& c : cases) {
    Step step = next_step(c.mark, c.node, kT0 + seconds(c.at), *c.settings);
    EXPECT_EQ(to_string(step.kind), to_string(c.want)) << c.name << ": " << step.message;
    EXPECT_EQ(step.reason, c.reason) << c.name;
  }
}

TEST(Steps, ResumesFromTheSameMarkAfterARestart) {
  // A new leader reads the mark a crashed one wrote mid-propagation: the wait counts from
  // writtenAt, not from the restart.
  Mark m = mig_mark(Phase::kPropagating);
  m.written_at = kT0 - seconds(50);
  EXPECT_EQ(
      next_step(decode_mark(encode_mark(m)).value(), node({}), kT0 + seconds(10), settings()).kind,
      StepKind::kFlipLabels);
}

TEST(Steps, WhichEndingsPutTheLabelsBack) {
  struct Case {
    Phase phase;
    StepKind step;
    bool restore;
  };
  const Case cases[] = {
      {Phase::kPropagating, StepKind::kFailed, false},  // nothing changed yet
      {Phase::kPropagating, StepKind::kAbort, false},
      {Phase::kDraining, StepKind::kFailed, false},  // evictions move no label
      {Phase::kLeavingMps, StepKind::kFailed, true},
      {Phase::kLeavingMps, StepKind::kAbort, true},  // MIG untouched: back to MPS
      {Phase::kLeavingMps, StepKind::kSucceeded, false},
      {Phase::kLeavingMig, StepKind::kFailed, true},
      {Phase::kLeavingMig, StepKind::kAbort, false},  // a pod got there: no new reconfiguration
      {Phase::kApplying, StepKind::kFailed, true},    // a retry of the same config is a change
      {Phase::kApplying, StepKind::kAbort, false},
      {Phase::kApplying, StepKind::kSucceeded, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(should_restore_labels(c.phase, c.step), c.restore)
        << to_string(c.phase) << " + " << to_string(c.step);
  }
}

}  // namespace
}  // namespace gpushare::repartition
