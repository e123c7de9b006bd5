#include "server/serve.h"

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "logging/log.h"
#include "repartition/planning.h"
#include "repartition/repartitioner.h"
#include "server/command_input.h"
#include "server/config.h"
#include "server/http_server.h"
#include "server/live_cluster.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/tls_store.h"

namespace gpushare::server {

namespace {

Result<ServerConfig> effective_config(const ServeFlags& flags) {
  ServerConfig config;
  if (flags.config) {
    auto loaded = load_config_file(*flags.config);
    if (!loaded) return Error{loaded.error()};
    config = *loaded;
  }
  if (flags.listen) {
    auto hp = parse_listen(*flags.listen);
    if (!hp) return Error{"--listen: " + hp.error()};
    config.listen_host = hp->first;
    config.listen_port = hp->second;
  }
  if (flags.tls_cert) config.tls.cert_file = *flags.tls_cert;
  if (flags.tls_key) config.tls.key_file = *flags.tls_key;
  if (flags.kubeconfig) {
    config.cluster.kubeconfig = *flags.kubeconfig;
    config.cluster.in_cluster = false;
  }
  if (flags.catalog) config.catalog_file = *flags.catalog;
  if (config.tls.cert_file.empty() || config.tls.key_file.empty()) {
    return Error{
        "serve needs a certificate and key: tls.certFile and tls.keyFile in the config, or "
        "--tls-cert and --tls-key (gpushare certs makes a pair)"};
  }
  return config;
}

// repartition/ reports into the server's registry through this (it sits below server/).
class RepartitionMetrics : public repartition::MetricsSink {
 public:
  explicit RepartitionMetrics(Metrics& metrics) : metrics_(metrics) {
    metrics.describe("gpushare_repartition_plans_total", "counter", "Repartition plans computed.");
    metrics.describe("gpushare_repartition_steps_total", "counter",
                     "Repartition steps by step and result.");
    metrics.describe("gpushare_repartition_failures_total", "counter",
                     "Repartitions given up, by reason.");
    metrics.describe_histogram("gpushare_repartition_pending_to_scheduled_seconds",
                               "From a pod first seen Unschedulable to its binding.",
                               Metrics::wait_buckets());
  }
  void inc(const std::string& name, const std::map<std::string, std::string>& labels) override {
    metrics_.inc(name, labels);
  }
  void observe(const std::string& name, double seconds) override {
    metrics_.observe(name, {}, seconds);
  }

