#include "policy/plan_mig.h"

#include <algorithm>
#include <map>
#include <set>

namespace gpushare::policy {
namespace {

// Depth-first calls allowed per assignment. Nodes have at most 8 GPUs of at most 7 instances;
// the greedy first path needs one call per instance, so the budget only bounds failures (and
// the cheap bounds in assign_mig_instances settle most of those before any search).
constexpr int kSearchBudget = 4000;

std::size_t index_in(const GpuModel& model, const MigProfile* p) {
  return static_cast<std::size_t>(p - model.profiles.data());
}

// Largest first: memory units, compute slices, then catalog order.
bool larger(const GpuModel& model, const MigProfile* a, const MigProfile* b) {
  if (a->memory_units != b->memory_units) return a->memory_units > b->memory_units;
  if (a->compute_slices != b->compute_slices) return a->compute_slices > b->compute_slices;
  return index_in(model, a) < index_in(model, b);
}

struct Search {
  const GpuModel& model;
  std::vector<const MigProfile*> order;
  std::vector<ProfileCounts> gpus;
  std::vector<int> used;
  std::vector<int> units_after;  // units of order[j..] for each j
  int budget = kSearchBudget;

  bool run(std::size_t j) {
    if (j == order.size()) return true;
    if (--budget < 0) return false;
    int free_units = 0;
    for (int u : used) free_units += model.grid - u;
    if (units_after[j] > free_units) return false;
    const MigProfile* p = order[j];
    // Fullest GPU first (best fit), then lowest index.
    std::vector<std::size_t> by_fit(gpus.size());
    for (std::size_t g = 0; g < gpus.size(); ++g) by_fit[g] = g;
    std::stable_sort(by_fit.begin(), by_fit.end(),
                     [&](std::size_t a, std::size_t b) { return used[a] > used[b]; });
    std::set<ProfileCounts> tried;
    for (std::size_t g : by_fit) {
      if (!tried.insert(gpus[g]).second) continue;  // same counts as a GPU already tried
      ProfileCounts next = gpus[g];
      ++next[p->name];
      if (!placeable(model, next)) continue;
      std::swap(gpus[g], next);
      used[g] += p->memory_units;
      if (run(j + 1)) return true;
      used[g] -= p->memory_units;
      std::swap(gpus[g], next);
      if (budget < 0) return false;
    }
    return false;
  }
};

}  // namespace

std::optional<std::vector<ProfileCounts>> assign_mig_instances(
    const GpuModel& model, int gpus, const std::vector<const MigProfile*>& instances) {
  if (gpus <= 0) return std::nullopt;
  Search s{model,
           instances,
           std::vector<ProfileCounts>(static_cast<std::size_t>(gpus)),
           std::vector<int>(static_cast<std::size_t>(gpus), 0),
           {}};
  std::stable_sort(s.order.begin(), s.order.end(),
                   [&](const MigProfile* a, const MigProfile* b) { return larger(model, a, b); });
  // Bounds that hold whatever the placement: units, compute slices, per-profile maximum counts
  // and media-engine instances, each summed over the node's GPUs.
  int units = 0;
  int compute = 0;
  int media = 0;
  std::map<const MigProfile*, int> per_profile;
  for (const MigProfile* p : s.order) {
    units += p->memory_units;
    compute += p->compute_slices;
    media += claims_media_engines(*p) ? 1 : 0;
    if (++per_profile[p] > p->max_count * gpus) return std::nullopt;
  }
  if (units > model.grid * gpus || compute > model.compute_slices * gpus || media > gpus)
    return std::nullopt;
  s.units_after.assign(s.order.size() + 1, 0);
  for (std::size_t j = s.order.size(); j-- > 0;)
    s.units_after[j] = s.units_after[j + 1] + s.order[j]->memory_units;
  if (!s.run(0)) return std::nullopt;
  return std::move(s.gpus);
}

ProfileCounts fill_mig_leftover(const GpuModel& model, ProfileCounts counts) {
  std::vector<const MigProfile*> base;
  for (const auto& p : model.profiles) {
    if (!p.has_attribute()) base.push_back(&p);
  }
  std::stable_sort(base.begin(), base.end(),
                   [&](const MigProfile* a, const MigProfile* b) { return larger(model, a, b); });
  for (const MigProfile* p : base) {
    while (true) {
      ProfileCounts next = counts;
      ++next[p->name];
      if (!placeable(model, next)) break;
      counts = std::move(next);
    }
  }
  return counts;
}

std::vector<MigConfigEntry> group_mig_devices(const std::vector<ProfileCounts>& per_gpu) {
  std::vector<MigConfigEntry> out;
  std::map<ProfileCounts, std::size_t> entry_of;
  for (std::size_t g = 0; g < per_gpu.size(); ++g) {
    ProfileCounts counts;
    for (const auto& [name, n] : per_gpu[g]) {
      if (n > 0) counts[name] = n;
    }
    auto [it, fresh] = entry_of.emplace(counts, out.size());
    if (fresh) {
      MigConfigEntry e;
      // A GPU with nothing listed (only when leftovers are not filled) keeps MIG on with no
      // instances, as the operator's own "all-enabled" config does (mig-devices: {}).
      e.mig_enabled = true;
      e.mig_devices = counts;
      out.push_back(std::move(e));
    }
    out[it->second].devices.push_back(static_cast<int>(g));
  }
  return out;
}

}  // namespace gpushare::policy
