// Benchmarks that print numbers (BENCHMARKS.md records them): admission and the extender, in
// process and over TLS keep-alive, against a watch-cache index of N nodes and P pods, idle and
// while a stream of pod and node events changes it. Every row is measured next to its
// reference in the same run: the same call against an empty cluster, in interleaved rounds.
//   build/bench_server [requests] [nodes] [pods] [events_per_second]
// pods defaults to 10/3 per node (15,000 nodes: 50,000 pods), events to 100 per second.
#include <curl/curl.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "certs/certs.h"
#include "kube/cluster_index.h"
#include "logging/log.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/tls_store.h"
#include "test/bench/proc_status.h"

namespace gs = gpushare::server;
using Clock = std::chrono::steady_clock;
using gpushare::kube::ClusterIndex;
using gpushare::kube::NodeRecord;
using gpushare::kube::PodRecord;

namespace {

std::size_t discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Samples {
  std::vector<double> us;
  void add(const Samples& o) { us.insert(us.end(), o.us.begin(), o.us.end()); }
  double p50() const { return percentile(us, 0.50); }
  double p99() const { return percentile(us, 0.99); }
};

using gpushare::bench::rss_kib;

const char* kReview = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
  "uid":"b1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
  "namespace":"ml","operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"infer",
  "namespace":"ml","labels":{"app":"infer"},"annotations":{"gpushare.io/gpu-product":"NVIDIA-H20","gpushare.io/gpu-memory":"20Gi"}},
  "spec":{"containers":[{"name":"main","image":"x","resources":{"limits":{"nvidia.com/gpu":"1","cpu":"2"},
  "requests":{"nvidia.com/gpu":"1","cpu":"2"}}},{"name":"sidecar","image":"y"}],"restartPolicy":"Always"}}}})";

std::string node_name(int i) { return "gpu-" + std::to_string(i); }

// ExtenderArgs, names only, for `count` nodes spread over the cluster (the scheduler sends
// a sample of the feasible nodes, not the first ones).
std::string filter_args(int count, int nodes) {
  std::string names;
  for (int i = 0; i < count; ++i) {
    const int n = nodes <= count ? i : static_cast<int>(static_cast<long>(i) * nodes / count);
    names += (i ? ",\"" : "\"") + node_name(n) + "\"";
  }
  return R"({"Pod":{"metadata":{"name":"p","namespace":"ml","annotations":{"gpushare.io/mig-profile":"1g.12gb"}},)"
         R"("spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/mig-1g.12gb":"1"}}}]}},"Nodes":null,"NodeNames":[)" +
         names + "]}";
}

// An H20 node labelled as GPU Feature Discovery and the MIG manager label one (about 30 labels).
NodeRecord h20_node(int i, int generation = 0) {
  NodeRecord r;
  auto& n = r.view;
  n.name = node_name(i);
  n.labels = {{"nvidia.com/gpu.product", "NVIDIA-H20"},
              {"nvidia.com/gpu.count", "8"},
              {"nvidia.com/gpu.memory", "97871"},
              {"nvidia.com/gpu.family", "hopper"},
              {"nvidia.com/gpu.machine", "HGX-H20"},
              {"nvidia.com/gpu.compute.major", "9"},
              {"nvidia.com/gpu.compute.minor", "0"},
              {"nvidia.com/gpu.replicas", "1"},
              {"nvidia.com/gpu.sharing-strategy", "none"},
              {"nvidia.com/gpu.deploy.device-plugin", "true"},
              {"nvidia.com/gpu.deploy.mig-manager", "true"},
              {"nvidia.com/gpu.present", "true"},
              {"nvidia.com/cuda.driver.major", "570"},
              {"nvidia.com/cuda.driver.minor", "124"},
              {"nvidia.com/cuda.driver.rev", "06"},
              {"nvidia.com/cuda.runtime.major", "12"},
              {"nvidia.com/cuda.runtime.minor", "8"},
              {"nvidia.com/mig.capable", "true"},
              {"nvidia.com/mig.strategy", "mixed"},
              {"nvidia.com/mig.config", "all-balanced"},
              {"nvidia.com/mig.config.state", "success"},
              {"nvidia.com/mig-1g.12gb.count", "16"},
              {"nvidia.com/mig-3g.48gb.count", "8"},
              {"kubernetes.io/hostname", n.name},
              {"kubernetes.io/arch", "amd64"},
              {"kubernetes.io/os", "linux"},
              {"node.kubernetes.io/instance-type", "gpu-h20x8"},
              {"topology.kubernetes.io/region", "region-1"},
              {"topology.kubernetes.io/zone", "zone-" + std::to_string(i % 3)},
              {"bench/generation", std::to_string(generation)}};
  n.allocatable = {{"nvidia.com/mig-1g.12gb", 16}, {"nvidia.com/mig-3g.48gb", 8}};
  r.uid = "uid-" + n.name;
  r.resource_version = std::to_string(generation + 1);
  return r;
}

