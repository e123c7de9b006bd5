#include "policy/pod_demand.h"

#include <algorithm>
#include <limits>

#include "policy/catalog.h"
#include "policy/quantity.h"

namespace gpushare::policy {

namespace {

constexpr std::string_view kNvidiaPrefix = "nvidia.com/";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// `container "c": nvidia.com/gpu.shared="x"`, the start of an error message.
std::string where(const ContainerView& c, const std::string& resource, const std::string& text) {
  std::string out = c.init ? "init container \"" : "container \"";
  out += c.name;
  out += "\": ";
  out += resource;
  out += "=\"";
  out += text;
  out += '"';
  return out;
}

}  // namespace

bool is_managed_resource(std::string_view resource) {
  return resource == kSharedGpuResource ||
         (starts_with(resource, kMigResourcePrefix) && resource.size() > kMigResourcePrefix.size());
}

bool PodDemand::managed() const {
  return std::any_of(resources.begin(), resources.end(),
                     [](const auto& kv) { return is_managed_resource(kv.first); });
}

std::vector<std::string> PodDemand::managed_resources() const {
  std::vector<std::string> out;
  for (const auto& [name, n] : resources)
    if (is_managed_resource(name)) out.push_back(name);
  return out;
}

std::int64_t PodDemand::count(const std::string& resource) const {
  auto it = resources.find(resource);
  return it == resources.end() ? 0 : it->second;
}

Result<PodDemand> pod_demand(const PodView& pod) {
  std::map<std::string, std::int64_t> init_max;
  std::map<std::string, std::int64_t> app_sum;
  for (const auto& c : pod.containers) {
    // Requests first: that is what the scheduler counts; limits stand in when no request.
    std::map<std::string, std::string> amounts;
    for (const auto& [name, text] : c.limits)
      if (starts_with(name, kNvidiaPrefix)) amounts[name] = text;
    for (const auto& [name, text] : c.requests)
      if (starts_with(name, kNvidiaPrefix)) amounts[name] = text;
    for (const auto& [name, text] : amounts) {
      auto q = parse_quantity(text);
      if (!q) return Error{where(c, name, text) + " is not a quantity: " + q.error()};
      if (q->milli < 0) return Error{where(c, name, text) + " is negative"};
      std::int64_t n = q->ceil_units();
      if (c.init) {
        auto& m = init_max[name];
        m = std::max(m, n);
      } else {
        // Saturate instead of overflowing: no node offers anywhere near INT64_MAX devices.
        auto& sum = app_sum[name];
        sum = n > std::numeric_limits<std::int64_t>::max() - sum
                  ? std::numeric_limits<std::int64_t>::max()
                  : sum + n;
      }
    }
  }
  PodDemand demand;
  for (const auto& [name, n] : app_sum)
    if (n > 0) demand.resources[name] = n;
  for (const auto& [name, n] : init_max) {
    auto& cur = demand.resources[name];
    cur = std::max(cur, n);
    if (cur == 0) demand.resources.erase(name);
  }
  return demand;
}

}  // namespace gpushare::policy
