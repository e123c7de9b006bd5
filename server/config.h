// The server's YAML configuration (CONTRACT.md section 4). Every key is known; an unknown
// key or a bad value stops startup with a message that names it.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

#include "base/result.h"
#include "policy/intent.h"

namespace gpushare::server {

using Seconds = std::chrono::seconds;

struct TlsConfig {
  std::string cert_file;
  std::string key_file;
  Seconds reload_check{5};  // how often the files are checked for a change
  // "1.2" (TLS 1.2 with the intermediate AEAD suites, and 1.3) or "1.3" (TLS 1.3 only).
  // kube-apiserver and kube-scheduler (Go) speak both.
  std::string min_version = "1.2";
  // mTLS: with a file of CA certificates, the TLS listener requires a client certificate
  // signed by one of them (kube-apiserver presents one through its AdmissionConfiguration
  // kubeconfig, kube-scheduler through the extender's tlsConfig; README "Mutual TLS").
  // Re-read by content like the serving pair. Empty: no client certificate is asked for.
  std::string client_ca_file;
};

// A GFD-labelled Node object as kube-scheduler sends it in full-node mode, in bytes (measured on
// bench_full_nodes' synthetic H20 nodes, not a real cluster's): where that mode stops for a given
// limits.maxExtenderBodyBytes, which serve logs at startup.
inline constexpr std::size_t kTypicalNodeObjectBytes = 5000;

struct LimitsConfig {
  std::size_t max_body_bytes = 3 * 1024 * 1024;  // kube-apiserver's own request limit
  // POST /filter and /prioritize. Names-only (nodeCacheCapable: true, manifests/scheduler) needs
  // ~20 bytes per node; full-node mode carries every feasible Node object
  // (kTypicalNodeObjectBytes each), so 3Mi holds ~600 nodes and 5,000 nodes need ~25Mi (README
  // "Full-node mode").
  std::size_t max_extender_body_bytes = 3 * 1024 * 1024;
  // The TLS handshake and a request head, from the connection's accept (or the head's first
  // byte on a kept-alive connection): a client trickling bytes cannot extend it.
  Seconds read_header_timeout{5};
  Seconds read_timeout{10};   // a request's body, whole (a worker holds the request meanwhile)
  Seconds write_timeout{10};  // a response, whole
  // Idle kept-alive connections wait in the front door's event loop, not on a worker
  // (server/front_door.h); this closes them after so long. Longer than the 90 s after which
  // kube-apiserver's webhook client and kube-scheduler's extender client (Go's
  // http.Transport.IdleConnTimeout, as client-go and the scheduler set it) drop an idle
  // connection themselves: when the server closes first, a request the client sends on the
  // connection at that moment fails ("write: broken pipe"; a POST is not retried), and an
  // admission webhook that fails closed refuses the pod. Seen with the old 5 s in
  // `make bench-scheduler` (one pod create of 2,000 refused; BENCHMARKS.md, 2026-12-07).
  Seconds keep_alive_timeout{120};
  std::size_t keep_alive_max_count = 10000;  // default 5 would re-handshake every 5th request
  std::size_t worker_threads = 64;
};

// /healthz, /readyz and /metrics over plain HTTP on a port of their own (they stay on the TLS
// port too, CONTRACT.md section 2), so that a NetworkPolicy can leave the TLS port to the
// control plane while kubelet probes and Prometheus use this one (manifests/base).
struct ProbesConfig {
  bool enabled = true;  // `listen: ""` turns it off
  std::string listen_host = "0.0.0.0";
  int listen_port = 8081;
};

struct LogConfig {
  std::string level = "info";   // trace debug info warn error
  std::string format = "text";  // text json
};

struct ClusterConfig {
  std::string kubeconfig;  // empty and !in_cluster: no cluster (offline decisions)
  bool in_cluster = false;
  // /readyz turns 503 once a list or watch of the cache has kept failing this long (it stays
  // above the minute between the API server's BOOKMARKs on a quiet watch).
  Seconds stale_after{120};
  bool enabled() const { return in_cluster || !kubeconfig.empty(); }
};

struct GpuOperatorConfig {
  std::string namespace_name = "gpu-operator";
  std::string device_plugin_config_map = "device-plugin-config";
  std::string mig_parted_config_map = "custom-mig-parted-config";
};

struct RepartitionConfig {
  bool enabled = false;
  // Off by default: only nodes without running GPU pods are changed (CONTRACT section 5).
  bool allow_disruption = false;
  // A node being relaid out for waiting pods also relays out its GPUs no pod needs when demand
  // clearly values another layout (policy/plan_demand.h); off: only the pods' GPUs change.
  bool rebalance_idle_gpus = true;
  Seconds batch_window{10};
  // MPS pods that arrived within this window count as MPS demand when more than the MPS pods
  // running and waiting (policy::PlanInput::recent_mps_arrivals); MIG pods that arrived within
  // it value the layouts of idle GPUs when capacity is short (projected_mig_arrivals). About a
  // typical pod's run time. 0: the snapshot only.
  Seconds arrival_window{2400};
  Seconds propagation_delay{60};  // ConfigMap volume refresh (nvidia.md 1.5)
  Seconds apply_timeout{600};
  Seconds failure_backoff{300};
  // ConfigMap entries gpushare wrote that no node names any more are removed, checked this
  // often, once they are entryGrace old (repartition/controller.h, kube/configmap_entry.h).
  Seconds entry_gc_interval{300};
  Seconds entry_grace{600};
  std::string lease_name = "gpushare-repartition";
  std::string lease_namespace = "gpushare-system";
  // Only nodes with all these labels are ever repartitioned (empty: every GPU node). Lets an
  // operator hand gpushare a pool and keep the rest of the fleet's layouts by hand.
  std::map<std::string, std::string> node_selector;
};

// Dynamic Resource Allocation (README "On a DRA cluster"): watch the NVIDIA DRA driver's
// ResourceSlices so that the extender passes the nodes it serves and the controller leaves them
// alone. Off by default: it needs the resource.k8s.io/v1 API (Kubernetes 1.34+) and the
// permission to list and watch resourceslices (manifests/overlays/dra).
struct DraConfig {
  bool enabled = false;
};

struct ServerConfig {
  std::string listen_host = "0.0.0.0";
  int listen_port = 8443;
  TlsConfig tls;
  LimitsConfig limits;
  ProbesConfig probes;
  LogConfig log;
  std::string annotation_prefix = "gpushare.io/";
  std::string catalog_file;  // empty: the built-in catalog
  ClusterConfig cluster;
  GpuOperatorConfig gpu_operator;
  policy::PlacementPolicy default_placement = policy::PlacementPolicy::kBinpack;
  RepartitionConfig repartition;
  DraConfig dra;
};

Result<ServerConfig> parse_config(const std::string& yaml_text);
Result<ServerConfig> load_config_file(const std::string& path);
// "0.0.0.0:8443", "[::]:8443", ":8443" -> host and port.
Result<std::pair<std::string, int>> parse_listen(const std::string& text);
// "10s", "5m", "1h", "500ms" (rounded up to whole seconds), or a bare number of seconds.
Result<Seconds> parse_duration(const std::string& text);

}  // namespace gpushare::server
