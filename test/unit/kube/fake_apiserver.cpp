#include "test/unit/kube/fake_apiserver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <stdexcept>

namespace gpushare::kube::testing {

// One accepted connection, plain or TLS.
class Connection {
 public:
  Connection(int fd, SSL* ssl, const FakeApiServer& server) : fd_(fd), ssl_(ssl), server_(server) {}

  // Reads some bytes; 0 on close, error, or server stop.
  std::size_t read_some(char* buf, std::size_t size) {
    while (!server_.stopping() && !dead_) {
      if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
        pollfd p{fd_, POLLIN, 0};
        int ready = ::poll(&p, 1, 50);
        if (ready == 0) continue;
        if (ready < 0) return 0;
      }
      if (ssl_ != nullptr) {
        int n = SSL_read(ssl_, buf, static_cast<int>(size));
        return n > 0 ? static_cast<std::size_t>(n) : 0;
      }
      ssize_t n = ::recv(fd_, buf, size, 0);
      return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    return 0;
  }

  bool write_all(std::string_view data) {
    while (!data.empty() && !dead_) {
      ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                                  : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return !dead_;
  }

  // True when the peer closed (or sent anything, which a watch client never does).
  bool peer_gone_or_wait(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) != 0;
  }

  void kill() {
    dead_ = true;
    ::shutdown(fd_, SHUT_RDWR);
  }
  bool dead() const { return dead_; }
  const FakeApiServer& server() const { return server_; }

 private:
  int fd_;
  SSL* ssl_;
  const FakeApiServer& server_;
  bool dead_ = false;
};

namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads one request; false when the connection ended first.
bool read_request(Connection& c, std::string& pending, HttpRequest& req) {
  char buf[16384];
  std::size_t end;
  while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
    std::size_t n = c.read_some(buf, sizeof buf);
    if (n == 0) return false;
    pending.append(buf, n);
  }
  std::string head = pending.substr(0, end);
  pending.erase(0, end + 4);
  std::size_t line_end = head.find("\r\n");
  std::string request_line = head.substr(0, line_end);
  std::size_t sp1 = request_line.find(' ');
  std::size_t sp2 = request_line.find(' ', sp1 + 1);
  req.method = request_line.substr(0, sp1);
  req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) {
    std::string query = req.target.substr(q + 1);
    std::size_t start = 0;
    while (start <= query.size()) {
      std::size_t amp = query.find('&', start);
      std::string pair =
          query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      std::size_t eq = pair.find('=');
      if (!pair.empty()) {
        req.query[percent_decode(pair.substr(0, eq))] =
            eq == std::string::npos ? "" : percent_decode(pair.substr(eq + 1));
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    if (eol == std::string::npos) eol = head.size();
    std::string line = head.substr(pos, eol - pos);
    std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::size_t v = line.find_first_not_of(' ', colon + 1);
      req.headers[lower(line.substr(0, colon))] = v == std::string::npos ? "" : line.substr(v);
    }
    pos = eol + 2;
  }
  std::size_t length = 0;
  if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
    length = std::stoul(it->second);
  }
  while (pending.size() < length) {
    std::size_t n = c.read_some(buf, sizeof buf);
    if (n == 0) return false;
    pending.append(buf, n);
  }
  req.body = pending.substr(0, length);
  pending.erase(0, length);
  return true;
}

X509* read_cert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

}  // namespace

std::string HttpRequest::param(const std::string& key) const {
  auto it = query.find(key);
  return it == query.end() ? std::string() : it->second;
}

std::string HttpRequest::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

void Responder::send(int status, const std::string& body, const std::string& content_type) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
                     "\r\nContent-Type: " + content_type +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  connection_.write_all(head + body);
  finished_ = true;
  keep_alive_ = true;
}

void Responder::begin_stream(int status) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
                     "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                     "Connection: close\r\n\r\n";
  connection_.write_all(head);
  streaming_ = true;
}

void Responder::chunk(std::string_view data) {
  if (data.empty()) return;
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  connection_.write_all(std::string(size) + std::string(data) + "\r\n");
}

void Responder::end_stream() {
  connection_.write_all("0\r\n\r\n");
  finished_ = true;
}

void Responder::drop() {
  connection_.kill();
  finished_ = true;
}

void Responder::hold(std::chrono::milliseconds at_most) {
  auto deadline = std::chrono::steady_clock::now() + at_most;
  while (!connection_.server().stopping() && std::chrono::steady_clock::now() < deadline) {
    if (connection_.peer_gone_or_wait(std::chrono::milliseconds(20))) return;
  }
}

std::string event_line(const std::string& type, const std::string& object_json) {
  return "{\"type\":\"" + type + "\",\"object\":" + object_json + "}\n";
}

FakeApiServer::FakeApiServer(Handler handler, std::optional<TlsOptions> tls)
    : handler_(std::move(handler)) {
  // A client that hangs up while we write must not kill the test binary.
  std::signal(SIGPIPE, SIG_IGN);
  if (tls) {
    tls_ = SSL_CTX_new(TLS_server_method());
    X509* cert = read_cert(tls->cert_pem);
    BIO* bio = BIO_new_mem_buf(tls->key_pem.data(), static_cast<int>(tls->key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (cert == nullptr || key == nullptr || SSL_CTX_use_certificate(tls_, cert) != 1 ||
        SSL_CTX_use_PrivateKey(tls_, key) != 1) {
      throw std::runtime_error("fake apiserver: bad TLS certificate or key");
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!tls->client_ca_pem.empty()) {
      X509* ca = read_cert(tls->client_ca_pem);
      X509_STORE_add_cert(SSL_CTX_get_cert_store(tls_), ca);
      X509_free(ca);
      SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      // Needed for session resumption with client certificates (the client shares sessions).
      static const unsigned char context[] = "gpushare-fake-apiserver";
      SSL_CTX_set_session_id_context(tls_, context, sizeof context - 1);
    }
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("fake apiserver: cannot listen on loopback");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakeApiServer::~FakeApiServer() {
  stop();
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

std::string FakeApiServer::url() const {
  return std::string(tls_ != nullptr ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<HttpRequest> FakeApiServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void FakeApiServer::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (auto& w : workers) w.join();
}

void FakeApiServer::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    ++accepted_;
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    open_fds_.insert(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void FakeApiServer::serve(int fd) {
  SSL* ssl = nullptr;
  std::string client_cn;
  bool handshake_ok = true;
  if (tls_ != nullptr) {
    ssl = SSL_new(tls_);
    SSL_set_fd(ssl, fd);
    handshake_ok = SSL_accept(ssl) == 1;
    if (handshake_ok) {
      if (X509* peer = SSL_get1_peer_certificate(ssl)) {
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
        client_cn = cn;
        X509_free(peer);
      }
    }
  }
  Connection connection(fd, ssl, *this);
  std::string pending;
  while (handshake_ok && !stopping_) {
    HttpRequest req;
    if (!read_request(connection, pending, req)) break;
    req.client_cert_cn = client_cn;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
    }
    Responder responder(connection);
    handler_(req, responder);
    if (!responder.finished()) {
      if (responder.streaming()) {
        responder.end_stream();
      } else {
        responder.send(404, R"({"kind":"Status","code":404})");
      }
    }
    if (!responder.keep_alive() || connection.dead()) break;
  }
  if (ssl != nullptr) {
    if (!connection.dead() && handshake_ok) SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  {
    std::lock_guard lock(mu_);
    open_fds_.erase(fd);
    ::close(fd);
  }
}

}  // namespace gpushare::kube::testing
