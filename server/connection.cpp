#include "server/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <optional>

namespace gpushare::server {

namespace {

// OpenSSL reads records of up to 16 KiB; asking for one at a time keeps the syscalls few.
constexpr std::size_t kReadChunk = 16 * 1024;

void address_of(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text));
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof(text));
    port = ntohs(a.sin6_port);
  }
  ip = text;
}

int remaining_ms(Connection::Clock::time_point until) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(until - Connection::Clock::now())
          .count();
  return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

}  // namespace

Connection::Connection(int fd, SSL_CTX* ctx) : fd_(fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    address_of(addr, peer_ip_, peer_port_);
  len = sizeof(addr);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    address_of(addr, local_ip_, local_port_);
  if (ctx == nullptr) return;  // plain TCP
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
    ERR_clear_error();
    dead_ = true;
    return;
  }
  SSL_set_accept_state(ssl_);
}

Connection::~Connection() {
  if (ssl_ != nullptr) {
    // A close_notify when the session is up; never wait for the peer's (it may be gone).
    if (!dead_ && !lingering_ && SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
    SSL_free(ssl_);
    ERR_clear_error();
  }
  ::close(fd_);
}

Connection::Step Connection::handshake() {
  if (dead_) return Step::kClosed;
  if (ssl_ == nullptr) return Step::kDone;
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return Step::kDone;
  int err = SSL_get_error(ssl_, rc);
  ERR_clear_error();
  if (err == SSL_ERROR_WANT_READ) return Step::kWantRead;
  if (err == SSL_ERROR_WANT_WRITE) return Step::kWantWrite;
  dead_ = true;
  return Step::kClosed;
}

void Connection::compact() {
  if (pos_ == 0) return;
  buffer_.erase(0, pos_);
  pos_ = 0;
}

std::size_t Connection::head_end() const {
  std::string_view rest(buffer_);
  rest.remove_prefix(pos_);
  // A lenient reader (RFC 9112 section 2.2) takes a bare LF as a line end; cpp-httplib does.
  const std::size_t crlf = rest.find("\n\r\n");
  const std::size_t lf = rest.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::string::npos;
  if (lf == std::string_view::npos || (crlf != std::string_view::npos && crlf < lf))
    return pos_ + crlf + 3;
  return pos_ + lf + 2;
}

bool Connection::head_complete() const { return head_end() != std::string::npos; }

namespace {

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

}  // namespace

bool Connection::request_ready(std::size_t body_cap) const {
  const std::size_t end = head_end();
  if (end == std::string::npos) return false;
  // The body a worker would wait for: Content-Length bytes, when the head declares no more than
  // body_cap and no other framing. Anything else (chunked, larger, malformed) is the worker's.
  std::string_view head(buffer_.data() + pos_, end - pos_);
  std::optional<std::size_t> length;
  for (std::size_t at = 0; at < head.size();) {
    std::size_t nl = head.find('\n', at);
    if (nl == std::string_view::npos) nl = head.size();
    std::string_view line = head.substr(at, nl - at);
    at = nl + 1;
    if (iequals_prefix(line, "transfer-encoding:")) return true;
    if (!iequals_prefix(line, "content-length:")) continue;
    std::string_view value = line.substr(15);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.remove_suffix(1);
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || ptr != value.data() + value.size() || length) return true;
    length = n;
  }
  if (!length || *length > body_cap) return true;
  return buffer_.size() - end >= *length;
}

bool Connection::has_pending_bytes() const {
  return !buffer_empty() || (ssl_ != nullptr && SSL_pending(ssl_) > 0);
}

Connection::Step Connection::read_available(std::size_t max_head, std::size_t body_cap) {
  if (dead_) return Step::kClosed;
  compact();
  while (!request_ready(body_cap)) {
    const std::size_t max_buffered = head_complete() ? max_head + body_cap : max_head;
    if (buffer_.size() >= max_buffered) return Step::kDone;
    const std::size_t want = std::min(kReadChunk, max_buffered - buffer_.size());
    const std::size_t old = buffer_.size();
    buffer_.resize(old + want);
    int err = 0;
    int n = read_some(buffer_.data() + old, want, err);
    if (n > 0) {
      buffer_.resize(old + static_cast<std::size_t>(n));
      continue;
    }
    buffer_.resize(old);
    if (err == SSL_ERROR_WANT_READ) return Step::kWantRead;
    if (err == SSL_ERROR_WANT_WRITE) return Step::kWantWrite;
    dead_ = true;  // closed by the peer (orderly or not), or a TLS error
    return Step::kClosed;
  }
  return Step::kDone;
}

