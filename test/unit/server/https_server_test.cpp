// The server in-process on an ephemeral port, with certificates from `gpushare certs`, called
// over HTTPS with libcurl verifying the CA and the SAN, exactly as kube-apiserver would.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "base/base64.h"
#include "certs/certs.h"
#include "server/config.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/tls_store.h"
#include "test/support/fixtures.h"

namespace gpushare::server {
namespace {

namespace fs = std::filesystem;

struct HttpReply {
  long status = 0;
  std::string body;
  std::string headers;
  CURLcode code = CURLE_OK;
};

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// Runs a command, returns its stdout; fails the test on a non-zero exit.
std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) {
    ADD_FAILURE() << "cannot run " << command;
    return out;
  }
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << command;
  return out;
}

class HttpsServer : public ::testing::Test {
 protected:
  static constexpr const char* kHost = "gpushare.gpushare-system.svc";

  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("gpushare-https-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    ca_bundle_ = run(std::string(GPUSHARE_BINARY) +
                     " certs --service gpushare --namespace gpushare-system --out " +
                     dir_.string() + " --ip 127.0.0.1");
    config_.listen_host = "127.0.0.1";
    config_.listen_port = 0;
    config_.probes.listen_host = "127.0.0.1";
    config_.probes.listen_port = 0;  // the kernel's choice: tests run side by side
    config_.limits.max_body_bytes = 64 * 1024;
    config_.limits.max_extender_body_bytes = 96 * 1024;
    config_.tls.cert_file = (dir_ / "tls.crt").string();
    config_.tls.key_file = (dir_ / "tls.key").string();
    tls_ = std::make_unique<TlsStore>(config_.tls.cert_file, config_.tls.key_file);
    ASSERT_TRUE(tls_->load().ok());
    service_ = std::make_unique<Service>(policy::Catalog::builtin(), cluster_, ServiceSettings{});
    http_ = std::make_unique<HttpServer>(config_, *tls_, metrics_, *service_,
                                         [this] { return cluster_ready_.load(); });
    auto port = http_->bind();
    ASSERT_TRUE(port.ok()) << port.error();
    port_ = *port;
    thread_ = std::thread([this] { http_->serve(); });
    curl_ = curl_easy_init();
  }

  void TearDown() override {
    if (curl_) curl_easy_cleanup(curl_);
    if (http_) http_->stop();
    if (thread_.joinable()) thread_.join();
    fs::remove_all(dir_);
  }

  // One request on the fixture's keep-alive handle, verifying the server against `ca_file`
  // under the name `host` (resolved to 127.0.0.1).
  HttpReply call(const std::string& method, const std::string& path, const std::string& body = {},
                 std::string host = kHost, std::string ca_file = {}) {
    HttpReply r;
    std::string url = "https://" + host + ":" + std::to_string(port_) + path;
    std::string resolve = host + ":" + std::to_string(port_) + ":127.0.0.1";
    curl_slist* resolves = curl_slist_append(nullptr, resolve.c_str());
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_RESOLVE, resolves);
    curl_easy_setopt(curl_, CURLOPT_CAINFO,
                     ca_file.empty() ? (dir_ / "ca.crt").c_str() : ca_file.c_str());
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r.headers);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT, 10L);
    if (method != "GET") {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    r.code = curl_easy_perform(curl_);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(resolves);
    curl_slist_free_all(headers);
    return r;
  }

  // A GET on a connection of its own (a new TLS handshake), trusting `ca_file`; with
  // `tls12_cipher`, a TLS 1.2-only client offering just that suite. 0 when no answer came.
  long fresh_connection_status(const std::string& path, const std::string& ca_file,
                               const char* tls12_cipher = nullptr, int port = 0,
                               const std::string& client_cert = {},
                               const std::string& client_key = {}) {
    if (port == 0) port = port_;
    CURL* c = curl_easy_init();
    if (!client_cert.empty()) {
      curl_easy_setopt(c, CURLOPT_SSLCERT, client_cert.c_str());
      curl_easy_setopt(c, CURLOPT_SSLKEY, client_key.c_str());
    }
    if (tls12_cipher != nullptr) {
      curl_easy_setopt(c, CURLOPT_SSLVERSION,
                       static_cast<long>(CURL_SSLVERSION_TLSv1_2) |
                           static_cast<long>(CURL_SSLVERSION_MAX_TLSv1_2));
      curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, tls12_cipher);
    }
    std::string body;
    std::string url = "https://" + std::string(kHost) + ":" + std::to_string(port) + path;
    std::string resolve = std::string(kHost) + ":" + std::to_string(port) + ":127.0.0.1";
    curl_slist* resolves = curl_slist_append(nullptr, resolve.c_str());
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolves);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(resolves);
    curl_easy_cleanup(c);
    return status;
  }

  fs::path dir_;
  std::string ca_bundle_;
  ServerConfig config_;
  Metrics metrics_;
  StaticClusterState cluster_;
  std::unique_ptr<TlsStore> tls_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<HttpServer> http_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> cluster_ready_{true};
  CURL* curl_ = nullptr;
};

