// MIG layouts of one GPU. The rules are documented in layout.h. The search spaces are tiny
// (grids of 4, 8 or 12 units, at most 7 instances), so everything here is exact search over
// 64-bit occupancy masks; nothing is approximated.
#include "policy/layout.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <set>

namespace gpushare::policy {
namespace {

// Bits [start, start + size); empty for an instance that would not fit a 64-unit mask
// (catalogs keep grids at 64 units or fewer, catalog.cpp).
std::uint64_t span_mask(int start, int size) {
  if (start < 0 || size <= 0 || start + size > 64) return 0;
  const std::uint64_t bits = size == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << size) - 1;
  return bits << start;
}

std::uint64_t grid_mask(const GpuModel& model) { return span_mask(0, model.grid); }

int index_of(const GpuModel& model, std::string_view profile) {
  for (std::size_t i = 0; i < model.profiles.size(); ++i) {
    if (model.profiles[i].name == profile) return static_cast<int>(i);
  }
  return -1;
}

bool start_is_legal(const GpuModel& model, const MigProfile& p, int start) {
  return start >= 0 && start + p.memory_units <= model.grid &&
         std::find(p.starts.begin(), p.starts.end(), start) != p.starts.end();
}

// What a layout uses, by rule: units (1-2), instances per profile (3), compute slices (4),
// media-engine instances (5).
struct Usage {
  std::uint64_t mask = 0;
  int compute = 0;
  int media = 0;
  std::vector<int> count;  // indexed like model.profiles
};

void add(const GpuModel& model, Usage& u, std::size_t i, int start) {
  const MigProfile& p = model.profiles[i];
  u.mask |= span_mask(start, p.memory_units);
  u.compute += p.compute_slices;
  u.media += claims_media_engines(p) ? 1 : 0;
  ++u.count[i];
}

void remove(const GpuModel& model, Usage& u, std::size_t i, int start) {
  const MigProfile& p = model.profiles[i];
  u.mask &= ~span_mask(start, p.memory_units);
  u.compute -= p.compute_slices;
  u.media -= claims_media_engines(p) ? 1 : 0;
  --u.count[i];
}

Usage usage_of(const GpuModel& model, const MigLayout& layout) {
  Usage u;
  u.count.assign(model.profiles.size(), 0);
  for (const auto& inst : layout.instances) {
    const int i = index_of(model, inst.profile);
    if (i >= 0) {
      add(model, u, static_cast<std::size_t>(i), inst.start);
    } else {
      u.mask |= span_mask(inst.start, inst.size);  // not ours to judge; it still takes room
    }
  }
  return u;
}

// Why rules 3-5 forbid `extra` more instances of profile i next to `u`; "" when they allow it.
std::string count_rule_violation(const GpuModel& model, const Usage& u, std::size_t i, int extra) {
  const MigProfile& p = model.profiles[i];
  if (u.count[i] + extra > p.max_count) {
    return std::to_string(u.count[i] + extra) + " x " + p.name + " exceeds its maximum of " +
           std::to_string(p.max_count) + " per GPU";
  }
  if (u.compute + extra * p.compute_slices > model.compute_slices) {
    return p.name + " needs " + std::to_string(extra * p.compute_slices) + " compute slices but " +
           std::to_string(std::max(0, model.compute_slices - u.compute)) + " of " +
           std::to_string(model.compute_slices) + " are free";
  }
  if (claims_media_engines(p) && u.media + extra > 1) {
    return p.name + " claims media engines, and a GPU has at most one such instance (+me, +me.all)";
  }
  return "";
}

bool allows_one_more(const GpuModel& model, const Usage& u, std::size_t i) {
  return count_rule_violation(model, u, i, 1).empty();
}

// Profiles in placement order: largest memory first, then most compute, then catalog order.
// Placing big instances first prunes the backtracking early.
std::vector<std::size_t> largest_first(const GpuModel& model, std::vector<std::size_t> indexes) {
  std::stable_sort(indexes.begin(), indexes.end(), [&](std::size_t a, std::size_t b) {
    const MigProfile& pa = model.profiles[a];
    const MigProfile& pb = model.profiles[b];
    if (pa.memory_units != pb.memory_units) return pa.memory_units > pb.memory_units;
    return pa.compute_slices > pb.compute_slices;
  });
  return indexes;
}

// Checks rules 3-5 for a whole request at once (they depend on counts only) and expands it
// into one entry per instance to place, largest first.
Result<std::vector<std::size_t>> resolve(const GpuModel& model, const ProfileCounts& desired,
                                         const Usage& existing) {
  std::vector<int> want(model.profiles.size(), 0);
  for (const auto& [name, n] : desired) {
    const int i = index_of(model, name);
    if (i < 0) return Error{"profile " + name + " is not a profile of " + model.model};
    if (n < 0) return Error{"profile " + name + ": negative count " + std::to_string(n)};
    want[static_cast<std::size_t>(i)] = n;
  }
  Usage total = existing;
  std::vector<std::size_t> kinds;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] == 0) continue;
    if (std::string why = count_rule_violation(model, total, i, want[i]); !why.empty()) {
      return Error{why + " on " + model.model};
    }
    // Count the instances in so that later profiles see the compute and media they take.
    total.compute += want[i] * model.profiles[i].compute_slices;
    total.media += claims_media_engines(model.profiles[i]) ? want[i] : 0;
    total.count[i] += want[i];
    kinds.push_back(i);
  }
  std::vector<std::size_t> order;
  for (std::size_t i : largest_first(model, kinds)) {
    order.insert(order.end(), static_cast<std::size_t>(want[i]), i);
  }
  return order;
}

