#include "server/http_server.h"

#include <httplib.h>
#include <malloc.h>
#include <openssl/err.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "logging/log.h"
#include "server/front_door.h"

namespace gpushare::server {

namespace {

constexpr const char* kJson = "application/json";

// Known paths and the one method each accepts; anything else is 404, or 405 with Allow.
const std::map<std::string, std::string>& routes() {
  static const std::map<std::string, std::string> kRoutes = {
      {"/mutate", "POST"}, {"/filter", "POST"}, {"/prioritize", "POST"},
      {"/healthz", "GET"}, {"/readyz", "GET"},  {"/metrics", "GET"}};
  return kRoutes;
}

std::string error_body(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump();
}

std::string route_label(const std::string& path) { return routes().count(path) ? path : "other"; }

}  // namespace

HttpServer::HttpServer(const ServerConfig& config, TlsStore& tls, Metrics& metrics,
                       const Service& service, std::function<bool()> ready)
    : config_(config), tls_(tls), metrics_(metrics), service_(service), ready_(std::move(ready)) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  const bool ctx_ok = ctx_ != nullptr && tls_.configure(*ctx_);
  ERR_clear_error();
  if (!ctx_ok && ctx_ != nullptr) {
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }
  if (ctx_ == nullptr) return;  // bind() says so
  const auto& lim = config_.limits;
  FrontDoorSettings settings;
  settings.read_header_timeout = lim.read_header_timeout;
  settings.read_timeout = lim.read_timeout;
  settings.write_timeout = lim.write_timeout;
  settings.keep_alive_timeout = lim.keep_alive_timeout;
  settings.keep_alive_max_count = lim.keep_alive_max_count;
  settings.workers = lim.worker_threads;
  server_ = std::make_unique<FrontDoor>(ctx_, settings);
  install_routes();
  if (config_.probes.enabled) {
    // Probes and scrapes are a few small GETs: two workers, the same deadlines.
    settings.workers = 2;
    probes_ = std::make_unique<FrontDoor>(nullptr, settings);
    probes_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.body.empty())
        res.set_content(
            error_body("the probe listener serves GET /healthz, /readyz and /metrics; " + req.path +
                       " is on the TLS port"),
            kJson);
    });
    install_probe_routes(*probes_);
  }
}

HttpServer::~HttpServer() {
  stop();
  probes_.reset();
  server_.reset();  // before the SSL_CTX its connections use
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

namespace {

// glibc keeps what a worker thread freed in that thread's arena: after a few large reviews
// on several connections RSS stayed at the sum of the peaks (288 MB after 48 reviews of 2.5 MB
// from 16 clients, scripts/probe-memory.py) and never came back. Handing free pages back to the
// kernel after each large body costs well under a millisecond and only large requests pay it
// (BENCHMARKS.md, issue 11).
constexpr std::size_t kTrimAfterBodyBytes = 256 * 1024;

struct ReturnMemoryAfterLargeBody {
  const std::size_t* bytes;
  ~ReturnMemoryAfterLargeBody() {
    if (*bytes >= kTrimAfterBodyBytes) malloc_trim(0);
  }
};

}  // namespace

// The body of a POST, read through cpp-httplib's content reader so that the limit holds for
// every framing: cpp-httplib 0.11 applies set_payload_max_length to Content-Length bodies only,
// and would read a chunked body of any size into memory. At most limits.maxBodyBytes are read;
// a larger body gets 413 and the connection is closed (the rest of it is never read). A POST
// with neither Content-Length nor chunked framing gets 411. False when `res` holds the answer.
bool HttpServer::read_body(const httplib::Request& req, httplib::Response& res,
                           const httplib::ContentReader& content, std::string& body) const {
  const std::size_t limit = body_limit(req.path);
  auto refuse = [&](int status, const std::string& message) {
    res.status = status;
    res.set_header("Connection", "close");
    res.set_content(error_body(message), kJson);
    return false;
  };
  const std::string too_large = too_large_message(req.path);
  const bool chunked =
      req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
  if (!chunked) {
    if (!req.has_header("Content-Length")) {
      return refuse(411, "a request body needs Content-Length or chunked transfer encoding");
    }
    const std::string length = req.get_header_value("Content-Length");
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), n);
    if (ec != std::errc() || end != length.data() + length.size()) {
      return refuse(400, "Content-Length is not a number: " + length.substr(0, 32));
    }
    if (n > limit) return refuse(413, too_large);
    body.reserve(static_cast<std::size_t>(n));
  }
  bool over = false;
  const bool read = content([&](const char* data, std::size_t size) {
    if (size > limit - body.size()) {
      over = true;
      return false;  // stop reading: nothing past the limit reaches memory
    }
    body.append(data, size);
    return true;
  });
  if (over) return refuse(413, too_large);
  if (!read) return refuse(400, "the request body could not be read");
  return true;
}

