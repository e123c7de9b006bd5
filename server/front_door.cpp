#include "server/front_door.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "logging/log.h"

namespace gpushare::server {

namespace {

using Clock = Connection::Clock;

// After a response, a worker waits this long for the client's next request before it hands
// the connection back to the event loop: a client sending requests one after another (a
// benchmark, a burst of pod creations) is served without the hand-over's two thread wake-ups;
// an idle connection costs a worker no more than this once per request.
constexpr std::chrono::milliseconds kLinger{2};

// How long a lingering close (Connection::shutdown_write) waits for the client to close.
constexpr std::chrono::seconds kLingeringClose{2};

// Sockets the process keeps for itself (the listener, the API server client, log files) when
// the connection limit comes from the open-file limit.
constexpr std::size_t kReservedFds = 64;

// cpp-httplib's accept loop enqueues one task per accepted socket; running it inline keeps
// the hand-over to the event loop on the accept thread (it only queues the socket).
class InlineQueue : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

// A response after which the connection cannot be trusted to carry another request: the body
// may be left unread (413, 411), the head was broken (400, 414, 431), or a handler said so.
// 404 and 405 come after a whole, well-framed request and keep the connection.
thread_local bool t_close_after_response = false;

bool ends_connection(const httplib::Response& res) {
  return res.get_header_value("Connection") == "close" ||
         (res.status >= 400 && res.status != 404 && res.status != 405);
}

// Output is sent in one piece per response (or per this many bytes): cpp-httplib writes the
// status line, the headers and the body separately, and each write would be a TLS record and
// a syscall of its own (16% of the server's CPU per AdmissionReview, BENCHMARKS.md issue 13).
constexpr std::size_t kWriteBatch = 64 * 1024;

// cpp-httplib's view of a connection a worker serves: reads come from the bytes the event loop
// buffered first, then from TLS, each bounded by the request's deadline; writes are batched
// until flush() (and before any read, so that a "100 Continue" goes out before the body is
// awaited).
class TlsStream : public httplib::Stream {
 public:
  TlsStream(Connection& c, const FrontDoorSettings& s)
      : c_(c), s_(s), read_deadline_(Clock::now() + s.read_timeout) {}

  bool is_readable() const override {
    if (!const_cast<TlsStream*>(this)->flush()) return false;
    return c_.has_pending_bytes() ||
           c_.wait_readable(std::min(s_.read_timeout, remaining(read_deadline_)));
  }
  bool is_writable() const override { return !c_.dead(); }
  ssize_t read(char* ptr, size_t size) override {
    if (!flush()) return -1;
    return c_.read(ptr, size, read_deadline_, s_.read_timeout);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (c_.dead()) return -1;
    out_.append(ptr, size);
    if (out_.size() >= kWriteBatch && !flush()) return -1;
    return static_cast<ssize_t>(size);
  }
  // Sends what write() batched; false when the connection failed (or the deadline passed).
  bool flush() {
    if (out_.empty()) return !c_.dead();
    if (!write_started_) {
      write_started_ = true;
      write_deadline_ = Clock::now() + s_.write_timeout;
    }
    std::size_t sent = 0;
    while (sent < out_.size()) {
      long n = c_.write(out_.data() + sent, out_.size() - sent, write_deadline_, s_.write_timeout);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    out_.clear();
    return true;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.peer_ip();
    port = c_.peer_port();
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.local_ip();
    port = c_.local_port();
  }
  socket_t socket() const override { return c_.fd(); }

 private:
  static std::chrono::milliseconds remaining(Clock::time_point until) {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
  }

  Connection& c_;
  const FrontDoorSettings& s_;
  Clock::time_point read_deadline_;
  Clock::time_point write_deadline_{};
  bool write_started_ = false;
  std::string out_;
};

std::size_t connection_limit(std::size_t configured) {
  if (configured > 0) return configured;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 100000;
  return lim.rlim_cur > 2 * kReservedFds ? static_cast<std::size_t>(lim.rlim_cur) - kReservedFds
                                         : static_cast<std::size_t>(lim.rlim_cur) / 2;
}

// The answer to a head over max_head_bytes, written before the connection is closed.
std::string head_too_large(std::size_t limit) {
  const std::string body =
      "{\"error\":\"the request head exceeds the limit of " + std::to_string(limit) + " bytes\"}\n";
  return "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\n"
         "Connection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

FrontDoor::FrontDoor(SSL_CTX* ctx, FrontDoorSettings settings) : ctx_(ctx), settings_(settings) {
  settings_.max_connections = connection_limit(settings_.max_connections);
  if (ctx_ != nullptr) {
    SSL_CTX_up_ref(ctx_);
    // An idle connection keeps no 16 KiB read and write buffers (thousands may wait at once).
    SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
  }
  new_task_queue = [] { return new InlineQueue(); };
  set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    if (ends_connection(res)) {
      res.set_header("Connection", "close");
      t_close_after_response = true;
    }
  });
}

FrontDoor::~FrontDoor() {
  shutdown();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

bool FrontDoor::start() {
  if (started_) return true;
  // cpp-httplib 0.11 listens with a backlog of 5: a burst of connections (an attack, or many
  // clients after a restart) overflows it and the kernel drops SYNs, which clients retry only
  // after a second. Listening again on a bound socket only changes the backlog.
  if (svr_sock_ != INVALID_SOCKET && ::listen(svr_sock_, SOMAXCONN) != 0) return false;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) return false;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up eventfd
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) return false;
  workers_ = std::make_unique<httplib::ThreadPool>(settings_.workers);
  loop_thread_ = std::thread([this] { loop(); });
  started_ = true;
  return true;
}

void FrontDoor::shutdown() {
  if (!started_ || shut_down_) return;
  shut_down_ = true;
  stopping_ = true;
  wake();
  loop_thread_.join();
  workers_->shutdown();  // the requests workers have are finished; their connections closed
  std::lock_guard lock(queue_mu_);
  for (int fd : new_sockets_) ::close(fd);
  new_sockets_.clear();
  resumed_.clear();
}

void FrontDoor::wake() {
  std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof(one)) < 0) {
    // The counter is already non-zero (EAGAIN): the loop will wake anyway.
  }
}

