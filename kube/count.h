// Extended-resource quantities (nvidia.com/gpu: "4") as whole numbers, parsed by the shared
// policy/quantity grammar. The apiserver only
// accepts whole numbers for extended resources.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace gpushare::kube {

// A Kubernetes quantity that is a whole non-negative number within int64 ("4", "1k", "2Ki",
// "3e2", "1.5k"). nullopt for anything else ("500m", "-1", "1.5", "", "x").
std::optional<std::int64_t> parse_count(std::string_view quantity);

}  // namespace gpushare::kube
