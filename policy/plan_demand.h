// What the planner knows of demand and supply, and how it values a MIG layout with it. Pure.
//
// Demand: for every MIG resource, the pods that hold it now or wait for it (running and pending
// pods of the PlanInput). That is the mix the cluster serves, and the best guess of the mix that
// arrives next: a pod asks for the profile its workload needs, and running pods show what was
// asked for over their run time. Supply: the instances of the resource the cluster's nodes
// offer (allocatable), busy or free.
//
// Value: the k-th instance of a resource is worth the chance that it is needed, in pods: P(N >=
// k) for N a Poisson count whose mean is the demand plus 1.5 standard deviations (the pods
// counted now are a snapshot; a layout lasts while any pod runs on its node). An instance added
// to a supply of s is worth P(N >= s + 1), one taken away P(N >= s). So an instance is worth ~1
// while the supply is well below demand, ~0 once well above it, and a profile nobody asks for is
// worth 0: relaying out a GPU that holds only instances beyond what demand needs destroys
// nothing anyone uses. The next instance goes to the profile whose next instance is worth most.
// MPS replicas are valued the same way, with the MPS pods whose gpu-memory fits a replica as
// demand and the cluster's replicas as supply. (Earlier versions valued an instance at
// min(1, demand / supply): a pool twice as large as its demand kept each instance at 0.5, so
// layouts of profiles that a shifting mix had left were rarely replaced; BENCHMARKS.md, issue 9.)
//
// Current layouts: GFD publishes node-wide counts only (nvidia.md 3.3), so a node's per-GPU
// layout comes from the mig-parted config its nvidia.com/mig.config label names, when the
// planner was given that config's content and it agrees with what the node offers; else from the
// node-wide counts when they spread evenly over the GPUs (all-balanced, all-<profile>); else it
// is unknown, and an action relays out every GPU of the node (the pre-1.1 behaviour).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/catalog.h"
#include "policy/layout.h"
#include "policy/planner.h"
#include "policy/views.h"

namespace gpushare::policy {

class DemandSupply {
 public:
  void add_demand(const std::string& resource, double pods);
  void add_supply(const std::string& resource, double instances) { supply_[resource] += instances; }
  // Pods (running and pending) that ask for some profile of the model: how much the demand
  // figures rest on.
  double observed_pods(const GpuModel& model) const;
  double demand(const std::string& resource) const;
  double supply(const std::string& resource) const;
  // Worth of one more instance (see above).
  double gain(const std::string& resource) const;

  // Worth of what one GPU holds, each instance counted as if taken away one by one.
  double value_of(const GpuModel& model, const ProfileCounts& gpu) const;
  void add_layout(const GpuModel& model, const ProfileCounts& gpu, double sign);

 private:
  std::map<std::string, double> demand_;  // pods; the headroom is kth_worth's
  std::map<std::string, double> supply_;
};

// MPS demand: the gpu-memory of every MPS pod (running and pending; 0 when unstated), and the
// replicas the cluster offers.
class MpsDemand {
 public:
  void add_need(std::int64_t memory_bytes) {
    needs_.push_back(memory_bytes);
    sorted_ = false;
  }
  void add_supply(double replicas) { supply_ += replicas; }
  double supply() const { return supply_; }
  // Pods whose need a replica of `share_bytes` meets.
  double fitting(std::int64_t share_bytes) const;
  // In pods: what `replicas` replicas of `share_bytes` are worth when the cluster offers
  // `supply_without` others.
  double gain(std::int64_t share_bytes, int replicas, double supply_without) const;

 private:
  mutable std::vector<std::int64_t> needs_;
  mutable bool sorted_ = true;
  double supply_ = 0;
};

// Demand counted at one moment from running and pending pods: pods per MIG resource, and MPS
// pods (one per shared GPU asked for) per stated gpu-memory in bytes (0: unstated).
struct DemandCount {
  std::map<std::string, std::int64_t> mig;
  std::map<std::int64_t, std::int64_t> mps;
  friend bool operator==(const DemandCount&, const DemandCount&) = default;
};

// The demand of running (bound, not terminated) and pending pods, as the planner counts it.
DemandCount count_demand(const std::vector<PodView>& running, const std::vector<PodView>& pending,
                         const PlanSettings& settings);
// MPS pods as they arrive, kept for a window: PlanInput::recent_mps_arrivals. The caller says
// when a pod is new (the watch cache when a key first appears, the simulator at an arrival), so
// a pod is counted once however long it runs, and memory holds only the window's arrivals.
class RecentMpsArrivals {
 public:
  explicit RecentMpsArrivals(double window_s) : window_s_(window_s) {}
  // Times in seconds on a clock that does not go back. Pods that ask for no MPS share, and
  // terminated ones, are ignored.
  void add(double now_s, const PodView& pod, const PlanSettings& settings);
  // MPS pods (one per shared GPU) per stated gpu-memory that arrived within the window before
  // now_s.
  const std::map<std::int64_t, std::int64_t>& within(double now_s);

 private:
  void forget_before(double t_s);
  struct Arrival {
    double at_s = 0;
    std::int64_t memory_bytes = 0;
    std::int64_t shares = 0;
  };
  double window_s_;
  std::deque<Arrival> arrivals_;
  std::map<std::int64_t, std::int64_t> counts_;
};

// A node's MIG layout per GPU, when it can be known (see above). `mig_configs` as in PlanInput.
std::optional<std::vector<ProfileCounts>> current_mig_layout(
    const NodeView& node, const GpuModel& model, int gpus,
    const std::map<std::string, std::vector<MigConfigEntry>>& mig_configs);

// `counts` plus the base-profile instances worth the most to demand in all (each instance worth
// its marginal gain as it is added), found by trying every multiset of base profiles that
// extends `counts` and still places on one GPU (at most 78 for the built-in catalog's models);
// supply is updated with what was added. Then, for space no wanted profile fits, base profiles
// largest first (fill_mig_leftover), so no space is left out of the config. (It added one instance
// at a time, the profile of the largest gain first: one scarce 3g instance outweighed the 1g
// instances in demand that the same space holds; BENCHMARKS.md, issue 9.)
ProfileCounts fill_by_demand(const GpuModel& model, ProfileCounts counts, DemandSupply& ds);

// In pods: what `gpu`'s instances are worth added one by one to `ds` (left unchanged), to
// compare two layouts for the same GPU.
double layout_gain(const GpuModel& model, const ProfileCounts& gpu, const DemandSupply& ds);

}  // namespace gpushare::policy
