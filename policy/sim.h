// The repartitioning simulator behind `gpushare simulate`: replays a workload (sim_workload.h)
// against a cluster under one policy, as a deterministic discrete-event simulation, and says
// what each policy would have done for this cluster and this workload.
//
// What it models, and how:
//  - kube-scheduler: a pod is tried when it arrives and, while it waits, whenever capacity frees
//    (a pod ends, a node finishes a change); waiting pods are tried by priority, then arrival.
//    A MIG pod needs one free instance of its profile; an MPS pod one free replica whose share
//    (GPU memory / replicas) holds its gpu-memory. Among nodes that fit, the fullest wins
//    (binpack, the extender's default); MPS pods take the smallest share that holds them first.
//  - the repartition controller (repartition/controller.cpp), for `on-demand` and `greedy`:
//    pods that wait and are not being served are collected for `batch_window_s` and then planned;
//    an action takes effect `reconfigure_s` after it is planned (ConfigMap propagation and the
//    MIG manager), during which its node takes no pod and is no candidate; the pods it serves
//    are left out of plans until then and for `served_grace_s` after; a pod still waiting after
//    `max_repartitions_per_pod` changes for it is left out for `failure_backoff_s`.
//  - `on-demand` calls the real planner (planner.h) with the PlanInput the controller builds:
//    node labels and allocatable as GFD and the device plugin publish them, running and pending
//    pods as admitted, the GPU Operator's config names and the mig-parted configs' content, and
//    the MIG and MPS pods that arrived within `arrival_window_s` (what the watch cache counts).
//  - `static` never changes a node; `greedy` gives the first idle node (by name) that can serve
//    the first waiting pod as many instances of that pod's profile as fit on every GPU (MPS: as
//    many replicas as still hold its gpu-memory), and repeats for the next pod not yet covered.
// Nothing here reads a clock: SimSettings::clock_ms, when set, times the planner calls only.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/catalog.h"
#include "policy/planner.h"
#include "policy/sim_workload.h"

namespace gpushare::policy {

enum class SimPolicy { kStatic, kOnDemand, kGreedy };
std::string_view to_string(SimPolicy policy);
std::optional<SimPolicy> sim_policy_named(std::string_view name);

struct SimSettings {
  double end_s = 8 * 3600;  // pods still waiting then are counted as waiting
  double batch_window_s = 10;
  double reconfigure_s = 60;
  double served_grace_s = 60;
  int max_repartitions_per_pod = 2;
  double failure_backoff_s = 300;
  double long_wait_s = 300;  // "waited > 5 min"
  // PlanInput's arrivals count the pods that arrived within this window (the controller's
  // repartition.arrivalWindow).
  double arrival_window_s = 2400;
  PlanSettings plan;  // the planner's settings
  // Milliseconds from some fixed point; only the planner's own time is measured with it.
  std::function<double()> clock_ms;
};

struct SimReport {
  std::string policy;
  std::size_t pods = 0;     // arrived before end_s
  std::size_t served = 0;   // started
  std::size_t waiting = 0;  // still waiting at end_s
  // Waits of every pod: started ones from arrival to start, waiting ones until end_s.
  double wait_mean_s = 0;
  double wait_p50_s = 0;
  double wait_p95_s = 0;
  double long_wait_share = 0;        // pods whose wait is over long_wait_s
  double gpu_allocated = 0;          // time-average share of the cluster's GPUs held by pods
  std::size_t reconfigurations = 0;  // node changes started
  std::size_t plans = 0;             // planner calls (on-demand) or greedy passes
  std::vector<double> planner_ms;    // each planner call (empty without clock_ms)
  // What still waits at end_s, by request ("mig 1g.24gb", "mps 8192Mi"): what to look at first.
  std::map<std::string, std::size_t> waiting_by_request;
  // Pods whose wait is over long_wait_s (started or not), by request: where the long waits are.
  std::map<std::string, std::size_t> long_wait_by_request;
  // Every node change, when planned: "1h02m gpu-003 mig 1g.24gb x4 | 1g.12gb x2, ... (serves 3)".
  std::vector<std::string> changes;
};

// `pods` sorted by arrival (parse_trace and generate_workload give them so).
SimReport simulate(const std::vector<SimNode>& cluster, const std::vector<SimPod>& pods,
                   SimPolicy policy, const SimSettings& settings, const Catalog& catalog);

// Value at quantile q (0..1) of `values`, nearest rank; 0 for none.
double quantile(std::vector<double> values, double q);

}  // namespace gpushare::policy
