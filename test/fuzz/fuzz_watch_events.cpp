// A watch's body from kube-apiserver: newline-delimited events, handed over in pieces as libcurl
// would, each object decoded and applied to an index as the watch cache does.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codec/json.h"
#include "kube/cluster_index.h"
#include "kube/decode.h"
#include "kube/watch_events.h"

using namespace gpushare::kube;

namespace {

// Small, so that the "one event is larger than" path is reachable within -max_len.
constexpr std::size_t kLineLimit = 4096;

// One stream holds Nodes or Pods; the object's kind says which watch this would be.
bool apply(ClusterIndex& index, const WatchEvent& event) {
  if (event.type == "BOOKMARK") return true;
  const bool pod = gpushare::codec::string_member(event.object, "kind") == "Pod";
  if (pod) {
    auto record = decode_pod(event.object);
    if (!record) return true;
    if (event.type == "DELETED" || record->terminated) {
      index.remove_pod(record->key());
    } else {
      index.upsert_pod(std::move(*record));
    }
    return true;
  }
  auto record = decode_node(event.object);
  if (!record) return true;
  if (event.type == "DELETED") {
    index.remove_node(record->view.name);
  } else {
    index.upsert_node(std::move(*record));
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ClusterIndex index;
  WatchHandler handler = [&index](const WatchEvent& event) { return apply(index, event); };
  std::string resource_version;
  WatchEventLines lines(handler, resource_version, "/api/v1/fuzz", kLineLimit);

  // Cut the body at places the bytes themselves choose: each piece's first byte sets its length.
  std::string_view body(reinterpret_cast<const char*>(data), size);
  bool go_on = true;
  for (std::size_t pos = 0; go_on && pos < body.size();) {
    const std::size_t n = std::min<std::size_t>(1 + data[pos] % 97, body.size() - pos);
    go_on = lines.write(200, body.substr(pos, n));
    pos += n;
  }
  if (go_on) lines.flush();
  index.facts();
  index.snapshot();
  return 0;
}
