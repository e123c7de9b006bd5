// The live cluster view for `serve`: kube/'s list+watch cache behind ClusterState.
#pragma once

#include <functional>
#include <memory>

#include "base/result.h"
#include "kube/cache.h"
#include "kube/client.h"
#include "server/cluster_state.h"
#include "server/config.h"
#include "server/metrics.h"

namespace gpushare::server {

class LiveCluster : public ClusterState {
 public:
  virtual void stop() = 0;
  // For the repartition controller, which reads the same cache and writes with the same client.
  // The repartition controller also hands it the Nodes it writes (observe_written_node).
  virtual kube::ClusterCache& cache() = 0;
  virtual std::shared_ptr<kube::Client> client() const = 0;
  // Called after every cache change (on the cache's threads: keep it short).
  virtual void on_change(std::function<void()> listener) = 0;
};

// Connects with the kubeconfig or in-cluster credentials and starts the watches; the
// result reports ready() once the first lists are in, and while the watches keep up.
Result<std::unique_ptr<LiveCluster>> start_live_cluster(const ServerConfig& config,
                                                        Metrics& metrics);

}  // namespace gpushare::server
