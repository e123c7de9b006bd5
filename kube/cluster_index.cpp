#include "kube/cluster_index.h"

#include <algorithm>
#include <mutex>
#include <utility>

namespace gpushare::kube {

ClusterIndex::ClusterIndex() : facts_(std::make_shared<const policy::ClusterFacts>()) {}

void ClusterIndex::replace_nodes(std::vector<NodeRecord> nodes) {
  std::unique_lock lock(mu_);
  nodes_.clear();
  tally_.clear();
  // A name twice in one list: the later one stays.
  for (auto& record : nodes) put_node(std::move(record.view), std::move(record.resource_version));
  publish_facts();
}

void ClusterIndex::replace_pods(std::vector<PodRecord> pods) {
  std::unique_lock lock(mu_);
  pods_.clear();
  for (auto& pod : pods) {
    std::string key = pod.key();
    pods_.insert_or_assign(std::move(key), std::move(pod));
  }
  // Every node's used changes at once: recount, then re-render only the nodes whose sum moved.
  std::map<std::string, ResourceCounts> before = std::move(used_);
  used_.clear();
  for (const auto& [key, pod] : pods_) {
    if (pod.view.node_name.empty() || pod.terminated) continue;
    ResourceCounts& used = used_[pod.view.node_name];
    for (const auto& [name, n] : pod.gpu_requests) used[name] += n;
  }
  for (auto it = used_.begin(); it != used_.end();) {
    for (auto r = it->second.begin(); r != it->second.end();)
      r = r->second == 0 ? it->second.erase(r) : std::next(r);
    it = it->second.empty() ? used_.erase(it) : std::next(it);
  }
  for (const auto& [name, used] : before) {
    auto now = used_.find(name);
    if (now == used_.end() || now->second != used) render(name);
  }
  for (const auto& [name, used] : used_) {
    if (before.count(name) == 0) render(name);
  }
}

namespace {

// kube-apiserver's resourceVersions are etcd revisions written in decimal; the API calls them
// opaque, so only two decimal ones are compared and anything else counts as not older.
bool older(const std::string& a, const std::string& b) {
  auto decimal = [](const std::string& s) {
    return !s.empty() && s.size() <= 19 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!decimal(a) || !decimal(b)) return false;
  return std::stoull(a) < std::stoull(b);
}

}  // namespace

ClusterIndex::NodeUpsert ClusterIndex::upsert_node(NodeRecord record) {
  std::unique_lock lock(mu_);
  if (auto it = nodes_.find(record.view.name);
      it != nodes_.end() && older(record.resource_version, it->second.resource_version)) {
    return NodeUpsert::kStale;
  }
  const bool existed = put_node(std::move(record.view), std::move(record.resource_version));
  publish_facts();
  return existed ? NodeUpsert::kModified : NodeUpsert::kAdded;
}

bool ClusterIndex::put_node(policy::NodeView view, std::string resource_version) {
  if (auto it = used_.find(view.name); it != used_.end()) view.used = it->second;
  view.dra = dra_of(view.name);
  tally_.add(view);
  auto it = nodes_.find(view.name);
  if (it == nodes_.end()) {
    std::string name = view.name;
    nodes_.emplace(std::move(name),
                   NodeEntry{std::make_shared<const policy::NodeView>(std::move(view)),
                             std::move(resource_version)});
    return false;
  }
  tally_.remove(*it->second.view);
  it->second = NodeEntry{std::make_shared<const policy::NodeView>(std::move(view)),
                         std::move(resource_version)};
  return true;
}

bool ClusterIndex::remove_node(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return false;
  tally_.remove(*it->second.view);
  nodes_.erase(it);
  publish_facts();
  return true;
}

bool ClusterIndex::upsert_pod(PodRecord pod) {
  std::unique_lock lock(mu_);
  std::string key = pod.key();
  auto it = pods_.find(key);
  const bool existed = it != pods_.end();
  if (existed) {
    account(it->second, -1);
    it->second = std::move(pod);
    account(it->second, +1);
  } else {
    account(pod, +1);
    pods_.emplace(std::move(key), std::move(pod));
  }
  return existed;
}

bool ClusterIndex::remove_pod(const std::string& key) {
  std::unique_lock lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end()) return false;
  account(it->second, -1);
  pods_.erase(it);
  return true;
}

void ClusterIndex::account(const PodRecord& pod, std::int64_t sign) {
  if (pod.view.node_name.empty() || pod.terminated || pod.gpu_requests.empty()) return;
  const std::string& node = pod.view.node_name;
  ResourceCounts& used = used_[node];
  for (const auto& [name, n] : pod.gpu_requests) {
    std::int64_t& total = used[name];
    total += sign * n;
    if (total == 0) used.erase(name);
  }
  if (used.empty()) used_.erase(node);
  render(node);
}

void ClusterIndex::render(const std::string& node_name) {
  auto it = nodes_.find(node_name);
  if (it == nodes_.end()) return;  // the pod's node is not listed yet: its view comes with it
  // Readers may hold the old view: copy it, never change it in place.
  policy::NodeView view = *it->second.view;
  auto used = used_.find(node_name);
  view.used = used == used_.end() ? ResourceCounts{} : used->second;
  it->second.view = std::make_shared<const policy::NodeView>(std::move(view));
}

void ClusterIndex::replace_resource_slices(std::vector<ResourceSliceRecord> slices) {
  std::unique_lock lock(mu_);
  std::set<std::string> touched;
  for (const auto& [node, names] : slices_by_node_) touched.insert(node);
  slices_.clear();
  slices_by_node_.clear();
  for (auto& slice : slices) {
    touched.insert(slice.node_name);
    slices_by_node_[slice.node_name].insert(slice.name);
    std::string name = slice.name;
    slices_.insert_or_assign(std::move(name), std::move(slice));
  }
  for (const auto& node : touched) render_dra(node);
  publish_facts();
}