std::string mps_review() {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
    "uid":"705ab4f5-6393-11e8-b7cc-42010a800002","kind":{"group":"","version":"v1","kind":"Pod"},
    "resource":{"group":"","version":"v1","resource":"pods"},"namespace":"ml","operation":"CREATE",
    "object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"infer","namespace":"ml",
      "annotations":{"gpushare.io/mode":"mps"}},
      "spec":{"containers":[{"name":"main","image":"x","resources":{"limits":{"nvidia.com/gpu":"1"}}}]}}}})";
}

TEST_F(HttpsServer, MutateOverVerifiedTlsAndIgnoresQueryString) {
  auto r = call("POST", "/mutate?timeout=10s", mps_review());
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  ASSERT_EQ(r.status, 200) << r.body;
  auto review = nlohmann::json::parse(r.body);
  EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(review["kind"], "AdmissionReview");
  EXPECT_EQ(review["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(review["response"]["allowed"], true);
  EXPECT_EQ(review["response"]["patchType"], "JSONPatch");
}

TEST_F(HttpsServer, IpSanVerifies) {
  auto r = call("GET", "/healthz", {}, "127.0.0.1");
  EXPECT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpsServer, WrongNameFailsVerification) {
  auto r = call("GET", "/healthz", {}, "gpushare.other.svc");
  EXPECT_NE(r.code, CURLE_OK);
}

TEST_F(HttpsServer, CaBundleIsTheCaNotTheLeaf) {
  auto pem =
      base::base64_decode(std::string(ca_bundle_.substr(0, ca_bundle_.find_last_not_of("\n") + 1)));
  ASSERT_TRUE(pem.ok());
  EXPECT_TRUE(certs::is_ca(*pem));
}

TEST_F(HttpsServer, ErrorsAreJsonWithTheRightStatus) {
  struct Case {
    std::string method, path, body;
    long status;
    std::string contains;
  };
  std::vector<Case> cases = {
      {"GET", "/mutate", "", 405, "use POST"},
      {"PUT", "/filter", "{}", 405, "use POST"},
      {"POST", "/healthz", "{}", 405, "use GET"},
      {"GET", "/nope", "", 404, "/nope"},
      {"POST", "/mutate", "", 400, "error"},
      {"POST", "/mutate", "{not json", 400, "error"},
      {"POST", "/mutate", "null", 400, "error"},
      {"POST", "/mutate", R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})", 400,
       "request"},
      {"POST", "/mutate", std::string(70 * 1024, ' '), 413, "limits.maxBodyBytes"},
      // Each path has its limit: 70 KiB passes the extender's 96 KiB and is read (then refused
      // as an empty body); 100 KiB does not.
      {"POST", "/filter", std::string(70 * 1024, ' '), 400, "empty body"},
      {"POST", "/filter", std::string(100 * 1024, ' '), 413, "nodeCacheCapable: true"},
      {"POST", "/prioritize", std::string(100 * 1024, ' '), 413, "limits.maxExtenderBodyBytes"},
      {"POST", "/filter", "[1,2", 400, "error"},
      {"POST", "/prioritize", "{\"Pod\":5}", 400, "error"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body.substr(0, 40));
    auto r = call(c.method, c.path, c.body);
    ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
    EXPECT_EQ(r.status, c.status) << r.body;
    auto parsed = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << r.body;
    EXPECT_TRUE(parsed.contains("error")) << r.body;
    EXPECT_NE(r.body.find(c.contains), std::string::npos) << r.body;
  }
  // The server still answers after all of that.
  EXPECT_EQ(call("GET", "/healthz").status, 200);
}