// Backtracking over starts for the instances in `order`. Equal instances take increasing
// starts, so no placement is visited twice. visit(starts) returns true to stop the search.
template <typename Visit>
bool search(const GpuModel& model, const std::vector<std::size_t>& order, std::size_t j,
            std::uint64_t mask, std::vector<int>& starts, Visit& visit) {
  if (j == order.size()) return visit(starts);
  const MigProfile& p = model.profiles[order[j]];
  const int lowest =
      (j > 0 && order[j - 1] == order[j]) ? starts[j - 1] + 1 : std::numeric_limits<int>::min();
  for (int s : p.starts) {
    if (s < lowest || !start_is_legal(model, p, s)) continue;
    const std::uint64_t m = span_mask(s, p.memory_units);
    if ((mask & m) != 0) continue;
    starts[j] = s;
    if (search(model, order, j + 1, mask | m, starts, visit)) return true;
  }
  return false;
}

void sort_by_start(MigLayout& layout) {
  std::sort(layout.instances.begin(), layout.instances.end(),
            [](const Placement& a, const Placement& b) {
              if (a.start != b.start) return a.start < b.start;
              return a.profile < b.profile;
            });
}

// The most memory units that further instances of `considered` profiles could cover at once.
// Every extension is visited once: the lowest undecided free unit is either left empty for
// good or covered by an instance that starts there.
int max_coverable(const GpuModel& model, const std::vector<std::size_t>& considered, Usage& u,
                  int from) {
  int unit = from;
  while (unit < model.grid && ((u.mask >> unit) & 1U) != 0) ++unit;
  if (unit >= model.grid) return 0;
  int best = max_coverable(model, considered, u, unit + 1);
  for (std::size_t i : considered) {
    const MigProfile& p = model.profiles[i];
    if (!start_is_legal(model, p, unit) || (u.mask & span_mask(unit, p.memory_units)) != 0 ||
        !allows_one_more(model, u, i)) {
      continue;
    }
    add(model, u, i, unit);
    best = std::max(best, p.memory_units + max_coverable(model, considered, u, unit + 1));
    remove(model, u, i, unit);
  }
  return best;
}

// Greedy is optimal for one profile: its instances are equal-length intervals, and taking
// the lowest free start first is the classic earliest-end interval schedule. The count
// rules only cap the number.
int headroom_for(const GpuModel& model, const Usage& u, std::size_t i) {
  const MigProfile& p = model.profiles[i];
  int cap = p.max_count - u.count[i];
  if (p.compute_slices > 0)
    cap = std::min(cap, (model.compute_slices - u.compute) / p.compute_slices);
  if (claims_media_engines(p) && u.media > 0) cap = 0;
  if (claims_media_engines(p)) cap = std::min(cap, 1);
  std::uint64_t mask = u.mask;
  int fits = 0;
  for (int s : p.starts) {
    if (fits >= cap) break;
    const std::uint64_t m = span_mask(s, p.memory_units);
    if (!start_is_legal(model, p, s) || (mask & m) != 0) continue;
    mask |= m;
    ++fits;
  }
  return std::max(0, fits);
}

std::vector<std::size_t> considered_profiles(const GpuModel& model,
                                             bool include_attribute_profiles) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < model.profiles.size(); ++i) {
    if (include_attribute_profiles || !model.profiles[i].has_attribute()) out.push_back(i);
  }
  return out;
}

}  // namespace