bool HttpServer::is_extender_path(const std::string& path) {
  return path == "/filter" || path == "/prioritize";
}

std::size_t HttpServer::body_limit(const std::string& path) const {
  return is_extender_path(path) ? config_.limits.max_extender_body_bytes
                                : config_.limits.max_body_bytes;
}

std::string HttpServer::too_large_message(const std::string& path) const {
  const bool extender = is_extender_path(path);
  std::string message = "request body exceeds the limit of " + std::to_string(body_limit(path)) +
                        " bytes (limits." + (extender ? "maxExtenderBodyBytes" : "maxBodyBytes") +
                        ")";
  if (extender) {
    // The one way an extender body gets this large: kube-scheduler sending whole Node objects
    // (nodeCacheCapable: false), 4-7 KB per GFD-labelled node, so the default 3 MiB holds a few
    // hundred nodes. Say so where the operator will look: FailedScheduling and our log.
    message +=
        "; kube-scheduler sends whole Node objects when the extender is configured with "
        "nodeCacheCapable: false (4-7 KB per GPU node): set nodeCacheCapable: true "
        "(manifests/scheduler) or raise limits.maxExtenderBodyBytes";
  }
  return message;
}

void HttpServer::install_routes() {
  auto& s = *server_;
  const auto& lim = config_.limits;
  s.set_keep_alive_max_count(lim.keep_alive_max_count);
  s.set_keep_alive_timeout(lim.keep_alive_timeout.count());
  // cpp-httplib's own check of Content-Length, before read_body applies each path's limit.
  s.set_payload_max_length(std::max(lim.max_body_bytes, lim.max_extender_body_bytes));
  // Timeouts, workers and connections are the front door's (server/front_door.h).

  // Errors cpp-httplib produces on its own come without a body: unknown path or method (404),
  // over the body limit (413), a broken request (400). Routing reads a request's body before
  // it matches handlers, so answering here leaves the keep-alive stream clean.
  s.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string message;
    auto route = routes().find(req.path);
    if (res.status == 404 && route != routes().end() && req.method != route->second) {
      res.status = 405;
      res.set_header("Allow", route->second);
      message = req.method + " is not allowed on " + req.path + "; use " + route->second;
    } else if (res.status == 404) {
      message = "no such path: " + req.path;
    } else if (res.status == 413) {
      message = too_large_message(req.path);
    } else {
      message = "request could not be served (" + std::to_string(res.status) + ")" +
                (req.path.empty() ? std::string() : " on " + req.path);
    }
    res.set_content(error_body(message), kJson);
  });

  s.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        logging::error("handler failed", {{"path", req.path}, {"error", what}});
        res.status = 500;
        res.set_content(error_body("internal error: " + what), kJson);
      });

  // The policy endpoints: same Service calls as the offline subcommands.
  auto policy_route = [this](const std::string& path,
                             Reply (Service::*call)(std::string_view) const) {
    server_->Post(path, [this, path, call](const httplib::Request& req, httplib::Response& res,
                                           const httplib::ContentReader& content) {
      auto start = std::chrono::steady_clock::now();
      // Declared before the body, so it runs after the body and its parsed form are freed.
      std::size_t body_bytes = 0;
      ReturnMemoryAfterLargeBody trim{&body_bytes};
      std::string body;
      if (!read_body(req, res, content, body)) {
        logging::warn("request refused", {{"route", path},
                                          {"status", std::to_string(res.status)},
                                          {"error", res.body.substr(0, 400)}});
        return;
      }
      body_bytes = body.size();
      Reply reply = (service_.*call)(body);
      res.status = reply.http_status;
      res.set_content(reply.body, kJson);
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      metrics_.observe("gpushare_http_request_duration_seconds", {{"route", path}}, seconds);
      if (reply.http_status != 200) {
        logging::warn("bad request", {{"route", path},
                                      {"status", std::to_string(reply.http_status)},
                                      {"error", reply.error}});
        return;
      }
      if (path == "/mutate") {
        metrics_.inc("gpushare_admission_decisions_total",
                     {{"outcome", reply.outcome}, {"rule", reply.rule}});
        if (reply.outcome == "denied") metrics_.inc("gpushare_admission_denials_total");
        if (reply.outcome != "out-of-scope") {
          logging::info("admission", {{"pod", reply.subject},
                                      {"rule", reply.rule},
                                      {"outcome", reply.outcome},
                                      {"detail", reply.detail}});
        }
      } else {
        logging::debug(
            path.substr(1),
            {{"pod", reply.subject}, {"outcome", reply.outcome}, {"detail", reply.detail}});
      }
    });
  };
  policy_route("/mutate", &Service::mutate);
  policy_route("/filter", &Service::filter);
  policy_route("/prioritize", &Service::prioritize);

  install_probe_routes(s);
}