bool FrontDoor::process_and_close_socket(socket_t sock) {
  if (stopping_ || open_.load() >= settings_.max_connections) {
    ::close(sock);
    return false;
  }
  int flags = fcntl(sock, F_GETFL, 0);
  int one = 1;
  if (flags < 0 || fcntl(sock, F_SETFL, flags | O_NONBLOCK) != 0) {
    ::close(sock);
    return false;
  }
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ++open_;
  {
    std::lock_guard lock(queue_mu_);
    new_sockets_.push_back(sock);
  }
  wake();
  return true;
}

void FrontDoor::take_queued() {
  std::vector<int> sockets;
  std::vector<std::unique_ptr<Connection>> resumed;
  {
    std::lock_guard lock(queue_mu_);
    sockets.swap(new_sockets_);
    resumed.swap(resumed_);
  }
  const auto now = Clock::now();
  for (int fd : sockets) {
    auto c = std::make_unique<Connection>(fd, ctx_);
    Connection* raw = c.get();
    held_.emplace(raw, std::move(c));
    // The handshake and the first head share one deadline from the accept.
    raw->head_deadline_set = true;
    set_deadline(raw, now + settings_.read_header_timeout);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = raw;
    if (raw->dead() || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, raw->fd(), &ev) != 0) drop(raw);
  }
  for (auto& c : resumed) {
    Connection* raw = c.get();
    held_.emplace(raw, std::move(c));
    // Idle until the next head starts; a head already begun keeps its own deadline.
    raw->head_deadline_set = !raw->buffer_empty();
    raw->body_deadline_set = false;
    set_deadline(raw, now + (raw->lingering()         ? kLingeringClose
                             : raw->head_deadline_set ? settings_.read_header_timeout
                                                      : settings_.keep_alive_timeout));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = raw;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, raw->fd(), &ev) != 0) {
      drop(raw);
      continue;
    }
    // Bytes may have arrived between the worker's last look and the registration above; a
    // level-triggered epoll reports socket bytes, but not what OpenSSL already buffered.
    if (raw->has_pending_bytes()) advance(raw);
  }
}

void FrontDoor::set_deadline(Connection* c, Clock::time_point when) {
  deadlines_.erase({c->deadline, c});
  c->deadline = when;
  deadlines_.insert({when, c});
}

void FrontDoor::drop(Connection* c) {
  deadlines_.erase({c->deadline, c});
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd(), nullptr);
  held_.erase(c);  // closes it
  --open_;
}

void FrontDoor::watch(Connection* c, Connection::Step want) {
  epoll_event ev{};
  ev.events = want == Connection::Step::kWantWrite ? EPOLLOUT : EPOLLIN;
  ev.data.ptr = c;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd(), &ev) != 0) drop(c);
}