bool claims_media_engines(const MigProfile& profile) {
  const auto pos = profile.name.find("+me");
  return pos != std::string::npos &&
         (pos + 3 == profile.name.size() || profile.name[pos + 3] == '.');
}

Result<MigLayout> check_layout(const GpuModel& model, std::vector<Placement> instances) {
  Usage u;
  u.count.assign(model.profiles.size(), 0);
  for (auto& inst : instances) {
    const std::string where = inst.profile + "@" + std::to_string(inst.start) + ": ";
    const int i = index_of(model, inst.profile);
    if (i < 0) return Error{where + "not a profile of " + model.model};
    const MigProfile& p = model.profiles[static_cast<std::size_t>(i)];
    if (inst.size == 0) inst.size = p.memory_units;
    if (inst.size != p.memory_units) {
      return Error{where + "size " + std::to_string(inst.size) + " is not the profile's " +
                   std::to_string(p.memory_units) + " units"};
    }
    if (!start_is_legal(model, p, inst.start)) {
      std::string legal;
      for (int s : p.starts) legal += (legal.empty() ? "" : ",") + std::to_string(s);
      return Error{where + "start " + std::to_string(inst.start) + " is not a legal start (" +
                   legal + ")"};
    }
    if ((u.mask & span_mask(inst.start, p.memory_units)) != 0) {
      return Error{where + "overlaps another instance"};
    }
    if (std::string why = count_rule_violation(model, u, static_cast<std::size_t>(i), 1);
        !why.empty()) {
      return Error{where + why};
    }
    add(model, u, static_cast<std::size_t>(i), inst.start);
  }
  MigLayout layout{std::move(instances)};
  sort_by_start(layout);
  return layout;
}

std::vector<int> free_starts(const GpuModel& model, const MigLayout& layout,
                             const MigProfile& profile) {
  const int i = index_of(model, profile.name);
  if (i < 0) return {};
  const Usage u = usage_of(model, layout);
  if (!allows_one_more(model, u, static_cast<std::size_t>(i))) return {};
  const MigProfile& p = model.profiles[static_cast<std::size_t>(i)];
  std::vector<int> out;
  for (int s : p.starts) {
    if (start_is_legal(model, p, s) && (u.mask & span_mask(s, p.memory_units)) == 0)
      out.push_back(s);
  }
  return out;
}

bool can_hold(const GpuModel& model, const MigLayout& layout, std::string_view profile) {
  const MigProfile* p = model.find_profile(profile);
  return p != nullptr && !free_starts(model, layout, *p).empty();
}

Result<MigLayout> place(const GpuModel& model, const MigLayout& layout, std::string_view profile) {
  const int i = index_of(model, profile);
  if (i < 0)
    return Error{"profile " + std::string(profile) + " is not a profile of " + model.model};
  const Usage u = usage_of(model, layout);
  if (std::string why = count_rule_violation(model, u, static_cast<std::size_t>(i), 1);
      !why.empty()) {
    return Error{why};
  }
  const MigProfile& p = model.profiles[static_cast<std::size_t>(i)];
  const std::vector<int> starts = free_starts(model, layout, p);
  if (starts.empty()) {
    return Error{"no free start for " + p.name + " next to " + describe(layout) + " on " +
                 model.model};
  }
  MigLayout out = layout;
  out.instances.push_back(Placement{p.name, starts.front(), p.memory_units});
  sort_by_start(out);
  return out;
}

ProfileCounts counts_of(const MigLayout& layout) {
  ProfileCounts out;
  for (const auto& inst : layout.instances) ++out[inst.profile];
  return out;
}

int free_units(const GpuModel& model, const MigLayout& layout) {
  const Usage u = usage_of(model, layout);
  return model.grid - std::popcount(u.mask & grid_mask(model));
}

int free_compute_slices(const GpuModel& model, const MigLayout& layout) {
  return std::max(0, model.compute_slices - usage_of(model, layout).compute);
}

bool placeable(const GpuModel& model, const ProfileCounts& desired, const MigLayout& existing) {
  const Usage u = usage_of(model, existing);
  const auto order = resolve(model, desired, u);
  if (!order) return false;
  std::vector<int> starts(order->size(), 0);
  auto stop_at_first = [](const std::vector<int>&) { return true; };
  return search(model, *order, 0, u.mask, starts, stop_at_first);
}

