// One GPU's MIG layout: GPU instances placed on the model's grid of memory units, and the
// questions a webhook, an extender and a planner ask of it. Pure functions, no I/O.
//
// Placement rules (shared/reference/nvidia.md 7.1 and 7.3; the data is
// policy/catalog_default.yaml):
//  1. An instance of profile P occupies memory units [start, start + P.memory_units) and may
//     start only at one of P.starts (NVML nvmlGpuInstancePlacement_t; `nvidia-smi mig -lgipp`).
//  2. Instances never overlap: "creation fails if the new instance overlaps occupied memory
//     slices" (7.1).
//  3. At most P.max_count instances of P on one GPU (the catalog's `max`, from `-lgip`).
//  4. The instances' compute slices add up to at most the model's compute_slices (7 or 4). On
//     8-unit GPUs rules 1-2 already imply this (7.1, inferred); on other grids it is checked.
//  5. At most ONE instance per GPU that claims media engines ("+me" or "+me.all"). 7.1 says at
//     most one of each such profile because the media engines are exclusive; since "+me.all"
//     takes all of them and the A30's two +me profiles share its single JPEG/OFA engine (7.2,
//     unverified), one media-engine instance per GPU in total is the safe reading.
//     Not modelled (unverified, 7.2): whether "+me.all" may sit next to base profiles.
// Placements are exact starts, as mig-parted and NVML CreateGpuInstanceWithPlacement use them; the
// "create 3g first" ordering note of 7.1 is about driver-chosen placement and does not apply.
#pragma once

#include <compare>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "policy/catalog.h"

namespace gpushare::policy {

// One GPU instance: `profile` occupying memory units [start, start + size).
struct Placement {
  std::string profile;
  int start = 0;
  int size = 0;
  friend auto operator<=>(const Placement&, const Placement&) = default;
};

// The instances of one GPU, ordered by start. Layouts returned by the functions below obey the
// rules above; the other functions take such a layout (check_layout makes one from raw input).
struct MigLayout {
  std::vector<Placement> instances;
  friend bool operator==(const MigLayout&, const MigLayout&) = default;
};

// Profile name -> number of instances: a mig-parted `mig-devices` entry.
using ProfileCounts = std::map<std::string, int>;

// Rule 5: "+me" and "+me.all" profiles claim media engines; "-me" and "+gfx" do not.
bool claims_media_engines(const MigProfile& profile);

// Validates raw instances against rules 1-5 and returns them ordered by start. A size of 0 is
// filled in from the profile; any other size must equal the profile's memory units.
Result<MigLayout> check_layout(const GpuModel& model, std::vector<Placement> instances);

// The legal starts where one more instance of `profile` could be created now (ascending);
// empty when none, including when a count rule (3-5) forbids another instance.
std::vector<int> free_starts(const GpuModel& model, const MigLayout& layout,
                             const MigProfile& profile);
// True when one more instance of the named profile fits; false for a profile the model lacks.
bool can_hold(const GpuModel& model, const MigLayout& layout, std::string_view profile);
// Adds one instance of the named profile at its lowest free legal start; the error says why not.
Result<MigLayout> place(const GpuModel& model, const MigLayout& layout, std::string_view profile);

// Instance counts by profile name.
ProfileCounts counts_of(const MigLayout& layout);
int free_units(const GpuModel& model, const MigLayout& layout);
int free_compute_slices(const GpuModel& model, const MigLayout& layout);

// True when `existing` plus the `desired` instances can all be placed at once. Cheap: stops at
// the first placement found.
bool placeable(const GpuModel& model, const ProfileCounts& desired, const MigLayout& existing = {});
// Places `desired` (profile -> count; zero counts ignored) next to `existing`, which is kept as
// it is. Searches every placement (backtracking over starts, largest profiles first, equal
// instances in increasing start order) and returns the one whose leftover is most useful
// (more_useful below); ties go to the first found, so the answer is deterministic. The error
// names the rule that fails (unknown profile, max count, compute slices, media engines, space).
Result<MigLayout> find_placement(const GpuModel& model, const ProfileCounts& desired,
                                 const MigLayout& existing = {});

// What is left on a GPU, for choosing between layouts that serve the same demand.
struct Leftover {
  int free_units = 0;
  int free_compute_slices = 0;
  // Free units left empty even when the most memory possible is added to the layout (with the
  // same profiles as headroom), e.g. unit 7 next to 7 x 1g: 0 is best.
  int stranded_units = 0;
  // For each profile considered, largest first (memory units, then compute slices, then
  // catalog order): how many more instances of it alone would still fit.
  std::vector<std::pair<std::string, int>> headroom;
};
// Base profiles only unless include_attribute_profiles.
Leftover leftover(const GpuModel& model, const MigLayout& layout,
                  bool include_attribute_profiles = false);
// Strict order for leftovers of the same model: more headroom for the largest profile wins,
// then the next largest, and so on; then fewer stranded units; then more free units.
bool more_useful(const Leftover& a, const Leftover& b);

struct EnumerateOptions {
  // Profiles with an attribute (+me, +gfx, -me, ...) are named explicitly by users, never
  // chosen automatically (catalog.h), so by default they are left out.
  bool include_attribute_profiles = false;
  // Only multisets to which no instance of any considered profile can be added.
  bool maximal_only = false;
};
// Every non-empty multiset of profile counts that one GPU of the model can hold (some legal
// placement exists), each once, ordered by the count vector in catalog profile order,
// descending (so for H100: {1g.10gb: 7} comes first and {7g.80gb: 1} last).
std::vector<ProfileCounts> reachable_layouts(const GpuModel& model,
                                             const EnumerateOptions& options = {});

// "2g.20gb@0 1g.10gb@2 1g.10gb@3 3g.40gb@4", "(empty)": for messages and test traces.
std::string describe(const MigLayout& layout);
// "1g.10gb x2, 2g.20gb x1", "(none)".
std::string describe(const ProfileCounts& counts);

}  // namespace gpushare::policy
