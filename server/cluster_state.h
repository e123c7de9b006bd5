// What the server knows of the cluster, behind one interface: a live watch cache when a
// cluster is configured, a fixed NodeList for the offline commands (--nodes), or nothing.
//
// Requests read only what they ask about: admission the cluster-wide facts (computed once per
// change, not per call), the extender the nodes it names. Nothing here copies the cluster.
#pragma once

#include <algorithm>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "policy/cluster_facts.h"
#include "policy/views.h"

namespace gpushare::server {

class ClusterState {
 public:
  virtual ~ClusterState() = default;
  virtual std::shared_ptr<const policy::ClusterFacts> facts() const = 0;
  // The node of each name, appended to `out` in order: shared and immutable (each stays valid
  // while held), nullptr when unknown. One call per request, so a cache takes its lock once.
  virtual void nodes(std::span<const std::string_view> names,
                     std::vector<std::shared_ptr<const policy::NodeView>>& out) const = 0;
  virtual std::size_t node_count() const = 0;
  // The view can be served from: for the watch cache, the first lists are in and no list or
  // watch has been failing for long (kube::ClusterCache::is_current); always for a fixed view.
  // /readyz follows it.
  virtual bool ready() const = 0;
};

class StaticClusterState : public ClusterState {
 public:
  explicit StaticClusterState(policy::ClusterView view = {}) {
    std::stable_sort(view.nodes.begin(), view.nodes.end(),
                     [](const auto& a, const auto& b) { return a.name < b.name; });
    facts_ = std::make_shared<const policy::ClusterFacts>(policy::facts_of(view));
    view_ = std::make_shared<const policy::ClusterView>(std::move(view));
  }
  std::shared_ptr<const policy::ClusterFacts> facts() const override { return facts_; }
  void nodes(std::span<const std::string_view> names,
             std::vector<std::shared_ptr<const policy::NodeView>>& out) const override {
    out.reserve(out.size() + names.size());
    for (std::string_view name : names) {
      const policy::NodeView* found = view_->find(name);
      // Shares the view's ownership: no copy of the node.
      out.push_back(found ? std::shared_ptr<const policy::NodeView>(view_, found) : nullptr);
    }
  }
  std::size_t node_count() const override { return view_->nodes.size(); }
  bool ready() const override { return true; }

 private:
  std::shared_ptr<const policy::ClusterView> view_;
  std::shared_ptr<const policy::ClusterFacts> facts_;
};

}  // namespace gpushare::server
