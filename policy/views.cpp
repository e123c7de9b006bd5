#include "policy/views.h"

#include <algorithm>

namespace gpushare::policy {

std::string PodView::display_name() const {
  if (!name.empty()) return namespace_name + "/" + name;
  if (!generate_name.empty()) return namespace_name + "/" + generate_name + "*";
  return namespace_name + "/<unnamed>";
}

std::int64_t NodeView::free(const std::string& resource) const {
  auto a = allocatable.find(resource);
  if (a == allocatable.end()) return 0;
  auto u = used.find(resource);
  std::int64_t held = u == used.end() ? 0 : u->second;
  return a->second > held ? a->second - held : 0;
}

const NodeView* ClusterView::find(std::string_view name) const {
  auto it = std::lower_bound(nodes.begin(), nodes.end(), name,
                             [](const NodeView& n, std::string_view key) { return n.name < key; });
  return it != nodes.end() && it->name == name ? &*it : nullptr;
}

}  // namespace gpushare::policy
