#include "server/live_cluster.h"

#include <mutex>

#include "kube/cache.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "logging/log.h"

namespace gpushare::server {

namespace {

class CacheCluster : public LiveCluster {
 public:
  CacheCluster(std::shared_ptr<kube::Client> client, kube::CacheOptions options)
      : client_(client), cache_(std::move(client), std::move(options)) {}

  void start(Metrics& metrics) {
    cache_.set_change_handler([this](const kube::CacheChange&) {
      std::lock_guard lock(listeners_mu_);
      for (const auto& listener : listeners_) listener();
    });
    cache_.start();
    // Scrape-time gauges read the cache's own counters: nothing to keep in sync.
    metrics.gauge_fn("gpushare_cache_nodes", "Nodes in the watch cache.",
                     [this] { return static_cast<double>(cache_.node_count()); });
    metrics.gauge_fn("gpushare_cache_synced", "1 once the first lists of nodes and pods are in.",
                     [this] { return cache_.has_synced() ? 1.0 : 0.0; });
    metrics.gauge_fn("gpushare_cache_current",
                     "1 while synced and no list or watch has been failing for long (/readyz).",
                     [this] { return cache_.is_current() ? 1.0 : 0.0; });
    metrics.gauge_fn("gpushare_cache_watch_restarts", "Watches opened again after one ended.",
                     [this] { return static_cast<double>(cache_.counters().watch_restarts); });
    metrics.gauge_fn("gpushare_cache_relists",
                     "Full lists after the first (410 Gone or a restart).",
                     [this] { return static_cast<double>(cache_.counters().relists); });
    metrics.gauge_fn("gpushare_cache_watch_errors", "Watches or lists that failed.",
                     [this] { return static_cast<double>(cache_.counters().watch_errors); });
  }

  std::shared_ptr<const policy::ClusterFacts> facts() const override { return cache_.facts(); }
  void nodes(std::span<const std::string_view> names,
             std::vector<std::shared_ptr<const policy::NodeView>>& out) const override {
    cache_.nodes(names, out);
  }
  std::size_t node_count() const override { return cache_.node_count(); }
  bool ready() const override { return cache_.is_current(); }
  void stop() override { cache_.stop(); }
  kube::ClusterCache& cache() override { return cache_; }
  std::shared_ptr<kube::Client> client() const override { return client_; }
  void on_change(std::function<void()> listener) override {
    std::lock_guard lock(listeners_mu_);
    listeners_.push_back(std::move(listener));
  }

 private:
  std::shared_ptr<kube::Client> client_;
  kube::ClusterCache cache_;
  std::mutex listeners_mu_;
  std::vector<std::function<void()>> listeners_;
};

}  // namespace

Result<std::unique_ptr<LiveCluster>> start_live_cluster(const ServerConfig& config,
                                                        Metrics& metrics) {
  auto kubeconfig = config.cluster.in_cluster ? kube::in_cluster_config()
                                              : kube::load_config(config.cluster.kubeconfig);
  if (!kubeconfig) return Error{"cluster: " + kubeconfig.error()};
  auto client = std::make_shared<kube::Client>(*kubeconfig);
  kube::CacheOptions options;
  options.stale_after = config.cluster.stale_after;
  // Only the repartition controller reads the arrivals.
  if (config.repartition.enabled) options.arrival_window = config.repartition.arrival_window;
  options.annotation_prefix = config.annotation_prefix;
  if (config.dra.enabled) options.resource_slices_path = kube::paths::resource_slices();
  auto cluster = std::make_unique<CacheCluster>(client, std::move(options));
  cluster->start(metrics);
  logging::info("watching the cluster",
                {{"server", kubeconfig->server}, {"dra", config.dra.enabled ? "true" : "false"}});
  return std::unique_ptr<LiveCluster>(std::move(cluster));
}

}  // namespace gpushare::server