Result<MigLayout> find_placement(const GpuModel& model, const ProfileCounts& desired,
                                 const MigLayout& existing) {
  const Usage u = usage_of(model, existing);
  auto order = resolve(model, desired, u);
  if (!order) return Error{order.error()};
  std::optional<MigLayout> best;
  Leftover best_leftover;
  std::vector<int> starts(order->size(), 0);
  auto keep_best = [&](const std::vector<int>& found) {
    MigLayout candidate = existing;
    for (std::size_t j = 0; j < found.size(); ++j) {
      const MigProfile& p = model.profiles[(*order)[j]];
      candidate.instances.push_back(Placement{p.name, found[j], p.memory_units});
    }
    sort_by_start(candidate);
    Leftover left = leftover(model, candidate);
    if (!best || more_useful(left, best_leftover)) {
      best = std::move(candidate);
      best_leftover = std::move(left);
    }
    return false;  // keep looking: a later placement may leave a more useful leftover
  };
  search(model, *order, 0, u.mask, starts, keep_best);
  if (!best) {
    return Error{"no placement of " + describe(desired) + " fits next to " + describe(existing) +
                 " on " + model.model + " (grid of " + std::to_string(model.grid) + " units)"};
  }
  return *std::move(best);
}

Leftover leftover(const GpuModel& model, const MigLayout& layout, bool include_attribute_profiles) {
  Usage u = usage_of(model, layout);
  Leftover out;
  out.free_units = model.grid - std::popcount(u.mask & grid_mask(model));
  out.free_compute_slices = std::max(0, model.compute_slices - u.compute);
  const std::vector<std::size_t> considered =
      largest_first(model, considered_profiles(model, include_attribute_profiles));
  for (std::size_t i : considered) {
    out.headroom.emplace_back(model.profiles[i].name, headroom_for(model, u, i));
  }
  out.stranded_units = out.free_units - max_coverable(model, considered, u, 0);
  return out;
}

bool more_useful(const Leftover& a, const Leftover& b) {
  const std::size_t n = std::min(a.headroom.size(), b.headroom.size());
  for (std::size_t k = 0; k < n; ++k) {
    if (a.headroom[k].second != b.headroom[k].second)
      return a.headroom[k].second > b.headroom[k].second;
  }
  if (a.stranded_units != b.stranded_units) return a.stranded_units < b.stranded_units;
  return a.free_units > b.free_units;
}

std::vector<ProfileCounts> reachable_layouts(const GpuModel& model,
                                             const EnumerateOptions& options) {
  const std::vector<std::size_t> considered =
      considered_profiles(model, options.include_attribute_profiles);
  const MigLayout empty;
  std::vector<int> want(model.profiles.size(), 0);
  auto as_counts = [&](const std::vector<int>& w) {
    ProfileCounts c;
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (w[i] > 0) c[model.profiles[i].name] = w[i];
    }
    return c;
  };
  // Depth-first over the considered profiles, raising each count until the multiset stops
  // being placeable: every sub-multiset of a placeable one is placeable, so this misses none.
  std::set<std::vector<int>> found;
  auto visit = [&](auto& self, std::size_t k) -> void {
    if (k == considered.size()) {
      if (std::any_of(want.begin(), want.end(), [](int n) { return n > 0; })) found.insert(want);
      return;
    }
    const std::size_t i = considered[k];
    self(self, k + 1);
    for (int n = 1; n <= model.profiles[i].max_count; ++n) {
      want[i] = n;
      if (!placeable(model, as_counts(want), empty)) break;
      self(self, k + 1);
    }
    want[i] = 0;
  };
  visit(visit, 0);

  std::vector<std::vector<int>> kept;
  for (const auto& w : found) {
    bool maximal = true;
    for (std::size_t i : considered) {
      std::vector<int> more = w;
      ++more[i];
      if (found.count(more) != 0) {
        maximal = false;
        break;
      }
    }
    if (!options.maximal_only || maximal) kept.push_back(w);
  }
  std::sort(kept.begin(), kept.end(), std::greater<>());
  std::vector<ProfileCounts> out;
  out.reserve(kept.size());
  for (const auto& w : kept) out.push_back(as_counts(w));
  return out;
}

std::string describe(const MigLayout& layout) {
  if (layout.instances.empty()) return "(empty)";
  std::string out;
  for (const auto& inst : layout.instances) {
    if (!out.empty()) out += ' ';
    out += inst.profile + "@" + std::to_string(inst.start);
  }
  return out;
}

std::string describe(const ProfileCounts& counts) {
  std::string out;
  for (const auto& [name, n] : counts) {
    if (n == 0) continue;
    if (!out.empty()) out += ", ";
    out += name + " x" + std::to_string(n);
  }
  return out.empty() ? "(none)" : out;
}

}  // namespace gpushare::policy