bool ClusterIndex::upsert_resource_slice(ResourceSliceRecord slice) {
  std::unique_lock lock(mu_);
  std::set<std::string> touched{slice.node_name};
  auto it = slices_.find(slice.name);
  const bool existed = it != slices_.end();
  if (existed) {
    // A slice is not moved between nodes by its driver, but nothing in the API forbids it.
    if (it->second.node_name != slice.node_name) {
      touched.insert(it->second.node_name);
      auto& old = slices_by_node_[it->second.node_name];
      old.erase(slice.name);
      if (old.empty()) slices_by_node_.erase(it->second.node_name);
    }
    it->second = slice;
  } else {
    slices_.emplace(slice.name, slice);
  }
  slices_by_node_[slice.node_name].insert(slice.name);
  for (const auto& node : touched) render_dra(node);
  publish_facts();
  return existed;
}

bool ClusterIndex::remove_resource_slice(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = slices_.find(name);
  if (it == slices_.end()) return false;
  const std::string node = it->second.node_name;
  slices_.erase(it);
  auto& names = slices_by_node_[node];
  names.erase(name);
  if (names.empty()) slices_by_node_.erase(node);
  render_dra(node);
  publish_facts();
  return true;
}

std::optional<policy::DraGpus> ClusterIndex::dra_of(const std::string& node_name) const {
  auto it = slices_by_node_.find(node_name);
  if (it == slices_by_node_.end()) return std::nullopt;
  std::vector<const policy::DraGpus*> parts;
  for (const auto& name : it->second) parts.push_back(&slices_.at(name).gpus);
  return merge_dra_gpus(parts);
}

void ClusterIndex::render_dra(const std::string& node_name) {
  auto it = nodes_.find(node_name);
  if (it == nodes_.end()) return;  // the slice's node is not listed yet: put_node applies it
  std::optional<policy::DraGpus> dra = dra_of(node_name);
  if (dra == it->second.view->dra) return;
  policy::NodeView view = *it->second.view;
  view.dra = std::move(dra);
  // What the node's GPUs are counts in the cluster's facts (products, profiles).
  tally_.remove(*it->second.view);
  tally_.add(view);
  it->second.view = std::make_shared<const policy::NodeView>(std::move(view));
}

void ClusterIndex::publish_facts() {
  facts_ = std::make_shared<const policy::ClusterFacts>(tally_.facts());
}

std::shared_ptr<const policy::NodeView> ClusterIndex::node(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : it->second.view;
}

void ClusterIndex::nodes(std::span<const std::string_view> names,
                         std::vector<std::shared_ptr<const policy::NodeView>>& out) const {
  out.reserve(out.size() + names.size());
  std::shared_lock lock(mu_);
  for (std::string_view name : names) {
    auto it = nodes_.find(name);
    out.push_back(it == nodes_.end() ? nullptr : it->second.view);
  }
}

std::shared_ptr<const policy::ClusterFacts> ClusterIndex::facts() const {
  std::shared_lock lock(mu_);
  return facts_;
}

std::size_t ClusterIndex::node_count() const {
  std::shared_lock lock(mu_);
  return nodes_.size();
}

std::vector<policy::NodeView> ClusterIndex::sorted_copies(
    const std::function<bool(const policy::NodeView&)>& wanted) const {
  std::shared_lock lock(mu_);
  std::vector<policy::NodeView> out;
  for (const auto& [name, entry] : nodes_) {
    if (!wanted || wanted(*entry.view)) out.push_back(*entry.view);
  }
  lock.unlock();
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

policy::ClusterView ClusterIndex::snapshot() const {
  policy::ClusterView out;
  out.nodes = sorted_copies({});
  return out;
}

std::vector<PodRecord> ClusterIndex::pending_pods() const {
  std::shared_lock lock(mu_);
  std::vector<PodRecord> out;
  for (const auto& [key, pod] : pods_) {
    if (pod.view.node_name.empty()) out.push_back(pod);
  }
  return out;
}

std::vector<PodRecord> ClusterIndex::unschedulable_pods() const {
  std::shared_lock lock(mu_);
  std::vector<PodRecord> out;
  for (const auto& [key, pod] : pods_) {
    if (pod.view.node_name.empty() && pod.unschedulable) out.push_back(pod);
  }
  return out;
}

std::vector<PodRecord> ClusterIndex::pods_on_node(const std::string& node_name) const {
  std::shared_lock lock(mu_);
  std::vector<PodRecord> out;
  for (const auto& [key, pod] : pods_) {
    if (pod.view.node_name == node_name) out.push_back(pod);
  }
  return out;
}

std::vector<PodRecord> ClusterIndex::bound_pods() const {
  std::shared_lock lock(mu_);
  std::vector<PodRecord> out;
  for (const auto& [key, pod] : pods_) {
    if (!pod.view.node_name.empty()) out.push_back(pod);
  }
  return out;
}

std::optional<std::string> ClusterIndex::pod_node(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end()) return std::nullopt;
  return it->second.view.node_name;
}

std::vector<policy::NodeView> ClusterIndex::nodes_annotated(
    const std::vector<std::string>& keys) const {
  return sorted_copies([&keys](const policy::NodeView& node) {
    return std::any_of(keys.begin(), keys.end(),
                       [&](const std::string& k) { return node.annotations.count(k) != 0; });
  });
}

}  // namespace gpushare::kube
