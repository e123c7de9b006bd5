// run_cli in process with its output captured: the CLI tests' one way to call `gpushare`.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "server/cli.h"

namespace gpushare::server::testing {

struct CliRun {
  int code = 0;
  std::string out;
  std::string err;
};

inline CliRun cli(const std::vector<std::string>& args, const std::string& stdin_text = {}) {
  std::istringstream in(stdin_text);
  std::ostringstream out;
  std::ostringstream err;
  CliRun r;
  r.code = run_cli(args, in, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace gpushare::server::testing