bool Connection::wait_for(int ssl_error, Clock::time_point until) {
  pollfd p{fd_, static_cast<short>(ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
  for (;;) {
    int rc = ::poll(&p, 1, remaining_ms(until));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

bool Connection::wait_readable(std::chrono::milliseconds timeout) {
  if (has_pending_bytes()) return true;
  return wait_for(SSL_ERROR_WANT_READ, Clock::now() + timeout);
}

long Connection::read(char* out, std::size_t size, Clock::time_point deadline,
                      std::chrono::milliseconds io_timeout) {
  if (size == 0) return 0;
  if (!buffer_empty()) {
    // cpp-httplib reads a request head one byte at a time: serve those from the buffer.
    std::size_t n = std::min(size, buffered());
    std::memcpy(out, buffer_.data() + pos_, n);
    pos_ += n;
    if (buffer_empty()) {
      buffer_.clear();
      pos_ = 0;
    }
    return static_cast<long>(n);
  }
  if (dead_) return -1;
  for (;;) {
    int err = 0;
    int n = read_some(out, size, err);
    if (n > 0) return n;
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) break;
    if (!wait_for(err, std::min(deadline, Clock::now() + io_timeout))) break;
  }
  dead_ = true;
  return -1;
}

long Connection::write(const char* data, std::size_t size, Clock::time_point deadline,
                       std::chrono::milliseconds io_timeout) {
  if (dead_) return -1;
  if (size == 0) return 0;
  for (;;) {
    int err = 0;
    int n = write_some(data, size, err);
    if (n > 0) return n;
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) break;
    if (!wait_for(err, std::min(deadline, Clock::now() + io_timeout))) break;
  }
  dead_ = true;
  return -1;
}

void Connection::shutdown_write() {
  if (lingering_) return;
  lingering_ = true;
  if (ssl_ != nullptr && !dead_ && SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
  ERR_clear_error();
  ::shutdown(fd_, SHUT_WR);
  buffer_.clear();
  pos_ = 0;
}

Connection::Step Connection::discard_input() {
  char scratch[16 * 1024];
  for (;;) {
    ssize_t n = ::recv(fd_, scratch, sizeof(scratch), MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return Step::kWantRead;
    return Step::kClosed;
  }
}

void Connection::write_best_effort(const std::string& bytes) {
  if (dead_ || bytes.empty()) return;
  int err = 0;
  write_some(bytes.data(), bytes.size(), err);
}

int Connection::read_some(char* out, std::size_t size, int& error) {
  const int want = static_cast<int>(std::min<std::size_t>(size, INT_MAX));
  if (ssl_ == nullptr) {
    ssize_t n = ::recv(fd_, out, static_cast<std::size_t>(want), 0);
    if (n > 0) return static_cast<int>(n);
    error = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                ? SSL_ERROR_WANT_READ
                : SSL_ERROR_ZERO_RETURN;
    return -1;
  }
  int n = SSL_read(ssl_, out, want);
  if (n > 0) return n;
  error = SSL_get_error(ssl_, n);
  ERR_clear_error();
  return -1;
}

int Connection::write_some(const char* data, std::size_t size, int& error) {
  const int want = static_cast<int>(std::min<std::size_t>(size, INT_MAX));
  if (ssl_ == nullptr) {
    ssize_t n = ::send(fd_, data, static_cast<std::size_t>(want), MSG_NOSIGNAL);
    if (n > 0) return static_cast<int>(n);
    error = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                ? SSL_ERROR_WANT_WRITE
                : SSL_ERROR_SYSCALL;
    return -1;
  }
  int n = SSL_write(ssl_, data, want);
  if (n > 0) return n;
  error = SSL_get_error(ssl_, n);
  ERR_clear_error();
  return -1;
}

}  // namespace gpushare::server
