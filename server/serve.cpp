#include "server/serve.h"

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "server/config.h"
#include "server/http_server.h"
#include "server/live_cluster.h"
#include "server/logging.h"
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
    return Error{"serve needs a certificate and key: tls.certFile and tls.keyFile in the config, or --tls-cert and "
                 "--tls-key (gpushare certs makes a pair)"};
  }
  return config;
}

Result<policy::Catalog> load_catalog(const std::string& path) {
  if (path.empty()) return policy::Catalog::builtin();
  std::ifstream f(path);
  if (!f) return Error{"catalog " + path + ": cannot be read"};
  std::stringstream s;
  s << f.rdbuf();
  auto c = policy::Catalog::from_yaml(s.str());
  if (!c) return Error{"catalog " + path + ": " + c.error()};
  return c;
}

}  // namespace

int run_serve(const ServeFlags& flags, std::ostream& err) {
  auto config = effective_config(flags);
  if (!config) {
    err << "gpushare: " << config.error() << "\n";
    return 2;
  }
  if (!setup_logging(config->log.level, config->log.format)) {
    err << "gpushare: log settings rejected\n";
    return 2;
  }
  auto catalog = load_catalog(config->catalog_file);
  if (!catalog) {
    log_error("startup failed", {{"error", catalog.error()}});
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
  TlsStore tls(config->tls.cert_file, config->tls.key_file);
  if (auto loaded = tls.load(); !loaded) {
    log_error("startup failed", {{"error", loaded.error()}});
    return 1;
  }
  tls.watch(config->tls.reload_check, [&metrics](const Result<bool>& r) {
    if (r.ok() && *r) {
      metrics.inc("gpushare_tls_reloads_total", {{"result", "success"}});
      log_info("serving certificate reloaded");
    } else if (!r.ok()) {
      metrics.inc("gpushare_tls_reloads_total", {{"result", "error"}});
      log_warn("serving certificate not reloaded", {{"error", r.error()}});
    }
  });

  std::unique_ptr<LiveCluster> live;
  StaticClusterState no_cluster;
  const ClusterState* cluster = &no_cluster;
  if (config->cluster.enabled()) {
    auto started = start_live_cluster(*config, metrics);
    if (!started) {
      log_error("startup failed", {{"error", started.error()}});
      return 1;
    }
    live = std::move(*started);
    cluster = live.get();
  }

  ServiceSettings settings;
  settings.admission.annotation_prefix = config->annotation_prefix;
  settings.default_placement = config->default_placement;
  Service service(*catalog, *cluster, settings);
  HttpServer http(*config, tls, metrics, service, [cluster] { return cluster->synced(); });
  auto port = http.bind();
  if (!port) {
    log_error("startup failed", {{"error", port.error()}});
    return 1;
  }
  log_info("serving", {{"listen", config->listen_host + ":" + std::to_string(*port)},
                       {"cluster", config->cluster.enabled() ? "watching" : "none"},
                       {"catalog", config->catalog_file.empty() ? "built-in" : config->catalog_file}});

  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    log_info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    http.stop();
  });
  http.serve();
  // serve() also returns if the listener fails; wake the signal thread so it can be joined.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  tls.stop();
  if (live) live->stop();
  log_info("stopped");
  return 0;
}

}  // namespace gpushare::server
