// One accepted connection of the front door (server/front_door.h): its socket, its OpenSSL
// session (none on the plain-HTTP probe listener) and the bytes read but not yet parsed. The socket
// is non-blocking from accept on. The front door's event loop drives it with the non-blocking steps
// (handshake, read what is there) until a whole request head is buffered; a worker then serves
// requests from it through TlsStream, which blocks with deadlines (poll), never longer than they
// say.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <string>

namespace gpushare::server {

class Connection {
 public:
  using Clock = std::chrono::steady_clock;

  // Takes ownership of `fd` (closed with the connection). With `ctx`, the connection speaks
  // TLS (a failed SSL_new makes it dead() from the start); without, plain TCP.
  Connection(int fd, SSL_CTX* ctx);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  enum class Step {
    kDone,       // the step finished
    kWantRead,   // wait until the socket is readable, then step again
    kWantWrite,  // wait until the socket is writable, then step again
    kClosed,     // the peer closed, or TLS failed: close the connection
  };

  // One non-blocking step of the server side of the handshake.
  Step handshake();
  // Reads what is there (non-blocking) into the buffer until request_ready(body_cap), or until
  // `max_head` bytes hold no whole head. kDone: ready, or full (a head too large);
  // kWantRead/kWantWrite: not yet.
  Step read_available(std::size_t max_head, std::size_t body_cap);
  // The buffered bytes start with a whole request head (request line and header fields,
  // ended by an empty line).
  bool head_complete() const;
  // A whole head, and with it the whole body when the head declares a Content-Length of at
  // most `body_cap` (and no Transfer-Encoding): what a worker can serve without waiting on
  // the client.
  bool request_ready(std::size_t body_cap) const;
  bool buffer_empty() const { return pos_ == buffer_.size(); }
  std::size_t buffered() const { return buffer_.size() - pos_; }
  // Bytes that are readable without waiting: in our buffer or in OpenSSL's record buffer.
  bool has_pending_bytes() const;

  // Blocking reads and writes for a worker: each waits at most until `deadline` (the request's
  // deadline: trickling bytes cannot extend it) and `io_timeout` (one wait); -1 on timeout,
  // error or a closed peer (and dead() becomes true).
  long read(char* out, std::size_t size, Clock::time_point deadline,
            std::chrono::milliseconds io_timeout);
  long write(const char* data, std::size_t size, Clock::time_point deadline,
             std::chrono::milliseconds io_timeout);
  // Waits until a byte is readable (true) or `timeout` passes (false).
  bool wait_readable(std::chrono::milliseconds timeout);
  // A short, best-effort answer before closing (a head too large): non-blocking, one try.
  void write_best_effort(const std::string& bytes);

  // A lingering close (as nginx does): after an answer that leaves a request's bytes unread
  // (413, 431), close_notify and a half-close, then read and drop what the client still sends
  // until it closes. Closing with unread bytes would make the kernel reset the connection, and
  // the client could lose the answer before reading it.
  void shutdown_write();
  bool lingering() const { return lingering_; }
  // Drops what is readable without waiting: kWantRead (more may come) or kClosed (the end).
  Step discard_input();

  int fd() const { return fd_; }
  bool dead() const { return dead_; }
  const std::string& peer_ip() const { return peer_ip_; }
  int peer_port() const { return peer_port_; }
  const std::string& local_ip() const { return local_ip_; }
  int local_port() const { return local_port_; }

  // Bookkeeping the front door keeps with the connection.
  Clock::time_point deadline{};    // when the event loop gives up on it
  std::size_t requests = 0;        // requests served on it so far
  bool head_deadline_set = false;  // the first byte of the current head has arrived
  bool body_deadline_set = false;  // the head is here; a small body is being waited for

 private:
  // Where the head ends in buffer_ (just past its empty line); npos: not buffered yet.
  std::size_t head_end() const;
  // Waits for the socket per the last SSL error (read or write) until `until`; false: timeout.
  bool wait_for(int ssl_error, Clock::time_point until);
  // One read or write of TLS or plain bytes: > 0 bytes moved; otherwise the SSL error it
  // amounts to (SSL_ERROR_WANT_READ/WANT_WRITE: try again when ready; others: the end).
  int read_some(char* out, std::size_t size, int& error);
  int write_some(const char* data, std::size_t size, int& error);
  void compact();

  int fd_;
  SSL* ssl_ = nullptr;
  bool dead_ = false;
  bool lingering_ = false;
  std::string buffer_;
  std::size_t pos_ = 0;  // buffer_[pos_..] not consumed yet
  std::string peer_ip_, local_ip_;
  int peer_port_ = 0, local_port_ = 0;
};

}  // namespace gpushare::server
