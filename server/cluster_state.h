// What the server knows of the cluster, behind one interface: a live watch cache when a
// cluster is configured, a fixed NodeList for the offline commands (--nodes), or nothing.
#pragma once

#include <optional>
#include <string>

#include "policy/views.h"

namespace gpushare::server {

class ClusterState {
 public:
  virtual ~ClusterState() = default;
  virtual policy::ClusterView snapshot() const = 0;
  virtual std::optional<policy::NodeView> node(const std::string& name) const = 0;
  // True once the first list of nodes and pods is in (always true for a fixed view).
  virtual bool synced() const = 0;
};

class StaticClusterState : public ClusterState {
 public:
  explicit StaticClusterState(policy::ClusterView view = {}) : view_(std::move(view)) {}
  policy::ClusterView snapshot() const override { return view_; }
  std::optional<policy::NodeView> node(const std::string& name) const override {
    for (const auto& n : view_.nodes) {
      if (n.name == name) return n;
    }
    return std::nullopt;
  }
  bool synced() const override { return true; }

 private:
  policy::ClusterView view_;
};

}  // namespace gpushare::server
