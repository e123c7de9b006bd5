// POST /filter and POST /prioritize: ExtenderArgs from kube-scheduler. The first byte picks the
// verb (even: filter, odd: prioritize), so one corpus serves both.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "extender/extender.h"
#include "test/fuzz/sample_cluster.h"

using namespace gpushare;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const extender::NodeSource nodes = extender::node_source_from(fuzz::sample_nodes());
  static const extender::ExtenderSettings settings;
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    extender::handle_filter(body, nodes, settings);
  } else {
    extender::handle_prioritize(body, nodes, settings);
  }
  return 0;
}