// A POST whose body comes from `source` (chunked unless `length` is given, then with that
// Content-Length); how much of it the server made curl read is in `supplied`.
struct Upload {
  std::string body;  // repeated until `total` bytes were given
  std::size_t total = 0;
  std::size_t supplied = 0;
};

std::size_t supply(char* out, std::size_t size, std::size_t n, void* arg) {
  auto* u = static_cast<Upload*>(arg);
  std::size_t want = std::min(size * n, u->total - u->supplied);
  for (std::size_t i = 0; i < want; ++i) out[i] = u->body[(u->supplied + i) % u->body.size()];
  u->supplied += want;
  return want;
}

TEST_F(HttpsServer, BodyLimitHoldsForChunkedBodies) {
  enum Framing { kChunked, kLength, kNeither };
  auto post = [&](Upload& u, Framing framing) {
    CURL* c = curl_easy_init();
    std::string body;
    const std::string url =
        "https://" + std::string(kHost) + ":" + std::to_string(port_) + "/mutate";
    const std::string resolve = std::string(kHost) + ":" + std::to_string(port_) + ":127.0.0.1";
    curl_slist* resolves = curl_slist_append(nullptr, resolve.c_str());
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (framing == kChunked) headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
    if (framing == kNeither) {  // curl would chunk a body of unknown size: take both away
      headers = curl_slist_append(headers, "Transfer-Encoding:");
      headers = curl_slist_append(headers, "Content-Length:");
    }
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolves);
    curl_easy_setopt(c, CURLOPT_CAINFO, (dir_ / "ca.crt").c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, supply);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    if (framing == kLength) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(u.total));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    long status = 0;
    curl_easy_perform(c);  // a refused upload may end in a reset after the answer
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(resolves);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return std::make_pair(status, body);
  };
  // Within the limit, chunked: answered as any review.
  Upload ok{mps_review(), mps_review().size()};
  EXPECT_EQ(post(ok, kChunked).first, 200);
  // 256 MiB chunked against a 64 KiB limit: 413 after the limit, the rest never read (what
  // curl was made to supply is what fits the socket buffers, not the body).
  Upload big{std::string(4096, ' '), std::size_t{256} << 20};
  auto [status, body] = post(big, kChunked);
  EXPECT_EQ(status, 413) << body;
  EXPECT_NE(body.find("exceeds the limit of 65536 bytes"), std::string::npos) << body;
  EXPECT_LT(big.supplied, big.total / 4);
  // Content-Length over the limit: refused before any of it is read.
  Upload declared{std::string(4096, ' '), std::size_t{1} << 20};
  EXPECT_EQ(post(declared, kLength).first, 413);
  // Neither Content-Length nor chunked: 411.
  Upload unframed{mps_review(), mps_review().size()};
  EXPECT_EQ(post(unframed, kNeither).first, 411);
  EXPECT_EQ(call("GET", "/healthz").status, 200);
}

