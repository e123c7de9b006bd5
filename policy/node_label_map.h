// A node's labels: an ordered map of key -> value that also remembers where the GPU labels are.
//
// Why: the extender judges every node kube-scheduler names, up to 15,000 per call, and each
// judgement reads about ten GPU Feature Discovery labels. In a std::map of ~30 labels whose keys
// all start with "nvidia.com/" and live on the heap, each read walked five cold tree nodes and
// compared heap keys: a quarter of a /filter's time at 5,000 nodes went to those compares.
// NodeLabels keeps, beside the map, a pointer to the entry of each key in gfd::kIndexed, so
// reading one of them is one pointer away. Everything else behaves as the map does.
//
// The pointers stay right because every change goes through this class (the map is private) and
// std::map never moves an element: inserting or erasing one key leaves the others' addresses.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "policy/node_labels.h"

namespace gpushare::policy {

// Transparent: labels are looked up by string_view constants on the extender's hot path, and a
// lookup must not build a std::string key (most GFD keys are past the small-string buffer).
using StringMap = std::map<std::string, std::string, std::less<>>;

class NodeLabels {
 public:
  using const_iterator = StringMap::const_iterator;
  using value_type = StringMap::value_type;

  NodeLabels() = default;
  NodeLabels(StringMap map) : map_(std::move(map)) { reindex(); }  // NOLINT: implicit on purpose
  NodeLabels(std::initializer_list<value_type> init) : map_(init) { reindex(); }
  NodeLabels(const NodeLabels& other) : map_(other.map_) { reindex(); }
  // A moved map keeps its elements where they are, so the pointers move with it.
  NodeLabels(NodeLabels&& other) noexcept : map_(std::move(other.map_)), slots_(other.slots_) {
    other.map_.clear();
    other.slots_ = {};
  }
  NodeLabels& operator=(const NodeLabels& other) {
    if (this != &other) {
      map_ = other.map_;
      reindex();
    }
    return *this;
  }
  NodeLabels& operator=(NodeLabels&& other) noexcept {
    if (this != &other) {
      map_ = std::move(other.map_);
      slots_ = other.slots_;
      other.map_.clear();
      other.slots_ = {};
    }
    return *this;
  }

  // The value of `key`, or nullptr when absent. For a key of gfd::kIndexed (pass the constant):
  // no map lookup.
  const std::string* find_value(std::string_view key) const {
    if (const std::size_t slot = gfd::indexed_slot(key); slot < slots_.size())
      return slots_[slot] == nullptr ? nullptr : &slots_[slot]->second;
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }

  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }
  const_iterator find(std::string_view key) const { return map_.find(key); }
  std::size_t count(std::string_view key) const { return find_value(key) == nullptr ? 0 : 1; }
  bool contains(std::string_view key) const { return find_value(key) != nullptr; }
  const std::string& at(std::string_view key) const;  // throws std::out_of_range when absent
  bool empty() const { return map_.empty(); }
  std::size_t size() const { return map_.size(); }
  const StringMap& map() const { return map_; }
  // Read-only, so it cannot bypass the index: code that takes labels as a StringMap reads these.
  operator const StringMap&() const { return map_; }  // NOLINT: implicit on purpose

  // The value of `key`, inserted empty when absent (as std::map's operator[]).
  std::string& operator[](std::string_view key);
  // Sets `key` to `value`, inserting or replacing.
  void set(std::string_view key, std::string value) { (*this)[key] = std::move(value); }
  // Inserts when absent; returns whether it did (std::map::emplace's second).
  bool emplace(std::string_view key, std::string value);
  std::size_t erase(std::string_view key);
  void clear() {
    map_.clear();
    slots_ = {};
  }

  // Erases every label for which pred(const value_type&) holds (std::erase_if for a map).
  template <class Pred>
  friend std::size_t erase_if(NodeLabels& labels, Pred pred) {
    const std::size_t erased = std::erase_if(labels.map_, pred);
    if (erased != 0) labels.reindex();
    return erased;
  }

  friend bool operator==(const NodeLabels& a, const NodeLabels& b) { return a.map_ == b.map_; }

 private:
  void reindex();
  void note(StringMap::iterator it);

  StringMap map_;
  std::array<const value_type*, gfd::kIndexed.size()> slots_{};
};

}  // namespace gpushare::policy
