// `gpushare serve` and `gpushare plan`: the long-running server and the offline planner.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace gpushare::server {

struct ServeFlags {
  std::optional<std::string> config, listen, tls_cert, tls_key, kubeconfig, catalog;
};

// Runs until SIGTERM or SIGINT; 0 after a clean shutdown, 1 when startup fails, 2 for a bad
// flag or config.
int run_serve(const ServeFlags& flags, std::ostream& err);

int run_plan(const std::vector<std::string>& positional, const std::optional<std::string>& catalog,
             std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace gpushare::server
