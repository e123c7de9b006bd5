// kubeconfig YAML (`serve --kubeconfig`, `certs --kubeconfig`). Relative file names resolve
// against an empty directory, so they are simply missing; absolute ones are whatever exists.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kube/kubeconfig.h"

namespace {

char dir[] = "/tmp/gpushare-fuzz-kubeconfig-XXXXXX";

// Made once per process and removed at exit (it stays empty: nothing here writes files).
std::string empty_dir() {
  if (mkdtemp(dir) == nullptr) std::abort();
  std::atexit([] { rmdir(dir); });
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string base_dir = empty_dir();
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  gpushare::kube::parse_kubeconfig(yaml, base_dir, "", "fuzz");
  return 0;
}
