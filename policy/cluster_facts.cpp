#include "policy/cluster_facts.h"

#include <algorithm>
#include <charconv>

#include "policy/catalog.h"
#include "policy/node_labels.h"

namespace gpushare::policy {

namespace {

std::optional<std::int64_t> parse_int(const std::string& text) {
  std::int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return v;
}

template <typename Key>
void bump(std::map<Key, std::int64_t>& counts, const Key& key, int sign) {
  auto& n = counts[key];
  n += sign;
  if (n <= 0) counts.erase(key);
}

template <typename Key>
std::vector<Key> keys(const std::map<Key, std::int64_t>& counts) {
  std::vector<Key> out;
  out.reserve(counts.size());
  for (const auto& [key, n] : counts) out.push_back(key);
  return out;
}

}  // namespace

std::string profile_from_resource_suffix(std::string_view suffix) {
  std::string s(suffix);
  auto gb = s.find("gb");
  if (gb != std::string::npos && gb + 2 < s.size() && s[gb + 2] == '.') s[gb + 2] = '+';
  return s;
}

bool ClusterFacts::publishes_profile(const std::string& profile) const {
  return std::binary_search(published_profiles.begin(), published_profiles.end(), profile);
}

void ClusterFactsTally::count(const NodeView& node, int sign) {
  nodes_ += sign;
  const std::string_view prefix = kMigResourcePrefix;
  for (const auto& [resource, n] : node.allocatable) {
    if (n > 0 && resource.compare(0, prefix.size(), prefix) == 0)
      bump(profiles_,
           profile_from_resource_suffix(std::string_view(resource).substr(prefix.size())), sign);
  }
  const std::string product = node.label(std::string(gfd::kProduct));
  if (!product.empty()) bump(products_, product, sign);
  if (node.dra) {
    // DRA devices are the node's GPUs as much as labels are; a node that has both (GFD runs
    // beside the DRA driver) counts each product and profile once.
    for (const auto& p : node.dra->products)
      if (p != product) bump(products_, p, sign);
    for (const auto& p : node.dra->profiles) {
      const bool labelled = std::any_of(
          node.allocatable.begin(), node.allocatable.end(),
          [&](const auto& kv) { return kv.second > 0 && kv.first == mig_resource_for_profile(p); });
      if (!labelled) bump(profiles_, p, sign);
    }
  }
  if (node.label(std::string(gfd::kSharingStrategy)) != "mps") return;
  // An MPS node without a readable replica count tells admission nothing.
  auto replicas = parse_int(node.label(std::string(gfd::kReplicas)));
  if (!replicas || *replicas < 1) return;
  MpsShare share{product, *replicas, std::nullopt};
  if (auto mib = parse_int(node.label(std::string(gfd::kMemoryMiB))))
    share.memory_bytes = *mib * 1024 * 1024;
  bump(mps_shares_, share, sign);
}

void ClusterFactsTally::clear() {
  nodes_ = 0;
  profiles_.clear();
  products_.clear();
  mps_shares_.clear();
}

ClusterFacts ClusterFactsTally::facts() const {
  ClusterFacts f;
  f.node_count = static_cast<std::size_t>(std::max<std::int64_t>(nodes_, 0));
  f.published_profiles = keys(profiles_);
  f.products = keys(products_);
  f.mps_shares = keys(mps_shares_);
  return f;
}

ClusterFacts facts_of(const ClusterView& cluster) {
  ClusterFactsTally tally;
  for (const auto& node : cluster.nodes) tally.add(node);
  return tally.facts();
}

}  // namespace gpushare::policy
