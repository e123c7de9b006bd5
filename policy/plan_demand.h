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
  // Demand of each resource raised to at least `pods` of it.
  void raise_demand(const std::map<std::string, std::int64_t>& pods);
  // Compute slices of the model's profiles: asked for (demand raised to `ahead`), and offered.
  double wanted_slices(const GpuModel& model,
                       const std::map<std::string, std::int64_t>& ahead) const;
  double offered_slices(const GpuModel& model) const;
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
// Pods as they arrive, kept for a window: PlanInput's recent_mps_arrivals,
// projected_mps_arrivals and projected_mig_arrivals. The caller says when a pod is new (the watch
// cache when a key first appears, the simulator at an arrival), so a pod is counted once however
// long it runs, and memory holds only the window's arrivals.
//
// Projected: until a whole window has passed since counting began, the arrivals seen cover a
// shorter span, and a cluster that is filling up looks nearly empty: at the first plans of a
// simulated 8-hour day, the 2 and 4 GiB MPS pods that went on to fill every replica were a
// handful, and an MPS node was halved to 2 larger replicas per GPU for one 8 GiB pod, costing
// the small pods hours of waiting (BENCHMARKS.md, issue 9, 2026-12-07, night); MIG GPUs no pod
// needed were relaid out as 7g for the few large pods waiting, while the 1g pods that would
// have used them had only begun to come. So from start() on, the arrivals after it are also
// read as a rate over a whole window; the pods there when counting began (the cache's first
// list) count as they are, since they tell how many run, not how fast they come. The planner
// values the capacity a node holds with the projection, not the new capacity it sizes.
struct Arrivals {
  // MPS pods (one per shared GPU) per stated gpu-memory in bytes (0: unstated).
  std::map<std::int64_t, std::int64_t> mps_recent;     // arrived within the window
  std::map<std::int64_t, std::int64_t> mps_projected;  // at the rate seen (above)
  // MIG pods per resource ("nvidia.com/mig-1g.10gb"), at the rate seen.
  std::map<std::string, std::int64_t> mig_projected;
  friend bool operator==(const Arrivals&, const Arrivals&) = default;
};

class RecentArrivals {
 public:
  // The shortest span a rate is taken over: one pod in the first seconds is not a rate.
  static constexpr double kMinRateSpan_s = 60;

  explicit RecentArrivals(double window_s) : window_s_(window_s) {}
  // Counting began at now_s: pods added at or before it were there already. Without a start()
  // the arrivals are counted as they are, never scaled.
  void start(double now_s) { start_s_ = now_s; }
  bool started() const { return start_s_.has_value(); }
  // Times in seconds on a clock that does not go back. Pods that ask for no MIG instance or MPS
  // share, and terminated ones, are ignored.
  void add(double now_s, const PodView& pod, const PlanSettings& settings);
  // What arrived within the window before now_s, counted and projected: within a window of
  // start(), the larger of the count and the arrivals since start() times
  // window / (now_s - start), the span at least kMinRateSpan_s.
  Arrivals read(double now_s);

 private:
  // Pods per key (gpu-memory or MIG resource) that arrived within the window.
  template <class Key>
  class Tally {
   public:
    void add(double at_s, const Key& key, std::int64_t pods, bool standing);
    void forget_before(double t_s);
    const std::map<Key, std::int64_t>& counts() const { return counts_; }
    // counts() with the arrivals that were not standing scaled by `scale`, each at least as
    // counted.
    std::map<Key, std::int64_t> scaled(double scale) const;

   private:
    struct Arrival {
      double at_s = 0;
      Key key{};
      std::int64_t pods = 0;
      bool standing = false;
    };
    std::deque<Arrival> arrivals_;
    std::map<Key, std::int64_t> counts_;    // every arrival in the window
    std::map<Key, std::int64_t> standing_;  // of those, the ones there when counting began
  };
  void forget_before(double t_s);

  double window_s_;
  std::optional<double> start_s_;
  Tally<std::int64_t> mps_;
  Tally<std::string> mig_;
};

// The planner's input takes what arrived: recent_mps_arrivals, projected_mps_arrivals and
// projected_mig_arrivals (the simulator and the controller both read a RecentArrivals).
void set_arrivals(PlanInput& in, Arrivals arrivals);

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