void FrontDoor::linger(Connection* c) {
  c->shutdown_write();
  set_deadline(c, Clock::now() + kLingeringClose);
  watch(c, Connection::Step::kWantRead);
}

void FrontDoor::advance(Connection* c) {
  using Step = Connection::Step;
  if (c->lingering()) {
    if (c->discard_input() == Step::kClosed) drop(c);
    return;
  }
  Step step = c->handshake();
  if (step == Step::kDone) {
    const bool had_bytes = !c->buffer_empty();
    step = c->read_available(settings_.max_head_bytes, settings_.max_buffered_body_bytes);
    if (!had_bytes && !c->buffer_empty() && !c->head_deadline_set) {
      // A kept-alive connection's next head has begun: from now on, it has its own deadline.
      c->head_deadline_set = true;
      set_deadline(c, Clock::now() + settings_.read_header_timeout);
    }
    if (step != Step::kDone && c->head_complete() && !c->body_deadline_set) {
      // The head is here, a small body is not yet: it has readTimeout, as on a worker.
      c->body_deadline_set = true;
      set_deadline(c, Clock::now() + settings_.read_timeout);
    }
    if (step == Step::kDone) {
      if (c->head_complete()) {
        dispatch(c);
      } else {
        c->write_best_effort(head_too_large(settings_.max_head_bytes));
        linger(c);
      }
      return;
    }
  }
  if (step == Step::kClosed) {
    drop(c);
    return;
  }
  watch(c, step);
}

void FrontDoor::dispatch(Connection* c) {
  deadlines_.erase({c->deadline, c});
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd(), nullptr);
  auto it = held_.find(c);
  std::unique_ptr<Connection> owned = std::move(it->second);
  held_.erase(it);
  // std::function needs a copyable callable: the task owns the connection through a
  // shared_ptr until serve() takes it.
  auto task = std::make_shared<std::unique_ptr<Connection>>(std::move(owned));
  workers_->enqueue([this, task] { serve(std::move(*task)); });
}

void FrontDoor::loop() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (!stopping_) {
    int timeout_ms = -1;
    if (!deadlines_.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadlines_.begin()->first -
                                                                        Clock::now());
      timeout_ms = static_cast<int>(std::clamp<long long>(left.count() + 1, 0, INT_MAX));
    }
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    if (n < 0 && errno != EINTR) {
      logging::error("front door: epoll_wait failed", {{"errno", std::to_string(errno)}});
      break;
    }
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Connection*>(events[i].data.ptr);
      if (c == nullptr) {
        std::uint64_t count = 0;
        if (::read(wake_fd_, &count, sizeof(count)) < 0) {
          // EAGAIN: another wake-up drained it first.
        }
        take_queued();
        continue;
      }
      // An earlier event of this batch may have dropped or dispatched it.
      if (held_.count(c) != 0) advance(c);
    }
    const auto now = Clock::now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now)
      drop(deadlines_.begin()->second);
  }
  while (!held_.empty()) drop(held_.begin()->first);
}

void FrontDoor::serve(std::unique_ptr<Connection> c) {
  for (;;) {
    ++c->requests;
    const bool last = stopping_ || c->requests >= settings_.keep_alive_max_count;
    bool closed_by_client = false;
    t_close_after_response = false;
    TlsStream stream(*c, settings_);
    const bool handled = process_request(stream, last, closed_by_client, [](httplib::Request&) {});
    const bool ok = stream.flush() && handled;  // whatever was answered goes out
    if (t_close_after_response && !c->dead()) {
      c->shutdown_write();  // the event loop drains what the client still sends
      resume(std::move(c));
      return;
    }
    if (!ok || last || closed_by_client || c->dead()) break;
    // Pipelined: the next request's head is already here.
    if (c->head_complete()) continue;
    if (c->buffer_empty() && !c->wait_readable(kLinger)) {
      resume(std::move(c));
      return;
    }
    auto step = c->read_available(settings_.max_head_bytes, settings_.max_buffered_body_bytes);
    if (step == Connection::Step::kClosed) break;
    if (c->request_ready(settings_.max_buffered_body_bytes)) continue;
    if (step == Connection::Step::kDone) {  // full, and still no end of the head
      c->write_best_effort(head_too_large(settings_.max_head_bytes));
      c->shutdown_write();
    }
    resume(std::move(c));
    return;
  }
  c.reset();
  --open_;
}

void FrontDoor::resume(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_) {
      resumed_.push_back(std::move(c));
    }
  }
  if (c) {  // stopping: the event loop is gone or going
    c.reset();
    --open_;
    return;
  }
  wake();
}

}  // namespace gpushare::server
