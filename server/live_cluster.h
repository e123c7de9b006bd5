// The live cluster view for `serve`: kube/'s list+watch cache behind ClusterState.
#pragma once

#include <memory>

#include "policy/result.h"
#include "server/cluster_state.h"
#include "server/config.h"
#include "server/metrics.h"

namespace gpushare::server {

class LiveCluster : public ClusterState {
 public:
  virtual void stop() = 0;
};

// Connects with the kubeconfig or in-cluster credentials and starts the watches; the
// result reports synced() once the first lists are in.
Result<std::unique_ptr<LiveCluster>> start_live_cluster(const ServerConfig& config, Metrics& metrics);

}  // namespace gpushare::server
