// The watch cache's store: nodes and the GPU pods bound to them as the watches last reported
// them, served to many request threads at once.
//
// Readers never copy the cluster. Each node is kept as one immutable NodeView with `used`
// filled in, shared by pointer with whoever reads it; a change replaces only what it touched:
// a pod event re-renders its node's view, a node event re-renders that node and moves the
// cluster-wide facts (policy::ClusterFactsTally) by that node. So a request costs what it asks
// about, and a change costs what changed, at 15 nodes or 15,000.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kube/decode.h"
#include "kube/resource_slice.h"
#include "policy/cluster_facts.h"
#include "policy/views.h"

namespace gpushare::kube {

class ClusterIndex {
 public:
  ClusterIndex();

  // Whole lists (the first list, or a relist after 410).
  void replace_nodes(std::vector<NodeRecord> nodes);
  void replace_pods(std::vector<PodRecord> pods);
  // Each returns whether the object was there before.
  enum class NodeUpsert { kAdded, kModified, kStale };
  // kStale (nothing changed): the index holds a newer resourceVersion of this node already,
  // e.g. gpushare's own write applied by observe-after-write before the watch delivers the
  // older event that preceded it.
  NodeUpsert upsert_node(NodeRecord node);
  bool remove_node(const std::string& name);
  bool upsert_pod(PodRecord pod);
  bool remove_pod(const std::string& key);
  // DRA: a node's view carries the merge of the ResourceSlices that name it (policy::DraGpus).
  // Slices may come before or after their node. Each returns whether the slice was there before.
  void replace_resource_slices(std::vector<ResourceSliceRecord> slices);
  bool upsert_resource_slice(ResourceSliceRecord slice);
  bool remove_resource_slice(const std::string& name);

  // Readers; all may run while the writers do.
  std::shared_ptr<const policy::NodeView> node(std::string_view name) const;  // nullptr: unknown
  // node() for each name, appended to `out` in order, under one acquisition of the lock: the
  // extender asks for hundreds to thousands at once, and a lock per name contended with the
  // watch thread's writes.
  void nodes(std::span<const std::string_view> names,
             std::vector<std::shared_ptr<const policy::NodeView>>& out) const;
  std::shared_ptr<const policy::ClusterFacts> facts() const;
  std::size_t node_count() const;
  // Every node, sorted by name, copied (the planner's input; once per batch window).
  policy::ClusterView snapshot() const;
  // Kept pods without a node, sorted by key.
  std::vector<PodRecord> pending_pods() const;
  std::vector<PodRecord> unschedulable_pods() const;
  std::vector<PodRecord> pods_on_node(const std::string& node_name) const;
  // Every pod with a node, in one pass (pods_on_node per node would be nodes x pods).
  std::vector<PodRecord> bound_pods() const;
  // Where the pod is: its node's name, "" while it waits, nullopt when the index does not hold it.
  std::optional<std::string> pod_node(const std::string& key) const;
  // Copies of only the nodes that carry at least one of these annotations, sorted by name: what
  // the repartition controller looks at on every pass, without copying the whole cluster.
  std::vector<policy::NodeView> nodes_annotated(const std::vector<std::string>& keys) const;

 private:
  // Copies of the nodes `wanted` accepts (all when empty), sorted by name.
  std::vector<policy::NodeView> sorted_copies(
      const std::function<bool(const policy::NodeView&)>& wanted) const;
  // Each writer below holds mu_ exclusively.
  bool put_node(policy::NodeView view, std::string resource_version);  // true: replaced one
  void account(const PodRecord& pod, std::int64_t sign);  // pod's requests into used_, re-render
  void render(const std::string& node_name);              // node's view with used_ applied
  std::optional<policy::DraGpus> dra_of(const std::string& node_name) const;
  void render_dra(const std::string& node_name);  // node's view with its slices applied
  void publish_facts();

  mutable std::shared_mutex mu_;
  // Hashed, and looked up by string_view: the extender asks for every name it is sent.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct NodeEntry {
    std::shared_ptr<const policy::NodeView> view;  // never null; `used` is what used_ says
    std::string resource_version;
  };
  std::unordered_map<std::string, NodeEntry, NameHash, std::equal_to<>> nodes_;  // by name
  std::map<std::string, PodRecord> pods_;       // by "namespace/name"
  std::map<std::string, ResourceCounts> used_;  // by node name; pods may come before their node
  std::map<std::string, ResourceSliceRecord> slices_;            // by slice name
  std::map<std::string, std::set<std::string>> slices_by_node_;  // node name -> slice names
  policy::ClusterFactsTally tally_;
  std::shared_ptr<const policy::ClusterFacts> facts_;
};

}  // namespace gpushare::kube
