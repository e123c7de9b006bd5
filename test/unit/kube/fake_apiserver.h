// A tiny HTTP/1.1 server on a loopback socket that plays kube-apiserver for the kube/ tests:
// each test scripts the answers (plain bodies, chunked watch streams, dropped connections),
// optionally over TLS with client-certificate checking. Written on POSIX sockets and OpenSSL
// so that the tests control exactly what goes on the wire, chunk by chunk.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace gpushare::kube::testing {

struct HttpRequest {
  std::string method;
  std::string target;                          // path and query as sent
  std::string path;                            // without the query
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string client_cert_cn;  // TLS with client certificates only

  std::string param(const std::string& key) const;
  std::string header(const std::string& name) const;
};

class Connection;

// How a handler answers. Either send() once, or begin_stream() then chunk()s and finally
// end_stream() (clean end) or drop() (the connection dies mid-stream).
class Responder {
 public:
  explicit Responder(Connection& connection) : connection_(connection) {}
  void send(int status, const std::string& body,
            const std::string& content_type = "application/json");
  void begin_stream(int status = 200);
  void chunk(std::string_view data);
  void end_stream();
  void drop();
  // Keeps a stream open until the client goes away, the server stops, or the time passes.
  void hold(std::chrono::milliseconds at_most = std::chrono::seconds(30));

  bool finished() const { return finished_; }
  bool streaming() const { return streaming_; }
  bool keep_alive() const { return keep_alive_; }

 private:
  Connection& connection_;
  bool finished_ = false;
  bool streaming_ = false;
  bool keep_alive_ = false;
};

using Handler = std::function<void(const HttpRequest&, Responder&)>;

struct TlsOptions {
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;  // when set, a client certificate signed by it is required
};

class FakeApiServer {
 public:
  explicit FakeApiServer(Handler handler, std::optional<TlsOptions> tls = std::nullopt);
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  std::string url() const;
  int port() const { return port_; }
  std::vector<HttpRequest> requests() const;  // every request so far, in arrival order
  std::size_t connections() const { return accepted_; }
  void stop();

  // Internal, for Connection.
  bool stopping() const { return stopping_; }

 private:
  void accept_loop();
  void serve(int fd);

  Handler handler_;
  SSL_CTX* tls_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> accepted_{0};
  mutable std::mutex mu_;
  std::vector<HttpRequest> requests_;
  std::set<int> open_fds_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

// One watch event line, as the apiserver writes it.
std::string event_line(const std::string& type, const std::string& object_json);

}  // namespace gpushare::kube::testing
