// The front door against clients that misbehave the way attackers and busy clusters do: heads
// trickled a byte at a time, sockets that never start TLS, idle keep-alive connections,
// pipelined requests, oversized heads. The server runs in-process with two workers, so a
// single held worker would show; clients are raw OpenSSL sockets (no certificate checks:
// https_server_test.cpp covers verification) to control every byte sent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "certs/certs.h"
#include "server/config.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/tls_store.h"

namespace gpushare::server {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int tcp_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// A blocking TLS client on one connection.
class Client {
 public:
  Client(SSL_CTX* ctx, int port) : fd_(tcp_connect(port)) {
    if (fd_ < 0) return;
    timeval tv{10, 0};  // no test waits on a read for longer
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    ok_ = SSL_connect(ssl_) == 1;
    ERR_clear_error();
  }
  ~Client() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool ok() const { return ok_; }
  bool send(const std::string& bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }
  // One response: its status line and headers, then Content-Length bytes of body. Empty when
  // the connection ended first.
  std::string response() {
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      char c;
      if (SSL_read(ssl_, &c, 1) != 1) return {};
      head.push_back(c);
    }
    std::size_t length = 0;
    if (auto at = head.find("Content-Length: "); at != std::string::npos)
      length = std::stoul(head.substr(at + 16));
    std::string body(length, '\0');
    std::size_t got = 0;
    while (got < length) {
      int n = SSL_read(ssl_, body.data() + got, static_cast<int>(length - got));
      if (n <= 0) return {};
      got += static_cast<std::size_t>(n);
    }
    return head + body;
  }
  // The server closed the connection (a read returns its end, not a timeout).
  bool closed_by_server() {
    char c;
    int n = SSL_read(ssl_, &c, 1);
    ERR_clear_error();
    return n <= 0 && errno != EAGAIN && errno != EWOULDBLOCK;
  }
  // No answer arrived and the connection is still up, without waiting (TLS 1.3 session
  // tickets the server sends after the handshake are not an answer).
  bool still_open() {
    const int flags = fcntl(fd_, F_GETFL, 0);
    fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    char c;
    const int n = SSL_read(ssl_, &c, 1);
    const int err = SSL_get_error(ssl_, n);
    ERR_clear_error();
    fcntl(fd_, F_SETFL, flags);
    return n <= 0 && err == SSL_ERROR_WANT_READ;
  }

 private:
  int fd_;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
};

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: gpushare\r\n\r\n";
}

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

std::string mutate_request() {
  const std::string body = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",
    "request":{"uid":"u-1","kind":{"group":"","version":"v1","kind":"Pod"},
    "resource":{"group":"","version":"v1","resource":"pods"},"namespace":"ml","operation":"CREATE",
    "object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ml",
      "annotations":{"gpushare.io/mode":"mps"}},
      "spec":{"containers":[{"name":"c","image":"x","resources":{"limits":{"nvidia.com/gpu":"1"}}}]}}}})";
  return "POST /mutate HTTP/1.1\r\nHost: gpushare\r\nContent-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

class FrontDoorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("gpushare-front-door-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    certs::CertRequest request;
    request.service = "gpushare";
    request.namespace_name = "gpushare-system";
    auto bundle = certs::generate_certificates(request);
    ASSERT_TRUE(bundle.ok()) << bundle.error();
    ASSERT_TRUE(certs::write_certificates(*bundle, dir_.string()).ok());
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(client_ctx_, SSL_VERIFY_NONE, nullptr);
  }

  void start(std::chrono::seconds read_header_timeout, std::chrono::seconds keep_alive_timeout) {
    config_.listen_host = "127.0.0.1";
    config_.listen_port = 0;
    config_.probes.listen_host = "127.0.0.1";
    config_.probes.listen_port = 0;     // the kernel's choice: tests run side by side
    config_.limits.worker_threads = 2;  // one held worker would show
    config_.limits.read_header_timeout = read_header_timeout;
    config_.limits.keep_alive_timeout = keep_alive_timeout;
    config_.tls.cert_file = (dir_ / "tls.crt").string();
    config_.tls.key_file = (dir_ / "tls.key").string();
    tls_ = std::make_unique<TlsStore>(config_.tls.cert_file, config_.tls.key_file);
    ASSERT_TRUE(tls_->load().ok());
    service_ = std::make_unique<Service>(policy::Catalog::builtin(), cluster_, ServiceSettings{});
    http_ = std::make_unique<HttpServer>(config_, *tls_, metrics_, *service_, [] { return true; });
    auto port = http_->bind();
    ASSERT_TRUE(port.ok()) << port.error();
    port_ = *port;
    thread_ = std::thread([this] { http_->serve(); });
  }

  void TearDown() override {
    if (http_) http_->stop();
    if (thread_.joinable()) thread_.join();
    SSL_CTX_free(client_ctx_);
    fs::remove_all(dir_);
  }

  std::unique_ptr<Client> connect() { return std::make_unique<Client>(client_ctx_, port_); }

  // A fresh connection's GET /healthz and POST /mutate both answer 200.
  void expect_fresh_requests_answered() {
    auto c = connect();
    ASSERT_TRUE(c->ok());
    ASSERT_TRUE(c->send(get("/healthz")));
    EXPECT_EQ(status_line(c->response()), "HTTP/1.1 200 OK");
    auto m = connect();
    ASSERT_TRUE(m->ok());
    ASSERT_TRUE(m->send(mutate_request()));
    EXPECT_EQ(status_line(m->response()), "HTTP/1.1 200 OK");
  }

  fs::path dir_;
  ServerConfig config_;
  Metrics metrics_;
  StaticClusterState cluster_;
  std::unique_ptr<TlsStore> tls_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<HttpServer> http_;
  std::thread thread_;
  int port_ = 0;
  SSL_CTX* client_ctx_ = nullptr;
};