TEST_F(HttpsServer, MetricsCountRequestsAndDecisions) {
  call("POST", "/mutate", mps_review());
  call("GET", "/nope");
  auto r = call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("gpushare_http_requests_total{code=\"200\",route=\"/mutate\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("gpushare_http_requests_total{code=\"404\",route=\"other\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("gpushare_admission_decisions_total{outcome=\"allowed\""),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("gpushare_http_request_duration_seconds_bucket{route=\"/mutate\""),
            std::string::npos);
}

TEST_F(HttpsServer, ReadyzFollowsTheCluster) {
  HttpReply ready = call("GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ok\n");
  cluster_ready_ = false;
  HttpReply unsynced = call("GET", "/readyz");
  EXPECT_EQ(unsynced.status, 503);
  EXPECT_EQ(unsynced.body, "cluster cache not synced or not current\n");
  // Liveness does not follow readiness: a replica that lost the cluster is not restarted.
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  cluster_ready_ = true;
  EXPECT_EQ(call("GET", "/readyz").status, 200);
}

TEST_F(HttpsServer, KeepAliveConnectionIsReused) {
  for (int i = 0; i < 20; ++i) ASSERT_EQ(call("POST", "/mutate", mps_review()).status, 200);
  long connects = -1;
  curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &connects);
  EXPECT_EQ(connects, 0) << "the 20th request opened a new connection";
}

