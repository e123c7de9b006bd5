// Workloads and clusters for the repartitioning simulator (sim.h): what arrives when, and what
// the cluster looks like at the start. Pure: a generator is a function of its spec and seed (its
// own PRNG and distributions, so the same seed gives the same trace on every standard library),
// and a trace file is parsed from text handed in by the caller.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "policy/catalog.h"
#include "policy/layout.h"
#include "policy/views.h"

namespace gpushare::policy {

// One pod of a workload: a MIG profile or an MPS share, how long it runs once started.
struct SimPod {
  double arrival_s = 0;
  std::string profile;                // a MIG profile name ("1g.12gb"); empty for an MPS pod
  std::int64_t mps_memory_bytes = 0;  // MPS: the pod's gpushare.io/gpu-memory
  double runtime_s = 0;
  std::int32_t priority = 0;
  friend bool operator==(const SimPod&, const SimPod&) = default;
};

// Trace text: one pod per line, `arrival_s,kind,value,runtime_s[,priority]`, where kind is
// `mig` (value: a profile name) or `mps` (value: a quantity, "4Gi"). Blank lines and lines
// starting with '#' are skipped; a header line starting with "arrival" too. Errors name the line.
// Arrivals need not be sorted; the result is, by arrival (stable).
Result<std::vector<SimPod>> parse_trace(std::string_view text);
std::string format_trace(const std::vector<SimPod>& pods);

// A small deterministic PRNG (xoshiro256**, seeded through splitmix64) and the distributions
// the generator needs, written here so that no standard-library detail changes a trace.
class SimRandom {
 public:
  explicit SimRandom(std::uint64_t seed);
  std::uint64_t next();
  double uniform();  // [0, 1)
  double exponential(double rate);
  double normal();
  double lognormal(double median, double sigma);
  // An index drawn with probability proportional to weights[i] (some weight > 0).
  std::size_t pick(const std::vector<double>& weights);

 private:
  std::uint64_t s_[4];
};

// A named mix: relative arrival weights of pod kinds.
struct MixEntry {
  std::string profile;                // MIG profile, or empty for MPS
  std::int64_t mps_memory_bytes = 0;  // MPS pods
  double weight = 0;
};

struct WorkloadSpec {
  std::uint64_t seed = 1;
  // Offered GPU demand over the cluster's GPUs: arrival rate x mean run time x mean GPU share
  // of a pod (MIG: compute slices / the model's slices; MPS: memory / the GPU's memory).
  double load = 0.8;
  double hours = 8;
  // "default" (profiles all-balanced lacks too), "balanced" (only what all-balanced offers),
  // "shifting" (small profiles at the start, large ones at the end, linearly).
  std::string mix = "default";
  double runtime_median_s = 1200;
  double runtime_sigma = 1.0;
  double runtime_max_s = 24 * 3600;
  // > 1: the first `burst_minutes` of every hour arrive `burst_factor` times faster, the rest
  // slower, so that the mean rate (and the load) is kept.
  double burst_factor = 1;
  double burst_minutes = 10;
};

// A node of the simulated cluster and its current GPU configuration.
struct SimNode {
  std::string name;
  std::string product;              // nvidia.com/gpu.product
  const GpuModel* model = nullptr;  // catalog model; nullptr: not MIG-capable
  int gpus = 8;
  std::int64_t gpu_mib = 0;
  int compute_major = 9;
  int compute_minor = 0;
  bool mig = false;  // MIG mode on: per_gpu holds each GPU's instances
  std::vector<ProfileCounts> per_gpu;
  int mps_replicas = 0;              // > 1: MPS with this many replicas per GPU
  std::string mig_config;            // nvidia.com/mig.config ("" when not MIG-capable)
  std::string device_plugin_config;  // nvidia.com/device-plugin.config
};

// The cluster: `nodes` nodes of 8 GPUs, 40% H100-80GB, 40% H20, 20% RTX 4090
// (interleaved so that names do not sort by kind: gpu-000 H100, gpu-001 H20, gpu-002 H100,
// gpu-003 H20, gpu-004 RTX, ...). MIG nodes start at the GPU Operator's `all-balanced`, RTX
// nodes at MPS with `rtx_replicas` replicas.
Result<std::vector<SimNode>> generate_cluster(int nodes, const Catalog& catalog,
                                              int rtx_replicas = 4);

// A cluster from Node objects (as `kubectl get nodes -o json` gives them, decoded at the edge):
// every node with nvidia.com/gpu.product and gpu.count. MIG nodes (nvidia.com/mig-* allocatable)
// get their node-wide counts spread evenly over their GPUs (GFD publishes no per-GPU layout);
// MPS nodes take gpu.replicas. Errors name the node.
Result<std::vector<SimNode>> cluster_from_nodes(const std::vector<NodeView>& nodes,
                                                const Catalog& catalog);

// The pod kinds of a named mix for this cluster (its MIG models' profiles, MPS sizes its GPUs
// can hold); `progress` in [0, 1] moves the "shifting" mix from its start to its end.
Result<std::vector<MixEntry>> workload_mix(const std::string& mix,
                                           const std::vector<SimNode>& cluster,
                                           const Catalog& catalog, double progress = 0);

// Poisson arrivals at the rate that gives spec.load on this cluster, lognormal run times.
Result<std::vector<SimPod>> generate_workload(const WorkloadSpec& spec,
                                              const std::vector<SimNode>& cluster,
                                              const Catalog& catalog);

// The share of one GPU a pod holds on an average GPU it can use (for load and allocation).
double gpu_share_of(const SimPod& pod, const std::vector<SimNode>& cluster, const Catalog& catalog);

}  // namespace gpushare::policy
