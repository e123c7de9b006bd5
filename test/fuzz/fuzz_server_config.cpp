// `serve --config FILE`: the server's YAML configuration.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  gpushare::server::parse_config(yaml);
  return 0;
}
