// `gpushare plan`: the repartition planner, offline. The planner (policy/planner) is the
// repartitioning issue's work; until it lands the command says so and changes nothing.
#include <iostream>

#include "server/serve.h"

namespace gpushare::server {

int run_plan(const std::vector<std::string>&, const std::optional<std::string>&, std::istream&, std::ostream&,
             std::ostream& err) {
  err << "gpushare: plan is not available in this build yet (the repartition planner is pending)\n";
  return 2;
}

}  // namespace gpushare::server