// /healthz, /readyz and /metrics, and the request counter: on the TLS listener (CONTRACT.md
// section 2) and on the plain-HTTP probe listener. (TCP_NODELAY is the front door's, per
// accepted socket.)
void HttpServer::install_probe_routes(httplib::Server& s) {
  // Every request either listener answers is counted, under one metric.
  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_.inc("gpushare_http_requests_total",
                 {{"route", route_label(req.path)}, {"code", std::to_string(res.status)}});
  });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (!tls_.loaded()) {
      res.status = 503;
      res.set_content("certificates not loaded\n", "text/plain");
    } else if (ready_ && !ready_()) {
      res.status = 503;
      res.set_content("cluster cache not synced or not current\n", "text/plain");
    } else {
      res.set_content("ok\n", "text/plain");
    }
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4");
  });
}

Result<int> HttpServer::bind() {
  if (!server_) return Error{"TLS server could not be set up (SSL_CTX)"};
  int port = config_.listen_port;
  if (port == 0) {
    port = server_->bind_to_any_port(config_.listen_host);
    if (port <= 0) return Error{"cannot listen on " + config_.listen_host + ":0"};
  } else if (!server_->bind_to_port(config_.listen_host, port)) {
    return Error{"cannot listen on " + config_.listen_host + ":" + std::to_string(port) +
                 " (address in use or not allowed)"};
  }
  if (!server_->start()) return Error{"cannot start the connection event loop (epoll)"};
  if (probes_) {
    const auto& p = config_.probes;
    const int bound = p.listen_port == 0 ? probes_->bind_to_any_port(p.listen_host)
                      : probes_->bind_to_port(p.listen_host, p.listen_port) ? p.listen_port
                                                                            : -1;
    if (bound <= 0) {
      return Error{"cannot listen for probes on " + p.listen_host + ":" +
                   std::to_string(p.listen_port) +
                   " (probes.listen: address in use or not allowed)"};
    }
    probe_port_ = bound;
    if (!probes_->start()) return Error{"cannot start the probe listener's event loop (epoll)"};
  }
  return port;
}

void HttpServer::serve() {
  {
    std::lock_guard lock(stop_mu_);
    if (stop_requested_) return;
    serving_ = true;
  }
  std::thread probe_thread;
  std::atomic<bool> probe_returned{false};
  if (probes_) {
    probe_thread = std::thread([this, &probe_returned] {
      probes_->listen_after_bind();
      probe_returned = true;
    });
  }
  server_->listen_after_bind();
  listen_returned_ = true;
  if (probes_) {
    // cpp-httplib ignores stop() until its listen loop has marked itself running.
    while (!probes_->is_running() && !probe_returned)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    probes_->stop();
    probe_thread.join();
    probes_->shutdown();
  }
  server_->shutdown();
}

void HttpServer::stop() {
  bool serving = false;
  {
    std::lock_guard lock(stop_mu_);
    stop_requested_ = true;
    serving = serving_;
  }
  if (!serving) return;  // serve() will see the request and not start
  // cpp-httplib ignores stop() until listen_after_bind() has marked itself running.
  while (!server_->is_running() && !listen_returned_)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->stop();
}

}  // namespace gpushare::server
