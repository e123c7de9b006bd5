// `gpushare simulate`: replays a workload against a cluster under the static layouts, the
// on-demand planner and a greedy baseline (policy/sim.h), and prints one row per policy.
#pragma once

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace gpushare::server {

// Flag name (without "--") -> its values, as the CLI parsed them.
using SimulateFlags = std::map<std::string, std::vector<std::string>>;

int run_simulate(const SimulateFlags& flags, std::istream& in, std::ostream& out,
                 std::ostream& err);

}  // namespace gpushare::server
