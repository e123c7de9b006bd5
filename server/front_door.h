// The front door: cpp-httplib parses and routes requests, but no worker thread ever waits on
// a client. cpp-httplib 0.11 gives each accepted socket a worker for as long as the connection
// lives (its TLS handshake, each request head, the idle time between keep-alive requests), so
// a few hundred clients that trickle a head at 1 byte/s or never send a ClientHello hold every
// worker, and /mutate stops answering for the whole cluster (issue 11).
//
// Here one event-loop thread (epoll) holds every connection that is not being served: it
// runs the TLS handshake non-blocking and reads until a whole request head is buffered, under
// a deadline that starts with the connection (or with the head's first byte on a kept-alive
// one) and that trickling cannot extend: limits.readHeaderTimeout. Only then does a worker
// get the connection, and it serves requests from the buffer through cpp-httplib's
// process_request (so pipelined requests are answered, in order, from the same buffer). When
// no next request is there after a short linger, the connection goes back to the event loop,
// which closes it after limits.keepAliveTimeout idle. Workers only ever wait on a client
// inside a request they have (its body, its response), under limits.readTimeout and
// limits.writeTimeout as whole-request deadlines.
#pragma once

#include <httplib.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/config.h"
#include "server/connection.h"

namespace gpushare::server {

// The first six are limits.* of the server config, and default to them: server/config.h says
// why each is what it is (HttpServer copies the configured values).
struct FrontDoorSettings {
  std::chrono::milliseconds read_header_timeout{LimitsConfig{}.read_header_timeout};
  std::chrono::milliseconds read_timeout{LimitsConfig{}.read_timeout};
  std::chrono::milliseconds write_timeout{LimitsConfig{}.write_timeout};
  std::chrono::milliseconds keep_alive_timeout{LimitsConfig{}.keep_alive_timeout};
  std::size_t keep_alive_max_count = LimitsConfig{}.keep_alive_max_count;
  std::size_t workers = LimitsConfig{}.worker_threads;
  // A head larger than this gets 431 and the connection is closed (kube-apiserver's and
  // kube-scheduler's heads are a few hundred bytes).
  std::size_t max_head_bytes = 64 * 1024;
  // A body of up to this many bytes (Content-Length) is read by the event loop too, so a
  // client trickling a typical AdmissionReview (5-20 KB) holds no worker either; larger and
  // chunked bodies are read by the worker under read_timeout. Bounds the event loop's memory
  // per connection (with max_head_bytes).
  std::size_t max_buffered_body_bytes = 64 * 1024;
  // Connections held at once (being served or waiting); a new one past this is closed at
  // once. 0: from the process's open-file limit.
  std::size_t max_connections = 0;
};

class FrontDoor : public httplib::Server {
 public:
  // With `ctx` (a reference is taken), connections speak TLS; without, plain HTTP (the probe
  // listener).
  FrontDoor(SSL_CTX* ctx, FrontDoorSettings settings);
  ~FrontDoor() override;
  FrontDoor(const FrontDoor&) = delete;
  FrontDoor& operator=(const FrontDoor&) = delete;

  // After bind_to_port: a full listen backlog, the event loop and the workers; call once,
  // before listen_after_bind().
  bool start();
  // After stop() (the listener is closed): closes every waiting connection, lets the workers
  // finish the requests they have and joins them. Idempotent.
  void shutdown();

  std::size_t open_connections() const { return open_.load(); }

 private:
  // cpp-httplib's accept loop hands each socket here (through an inline task queue), on the
  // accept thread: it only queues the socket for the event loop.
  bool process_and_close_socket(socket_t sock) override;

  void loop();
  void take_queued();
  void advance(Connection* c);
  void linger(Connection* c);
  void watch(Connection* c, Connection::Step want);
  void set_deadline(Connection* c, Connection::Clock::time_point when);
  void drop(Connection* c);
  void dispatch(Connection* c);
  void serve(std::unique_ptr<Connection> c);
  // A worker gives a connection back to the event loop (idle, or a head not complete yet).
  void resume(std::unique_ptr<Connection> c);
  void wake();

  SSL_CTX* ctx_;
  FrontDoorSettings settings_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread loop_thread_;
  std::unique_ptr<httplib::ThreadPool> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> open_{0};
  bool started_ = false;
  bool shut_down_ = false;

  // Handed to the event loop by the accept thread (new sockets) and by workers (resumed).
  std::mutex queue_mu_;
  std::vector<int> new_sockets_;
  std::vector<std::unique_ptr<Connection>> resumed_;

  // Owned by the event-loop thread only.
  std::unordered_map<Connection*, std::unique_ptr<Connection>> held_;
  std::set<std::pair<Connection::Clock::time_point, Connection*>> deadlines_;
};

}  // namespace gpushare::server
