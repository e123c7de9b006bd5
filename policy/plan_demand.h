// What the planner knows of demand and supply, and how it values a MIG layout with it. Pure.
//
// Demand: for every MIG resource, the pods that hold it now or wait for it (running and pending
// pods of the PlanInput). That is the mix the cluster serves, and the best guess of the mix that
// arrives next: a pod asks for the profile its workload needs, and running pods show what was
// asked for over their run time. Supply: the instances of the resource the cluster's nodes
// offer (allocatable), busy or free.
//
// Value: an instance of profile p is worth demand(p) / (supply(p) + 1) when added (Jefferson's
// apportionment: the next instance goes to the profile with the fewest instances per pod that
// wants it) and demand(p) / supply(p) when taken away. A profile nobody asks for is worth 0:
// relaying out a GPU that holds only such instances destroys nothing anyone uses.
//
// Current layouts: GFD publishes node-wide counts only (nvidia.md 3.3), so a node's per-GPU
// layout comes from the mig-parted config its nvidia.com/mig.config label names, when the
// planner was given that config's content and it agrees with what the node offers; else from the
// node-wide counts when they spread evenly over the GPUs (all-balanced, all-<profile>); else it
// is unknown, and an action relays out every GPU of the node (the pre-1.1 behaviour).
#pragma once

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
  void add_demand(const std::string& resource, double pods) { demand_[resource] += pods; }
  void add_supply(const std::string& resource, double instances) { supply_[resource] += instances; }
  double demand(const std::string& resource) const;
  double supply(const std::string& resource) const;
  // Worth of one more instance / of one instance taken away (see above).
  double gain(const std::string& resource) const;
  double loss(const std::string& resource) const;

  // Worth of what one GPU holds, each instance counted as if taken away one by one.
  double value_of(const GpuModel& model, const ProfileCounts& gpu) const;
  void add_layout(const GpuModel& model, const ProfileCounts& gpu, double sign);

 private:
  std::map<std::string, double> demand_;
  std::map<std::string, double> supply_;
};

// A node's MIG layout per GPU, when it can be known (see above). `mig_configs` as in PlanInput.
std::optional<std::vector<ProfileCounts>> current_mig_layout(
    const NodeView& node, const GpuModel& model, int gpus,
    const std::map<std::string, std::vector<MigConfigEntry>>& mig_configs);

// `counts` plus instances chosen by demand, one at a time, each the base profile of the largest
// gain that still places (supply updated as it goes); then, for space no wanted profile fits,
// base profiles largest first (fill_mig_leftover), so no space is left out of the config.
ProfileCounts fill_by_demand(const GpuModel& model, ProfileCounts counts, DemandSupply& ds);

// The sum of gains of `gpu`'s instances added one by one to `ds` (left unchanged): what a layout
// is worth to the demand, to compare two layouts for the same GPU.
double layout_gain(const GpuModel& model, const ProfileCounts& gpu, const DemandSupply& ds);

}  // namespace gpushare::policy
