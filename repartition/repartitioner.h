// Everything `gpushare serve` starts for repartitioning, in one object: the Lease elector, the
// apiserver-backed ApiOps, the cache-backed reader and the controller loop. server/ builds the
// settings from its config and hands in a MetricsSink over its registry and the planner.
#pragma once

#include <memory>

#include "kube/cache.h"
#include "kube/client.h"
#include "kube/lease.h"
#include "repartition/controller.h"
#include "repartition/kube_ports.h"

namespace gpushare::repartition {

struct RepartitionerOptions {
  ControllerSettings controller;
  kube::LeaseOptions lease;
  OperatorConfigMaps config_maps;
  // Each of the controller's API requests gives up after this (the shared client waits 30 s):
  // one hung request holds the controller's pass, and a leader that could lose the Lease,
  // for less than the lease's renew deadline.
  std::chrono::milliseconds request_timeout{5'000};
};

class Repartitioner {
 public:
  // Reads the cache, and hands it every Node it writes (ClusterCache::observe_written_node).
  Repartitioner(std::shared_ptr<kube::Client> client, kube::ClusterCache& cache,
                MetricsSink& metrics, PlanFn plan, RepartitionerOptions options);
  ~Repartitioner();  // stop()

  void start();
  void stop();
  // From the cache's change handler: wakes the controller.
  void notify() { controller_.notify(); }
  bool is_leader() const { return lease_.is_leader(); }

 private:
  kube::LeaderElector lease_;
  KubeApiOps api_;
  CacheReader reader_;
  Controller controller_;
};

}  // namespace gpushare::repartition