PodRecord gpu_pod(int i, int nodes) {
  PodRecord p;
  auto& v = p.view;
  v.namespace_name = "team-" + std::to_string(i % 40);
  v.name = "infer-" + std::to_string(i);
  v.labels = {{"app", "infer"}, {"pod-template-hash", "7d9f8c6b5"}};
  v.annotations = {{"gpushare.io/mig-profile", "1g.12gb"},
                   {"gpushare.io/assigned-resource", "nvidia.com/mig-1g.12gb"}};
  gpushare::policy::ContainerView c;
  c.name = "main";
  c.limits = {{"nvidia.com/mig-1g.12gb", "1"}, {"cpu", "2"}, {"memory", "8Gi"}};
  c.requests = c.limits;
  v.containers.push_back(std::move(c));
  v.node_name = nodes > 0 ? node_name(i % nodes) : "";
  v.phase = "Running";
  p.uid = "pod-uid-" + std::to_string(i);
  p.resource_version = "1";
  p.gpu_requests = {{"nvidia.com/mig-1g.12gb", 1}};
  return p;
}

// The server's ClusterState over a ClusterIndex, as server/live_cluster.cpp serves the cache's.
class IndexState : public gs::ClusterState {
 public:
  explicit IndexState(const ClusterIndex& index) : index_(index) {}
  std::shared_ptr<const gpushare::policy::ClusterFacts> facts() const override {
    return index_.facts();
  }
  void nodes(std::span<const std::string_view> names,
             std::vector<std::shared_ptr<const gpushare::policy::NodeView>>& out) const override {
    index_.nodes(names, out);
  }
  std::size_t node_count() const override { return index_.node_count(); }
  bool ready() const override { return true; }

 private:
  const ClusterIndex& index_;
};

// A steady stream of watch events into the index: pods bound, moved and deleted, and nodes
// relabelled, `per_second` in all (one node event in ten), as the watch threads would apply them.
class EventStream {
 public:
  EventStream(ClusterIndex& index, int nodes, int pods, int per_second)
      : index_(index), nodes_(nodes), pods_(pods), per_second_(per_second) {}
  void start() {
    if (per_second_ <= 0) return;
    stop_ = false;
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  long applied() const { return applied_; }

 private:
  void run() {
    std::mt19937 random(7);
    const auto period = std::chrono::microseconds(1'000'000 / per_second_);
    auto next = Clock::now();
    for (long i = 0; !stop_; ++i) {
      if (i % 10 == 9 && nodes_ > 0) {
        index_.upsert_node(h20_node(static_cast<int>(random() % nodes_), static_cast<int>(i)));
      } else if (pods_ > 0) {
        // Move an existing pod to another node (a delete and a bind, as one MODIFIED).
        PodRecord p = gpu_pod(static_cast<int>(random() % pods_), nodes_);
        if (nodes_ > 0) p.view.node_name = node_name(static_cast<int>(random() % nodes_));
        index_.upsert_pod(std::move(p));
      }
      ++applied_;
      next += period;
      std::this_thread::sleep_until(next);
    }
  }
  ClusterIndex& index_;
  const int nodes_, pods_, per_second_;
  std::atomic<bool> stop_{false};
  std::atomic<long> applied_{0};
  std::thread thread_;
};

template <typename F>
Samples in_process(int requests, F call) {
  Samples s;
  s.us.reserve(static_cast<std::size_t>(requests));
  for (int i = 0; i < requests; ++i) {
    auto t = Clock::now();
    call();
    s.us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
  }
  return s;
}

// Requests that did not come back 200: the bench exits 1 when any did (make test runs a smoke).
std::atomic<long> failures{0};

// One keep-alive TLS client (libcurl), requests sent one after the other.
class HttpsClient {
 public:
  HttpsClient(int port, const std::string& ca) : port_(port), ca_(ca), curl_(curl_easy_init()) {
    headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl_, CURLOPT_CAINFO, ca_.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, discard);
  }
  ~HttpsClient() {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(curl_);
  }
  Samples run(const std::string& path, const std::string& body, int requests) {
    std::string url = "https://127.0.0.1:" + std::to_string(port_) + path;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    return in_process(requests, [&] {
      long status = 0;
      if (curl_easy_perform(curl_) != CURLE_OK ||
          curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
        std::fprintf(stderr, "%s: request failed (HTTP %ld)\n", path.c_str(), status);
        ++failures;
      }
    });
  }

