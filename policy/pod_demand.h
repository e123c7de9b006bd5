// What GPU resources a pod asks for, from its containers' resource maps (CONTRACT.md sections 2-3).
// The extender decides on it; the node cache can sum it per node to know what is held there.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "policy/views.h"

namespace gpushare::policy {

// gpushare decides placement for these: nvidia.com/gpu.shared and every nvidia.com/mig-*.
// Plain nvidia.com/gpu is left to the scheduler's own NodeResourcesFit.
bool is_managed_resource(std::string_view resource);

struct PodDemand {
  // nvidia.com/* resource -> effective count, as the scheduler counts it
  // (k8s.io/component-helpers resource.PodRequests): app containers and sidecars add up; each
  // ordinary init container peaks at its own amount plus the sidecars started before it; the pod
  // needs the larger of the two. Only counts > 0 are kept. The extender, the planner and the
  // watch cache's `used` all read this one rule.
  std::map<std::string, std::int64_t> resources;

  // Asks for at least one gpushare-managed resource.
  bool managed() const;
  // The managed resources asked for, in name order.
  std::vector<std::string> managed_resources() const;
  std::int64_t count(const std::string& resource) const;
};

// A container's amount is its request when present, else its limit (for extended resources the
// apiserver requires both to be equal, and defaults the request to the limit). Quantities are
// rounded up to whole units. Errors name the container, the resource and the text.
Result<PodDemand> pod_demand(const PodView& pod);

}  // namespace gpushare::policy