 private:
  Metrics& metrics_;
};

std::shared_ptr<repartition::Repartitioner> start_repartitioner(const ServerConfig& config,
                                                                LiveCluster& live,
                                                                const policy::Catalog& catalog,
                                                                repartition::MetricsSink& metrics) {
  const RepartitionConfig& rc = config.repartition;
  repartition::RepartitionerOptions options;
  options.controller.steps.propagation_delay = rc.propagation_delay;
  options.controller.steps.apply_timeout = rc.apply_timeout;
  // With allowDisruption the planner may pick a node whose GPU pods all carry the disruptable
  // annotation, and the controller evicts them (Eviction API) before any label moves.
  options.controller.steps.allow_disruption = rc.allow_disruption;
  options.controller.batch_window = rc.batch_window;
  options.controller.failure_backoff = rc.failure_backoff;
  options.controller.entry_gc_interval = rc.entry_gc_interval;
  options.controller.entry_grace = rc.entry_grace;
  options.lease.namespace_name = rc.lease_namespace;
  options.lease.name = rc.lease_name;
  options.config_maps = {config.gpu_operator.namespace_name,
                         config.gpu_operator.device_plugin_config_map,
                         config.gpu_operator.mig_parted_config_map};
  policy::PlanSettings plan_settings;
  plan_settings.allow_disruption = rc.allow_disruption;
  plan_settings.rebalance_idle_gpus = rc.rebalance_idle_gpus;
  plan_settings.annotation_prefix = config.annotation_prefix;
  plan_settings.node_selector = rc.node_selector;
  auto r = std::make_shared<repartition::Repartitioner>(
      live.client(), live.cache(), metrics, repartition::policy_planner(catalog, plan_settings),
      options);
  // Weak: on an early return the repartitioner goes before the cache threads that call this.
  live.on_change([weak = std::weak_ptr<repartition::Repartitioner>(r)] {
    if (auto p = weak.lock()) p->notify();
  });
  r->start();
  logging::info("repartitioning enabled", {{"lease", rc.lease_namespace + "/" + rc.lease_name}});
  return r;
}

}  // namespace

int run_serve(const ServeFlags& flags, std::ostream& err) {
  auto config = effective_config(flags);
  if (!config) {
    err << "gpushare: " << config.error() << "\n";
    return 2;
  }
  if (!logging::setup(config->log.level, config->log.format)) {
    err << "gpushare: log settings rejected\n";
    return 2;
  }
  auto catalog = load_catalog(config->catalog_file, "catalog");
  if (!catalog) {
    logging::error("startup failed", {{"error", catalog.error()}});
    return 2;
  }

  // SIGTERM/SIGINT are taken by one thread with sigwait, so no handler runs in a random
  // thread; they must be blocked before any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  Metrics metrics;
  TlsStore tls(config->tls.cert_file, config->tls.key_file,
               config->tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION,
               config->tls.client_ca_file);
  if (auto loaded = tls.load(); !loaded) {
    logging::error("startup failed", {{"error", loaded.error()}});
    return 1;
  }
  tls.watch(config->tls.reload_check, [&metrics](const Result<bool>& r) {
    if (r.ok() && *r) {
      metrics.inc("gpushare_tls_reloads_total", {{"result", "success"}});
      logging::info("serving certificate (or client CAs) reloaded");
    } else if (!r.ok()) {
      metrics.inc("gpushare_tls_reloads_total", {{"result", "error"}});
      logging::warn("serving certificate not reloaded", {{"error", r.error()}});
    }
  });

  std::unique_ptr<LiveCluster> live;
  StaticClusterState no_cluster;
  const ClusterState* cluster = &no_cluster;
  if (config->cluster.enabled()) {
    auto started = start_live_cluster(*config, metrics);
    if (!started) {
      logging::error("startup failed", {{"error", started.error()}});
      return 1;
    }
    live = std::move(*started);
    cluster = live.get();
  }
  RepartitionMetrics repartition_metrics(metrics);
  std::shared_ptr<repartition::Repartitioner> repartitioner;
  if (live && config->repartition.enabled) {
    repartitioner = start_repartitioner(*config, *live, *catalog, repartition_metrics);
  }

  ServiceSettings settings;
  settings.admission.annotation_prefix = config->annotation_prefix;
  settings.default_placement = config->default_placement;
  Service service(*catalog, *cluster, settings);
  HttpServer http(*config, tls, metrics, service, [cluster] { return cluster->ready(); });
  auto port = http.bind();
  if (!port) {
    logging::error("startup failed", {{"error", port.error()}});
    return 1;
  }
  logging::info(
      "serving",
      {{"listen", config->listen_host + ":" + std::to_string(*port)},
       {"cluster", config->cluster.enabled() ? "watching" : "none"},
       {"catalog", config->catalog_file.empty() ? "built-in" : config->catalog_file},
       // Where full-node mode (nodeCacheCapable: false) stops; names-only mode (the
       // shipped scheduler config) has no such bound.
       {"fullNodeExtenderUpTo",
        "about " +
            std::to_string(config->limits.max_extender_body_bytes / kTypicalNodeObjectBytes) +
            " nodes (limits.maxExtenderBodyBytes at ~5 KB per Node; names-only mode: "
            "any size)"}});

  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    logging::info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    http.stop();
  });
  http.serve();
  // serve() also returns if the listener fails; wake the signal thread so it can be joined.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  tls.stop();
  if (repartitioner) repartitioner->stop();  // before the cache it reads
  if (live) live->stop();
  logging::info("stopped");
  return 0;
}

}  // namespace gpushare::server