 private:
  int port_;
  std::string ca_;
  CURL* curl_;
  curl_slist* headers_;
};

// A ClusterState and its server over TLS.
struct Served {
  Served(const gs::ClusterState& state, gs::TlsStore& tls, const gs::ServerConfig& config)
      : service(gpushare::policy::Catalog::builtin(), state, gs::ServiceSettings{}),
        http(config, tls, metrics, service, [] { return true; }) {}
  gs::Service service;
  gs::Metrics metrics;
  gs::HttpServer http;
  std::thread serving;
  int port = 0;
};

struct Row {
  std::string what;
  Samples measured, reference;  // reference: the same call against an empty cluster
};

void print(const Row& r) {
  std::printf("%-46s p50 %9.1f us  p99 %9.1f us | empty p50 %7.1f p99 %7.1f | p50 x%.2f\n",
              r.what.c_str(), r.measured.p50(), r.measured.p99(), r.reference.p50(),
              r.reference.p99(), r.measured.p50() / r.reference.p50());
}

}  // namespace

int main(int argc, char** argv) {
  const int requests = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int nodes = argc > 2 ? std::atoi(argv[2]) : 500;
  const int pods = argc > 3 ? std::atoi(argv[3]) : nodes * 10 / 3;
  const int events = argc > 4 ? std::atoi(argv[4]) : 100;
  constexpr int kRounds = 5;
  // One log line per admission would measure the terminal.
  gpushare::logging::setup("warn", "text");
  auto dir = std::filesystem::temp_directory_path() / "gpushare-bench";
  gpushare::certs::CertRequest req{"gpushare", "gpushare-system", {}, {"127.0.0.1"}};
  auto bundle = gpushare::certs::generate_certificates(req);
  if (!bundle || !gpushare::certs::write_certificates(*bundle, dir.string())) return 1;
  const std::string ca = (dir / "ca.crt").string();

  const long rss_start = rss_kib();
  ClusterIndex index;
  {
    std::vector<NodeRecord> node_list;
    for (int i = 0; i < nodes; ++i) node_list.push_back(h20_node(i));
    std::vector<PodRecord> pod_list;
    for (int i = 0; i < pods; ++i) pod_list.push_back(gpu_pod(i, nodes));
    index.replace_nodes(std::move(node_list));
    index.replace_pods(std::move(pod_list));
  }
  malloc_trim(0);
  const long rss_filled = rss_kib();
  ClusterIndex empty;
  IndexState full_state(index), empty_state(empty);

  gs::ServerConfig config;
  config.listen_host = "127.0.0.1";
  config.listen_port = 0;
  config.probes.listen_host = "127.0.0.1";
  config.probes.listen_port = 0;  // the kernel's choice: tests run side by side
  gs::TlsStore tls((dir / "tls.crt").string(), (dir / "tls.key").string());
  if (!tls.load()) return 1;
  Served full(full_state, tls, config), bare(empty_state, tls, config);
  for (Served* s : {&full, &bare}) {
    auto port = s->http.bind();
    if (!port) return 1;
    s->port = *port;
    s->serving = std::thread([s] { s->http.serve(); });
  }

  std::printf(
      "gpushare benchmarks: %d requests per row in %d interleaved rounds; %d cached H20 nodes, %d "
      "pods; %u hardware threads\n",
      requests, kRounds, nodes, pods, std::thread::hardware_concurrency());
  std::printf("index RSS: %.1f MB for %d nodes and %d pods (process %.1f MB before filling)\n",
              static_cast<double>(rss_filled - rss_start) / 1024.0, nodes, pods,
              static_cast<double>(rss_start) / 1024.0);

  const std::string some = filter_args(std::min(nodes, 500), nodes);
  const std::string every = filter_args(nodes, nodes);
  const std::string some_label = std::to_string(std::min(nodes, 500)) + " names";
  const std::string every_label = std::to_string(nodes) + " names (every node)";
  HttpsClient full_client(full.port, ca), bare_client(bare.port, ca);
  EventStream stream(index, nodes, pods, events);

  for (const bool under_events : {false, true}) {
    if (under_events && events <= 0) break;
    std::printf("\n%s\n", under_events ? ("-- while " + std::to_string(events) +
                                          " pod and node events a second change the index")
                                             .c_str()
                                       : "-- idle cluster");
    if (under_events) stream.start();
    std::vector<Row> rows = {
        {"mutate, in process (decode+policy+patch)", {}, {}},
        {"filter " + some_label + ", in process", {}, {}},
        {"prioritize " + some_label + ", in process", {}, {}},
        {"filter " + every_label + ", in process", {}, {}},
        {"prioritize " + every_label + ", in process", {}, {}},
        {"POST /mutate over TLS keep-alive", {}, {}},
        {"POST /filter " + some_label, {}, {}},
        {"POST /prioritize " + some_label, {}, {}},
        {"POST /filter " + every_label, {}, {}},
        {"POST /prioritize " + every_label, {}, {}},
    };
    const int per_round = std::max(requests / kRounds, 1);
    const int per_round_lists = std::max(per_round / 4, 1);
    for (int round = 0; round < kRounds; ++round) {
      // Against the empty cluster and the full one, back to back, each round.
      auto both = [&](Row& row, auto measure) {
        row.reference.add(measure(bare, bare_client));
        row.measured.add(measure(full, full_client));
      };
      both(rows[0], [&](Served& s, HttpsClient&) {
        return in_process(per_round, [&] { s.service.mutate(kReview); });
      });
      both(rows[1], [&](Served& s, HttpsClient&) {
        return in_process(per_round_lists, [&] { s.service.filter(some); });
      });
      both(rows[2], [&](Served& s, HttpsClient&) {
        return in_process(per_round_lists, [&] { s.service.prioritize(some); });
      });
      // Every name in process: what the policy and the decode cost without TLS and the client.
      both(rows[3], [&](Served& s, HttpsClient&) {
        return in_process(per_round_lists, [&] { s.service.filter(every); });
      });
      both(rows[4], [&](Served& s, HttpsClient&) {
        return in_process(per_round_lists, [&] { s.service.prioritize(every); });
      });
      both(rows[5], [&](Served&, HttpsClient& c) { return c.run("/mutate", kReview, per_round); });
      both(rows[6],
           [&](Served&, HttpsClient& c) { return c.run("/filter", some, per_round_lists); });
      both(rows[7],
           [&](Served&, HttpsClient& c) { return c.run("/prioritize", some, per_round_lists); });
      both(rows[8],
           [&](Served&, HttpsClient& c) { return c.run("/filter", every, per_round_lists); });
      both(rows[9],
           [&](Served&, HttpsClient& c) { return c.run("/prioritize", every, per_round_lists); });
    }
    if (under_events) stream.stop();
    for (const auto& r : rows) print(r);
    if (under_events) std::printf("events applied: %ld\n", stream.applied());
  }
  std::printf("\nprocess RSS at the end: %.1f MB\n", static_cast<double>(rss_kib()) / 1024.0);
  for (Served* s : {&full, &bare}) {
    s->http.stop();
    s->serving.join();
  }
  std::filesystem::remove_all(dir);
  if (failures > 0) std::fprintf(stderr, "%ld requests failed\n", failures.load());
  return failures > 0 ? 1 : 0;
}
