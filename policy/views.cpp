#include "policy/views.h"

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

}  // namespace gpushare::policy
