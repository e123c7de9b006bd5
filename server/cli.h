// The `gpushare` command line (CONTRACT.md section 1): serve, mutate, filter, prioritize,
// plan, certs. Returns the process exit code.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace gpushare::server {

int run_cli(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
            std::ostream& err);

}  // namespace gpushare::server
