// ApiOps and ClusterReader on the real thing: kube::Client for writes, kube::ClusterCache
// for reads.
#pragma once

#include <functional>
#include <memory>

#include "kube/cache.h"
#include "kube/client.h"
#include "repartition/ports.h"

namespace gpushare::repartition {

struct OperatorConfigMaps {
  std::string namespace_name = "gpu-operator";
  std::string device_plugin = "device-plugin-config";
  std::string mig_parted = "custom-mig-parted-config";
};

class KubeApiOps : public ApiOps {
 public:
  // `written_node` gets every Node as kube-apiserver returned it from a write of ours (the
  // cache's observe_written_node: read-your-writes for the extender).
  using WrittenNode = std::function<void(const nlohmann::json& node)>;
  KubeApiOps(std::shared_ptr<kube::Client> client, OperatorConfigMaps config_maps,
             std::string host = {}, WrittenNode written_node = {});

  Result<std::chrono::system_clock::time_point> write_entry(
      const Action& action, std::chrono::system_clock::time_point now) override;
  Result<bool> update_node(const std::string& node, const NodeMutation& mutate) override;
  Result<EvictOutcome> evict(const std::string& namespace_name, const std::string& name) override;
  void event(const kube::EventSpec& event) override;
  ConfigNames config_names() override;
  Result<std::vector<std::string>> prune_entries(const kube::PruneRule& rule) override;

 private:
  std::shared_ptr<kube::Client> client_;
  OperatorConfigMaps maps_;
  std::string host_;
  WrittenNode written_node_;
};

// Reads a Node's labels, annotations and our taint into a NodeEdit, and writes one back
// (other taints untouched). Pure, for tests.
NodeEdit node_edit_of(const nlohmann::json& node);
void apply_node_edit(nlohmann::json& node, const NodeEdit& edit);

class CacheReader : public ClusterReader {
 public:
  explicit CacheReader(const kube::ClusterCache& cache) : cache_(cache) {}
  policy::ClusterView snapshot() const override { return cache_.snapshot(); }
  std::vector<kube::PodRecord> unschedulable_pods() const override {
    return cache_.unschedulable_pods();
  }
  std::vector<policy::NodeView> nodes_annotated(
      const std::vector<std::string>& keys) const override {
    return cache_.nodes_annotated(keys);
  }
  std::vector<kube::PodRecord> pods_on_node(const std::string& node) const override {
    return cache_.pods_on_node(node);
  }
  std::vector<kube::PodRecord> bound_pods() const override { return cache_.bound_pods(); }
  std::optional<std::string> pod_node(const std::string& key) const override {
    return cache_.pod_node(key);
  }
  bool following() const override { return cache_.is_following(); }
  policy::Arrivals recent_arrivals() const override { return cache_.recent_arrivals(); }

 private:
  const kube::ClusterCache& cache_;
};

}  // namespace gpushare::repartition
