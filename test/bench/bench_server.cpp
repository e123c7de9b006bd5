// Benchmarks that print numbers (BENCHMARKS.md records them): the policy alone, and the whole
// server over TLS keep-alive, for /mutate and /filter, with p50/p99 latency and throughput.
//   build/bench_server [requests]
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "certs/certs.h"
#include "logging/log.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/tls_store.h"

namespace gs = gpushare::server;
using Clock = std::chrono::steady_clock;

namespace {

std::size_t discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

struct Stats {
  double p50_us, p99_us, per_second;
};

Stats summarize(std::vector<double> us, double total_seconds) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100],
          static_cast<double>(us.size()) / total_seconds};
}

const char* kReview = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
  "uid":"b1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
  "namespace":"ml","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"infer",
  "namespace":"ml","labels":{"app":"infer"},"annotations":{"gpushare.io/gpu-product":"NVIDIA-H20","gpushare.io/gpu-memory":"20Gi"}},
  "spec":{"containers":[{"name":"main","image":"x","resources":{"limits":{"nvidia.com/gpu":"1","cpu":"2"},
  "requests":{"nvidia.com/gpu":"1","cpu":"2"}}},{"name":"sidecar","image":"y"}],"restartPolicy":"Always"}}}})";

std::string filter_args(int nodes) {
  std::string names;
  for (int i = 0; i < nodes; ++i)
    names += (i ? ",\"" : "\"") + std::string("gpu-") + std::to_string(i) + "\"";
  return R"({"Pod":{"metadata":{"name":"p","namespace":"ml","annotations":{"gpushare.io/mig-profile":"1g.12gb"}},)"
         R"("spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/mig-1g.12gb":"1"}}}]}},"Nodes":null,"NodeNames":[)" +
         names + "]}";
}

gpushare::policy::ClusterView cluster(int nodes) {
  gpushare::policy::ClusterView view;
  for (int i = 0; i < nodes; ++i) {
    gpushare::policy::NodeView n;
    n.name = "gpu-" + std::to_string(i);
    n.labels = {{"nvidia.com/gpu.product", "NVIDIA-H20"},
                {"nvidia.com/mig.capable", "true"},
                {"nvidia.com/mig.strategy", "mixed"},
                {"nvidia.com/mig.config.state", "success"},
                {"nvidia.com/gpu.count", "8"}};
    n.allocatable = {{"nvidia.com/mig-1g.12gb", 16}, {"nvidia.com/mig-3g.48gb", 8}};
    n.used = {{"nvidia.com/mig-1g.12gb", i % 17}};
    view.nodes.push_back(std::move(n));
  }
  return view;
}

Stats over_https(int port, const std::string& path, const std::string& body, int requests,
                 const std::string& ca) {
  CURL* c = curl_easy_init();
  std::string url = "https://127.0.0.1:" + std::to_string(port) + path;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CAINFO, ca.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  std::vector<double> us;
  auto begin = Clock::now();
  for (int i = 0; i < requests; ++i) {
    auto t = Clock::now();
    if (curl_easy_perform(c) != CURLE_OK) std::fprintf(stderr, "request %d failed\n", i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
  }
  double total = std::chrono::duration<double>(Clock::now() - begin).count();
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return summarize(us, total);
}

template <typename F>
Stats in_process(int requests, F call) {
  std::vector<double> us;
  auto begin = Clock::now();
  for (int i = 0; i < requests; ++i) {
    auto t = Clock::now();
    call();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
  }
  return summarize(us, std::chrono::duration<double>(Clock::now() - begin).count());
}

void print(const char* what, const Stats& s) {
  std::printf("%-44s p50 %8.1f us   p99 %8.1f us   %9.0f req/s\n", what, s.p50_us, s.p99_us,
              s.per_second);
}

}  // namespace

int main(int argc, char** argv) {
  const int requests = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int nodes = argc > 2 ? std::atoi(argv[2]) : 500;
  // One log line per admission would measure the terminal.
  gpushare::logging::setup("warn", "text");
  auto dir = std::filesystem::temp_directory_path() / "gpushare-bench";
  gpushare::certs::CertRequest req{"gpushare", "gpushare-system", {}, {"127.0.0.1"}};
  auto bundle = gpushare::certs::generate_certificates(req);
  if (!bundle || !gpushare::certs::write_certificates(*bundle, dir.string())) return 1;

  gs::ServerConfig config;
  config.listen_host = "127.0.0.1";
  config.listen_port = 0;
  gs::TlsStore tls((dir / "tls.crt").string(), (dir / "tls.key").string());
  if (!tls.load()) return 1;
  gs::StaticClusterState state(cluster(nodes));
  gs::Service service(gpushare::policy::Catalog::builtin(), state, gs::ServiceSettings{});
  gs::Metrics metrics;
  gs::HttpServer http(config, tls, metrics, service, [] { return true; });
  auto port = http.bind();
  if (!port) return 1;
  std::thread serving([&] { http.serve(); });

  const std::string filter = filter_args(nodes);
  std::printf("gpushare benchmarks: %d requests each, %d cached H20 nodes, %u hardware threads\n",
              requests, nodes, std::thread::hardware_concurrency());
  print("mutate, in process (decode+policy+patch)",
        in_process(requests, [&] { service.mutate(kReview); }));
  print("filter 500 names, in process", in_process(requests / 4, [&] { service.filter(filter); }));
  print("POST /mutate over TLS keep-alive",
        over_https(*port, "/mutate?timeout=10s", kReview, requests, (dir / "ca.crt").string()));
  print("POST /filter 500 names over TLS keep-alive",
        over_https(*port, "/filter", filter, requests / 4, (dir / "ca.crt").string()));
  print("POST /prioritize 500 names over TLS",
        over_https(*port, "/prioritize", filter, requests / 4, (dir / "ca.crt").string()));
  http.stop();
  serving.join();
  std::filesystem::remove_all(dir);
  return 0;
}
