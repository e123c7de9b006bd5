// MIG sizing for the planner: which GPU of a node gets which instances, and what fills the rest.
// Pure; placement rules are policy/layout's.
//
// Assignment: the instances of every pod a node serves are spread over its GPUs largest first
// (memory units, then compute slices), each onto the fullest GPU that can still place it
// (best fit: emptier GPUs stay whole for large profiles; a 7g request stays possible). When that
// greedy walk fails, a bounded depth-first search over the other GPUs is tried, skipping GPUs
// whose counts equal one already tried. Every per-GPU multiset is checked with
// layout's placeable(): some legal placement exists.
//
// Leftover: mig-parted creates exactly the listed instances, so space left out of the config is
// lost until the next repartition, which needs the node idle again (nvidia.md 4.2 and 5.3). The
// planner fills it from demand (plan_demand.h fill_by_demand); fill_mig_leftover below, base
// profiles largest first (memory units, then compute slices, then catalog order), is what takes
// the space no wanted profile fits, so that the largest instances the space allows are offered.
// (Before the planner knew demand it filled everything that way; the simulator showed that
// keeps handing out 7g instances nobody asked for while the profiles pods wait for run out.)
#pragma once

#include <optional>
#include <vector>

#include "policy/catalog.h"
#include "policy/layout.h"
#include "policy/planner.h"

namespace gpushare::policy {

// Per-GPU counts for `gpus` GPUs holding all of `instances` (profiles of `model`), or nullopt.
// Deterministic; the search is bounded, so a nullopt may (rarely) mean "not found in time".
std::optional<std::vector<ProfileCounts>> assign_mig_instances(
    const GpuModel& model, int gpus, const std::vector<const MigProfile*>& instances);

// `counts` plus base-profile instances, largest first, while they still place.
ProfileCounts fill_mig_leftover(const GpuModel& model, ProfileCounts counts);

// One mig-parted entry per distinct layout, devices ascending; entries ordered by first device.
std::vector<MigConfigEntry> group_mig_devices(const std::vector<ProfileCounts>& per_gpu);

}  // namespace gpushare::policy
