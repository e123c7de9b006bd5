// What the server knows of the cluster, behind one interface: a live watch cache when a
// cluster is configured, a fixed NodeList for the offline commands (--nodes), or nothing.
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "policy/views.h"

namespace gpushare::server {

class ClusterState {
 public:
  virtual ~ClusterState() = default;
  // Shared and immutable: a webhook call must not copy every node (a 500-node copy costs more
  // than the decision itself).
  virtual std::shared_ptr<const policy::ClusterView> snapshot() const = 0;
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
    view_ = std::make_shared<const policy::ClusterView>(std::move(view));
  }
  std::shared_ptr<const policy::ClusterView> snapshot() const override { return view_; }
  bool ready() const override { return true; }

 private:
  std::shared_ptr<const policy::ClusterView> view_;
};

}  // namespace gpushare::server