TEST_F(HttpsServer, CertificateRotationWithoutFailingARequest) {
  // Rotation with overlap: clients trust the old and the new CA while the pair changes.
  run(std::string(GPUSHARE_BINARY) +
      " certs --service gpushare --namespace gpushare-system --out " + (dir_ / "new").string() +
      " --ip 127.0.0.1 >/dev/null");
  const auto both = dir_ / "both-cas.crt";
  {
    std::ofstream out(both);
    out << std::ifstream(dir_ / "ca.crt").rdbuf() << std::ifstream(dir_ / "new" / "ca.crt").rdbuf();
  }
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, requests{0};
  std::thread load([&] {
    while (!done) {
      ++requests;
      if (fresh_connection_status("/healthz", both.string()) != 200) ++failures;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Replace both files the way a Secret volume update lands, then let the store notice.
  fs::copy_file(dir_ / "new" / "tls.key", dir_ / "tls.key.next");
  fs::copy_file(dir_ / "new" / "tls.crt", dir_ / "tls.crt.next");
  fs::rename(dir_ / "tls.crt.next", dir_ / "tls.crt");
  fs::rename(dir_ / "tls.key.next", dir_ / "tls.key");
  auto reloaded = tls_->reload_if_changed();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error();
  EXPECT_TRUE(*reloaded);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  done = true;
  load.join();
  // A new connection now presents the new certificate: only the new CA verifies it.
  EXPECT_EQ(fresh_connection_status("/healthz", (dir_ / "new" / "ca.crt").string()), 200);
  EXPECT_NE(fresh_connection_status("/healthz", (dir_ / "ca.crt").string()), 200);
  EXPECT_GT(requests.load(), 0);
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(HttpsServer, MismatchedKeyIsRefusedAndTheOldPairKeepsServing) {
  run(std::string(GPUSHARE_BINARY) +
      " certs --service gpushare --namespace gpushare-system --out " + (dir_ / "other").string() +
      " >/dev/null");
  // Half-written rotation: the new key is there, the certificate is still the old one.
  fs::copy_file(dir_ / "other" / "tls.key", dir_ / "tls.key", fs::copy_options::overwrite_existing);
  auto reloaded = tls_->reload_if_changed();
  EXPECT_FALSE(reloaded.ok());
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(fresh_connection_status("/healthz", (dir_ / "ca.crt").string()), 200);
  // The certificate lands: the pair agrees and is installed.
  fs::copy_file(dir_ / "other" / "tls.crt", dir_ / "tls.crt", fs::copy_options::overwrite_existing);
  reloaded = tls_->reload_if_changed();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error();
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ(fresh_connection_status("/healthz", (dir_ / "other" / "ca.crt").string()), 200);
}

TEST_F(HttpsServer, SameSizePairWithAnOldMtimeIsReloaded) {
  // Reload follows content: a pair copied with its old timestamps (cp -p, a restored backup,
  // a volume that keeps mtimes) is a new pair all the same.
  run(std::string(GPUSHARE_BINARY) +
      " certs --service gpushare --namespace gpushare-system --out " + (dir_ / "new").string() +
      " --ip 127.0.0.1 >/dev/null");
  const auto cert_mtime = fs::last_write_time(dir_ / "tls.crt");
  const auto key_mtime = fs::last_write_time(dir_ / "tls.key");
  fs::copy_file(dir_ / "new" / "tls.crt", dir_ / "tls.crt", fs::copy_options::overwrite_existing);
  fs::copy_file(dir_ / "new" / "tls.key", dir_ / "tls.key", fs::copy_options::overwrite_existing);
  fs::last_write_time(dir_ / "tls.crt", cert_mtime);
  fs::last_write_time(dir_ / "tls.key", key_mtime);
  auto reloaded = tls_->reload_if_changed();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error();
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ(fresh_connection_status("/healthz", (dir_ / "new" / "ca.crt").string()), 200);
  // Unchanged content: nothing to do.
  reloaded = tls_->reload_if_changed();
  ASSERT_TRUE(reloaded.ok());
  EXPECT_FALSE(*reloaded);
}

TEST_F(HttpsServer, KubeletSymlinkSwapIsReloaded) {
  // A Secret volume as the kubelet writes it: the files are symlinks through `..data` to a
  // timestamped folder, and an update swaps `..data` in one rename.
  const fs::path vol = dir_ / "volume";
  for (const char* gen : {"..2026_12_05_01", "..2026_12_05_02"}) {
    run(std::string(GPUSHARE_BINARY) +
        " certs --service gpushare --namespace gpushare-system --out " + (vol / gen).string() +
        " --ip 127.0.0.1 >/dev/null");
  }
  fs::create_directory_symlink("..2026_12_05_01", vol / "..data");
  fs::create_symlink("..data/tls.crt", vol / "tls.crt");
  fs::create_symlink("..data/tls.key", vol / "tls.key");
  TlsStore store((vol / "tls.crt").string(), (vol / "tls.key").string());
  ASSERT_TRUE(store.load().ok());
  HttpServer server(config_, store, metrics_, *service_, [] { return true; });
  auto port = server.bind();
  ASSERT_TRUE(port.ok()) << port.error();
  std::thread serving([&] { server.serve(); });
  const std::string first_ca = (vol / "..2026_12_05_01" / "ca.crt").string();
  const std::string second_ca = (vol / "..2026_12_05_02" / "ca.crt").string();
  EXPECT_EQ(fresh_connection_status("/healthz", first_ca, nullptr, *port), 200);
  // The swap: a new link renamed over ..data (what the kubelet's atomic writer does).
  fs::create_directory_symlink("..2026_12_05_02", vol / "..data_tmp");
  fs::rename(vol / "..data_tmp", vol / "..data");
  auto reloaded = store.reload_if_changed();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error();
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ(fresh_connection_status("/healthz", second_ca, nullptr, *port), 200);
  EXPECT_EQ(fresh_connection_status("/healthz", first_ca, nullptr, *port), 0);
  server.stop();
  serving.join();
}

TEST_F(HttpsServer, Tls12OnlyWithEcdheAndAead) {
  const std::string ca = (dir_ / "ca.crt").string();
  struct Case {
    const char* suite;
    bool accepted;
  };
  const std::vector<Case> cases = {
      {"ECDHE-ECDSA-AES128-GCM-SHA256", true},
      {"ECDHE-ECDSA-CHACHA20-POLY1305", true},
      {"ECDHE-ECDSA-AES256-SHA384", false},  // CBC
      {"ECDHE-ECDSA-AES128-SHA", false},     // CBC, SHA-1
  };
  for (const auto& c : cases) {
    EXPECT_EQ(fresh_connection_status("/healthz", ca, c.suite) == 200, c.accepted) << c.suite;
  }
  EXPECT_EQ(fresh_connection_status("/healthz", ca), 200);  // TLS 1.3
}

TEST_F(HttpsServer, MinVersion13RefusesTls12) {
  TlsStore tls13(config_.tls.cert_file, config_.tls.key_file, TLS1_3_VERSION);
  ASSERT_TRUE(tls13.load().ok());
  HttpServer server(config_, tls13, metrics_, *service_, [] { return true; });
  auto port = server.bind();
  ASSERT_TRUE(port.ok()) << port.error();
  std::thread serving([&] { server.serve(); });
  const std::string ca = (dir_ / "ca.crt").string();
  EXPECT_EQ(fresh_connection_status("/healthz", ca, "ECDHE-ECDSA-AES128-GCM-SHA256", *port), 0);
  EXPECT_EQ(fresh_connection_status("/healthz", ca, nullptr, *port), 200);
  server.stop();
  serving.join();
}

// A CA (`name`.crt/.key) and, signed by it, a client certificate (`name`-client.crt/.key, EKU
// clientAuth, CN `name`-client), made with the openssl command line in `dir`.
void make_client_ca_and_certificate(const fs::path& dir, const std::string& name) {
  const std::string d = dir.string() + "/";
  {
    std::ofstream ext(d + "client.ext");
    ext << "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
           "extendedKeyUsage=clientAuth\n";
  }
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  run("openssl req -x509" + ec + " -keyout " + d + name + ".key -out " + d + name +
      ".crt -subj /CN=" + name + " -days 1 -addext basicConstraints=critical,CA:TRUE" +
      " -addext keyUsage=critical,keyCertSign 2>/dev/null");
  run("openssl req" + ec + " -keyout " + d + name + "-client.key -out " + d + name +
      "-client.csr -subj /CN=" + name + "-client 2>/dev/null");
  run("openssl x509 -req -in " + d + name + "-client.csr -CA " + d + name + ".crt -CAkey " + d +
      name + ".key -CAcreateserial -out " + d + name + "-client.crt -days 1 -extfile " + d +
      "client.ext 2>/dev/null");
}

TEST_F(HttpsServer, ClientCAFileRequiresAClientCertificateFromThoseCAs) {
  make_client_ca_and_certificate(dir_, "apiserver-ca");
  make_client_ca_and_certificate(dir_, "other-ca");
  const fs::path ca_file = dir_ / "client-ca.crt";
  fs::copy_file(dir_ / "apiserver-ca.crt", ca_file);
  TlsStore mtls(config_.tls.cert_file, config_.tls.key_file, TLS1_2_VERSION, ca_file.string());
  ASSERT_TRUE(mtls.load().ok());
  HttpServer server(config_, mtls, metrics_, *service_, [] { return true; });
  auto port = server.bind();
  ASSERT_TRUE(port.ok()) << port.error();
  std::thread serving([&] { server.serve(); });
  const std::string ca = (dir_ / "ca.crt").string();
  auto with = [&](const std::string& who) {
    return fresh_connection_status("/healthz", ca, nullptr, *port,
                                   (dir_ / (who + "-client.crt")).string(),
                                   (dir_ / (who + "-client.key")).string());
  };
  EXPECT_EQ(fresh_connection_status("/healthz", ca, nullptr, *port), 0);  // no certificate
  EXPECT_EQ(with("apiserver-ca"), 200);
  EXPECT_EQ(with("other-ca"), 0);  // signed by a CA not in the file
  // TLS 1.2 asks for it too.
  EXPECT_EQ(fresh_connection_status("/healthz", ca, "ECDHE-ECDSA-AES128-GCM-SHA256", *port), 0);

  // The CA file is re-read by content: the other CA replaces the first one.
  {
    std::ifstream in(dir_ / "other-ca.crt");
    std::ofstream out(ca_file, std::ios::trunc);
    out << in.rdbuf();
  }
  auto reloaded = mtls.reload_if_changed();
  ASSERT_TRUE(reloaded.ok()) << reloaded.error();
  EXPECT_TRUE(*reloaded);
  EXPECT_EQ(with("other-ca"), 200);
  EXPECT_EQ(with("apiserver-ca"), 0);  // no resumption: taking a CA out takes effect at once

  // A file with a leaf certificate in it is refused, and the CAs in use stay.
  fs::copy_file(dir_ / "apiserver-ca-client.crt", ca_file, fs::copy_options::overwrite_existing);
  auto refused = mtls.reload_if_changed();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("is not a CA"), std::string::npos) << refused.error();
  EXPECT_EQ(with("other-ca"), 200);
  server.stop();
  serving.join();
}

}  // namespace
}  // namespace gpushare::server
