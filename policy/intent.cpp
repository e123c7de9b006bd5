#include "policy/intent.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "policy/quantity.h"

namespace gpushare::policy {

std::string_view to_string(ShareMode mode) {
  switch (mode) {
    case ShareMode::kMps:
      return "mps";
    case ShareMode::kMig:
      return "mig";
    case ShareMode::kAuto:
      return "auto";
  }
  return "auto";
}

std::string_view to_string(PlacementPolicy policy) {
  return policy == PlacementPolicy::kSpread ? "spread" : "binpack";
}

namespace {

constexpr std::array<std::string_view, 7> kKnownKeys = {
    kModeKey,       kMigProfileKey, kGpuMemoryKey,       kGpuComputeKey,
    kGpuProductKey, kPlacementKey,  kAssignedResourceKey};

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

// A short list of allowed profile names for a message: all of them would be ~80 names.
std::string profile_examples(const std::vector<std::string>& known) {
  std::vector<std::string> shown(known.begin(),
                                 known.begin() + std::min<std::size_t>(known.size(), 8));
  std::string s = join(shown, ", ");
  if (known.size() > shown.size()) s += ", ... (" + std::to_string(known.size()) + " in all)";
  return s;
}

struct Parser {
  std::string_view prefix;
  const ProfileLister& known_profiles;
  Intent intent;
  std::vector<std::string> errors;

  std::string key(std::string_view k) const { return std::string(prefix) + std::string(k); }

  void fail(std::string_view k, std::string_view value, std::string_view allowed) {
    errors.push_back("annotation " + key(k) + "=\"" + std::string(value) +
                     "\" is invalid: " + std::string(allowed));
  }

  void mode(const std::string& v) {
    intent.mode_given = true;
    if (v == "mps")
      intent.mode = ShareMode::kMps;
    else if (v == "mig")
      intent.mode = ShareMode::kMig;
    else if (v == "auto")
      intent.mode = ShareMode::kAuto;
    else
      fail(kModeKey, v, "allowed values are mps, mig, auto");
  }

  void mig_profile(const std::string& v) {
    const std::vector<std::string> known = known_profiles();
    if (std::find(known.begin(), known.end(), v) == known.end()) {
      fail(kMigProfileKey, v,
           "unknown MIG profile; use a profile name as nvidia-smi prints it, e.g. " +
               profile_examples(known));
      return;
    }
    intent.mig_profile = v;
  }

  void gpu_memory(const std::string& v) {
    auto q = parse_quantity(v);
    if (!q) {
      fail(kGpuMemoryKey, v,
           "expected a Kubernetes quantity such as 20Gi or 12000Mi (" + q.error() + ")");
      return;
    }
    if (q->milli <= 0) {
      fail(kGpuMemoryKey, v, "must be greater than zero, e.g. 20Gi");
      return;
    }
    intent.gpu_memory_bytes = q->ceil_units();
    intent.gpu_memory_text = v;
  }

  void gpu_compute(const std::string& v) {
    int pct = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), pct);
    if (ec != std::errc() || end != v.data() + v.size() || pct < 1 || pct > 100) {
      fail(kGpuComputeKey, v, "expected a whole percent of the GPU's SMs from 1 to 100, e.g. 25");
      return;
    }
    intent.gpu_compute_percent = pct;
  }

  void gpu_product(const std::string& v) {
    std::vector<std::string> products;
    std::size_t start = 0;
    while (start <= v.size()) {
      auto comma = v.find(',', start);
      auto item = trim(std::string_view(v).substr(
          start, comma == std::string::npos ? std::string::npos : comma - start));
      if (item.empty()) {
        fail(kGpuProductKey, v,
             "expected comma-separated nvidia.com/gpu.product values such as NVIDIA-H100-80GB-HBM3 "
             "(empty entry)");
        return;
      }
      products.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    intent.gpu_products = std::move(products);
  }

  void placement(const std::string& v) {
    if (v == "binpack")
      intent.placement = PlacementPolicy::kBinpack;
    else if (v == "spread")
      intent.placement = PlacementPolicy::kSpread;
    else
      fail(kPlacementKey, v, "allowed values are binpack, spread");
  }
};

}  // namespace

Result<Intent> parse_intent(const StringMap& annotations, std::string_view prefix,
                            const ProfileLister& known_profiles) {
  Parser p{prefix, known_profiles, {}, {}};
  for (const auto& [full_key, raw] : annotations) {
    if (full_key.size() < prefix.size() || full_key.compare(0, prefix.size(), prefix) != 0)
      continue;
    std::string_view k = std::string_view(full_key).substr(prefix.size());
    std::string v = trim(raw);
    if (k == kAssignedResourceKey) continue;  // our own output, rewritten on every admission
    p.intent.present = true;
    if (k == kModeKey)
      p.mode(v);
    else if (k == kMigProfileKey)
      p.mig_profile(v);
    else if (k == kGpuMemoryKey)
      p.gpu_memory(v);
    else if (k == kGpuComputeKey)
      p.gpu_compute(v);
    else if (k == kGpuProductKey)
      p.gpu_product(v);
    else if (k == kPlacementKey)
      p.placement(v);
    else {
      std::vector<std::string> allowed;
      for (auto known : kKnownKeys) {
        if (known != kAssignedResourceKey) allowed.push_back(p.key(known));
      }
      p.errors.push_back("unknown annotation " + full_key + "=\"" + v + "\": allowed keys are " +
                         join(allowed, ", "));
    }
  }
  // A named profile implies MIG; an explicit MPS mode contradicts it (rule 6).
  if (p.intent.mig_profile) {
    if (p.intent.mode_given && p.intent.mode == ShareMode::kMps) {
      p.errors.push_back(
          "annotations " + p.key(kModeKey) + "=mps and " + p.key(kMigProfileKey) + "=" +
          *p.intent.mig_profile +
          " contradict each other: MPS shares a whole GPU and MIG profiles need MIG; "
          "remove one of them");
    } else {
      p.intent.mode = ShareMode::kMig;
    }
  }
  if (!p.errors.empty()) return Error{join(p.errors, "; ")};
  return p.intent;
}

}  // namespace gpushare::policy