TEST_F(FrontDoorTest, PipelinedRequestsAreEachAnsweredInOrder) {
  start(std::chrono::seconds(5), std::chrono::seconds(5));
  auto c = connect();
  ASSERT_TRUE(c->ok());
  // Three requests in one write: cpp-httplib alone answered only the first.
  ASSERT_TRUE(c->send(get("/healthz") + get("/no-such-path") + mutate_request()));
  EXPECT_EQ(status_line(c->response()), "HTTP/1.1 200 OK");
  EXPECT_EQ(status_line(c->response()), "HTTP/1.1 404 Not Found");
  const std::string review = c->response();
  EXPECT_EQ(status_line(review), "HTTP/1.1 200 OK");
  EXPECT_NE(review.find("\"uid\":\"u-1\""), std::string::npos) << review;
  // And the connection still serves.
  ASSERT_TRUE(c->send(get("/readyz")));
  EXPECT_EQ(status_line(c->response()), "HTTP/1.1 200 OK");
}

TEST_F(FrontDoorTest, TrickledHeadsAndSilentSocketsDoNotHoldTheWorkers) {
  start(std::chrono::seconds(30), std::chrono::seconds(30));
  // Twice as many of each as there are workers: thread-per-connection would be stuck on them
  // for 30 s (the head deadline).
  std::vector<std::unique_ptr<Client>> trickling;
  for (int i = 0; i < 8; ++i) {
    trickling.push_back(connect());
    ASSERT_TRUE(trickling.back()->ok());
    ASSERT_TRUE(trickling.back()->send("GET /healthz HTTP/1.1\r\nHo"));
  }
  std::vector<int> silent;
  for (int i = 0; i < 8; ++i) silent.push_back(tcp_connect(port_));
  std::this_thread::sleep_for(milliseconds(200));  // let the server take them all in
  expect_fresh_requests_answered();
  // Answered while every one of them is still held open, unanswered.
  for (auto& t : trickling) EXPECT_TRUE(t->still_open());
  for (int fd : silent) {
    pollfd p{fd, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0);
    ::close(fd);
  }
  // A trickled head that completes is answered.
  ASSERT_TRUE(trickling[0]->send("st: gpushare\r\n\r\n"));
  EXPECT_EQ(status_line(trickling[0]->response()), "HTTP/1.1 200 OK");
}

TEST_F(FrontDoorTest, TrickledSmallBodiesDoNotHoldTheWorkers) {
  start(std::chrono::seconds(30), std::chrono::seconds(30));
  // An AdmissionReview's head and all but the last bytes of its body: the event loop, not a
  // worker, waits for the rest (bodies up to 64 KiB).
  const std::string request = mutate_request();
  std::vector<std::unique_ptr<Client>> trickling;
  for (int i = 0; i < 8; ++i) {
    trickling.push_back(connect());
    ASSERT_TRUE(trickling.back()->ok());
    ASSERT_TRUE(trickling.back()->send(request.substr(0, request.size() - 10)));
  }
  std::this_thread::sleep_for(milliseconds(200));
  expect_fresh_requests_answered();
  for (auto& t : trickling) EXPECT_TRUE(t->still_open());
  // The rest arrives: answered.
  ASSERT_TRUE(trickling[0]->send(request.substr(request.size() - 10)));
  const std::string review = trickling[0]->response();
  EXPECT_EQ(status_line(review), "HTTP/1.1 200 OK");
  EXPECT_NE(review.find("\"uid\":\"u-1\""), std::string::npos) << review;
}

