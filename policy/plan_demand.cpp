#include "policy/plan_demand.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "policy/fit.h"
#include "policy/intent.h"
#include "policy/plan_mig.h"
#include "policy/pod_demand.h"
#include "policy/quantity.h"

namespace gpushare::policy {
namespace {

// Plan for the demand counted now plus this many standard deviations (sqrt of the count): what
// runs and waits now is a snapshot, and a node's new layout lasts while any pod runs there, so
// it is sized for the demand it will likely meet, not the demand of this minute.
constexpr double kHeadroom = 1.5;
// Below this mean the Poisson tail is summed exactly; from it on, the normal approximation with
// a continuity correction is within ~0.01 and costs one erfc.
constexpr double kExactBelow = 30;

// P(N >= k) for N ~ Poisson(mean): the chance that the k-th instance of a pool is needed.
double poisson_tail(double mean, double k) {
  if (k <= 0) return 1;
  if (mean <= 0) return 0;
  if (mean >= kExactBelow) return 0.5 * std::erfc((k - 0.5 - mean) / std::sqrt(2 * mean));
  const int below = static_cast<int>(std::ceil(k)) - 1;    // P(N >= k) = 1 - P(N <= k - 1)
  if (below > mean + 12 * std::sqrt(mean) + 30) return 0;  // past any double's precision
  double term = std::exp(-mean);
  double cdf = term;
  for (int j = 1; j <= below; ++j) {
    term *= mean / j;
    cdf += term;
  }
  return std::max(0.0, 1 - cdf);
}

// What the k-th instance of a pool with `pods` of demand is worth, in pods (plan_demand.h).
double kth_worth(double pods, double k) {
  return poisson_tail(pods + kHeadroom * std::sqrt(pods), k);
}

double at(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

// Node-wide instances by profile name, from allocatable (what the device plugin offers now).
ProfileCounts offered(const NodeView& node, const GpuModel& model) {
  ProfileCounts out;
  for (const auto& p : model.profiles) {
    auto it = node.allocatable.find(p.resource_name());
    if (it != node.allocatable.end() && it->second > 0) out[p.name] = static_cast<int>(it->second);
  }
  return out;
}

ProfileCounts totals_of(const std::vector<ProfileCounts>& per_gpu) {
  ProfileCounts out;
  for (const auto& gpu : per_gpu) {
    for (const auto& [name, n] : gpu) {
      if (n > 0) out[name] += n;
    }
  }
  return out;
}

// Base profiles of the model, largest first (memory units, compute slices, catalog order): the
// order ties between equal gains are broken in.
std::vector<const MigProfile*> base_profiles(const GpuModel& model) {
  std::vector<const MigProfile*> out;
  for (const auto& p : model.profiles) {
    if (!p.has_attribute()) out.push_back(&p);
  }
  std::stable_sort(out.begin(), out.end(), [](const MigProfile* a, const MigProfile* b) {
    if (a->memory_units != b->memory_units) return a->memory_units > b->memory_units;
    return a->compute_slices > b->compute_slices;
  });
  return out;
}

// The pod's gpu-memory annotation in bytes, 0 when unstated or unreadable (the admission webhook
// rejected unreadable ones; a pod created before gpushare may carry anything).
std::int64_t stated_memory(const PodView& pod, const PlanSettings& settings) {
  auto it = pod.annotations.find(settings.annotation_prefix + std::string(kGpuMemoryKey));
  if (it == pod.annotations.end()) return 0;
  auto q = parse_quantity(it->second);
  return q ? q->ceil_units() : 0;
}

void count_pod(const PodView& pod, const PlanSettings& settings, DemandCount& out) {
  if (pod.terminated()) return;
  auto demand = pod_demand(pod);
  if (!demand) return;
  for (const auto& [resource, n] : demand->resources) {
    if (n > 0 && std::string_view(resource).starts_with(kMigResourcePrefix)) out.mig[resource] += n;
  }
  if (const std::int64_t shared = demand->count(std::string(kSharedGpuResource)); shared > 0)
    out.mps[stated_memory(pod, settings)] += shared;
}

}  // namespace

DemandCount count_demand(const std::vector<PodView>& running, const std::vector<PodView>& pending,
                         const PlanSettings& settings) {
  DemandCount out;
  for (const auto& pod : running) {
    if (!pod.node_name.empty()) count_pod(pod, settings, out);
  }
  for (const auto& pod : pending) count_pod(pod, settings, out);
  return out;
}

template <class Key>
void RecentArrivals::Tally<Key>::add(double at_s, const Key& key, std::int64_t pods,
                                     bool standing) {
  arrivals_.push_back({at_s, key, pods, standing});
  counts_[key] += pods;
  if (standing) standing_[key] += pods;
}

template <class Key>
void RecentArrivals::Tally<Key>::forget_before(double t_s) {
  while (!arrivals_.empty() && arrivals_.front().at_s < t_s) {
    const Arrival& a = arrivals_.front();
    auto it = counts_.find(a.key);
    if ((it->second -= a.pods) <= 0) counts_.erase(it);
    if (a.standing) {
      auto st = standing_.find(a.key);
      if (st != standing_.end() && (st->second -= a.pods) <= 0) standing_.erase(st);
    }
    arrivals_.pop_front();
  }
}

template <class Key>
std::map<Key, std::int64_t> RecentArrivals::Tally<Key>::scaled(double scale) const {
  std::map<Key, std::int64_t> out = counts_;
  for (auto& [key, n] : out) {
    auto it = standing_.find(key);
    const std::int64_t since_start = n - (it == standing_.end() ? 0 : it->second);
    n = std::max(n, static_cast<std::int64_t>(std::ceil(static_cast<double>(since_start) * scale)));
  }
  return out;
}

void RecentArrivals::add(double now_s, const PodView& pod, const PlanSettings& settings) {
  forget_before(now_s - window_s_);
  DemandCount demand;
  count_pod(pod, settings, demand);
  // Without a start() nothing is scaled, so every arrival may count as standing.
  const bool standing = !start_s_ || now_s <= *start_s_;
  for (const auto& [memory, shares] : demand.mps) mps_.add(now_s, memory, shares, standing);
  for (const auto& [resource, pods] : demand.mig) mig_.add(now_s, resource, pods, standing);
}

Arrivals RecentArrivals::read(double now_s) {
  forget_before(now_s - window_s_);
  Arrivals out;
  out.mps_recent = mps_.counts();
  if (!start_s_ || now_s - *start_s_ >= window_s_) {
    out.mps_projected = mps_.counts();
    out.mig_projected = mig_.counts();
    return out;
  }
  const double scale = window_s_ / std::max(kMinRateSpan_s, now_s - *start_s_);
  out.mps_projected = mps_.scaled(scale);
  out.mig_projected = mig_.scaled(scale);
  return out;
}

void set_arrivals(PlanInput& in, Arrivals arrivals) {
  in.recent_mps_arrivals = std::move(arrivals.mps_recent);
  in.projected_mps_arrivals = std::move(arrivals.mps_projected);
  in.projected_mig_arrivals = std::move(arrivals.mig_projected);
}

void RecentArrivals::forget_before(double t_s) {
  mps_.forget_before(t_s);
  mig_.forget_before(t_s);
}

double DemandSupply::demand(const std::string& resource) const { return at(demand_, resource); }
void DemandSupply::add_demand(const std::string& resource, double pods) {
  demand_[resource] += pods;
}

void DemandSupply::raise_demand(const std::map<std::string, std::int64_t>& pods) {
  for (const auto& [resource, n] : pods) {
    double& d = demand_[resource];
    d = std::max(d, static_cast<double>(n));
  }
}

double DemandSupply::wanted_slices(const GpuModel& model,
                                   const std::map<std::string, std::int64_t>& ahead) const {
  double out = 0;
  for (const auto& p : model.profiles) {
    const std::string resource = p.resource_name();
    auto it = ahead.find(resource);
    const double projected = it == ahead.end() ? 0 : static_cast<double>(it->second);
    out += std::max(at(demand_, resource), projected) * p.compute_slices;
  }
  return out;
}

double DemandSupply::offered_slices(const GpuModel& model) const {
  double out = 0;
  for (const auto& p : model.profiles) out += at(supply_, p.resource_name()) * p.compute_slices;
  return out;
}

double DemandSupply::observed_pods(const GpuModel& model) const {
  double out = 0;
  for (const auto& p : model.profiles) out += at(demand_, p.resource_name());
  return out;
}

double DemandSupply::supply(const std::string& resource) const { return at(supply_, resource); }

double DemandSupply::gain(const std::string& resource) const {
  return kth_worth(demand(resource), supply(resource) + 1);
}

double DemandSupply::value_of(const GpuModel& model, const ProfileCounts& gpu) const {
  double out = 0;
  for (const auto& [name, n] : gpu) {
    const MigProfile* p = model.find_profile(name);
    if (p == nullptr || n <= 0) continue;
    const std::string resource = p->resource_name();
    const double d = demand(resource);
    const double s = supply(resource);
    for (int i = 0; i < n; ++i) out += kth_worth(d, std::max(1.0, s - i));
  }
  return out;
}

void DemandSupply::add_layout(const GpuModel& model, const ProfileCounts& gpu, double sign) {
  for (const auto& [name, n] : gpu) {
    const MigProfile* p = model.find_profile(name);
    if (p != nullptr && n > 0) add_supply(p->resource_name(), sign * n);
  }
}

double MpsDemand::fitting(std::int64_t share_bytes) const {
  if (!sorted_) {
    std::sort(needs_.begin(), needs_.end());
    sorted_ = true;
  }
  return static_cast<double>(std::upper_bound(needs_.begin(), needs_.end(), share_bytes) -
                             needs_.begin());
}

double MpsDemand::gain(std::int64_t share_bytes, int replicas, double supply_without) const {
  const double fit = fitting(share_bytes);
  double out = 0;
  for (int k = 1; k <= replicas; ++k) out += kth_worth(fit, std::max(0.0, supply_without) + k);
  return out;
}

std::optional<std::vector<ProfileCounts>> current_mig_layout(
    const NodeView& node, const GpuModel& model, int gpus,
    const std::map<std::string, std::vector<MigConfigEntry>>& mig_configs) {
  if (gpus <= 0) return std::nullopt;
  const ProfileCounts now = offered(node, model);
  const std::string state = node.label(std::string(gfd::kMigConfigState));
  if (state == "pending" || state == "rebooting") return std::nullopt;
  // 1. The named config, where its content is known and the node offers exactly that.
  if (auto it = mig_configs.find(node.label(std::string(gfd::kMigConfig)));
      it != mig_configs.end()) {
    std::vector<std::optional<ProfileCounts>> per_gpu(static_cast<std::size_t>(gpus));
    for (const auto& entry : it->second) {
      ProfileCounts counts;
      bool ours = true;  // a device-filtered entry for another model lists other profiles
      if (entry.mig_enabled) {
        for (const auto& [name, n] : entry.mig_devices) {
          if (model.find_profile(name) == nullptr) ours = false;
          if (n > 0) counts[name] = n;
        }
      }
      if (!ours) continue;
      std::vector<int> devices = entry.devices;
      if (devices.empty()) {
        for (int g = 0; g < gpus; ++g) devices.push_back(g);
      }
      for (int g : devices) {
        if (g >= 0 && g < gpus && !per_gpu[static_cast<std::size_t>(g)])
          per_gpu[static_cast<std::size_t>(g)] = counts;
      }
    }
    if (std::all_of(per_gpu.begin(), per_gpu.end(), [](const auto& g) { return g.has_value(); })) {
      std::vector<ProfileCounts> out;
      for (auto& g : per_gpu) out.push_back(std::move(*g));
      if (totals_of(out) == now && std::all_of(out.begin(), out.end(), [&](const ProfileCounts& c) {
            return c.empty() || placeable(model, c);
          })) {
        return out;
      }
    }
  }
  // 2. Node-wide counts spread evenly (no MIG resources: every GPU empty or MIG off).
  ProfileCounts per;
  for (const auto& [name, n] : now) {
    if (n % gpus != 0) return std::nullopt;
    per[name] = n / gpus;
  }
  if (!per.empty() && !placeable(model, per)) return std::nullopt;
  return std::vector<ProfileCounts>(static_cast<std::size_t>(gpus), per);
}

namespace {

// The search behind fill_by_demand: every multiset of base profiles that extends the GPU's
// `counts` and still places, each profile's instances worth their marginal gain in turn.
struct FillSearch {
  const GpuModel& model;
  const std::vector<const MigProfile*>& base;
  std::vector<std::string> resources;  // base[i]'s resource name
  DemandSupply& ds;
  ProfileCounts current;
  ProfileCounts best;
  double best_gain = 0;

