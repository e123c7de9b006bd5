// `gpushare plan` with its input on stdin: nodes, pods and ConfigMaps as JSON, then the planner.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "server/cli.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::ostringstream out;
  std::ostringstream err;
  gpushare::server::run_cli({"plan"}, in, out, err);
  return 0;
}