TEST_F(FrontDoorTest, TricklingCannotExtendTheHeadDeadline) {
  start(std::chrono::seconds(1), std::chrono::seconds(5));
  auto c = connect();
  ASSERT_TRUE(c->ok());
  const std::string head = get("/healthz");
  const auto began = Clock::now();
  bool closed = false;
  // One byte every 100 ms: 3 s of trickling if nothing stopped it; each byte arrives well
  // within any per-read timeout.
  for (std::size_t i = 0; i + 4 < head.size() && Clock::now() - began < std::chrono::seconds(3);
       ++i) {
    if (!c->send(head.substr(i, 1))) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(100));
    if (!c->still_open()) {
      closed = c->closed_by_server();
      break;
    }
  }
  EXPECT_TRUE(closed) << "the connection was still open after 3 s of trickling";
  EXPECT_LT(Clock::now() - began, std::chrono::milliseconds(2500));
}

TEST_F(FrontDoorTest, IdleKeepAliveConnectionsWaitOffTheWorkersAndAreClosedWhenIdleTooLong) {
  start(std::chrono::seconds(5), std::chrono::seconds(1));
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(connect());
    ASSERT_TRUE(idle.back()->ok());
    ASSERT_TRUE(idle.back()->send(get("/healthz")));
    ASSERT_EQ(status_line(idle.back()->response()), "HTTP/1.1 200 OK");
  }
  expect_fresh_requests_answered();
  // A connection idle for a while (in the event loop, off any worker) serves its next request.
  std::this_thread::sleep_for(milliseconds(200));
  ASSERT_TRUE(idle[0]->send(mutate_request()));
  EXPECT_EQ(status_line(idle[0]->response()), "HTTP/1.1 200 OK");
  // Past keepAliveTimeout, the server closes the idle ones.
  std::this_thread::sleep_for(milliseconds(1500));
  for (std::size_t i = 1; i < idle.size(); ++i) EXPECT_TRUE(idle[i]->closed_by_server()) << i;
}

TEST_F(FrontDoorTest, AHeadOverTheLimitGets431AndTheConnectionCloses) {
  start(std::chrono::seconds(5), std::chrono::seconds(5));
  auto c = connect();
  ASSERT_TRUE(c->ok());
  ASSERT_TRUE(c->send("GET /healthz HTTP/1.1\r\nX-Big: " + std::string(80 * 1024, 'a')));
  const std::string answer = c->response();
  EXPECT_EQ(status_line(answer), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_NE(answer.find("the request head exceeds the limit"), std::string::npos) << answer;
  EXPECT_TRUE(c->closed_by_server());
  expect_fresh_requests_answered();
}

TEST_F(FrontDoorTest, ABrokenRequestClosesItsConnectionAndNothingElse) {
  start(std::chrono::seconds(5), std::chrono::seconds(5));
  auto c = connect();
  ASSERT_TRUE(c->ok());
  // Whatever follows a head that cannot be parsed cannot be trusted to be a request.
  ASSERT_TRUE(c->send("NOT-HTTP\r\n\r\n" + get("/healthz")));
  EXPECT_EQ(status_line(c->response()), "HTTP/1.1 400 Bad Request");
  EXPECT_TRUE(c->closed_by_server());
  expect_fresh_requests_answered();
}

// One request over plain HTTP (the probe listener), read to the end of the connection.
std::string plain_request(int port, const std::string& request) {
  int fd = tcp_connect(port);
  if (fd < 0) return {};
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string answer;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
      answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

TEST_F(FrontDoorTest, ProbeListenerServesHealthReadinessAndMetricsOverPlainHttp) {
  start(std::chrono::seconds(5), std::chrono::seconds(5));
  const int probes = http_->probe_port();
  ASSERT_GT(probes, 0);
  ASSERT_NE(probes, port_);
  auto get_closing = [](const std::string& path) {
    return "GET " + path + " HTTP/1.1\r\nHost: gpushare\r\nConnection: close\r\n\r\n";
  };
  EXPECT_EQ(status_line(plain_request(probes, get_closing("/healthz"))), "HTTP/1.1 200 OK");
  EXPECT_EQ(status_line(plain_request(probes, get_closing("/readyz"))), "HTTP/1.1 200 OK");
  const std::string metrics = plain_request(probes, get_closing("/metrics"));
  EXPECT_EQ(status_line(metrics), "HTTP/1.1 200 OK");
  EXPECT_NE(metrics.find("gpushare_http_requests_total"), std::string::npos) << metrics;
  // The webhook and the extender are not there: only on the TLS port.
  const std::string mutate = plain_request(
      probes,
      "POST /mutate HTTP/1.1\r\nHost: g\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_EQ(status_line(mutate), "HTTP/1.1 404 Not Found");
  EXPECT_NE(mutate.find("is on the TLS port"), std::string::npos) << mutate;
  // And TLS is not spoken there.
  auto c = std::make_unique<Client>(client_ctx_, probes);
  EXPECT_FALSE(c->ok());
}

TEST_F(FrontDoorTest, ProbeListenerCanBeTurnedOff) {
  config_.probes.enabled = false;
  start(std::chrono::seconds(5), std::chrono::seconds(5));
  EXPECT_EQ(http_->probe_port(), 0);
}

}  // namespace
}  // namespace gpushare::server