  // Adds instances of base[i..] to `current` (profiles in base order, so each multiset is
  // visited once).
  void run(std::size_t i, double gain) {
    // Strictly better only (with a margin for rounding): among layouts worth the same, the
    // first found, i.e. the one with more of the larger profiles, as before.
    if (gain > best_gain + 1e-9) {
      best_gain = gain;
      best = current;
    }
    for (std::size_t j = i; j < base.size(); ++j) {
      const MigProfile* p = base[j];
      int& n = current[p->name];
      ++n;
      if (placeable(model, current)) {
        const double g = ds.gain(resources[j]);
        ds.add_supply(resources[j], 1);
        run(j, gain + g);
        ds.add_supply(resources[j], -1);
      }
      if (--n == 0) current.erase(p->name);
    }
  }
};

}  // namespace

ProfileCounts fill_by_demand(const GpuModel& model, ProfileCounts counts, DemandSupply& ds) {
  const std::vector<const MigProfile*> base = base_profiles(model);
  FillSearch search{model, base, {}, ds, counts, counts};
  search.resources.reserve(base.size());
  for (const MigProfile* p : base) search.resources.push_back(p->resource_name());
  search.run(0, 0);
  // The supply gains what the GPU holds beyond `counts`: the chosen instances, then the leftover
  // fill's (the search left `ds` as it found it).
  ProfileCounts filled = fill_mig_leftover(model, std::move(search.best));
  for (const auto& [name, n] : filled) {
    auto it = counts.find(name);
    const int added = n - (it == counts.end() ? 0 : it->second);
    if (added > 0) ds.add_supply(model.find_profile(name)->resource_name(), added);
  }
  return filled;
}

double layout_gain(const GpuModel& model, const ProfileCounts& gpu, const DemandSupply& ds) {
  DemandSupply trial = ds;
  double out = 0;
  // Largest first, the order fill_by_demand's fallback would add them in; the sum does not
  // depend on the order between profiles, only within one.
  for (const auto& [name, n] : gpu) {
    const MigProfile* p = model.find_profile(name);
    if (p == nullptr) continue;
    const std::string resource = p->resource_name();
    for (int i = 0; i < n; ++i) {
      out += trial.gain(resource);
      trial.add_supply(resource, 1);
    }
  }
  return out;
}

}  // namespace gpushare::policy
