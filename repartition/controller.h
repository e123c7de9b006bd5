// The repartition controller: while this replica holds the Lease, it serves pods the scheduler
// gave up on by changing idle nodes' MIG/MPS layout through the GPU Operator's labels
// (ARCHITECTURE.md "Repartitioning protocol"). Every node in progress carries its state in
// its mark annotation; each pass resumes those with next_step() and, after a batch window
// of unschedulable pods, plans and starts new actions.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "base/periodic_thread.h"
#include "repartition/observed_times.h"
#include "repartition/planning.h"
#include "repartition/ports.h"
#include "repartition/steps.h"

namespace gpushare::repartition {

struct ControllerSettings {
  StepSettings steps;
  std::chrono::seconds batch_window{10};
  std::chrono::seconds failure_backoff{300};
  std::chrono::milliseconds tick{1000};  // how often waiting steps are re-checked
  // A cluster change wakes the loop at once, but no sooner than this after the last pass ended:
  // a stream of pod events (hundreds a second while kube-scheduler binds a burst) then costs a
  // few passes a second, not one per event. Small against batch_window and the steps' waits.
  std::chrono::milliseconds min_pass_gap{200};
  std::chrono::seconds served_grace{60};  // see Controller::recently_served_
  // Successful repartitions for one pod that still does not get scheduled, before gpushare
  // stops serving it for failure_backoff (see Controller::repartitions_for_).
  int max_repartitions_per_pod = 2;
  // ConfigMap entries gpushare wrote and no node uses any more are removed this often (by the
  // Lease holder; kube/configmap_entry.h PruneRule says which ones), keeping at most
  // max_unused_entries younger than entry_grace.
  std::chrono::seconds entry_gc_interval{300};
  std::chrono::seconds entry_grace{600};
  std::size_t max_unused_entries = 32;
};

class Controller {
 public:
  Controller(ClusterReader& cluster, ApiOps& api, MetricsSink& metrics, PlanFn plan,
             ControllerSettings settings, std::function<bool()> is_leader);
  ~Controller();  // stop()
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // From the cache's change handler: cheap, wakes the loop.
  void notify();
  void start();
  void stop();

  // One pass at `now`. The loop calls it; tests call it with a chosen clock.
  void reconcile(Clock::time_point now);

 private:
  void resume(const policy::NodeView& node, const std::string& annotation, Clock::time_point now);
  void begin(const Action& action, const policy::NodeView& node, Clock::time_point now);
  void finish(const std::string& node, const std::string& annotation, const Mark& mark,
              const Step& step, Clock::time_point now);
  void evict(const std::string& node, const std::string& annotation, const Mark& mark,
             const std::vector<std::string>& pods, Clock::time_point now);
  std::vector<std::string> gpu_pods(const std::string& node) const;
  void pod_event(const std::string& key, kube::EventType type, const std::string& reason,
                 const std::string& message);
  // Drops the per-pod counters of pods that are no longer unschedulable (bound or deleted), and
  // expired pod back-offs.
  void forget_pods_that_left(const std::vector<kube::PodRecord>& unschedulable,
                             Clock::time_point now);
  // True when the pod is not to be served now; starts its back-off when it has had
  // max_repartitions_per_pod repartitions already (Warning Event on the pod).
  bool given_up(const std::string& key, Clock::time_point now);
  void track_scheduling(const std::vector<kube::PodRecord>& unschedulable, Clock::time_point now);
  void step_metric(const std::string& step, const std::string& result);
  // The node's back-off is over, counted from when this replica saw it set (observed_).
  bool backed_off(const policy::NodeView& node, Clock::time_point now);
  // `mark` with its times as this replica observed them: what next_step decides on.
  Mark as_observed(const std::string& node, const Mark& mark, Clock::time_point now);
  void prune_entries(const policy::ClusterView& view, Clock::time_point now);
  void pod_events(const Mark& mark, kube::EventType type, const std::string& reason,
                  const std::string& message);

  ClusterReader& cluster_;
  ApiOps& api_;
  MetricsSink& metrics_;
  PlanFn plan_;
  ControllerSettings settings_;
  std::function<bool()> is_leader_;

  // Times other replicas wrote into marks, entries and back-offs, as this replica saw them.
  ObservedTimes observed_;
  std::optional<Clock::time_point> batch_started_;
  // API outages, as this replica saw them: a watch of the cache failing now (view_stale_), and
  // when the watches last came back. Neither gpushare nor the GPU Operator's components could
  // see the other's writes meanwhile, so a timeout gives the node a whole applyTimeout again
  // from the view's return.
  bool view_stale_ = false;
  std::optional<Clock::time_point> view_back_at_;
  Clock::time_point next_entry_gc_{};
  std::map<std::string, Clock::time_point> first_unschedulable_;  // pod key -> first seen
  // Pods of a finished repartition, until the scheduler has had time to retry them: their
  // Unschedulable condition is stale, and planning for them again would change a second node.
  std::map<std::string, Clock::time_point> recently_served_;  // pod key -> until
  // Pods for which nodes were repartitioned and that still wait: the scheduler wants something
  // the planner does not model (CPU, memory, pod affinity, ...). Without a limit every grace
  // period would change one more idle node for them. In memory: a new leader starts afresh.
  std::map<std::string, int> repartitions_for_;           // pod key -> successes
  std::map<std::string, Clock::time_point> pod_backoff_;  // pod key -> not served until

  base::PeriodicThread loop_;  // last: stopped before the members its rounds read go
};

// Unschedulable pods that ask for a gpushare-managed resource (nvidia.com/gpu.shared,
// nvidia.com/mig-*): the ones repartitioning may serve.
bool wants_managed_gpu(const kube::PodRecord& pod);

}  // namespace gpushare::repartition
