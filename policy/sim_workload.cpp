#include "policy/sim_workload.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <numbers>
#include <optional>
#include <set>
#include <sstream>

#include "policy/fit.h"
#include "policy/quantity.h"

namespace gpushare::policy {
namespace {

constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;
constexpr std::int64_t kGiB = kMiB * 1024;

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = s.find(sep, start);
    out.push_back(trim(s.substr(start, at == std::string_view::npos ? s.npos : at - start)));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

std::optional<double> number(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::string fixed(double v, int digits) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(digits);
  out << v;
  return out.str();
}

// A pod kind's (compute slices, memory units) as the mixes below weigh it.
using Shape = std::pair<int, int>;

double shape_weight(const std::map<Shape, double>& weights, const MigProfile& p) {
  auto it = weights.find({p.compute_slices, p.memory_units});
  return it == weights.end() ? 0 : it->second;
}

struct MixWeights {
  std::map<Shape, double> mig;                       // by profile shape, for every MIG model
  std::vector<std::pair<std::int64_t, double>> mps;  // memory -> weight
  bool balanced_layout = false;                      // MIG weights from the model's all-balanced
};

MixWeights lerp(const MixWeights& a, const MixWeights& b, double t) {
  MixWeights out;
  for (const auto& [shape, w] : a.mig) out.mig[shape] += (1 - t) * w;
  for (const auto& [shape, w] : b.mig) out.mig[shape] += t * w;
  std::map<std::int64_t, double> mps;
  for (const auto& [m, w] : a.mps) mps[m] += (1 - t) * w;
  for (const auto& [m, w] : b.mps) mps[m] += t * w;
  out.mps.assign(mps.begin(), mps.end());
  return out;
}

Result<MixWeights> weights_of(const std::string& mix, double progress) {
  const MixWeights kDefault{
      {{{1, 1}, 12}, {{1, 2}, 6}, {{2, 2}, 8}, {{3, 4}, 6}, {{4, 4}, 3}, {{7, 8}, 2}},
      {{2 * kGiB, 10}, {4 * kGiB, 8}, {8 * kGiB, 6}, {12 * kGiB, 4}},
      false};
  if (mix == "default") return kDefault;
  if (mix == "balanced") return MixWeights{{}, {{2 * kGiB, 10}, {4 * kGiB, 8}}, true};
  if (mix == "shifting") {
    const MixWeights small{
        {{{1, 1}, 12}, {{1, 2}, 6}, {{2, 2}, 4}, {{3, 4}, 2}, {{4, 4}, 1}, {{7, 8}, 0.5}},
        {{2 * kGiB, 10}, {4 * kGiB, 6}, {8 * kGiB, 2}, {12 * kGiB, 1}},
        false};
    const MixWeights large{
        {{{1, 1}, 2}, {{1, 2}, 3}, {{2, 2}, 4}, {{3, 4}, 6}, {{4, 4}, 4}, {{7, 8}, 3}},
        {{2 * kGiB, 1}, {4 * kGiB, 2}, {8 * kGiB, 6}, {12 * kGiB, 8}},
        false};
    return lerp(small, large, std::clamp(progress, 0.0, 1.0));
  }
  return Error{"unknown mix \"" + mix + "\" (default, balanced, shifting)"};
}

std::int64_t mean_mps_gpu_mib(const std::vector<SimNode>& cluster) {
  std::int64_t sum = 0;
  std::int64_t n = 0;
  for (const auto& node : cluster) {
    if (node.model == nullptr && node.gpu_mib > 0) {
      sum += node.gpu_mib * node.gpus;
      n += node.gpus;
    }
  }
  return n == 0 ? 0 : sum / n;
}

// The smallest MPS share a node offers now (MPS pods of the balanced mix must fit it).
std::int64_t smallest_mps_share_mib(const std::vector<SimNode>& cluster) {
  std::int64_t out = 0;
  for (const auto& node : cluster) {
    if (node.mps_replicas > 1) {
      const std::int64_t share = node.gpu_mib / node.mps_replicas;
      if (out == 0 || share < out) out = share;
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PRNG and distributions.

SimRandom::SimRandom(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

std::uint64_t SimRandom::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double SimRandom::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double SimRandom::exponential(double rate) { return -std::log1p(-uniform()) / rate; }

double SimRandom::normal() {
  // Box-Muller; one value per call keeps the stream simple to reason about.
  const double u1 = 1.0 - uniform();  // (0, 1]
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double SimRandom::lognormal(double median, double sigma) {
  return median * std::exp(sigma * normal());
}

std::size_t SimRandom::pick(const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += std::max(0.0, w);
  double x = uniform() * total;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double w = std::max(0.0, weights[i]);
    if (x < w) return i;
    x -= w;
  }
  for (std::size_t i = weights.size(); i-- > 0;) {
    if (weights[i] > 0) return i;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Traces.

Result<std::vector<SimPod>> parse_trace(std::string_view text) {
  std::vector<SimPod> out;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string_view line =
        trim(text.substr(start, end == std::string_view::npos ? text.npos : end - start));
    start = end == std::string_view::npos ? text.size() + 1 : end + 1;
    ++line_no;
    if (line.empty() || line.front() == '#' || line.rfind("arrival", 0) == 0) continue;
    const std::string where = "trace line " + std::to_string(line_no) + ": ";
    const auto fields = split(line, ',');
    if (fields.size() != 4 && fields.size() != 5) {
      return Error{where + "expected arrival_s,kind,value,runtime_s[,priority], got " +
                   std::to_string(fields.size()) + " fields"};
    }
    SimPod pod;
    auto arrival = number(fields[0]);
    if (!arrival || *arrival < 0)
      return Error{where + "arrival_s must be a number >= 0, got \"" + std::string(fields[0]) +
                   "\""};
    pod.arrival_s = *arrival;
    if (fields[1] == "mig") {
      if (fields[2].empty()) return Error{where + "mig needs a profile name"};
      pod.profile = std::string(fields[2]);
    } else if (fields[1] == "mps") {
      auto bytes = parse_quantity(fields[2]);
      if (!bytes || bytes->ceil_units() <= 0) {
        return Error{where + "mps needs a memory quantity such as 4Gi, got \"" +
                     std::string(fields[2]) + "\""};
      }
      pod.mps_memory_bytes = bytes->ceil_units();
    } else {
      return Error{where + "kind must be mig or mps, got \"" + std::string(fields[1]) + "\""};
    }
    auto runtime = number(fields[3]);
    if (!runtime || *runtime <= 0)
      return Error{where + "runtime_s must be a number > 0, got \"" + std::string(fields[3]) +
                   "\""};
    pod.runtime_s = *runtime;
    if (fields.size() == 5) {
      auto prio = number(fields[4]);
      if (!prio || *prio != std::floor(*prio) || std::abs(*prio) > 2e9)
        return Error{where + "priority must be an integer, got \"" + std::string(fields[4]) + "\""};
      pod.priority = static_cast<std::int32_t>(*prio);
    }
    out.push_back(std::move(pod));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const SimPod& a, const SimPod& b) { return a.arrival_s < b.arrival_s; });
  return out;
}

std::string format_trace(const std::vector<SimPod>& pods) {
  std::string out = "arrival_s,kind,value,runtime_s,priority\n";
  for (const auto& p : pods) {
    out += fixed(p.arrival_s, 3) + ",";
    if (p.profile.empty()) {
      out += "mps," + std::to_string(p.mps_memory_bytes / kMiB) + "Mi,";
    } else {
      out += "mig," + p.profile + ",";
    }
    out += fixed(p.runtime_s, 3) + "," + std::to_string(p.priority) + "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Clusters.

Result<std::vector<SimNode>> generate_cluster(int nodes, const Catalog& catalog, int rtx_replicas) {
  if (nodes <= 0) return Error{"a cluster needs at least one node"};
  if (rtx_replicas < 2) return Error{"RTX MPS replicas must be at least 2"};
  const GpuModel* h100 = catalog.model_for_product("NVIDIA-H100-80GB-HBM3");
  const GpuModel* h20 = catalog.model_for_product("NVIDIA-H20");
  if (h100 == nullptr || h20 == nullptr)
    return Error{"the catalog has no NVIDIA-H100-80GB-HBM3 or NVIDIA-H20 model"};
  std::vector<SimNode> out;
  for (int i = 0; i < nodes; ++i) {
    SimNode n;
    char name[32];
    std::snprintf(name, sizeof name, "gpu-%03d", i);
    n.name = name;
    // 2 H100, 2 H20, 1 RTX in every 5 nodes.
    const int kind = i % 5;
    if (kind == 4) {
      n.product = "NVIDIA-GeForce-RTX-4090";
      n.gpu_mib = 24564;
      n.compute_major = 8;
      n.compute_minor = 9;
      n.mps_replicas = rtx_replicas;
      n.device_plugin_config = "mps-" + std::to_string(rtx_replicas);
    } else {
      const GpuModel* model = kind % 2 == 0 ? h100 : h20;
      n.product = kind % 2 == 0 ? "NVIDIA-H100-80GB-HBM3" : "NVIDIA-H20";
      n.model = model;
      n.gpu_mib = model->memory_bytes / kMiB;
      n.mig = true;
      n.per_gpu.assign(static_cast<std::size_t>(n.gpus),
                       ProfileCounts(model->balanced.begin(), model->balanced.end()));
      n.mig_config = "all-balanced";
      n.device_plugin_config = "mig-mixed";
    }
    out.push_back(std::move(n));
  }
  return out;
}

Result<std::vector<SimNode>> cluster_from_nodes(const std::vector<NodeView>& nodes,
                                                const Catalog& catalog) {
  std::vector<SimNode> out;
  for (const auto& view : nodes) {
    const std::string product = view.label(std::string(gfd::kProduct));
    const std::string count_text = view.label(std::string(gfd::kCount));
    if (product.empty() || count_text.empty()) continue;
    SimNode n;
    n.name = view.name;
    n.product = product;
    int gpus = 0;
    auto [end, ec] =
        std::from_chars(count_text.data(), count_text.data() + count_text.size(), gpus);
    if (ec != std::errc() || end != count_text.data() + count_text.size() || gpus <= 0 || gpus > 64)
      return Error{"node " + view.name + ": nvidia.com/gpu.count=" + count_text + " is not 1..64"};
    n.gpus = gpus;
    n.model = view.label(std::string(gfd::kMigCapable)) == "true"
                  ? catalog.model_for_product(base_product(product))
                  : nullptr;
    std::int64_t mib = 0;
    const std::string mem = view.label(std::string(gfd::kMemoryMiB));
    std::from_chars(mem.data(), mem.data() + mem.size(), mib);
    if (mib <= 0 && n.model != nullptr) mib = n.model->memory_bytes / kMiB;
    if (mib <= 0)
      return Error{"node " + view.name + ": GPU memory unknown (no nvidia.com/gpu.memory label)"};
    n.gpu_mib = mib;
    const std::string major = view.label("nvidia.com/gpu.compute.major");
    const std::string minor = view.label("nvidia.com/gpu.compute.minor");
    std::from_chars(major.data(), major.data() + major.size(), n.compute_major);
    std::from_chars(minor.data(), minor.data() + minor.size(), n.compute_minor);
    n.mig_config = view.label(std::string(gfd::kMigConfig));
    n.device_plugin_config = view.label(std::string(gfd::kDevicePluginConfig));
    ProfileCounts totals;
    for (const auto& [resource, count] : view.allocatable) {
      if (count <= 0 || resource.rfind(kMigResourcePrefix, 0) != 0) continue;
      auto profile = catalog.profile_for_resource(resource);
      if (n.model == nullptr || !profile || n.model->find_profile(*profile) == nullptr)
        return Error{"node " + view.name + ": " + resource + " is no MIG profile of its GPU model"};
      totals[*profile] = static_cast<int>(count);
    }
    if (!totals.empty()) {
      n.mig = true;
      ProfileCounts per;
      for (const auto& [profile, count] : totals) {
        if (count % gpus != 0) {
          return Error{"node " + view.name + ": " + std::to_string(count) + " x " + profile +
                       " cannot be spread evenly over " + std::to_string(gpus) +
                       " GPUs (the simulator needs each GPU's layout)"};
        }
        per[profile] = count / gpus;
      }
      if (!placeable(*n.model, per))
        return Error{"node " + view.name + ": no GPU can hold " + describe(per)};
      n.per_gpu.assign(static_cast<std::size_t>(gpus), per);
    } else if (auto shared = view.allocatable.find(std::string(kSharedGpuResource));
               shared != view.allocatable.end() && shared->second > 0) {
      n.mps_replicas = static_cast<int>(shared->second / gpus);
      if (n.mps_replicas < 2) {
        return Error{"node " + view.name + ": nvidia.com/gpu.shared=" +
                     std::to_string(shared->second) + " is fewer than 2 replicas per GPU"};
      }
    }
    out.push_back(std::move(n));
  }
  if (out.empty()) return Error{"no node has nvidia.com/gpu.product and nvidia.com/gpu.count"};
  std::sort(out.begin(), out.end(),
            [](const SimNode& a, const SimNode& b) { return a.name < b.name; });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mixes and workloads.

Result<std::vector<MixEntry>> workload_mix(const std::string& mix,
                                           const std::vector<SimNode>& cluster,
                                           const Catalog& /*catalog*/, double progress) {
  auto weights = weights_of(mix, progress);
  if (!weights) return Error{weights.error()};
  // GPUs per family: each MIG model, and the GPUs that are not MIG-capable (MPS).
  std::map<const GpuModel*, int> mig_gpus;
  int mps_gpus = 0;
  for (const auto& n : cluster) {
    if (n.model != nullptr)
      mig_gpus[n.model] += n.gpus;
    else
      mps_gpus += n.gpus;
  }
  std::vector<MixEntry> out;
  // Each family's weights are scaled so that its offered load is proportional to its GPUs:
  // no family is overloaded by the mix alone.
  auto add_family = [&](std::vector<MixEntry> entries, int gpus,
                        const std::function<double(const MixEntry&)>& share) {
    double mean = 0;
    double total = 0;
    for (const auto& e : entries) {
      mean += e.weight * share(e);
      total += e.weight;
    }
    if (total <= 0 || mean <= 0) return;
    mean /= total;
    for (auto& e : entries) {
      e.weight = e.weight / total * gpus / mean;
      if (e.weight > 0) out.push_back(std::move(e));
    }
  };
  std::vector<std::pair<const GpuModel*, int>> models(mig_gpus.begin(), mig_gpus.end());
  std::sort(models.begin(), models.end(),
            [](const auto& a, const auto& b) { return a.first->model < b.first->model; });
  for (const auto& [model, gpus] : models) {
    std::vector<MixEntry> entries;
    for (const auto& p : model->profiles) {
      if (p.has_attribute()) continue;
      double w = 0;
      if (weights->balanced_layout) {
        auto it = model->balanced.find(p.name);
        w = it == model->balanced.end() ? 0 : it->second;
      } else {
        w = shape_weight(weights->mig, p);
      }
      if (w > 0) entries.push_back({p.name, 0, w});
    }
    const int slices = model->compute_slices;
    // Captured by copy: clang before 16 cannot capture a structured binding.
    add_family(std::move(entries), gpus, [&, model = model](const MixEntry& e) {
      return static_cast<double>(model->find_profile(e.profile)->compute_slices) / slices;
    });
  }
  const std::int64_t mps_mib = mean_mps_gpu_mib(cluster);
  if (mps_gpus > 0 && mps_mib > 0) {
    const std::int64_t limit =
        weights->balanced_layout ? smallest_mps_share_mib(cluster) * kMiB : mps_mib / 2 * kMiB;
    std::vector<MixEntry> entries;
    for (const auto& [memory, w] : weights->mps) {
      if (memory <= limit && w > 0) entries.push_back({"", memory, w});
    }
    add_family(std::move(entries), mps_gpus, [&](const MixEntry& e) {
      return static_cast<double>(e.mps_memory_bytes) / static_cast<double>(mps_mib * kMiB);
    });
  }
  if (out.empty()) return Error{"the mix \"" + mix + "\" has no pod this cluster can run"};
  return out;
}

double gpu_share_of(const SimPod& pod, const std::vector<SimNode>& cluster,
                    const Catalog& catalog) {
  if (!pod.profile.empty()) {
    for (const auto& n : cluster) {
      if (n.model == nullptr) continue;
      if (const MigProfile* p = n.model->find_profile(pod.profile))
        return static_cast<double>(p->compute_slices) / n.model->compute_slices;
    }
    for (const auto& m : catalog.models()) {
      if (const MigProfile* p = m.find_profile(pod.profile))
        return static_cast<double>(p->compute_slices) / m.compute_slices;
    }
    return 1;
  }
  const std::int64_t mib = mean_mps_gpu_mib(cluster);
  if (mib <= 0) return 1;
  return std::min(1.0, static_cast<double>(pod.mps_memory_bytes) / static_cast<double>(mib * kMiB));
}

Result<std::vector<SimPod>> generate_workload(const WorkloadSpec& spec,
                                              const std::vector<SimNode>& cluster,
                                              const Catalog& catalog) {
  if (!(spec.load > 0) || spec.load > 10) return Error{"load must be in (0, 10]"};
  if (!(spec.hours > 0) || spec.hours > 24 * 30) return Error{"hours must be in (0, 720]"};
  if (!(spec.runtime_median_s > 0)) return Error{"the run-time median must be > 0"};
  if (spec.runtime_sigma < 0 || spec.runtime_sigma > 4) return Error{"sigma must be in [0, 4]"};
  if (spec.burst_factor < 1 || spec.burst_minutes <= 0 || spec.burst_minutes >= 60 ||
      spec.burst_factor * spec.burst_minutes > 60) {
    return Error{"bursts: factor >= 1, minutes in (0, 60) and factor x minutes <= 60"};
  }
  int gpus = 0;
  for (const auto& n : cluster) gpus += n.gpus;
  if (gpus == 0) return Error{"the cluster has no GPU"};
  const double mean_runtime =
      spec.runtime_median_s * std::exp(spec.runtime_sigma * spec.runtime_sigma / 2);
  const double end_s = spec.hours * 3600;
  SimRandom rng(spec.seed);
  std::vector<SimPod> out;
  double t = 0;
  // The mix is re-read every simulated minute (it moves only for "shifting").
  double mix_at = -1;
  std::vector<MixEntry> mix;
  std::vector<double> weights;
  double rate = 0;
  while (true) {
    if (t - mix_at >= 60 || mix_at < 0) {
      mix_at = t;
      auto m = workload_mix(spec.mix, cluster, catalog, t / end_s);
      if (!m) return Error{m.error()};
      mix = std::move(*m);
      weights.clear();
      double total = 0;
      double mean_share = 0;
      for (const auto& e : mix) {
        weights.push_back(e.weight);
        total += e.weight;
        SimPod probe{0, e.profile, e.mps_memory_bytes, 0, 0};
        mean_share += e.weight * gpu_share_of(probe, cluster, catalog);
      }
      mean_share /= total;
      rate = spec.load * gpus / (mean_share * mean_runtime);
    }
    double factor = 1;
    if (spec.burst_factor > 1) {
      const double minute = std::fmod(t / 60, 60);
      factor = minute < spec.burst_minutes
                   ? spec.burst_factor
                   : (60 - spec.burst_factor * spec.burst_minutes) / (60 - spec.burst_minutes);
      factor = std::max(factor, 1e-6);
    }
    t += rng.exponential(rate * factor);
    if (t >= end_s) break;
    const MixEntry& e = mix[rng.pick(weights)];
    SimPod pod;
    pod.arrival_s = t;
    pod.profile = e.profile;
    pod.mps_memory_bytes = e.mps_memory_bytes;
    pod.runtime_s =
        std::min(spec.runtime_max_s,
                 std::max(1.0, rng.lognormal(spec.runtime_median_s, spec.runtime_sigma)));
    out.push_back(std::move(pod));
  }
  return out;
}

}  // namespace gpushare::policy
