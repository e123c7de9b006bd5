// One TLS listener for every endpoint (CONTRACT.md section 2): cpp-httplib parses and routes,
// behind the front door (server/front_door.h) that keeps slow and idle clients off the
// workers; TCP_NODELAY and a high keep-alive count keep it fast under kube-apiserver's
// keep-alive connections (shared/reference/performance.md).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "base/result.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/tls_store.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace httplib {
class ContentReader;
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace gpushare::server {

class FrontDoor;

class HttpServer {
 public:
  // `ready` adds the cluster's readiness to the certificates' for /readyz.
  HttpServer(const ServerConfig& config, TlsStore& tls, Metrics& metrics, const Service& service,
             std::function<bool()> ready);
  ~HttpServer();

  // Binds the listener; returns the port (the kernel's choice when the config says 0).
  Result<int> bind();
  // The probe listener's port once bound (0: none, probes.listen is "").
  int probe_port() const { return probe_port_; }
  // Serves until stop(); returns when the listener is closed and workers are done.
  void serve();
  void stop();

 private:
  void install_routes();
  void install_probe_routes(httplib::Server& s);
  bool read_body(const httplib::Request& req, httplib::Response& res,
                 const httplib::ContentReader& content, std::string& body) const;
  // limits.maxExtenderBodyBytes for kube-scheduler's verbs, limits.maxBodyBytes for the rest,
  // and the 413 message that names the limit (and, for the extender, the likely cause).
  static bool is_extender_path(const std::string& path);
  std::size_t body_limit(const std::string& path) const;
  std::string too_large_message(const std::string& path) const;

  const ServerConfig& config_;
  TlsStore& tls_;
  Metrics& metrics_;
  const Service& service_;
  std::function<bool()> ready_;
  SSL_CTX* ctx_ = nullptr;
  std::unique_ptr<FrontDoor> server_;
  std::unique_ptr<FrontDoor> probes_;  // plain HTTP /healthz, /readyz, /metrics (probes.listen)
  int probe_port_ = 0;
  std::mutex stop_mu_;
  bool stop_requested_ = false;
  bool serving_ = false;
  std::atomic<bool> listen_returned_{false};
};

}  // namespace gpushare::server
