#include "policy/node_label_map.h"

#include <stdexcept>

namespace gpushare::policy {

const std::string& NodeLabels::at(std::string_view key) const {
  if (const std::string* value = find_value(key)) return *value;
  throw std::out_of_range("no label " + std::string(key));
}

std::string& NodeLabels::operator[](std::string_view key) {
  auto it = map_.find(key);
  if (it == map_.end()) {
    it = map_.emplace(std::string(key), std::string()).first;
    note(it);
  }
  return it->second;
}

bool NodeLabels::emplace(std::string_view key, std::string value) {
  auto [it, inserted] = map_.try_emplace(std::string(key), std::move(value));
  if (inserted) note(it);
  return inserted;
}

std::size_t NodeLabels::erase(std::string_view key) {
  auto it = map_.find(key);
  if (it == map_.end()) return 0;
  if (const std::size_t slot = gfd::indexed_slot(key); slot < slots_.size()) slots_[slot] = nullptr;
  map_.erase(it);
  return 1;
}

void NodeLabels::reindex() {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    auto it = map_.find(gfd::kIndexed[i]);
    slots_[i] = it == map_.end() ? nullptr : &*it;
  }
}

void NodeLabels::note(StringMap::iterator it) {
  if (const std::size_t slot = gfd::indexed_slot(it->first); slot < slots_.size())
    slots_[slot] = &*it;
}

}  // namespace gpushare::policy
