// What admission needs to know of the cluster as a whole: which MIG profiles nodes publish,
// which GPU products exist, which MPS shares are offered. A webhook call must cost what its
// pod costs, not what the cluster costs, so these are computed once per cluster change
// (ClusterFactsTally keeps them as counts, so a node change costs that node) and every
// admission reads the same immutable ClusterFacts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "policy/views.h"

namespace gpushare::policy {

// One kind of MPS-shared GPU, from a node's GFD labels (nvidia.md section 1.4).
struct MpsShare {
  std::string product;  // nvidia.com/gpu.product, as labelled (may end in -SHARED)
  std::int64_t replicas = 0;
  // nvidia.com/gpu.memory (MiB) in bytes; nullopt when unlabelled or unreadable (admission then
  // falls back to the catalog's memory for the product).
  std::optional<std::int64_t> memory_bytes;

  friend bool operator<(const MpsShare& a, const MpsShare& b) {
    return std::tie(a.product, a.replicas, a.memory_bytes) <
           std::tie(b.product, b.replicas, b.memory_bytes);
  }
  friend bool operator==(const MpsShare& a, const MpsShare& b) { return !(a < b) && !(b < a); }
};

struct ClusterFacts {
  std::size_t node_count = 0;
  // Profile names ("1g.10gb+me") of MIG resources some node has allocatable > 0; sorted.
  std::vector<std::string> published_profiles;
  // Distinct non-empty nvidia.com/gpu.product values; sorted.
  std::vector<std::string> products;
  // Distinct MPS offers of nodes labelled sharing-strategy=mps with a readable replica count >= 1.
  std::vector<MpsShare> mps_shares;

  bool publishes_profile(const std::string& profile) const;
};

// Counts of each fact over the nodes added and not removed; facts() lists those with a count.
class ClusterFactsTally {
 public:
  void add(const NodeView& node) { count(node, +1); }
  // `node` must be as it was when added (the cache removes the old version before adding the new).
  void remove(const NodeView& node) { count(node, -1); }
  void clear();
  ClusterFacts facts() const;

 private:
  void count(const NodeView& node, int sign);
  std::int64_t nodes_ = 0;
  std::map<std::string, std::int64_t> profiles_, products_;
  std::map<MpsShare, std::int64_t> mps_shares_;
};

ClusterFacts facts_of(const ClusterView& cluster);

// "1g.10gb.me" (as written in resource names and GFD labels) -> "1g.10gb+me": the first '.'
// after the "<M>gb" part stands for '+' (nvidia.md section 2).
std::string profile_from_resource_suffix(std::string_view suffix);

}  // namespace gpushare::policy
