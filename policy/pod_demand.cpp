#include "policy/pod_demand.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <vector>

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
  using Counts = std::map<std::string, std::int64_t>;
  // Saturate instead of overflowing: no node offers anywhere near INT64_MAX devices.
  auto add = [](Counts& to, const Counts& from) {
    for (const auto& [name, n] : from) {
      auto& sum = to[name];
      sum = n > std::numeric_limits<std::int64_t>::max() - sum
                ? std::numeric_limits<std::int64_t>::max()
                : sum + n;
    }
  };
  auto raise_to = [](Counts& to, const Counts& from) {
    for (const auto& [name, n] : from) to[name] = std::max(to[name], n);
  };

  // Init containers run one after another in spec order; a sidecar keeps running after it
  // starts, beside every later init container and the app containers.
  std::vector<const ContainerView*> init;
  for (const auto& c : pod.containers) {
    if (c.init) init.push_back(&c);
  }
  std::stable_sort(init.begin(), init.end(), [](const ContainerView* a, const ContainerView* b) {
    return a->index < b->index;
  });
  std::vector<const ContainerView*> ordered = init;
  for (const auto& c : pod.containers) {
    if (!c.init) ordered.push_back(&c);
  }

  Counts running;   // app containers and sidecars
  Counts sidecars;  // sidecars started so far
  Counts init_peak;
  for (const ContainerView* c : ordered) {
    // Requests first: that is what the scheduler counts; limits stand in when no request.
    std::map<std::string, std::string> amounts;
    for (const auto& [name, text] : c->limits)
      if (starts_with(name, kNvidiaPrefix)) amounts[name] = text;
    for (const auto& [name, text] : c->requests)
      if (starts_with(name, kNvidiaPrefix)) amounts[name] = text;
    Counts own;
    for (const auto& [name, text] : amounts) {
      auto q = parse_quantity(text);
      if (!q) return Error{where(*c, name, text) + " is not a quantity: " + q.error()};
      if (q->milli < 0) return Error{where(*c, name, text) + " is negative"};
      own[name] = q->ceil_units();
    }
    if (!c->init) {
      add(running, own);
    } else if (c->restartable) {
      add(running, own);
      add(sidecars, own);
      raise_to(init_peak, sidecars);
    } else {
      Counts peak = own;
      add(peak, sidecars);
      raise_to(init_peak, peak);
    }
  }
  raise_to(running, init_peak);
  PodDemand demand;
  for (const auto& [name, n] : running) {
    if (n > 0) demand.resources.emplace(name, n);
  }
  return demand;
}

}  // namespace gpushare::policy
