// The repartition planner; the rules are in planner.h.
#include "policy/planner.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <set>

#include "policy/fit.h"
#include "policy/intent.h"
#include "policy/node_constraints.h"
#include "policy/plan_mig.h"
#include "policy/plan_mps.h"
#include "policy/pod_demand.h"
#include "policy/quantity.h"

namespace gpushare::policy {
namespace {

constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;
// Nodes named in one unplaced reason; the rest are counted.
constexpr std::size_t kNodesInReason = 6;
constexpr std::string_view kNvidiaPrefix = "nvidia.com/";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string label_of(const NodeView& node, std::string_view key) {
  return node.label(std::string(key));
}

std::string shown_label(const NodeView& node, std::string_view key) {
  auto it = node.labels.find(std::string(key));
  return it == node.labels.end() ? std::string("unset") : it->second;
}

std::optional<std::int64_t> label_int(const NodeView& node, std::string_view key) {
  const std::string v = label_of(node, key);
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

std::string plural(std::size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

bool terminated(const PodView& pod) { return pod.phase == "Succeeded" || pod.phase == "Failed"; }

// ---------------------------------------------------------------------------------------------
// Pending pods.

enum class PodKind { kMig, kMps, kBoth, kError };

struct Pending {
  const PodView* pod = nullptr;
  std::size_t index = 0;  // position in demand order: NodeState::admits[index]
  std::string key;        // "ns/name"
  PodKind kind = PodKind::kError;
  std::string error;
  PodDemand demand;
  Intent intent;
  std::vector<std::pair<std::string, std::int64_t>> mig;  // nvidia.com/mig-* -> count
  std::int64_t shared = 0;                                // nvidia.com/gpu.shared
  // Smallest first: memory, then compute (planner.h step 1).
  std::int64_t size_bytes = 0;
  std::int64_t size_compute = 0;
};

// "3g.48gb" -> {3, 48}: the compute slices and the GB of a profile name ([<C>c.]<G>g.<GB>gb...).
std::pair<std::int64_t, std::int64_t> profile_size(std::string_view profile) {
  std::int64_t g = 0;
  std::int64_t gb = 0;
  std::size_t start = 0;
  while (start <= profile.size()) {
    const std::size_t dot = profile.find_first_of(".+-", start);
    const std::string_view token =
        profile.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), n);
    const std::string_view rest(end, static_cast<std::size_t>(token.data() + token.size() - end));
    if (ec == std::errc() && rest == "g" && g == 0) g = n;
    if (ec == std::errc() && rest == "gb" && gb == 0) gb = n;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {g, gb};
}

// nullopt: the pod asks for nothing gpushare manages.
std::optional<Pending> read_pending(const PodView& pod, const PlanSettings& settings) {
  Pending p;
  p.pod = &pod;
  p.key = pod.display_name();
  auto demand = pod_demand(pod);
  if (!demand) {
    p.error = "its GPU request cannot be read: " + demand.error();
    return p;
  }
  if (!demand->managed()) return std::nullopt;
  p.demand = std::move(demand).value();
  // The pod was admitted already; its resource request, not the mig-profile annotation, names
  // the profile, so the annotation's own value is accepted as known.
  std::vector<std::string> known;
  if (auto it = pod.annotations.find(settings.annotation_prefix + std::string(kMigProfileKey));
      it != pod.annotations.end()) {
    known.push_back(it->second);
  }
  auto intent = parse_intent(pod.annotations, settings.annotation_prefix, known);
  if (!intent) {
    p.error = "invalid gpushare annotations: " + intent.error();
    return p;
  }
  p.intent = std::move(intent).value();
  for (const auto& resource : p.demand.managed_resources()) {
    const std::int64_t n = p.demand.count(resource);
    if (resource == kSharedGpuResource) {
      p.shared = n;
    } else {
      p.mig.emplace_back(resource, n);
      const auto [g, gb] = profile_size(resource.substr(kMigResourcePrefix.size()));
      p.size_bytes += gb * 1000000000 * n;
      p.size_compute += g * n;
    }
  }
  if (p.shared > 0) {
    p.size_bytes += p.intent.gpu_memory_bytes.value_or(0) * p.shared;
    p.size_compute += p.intent.gpu_compute_percent.value_or(0) * p.shared;
  }
  p.kind = p.shared > 0 ? (p.mig.empty() ? PodKind::kMps : PodKind::kBoth) : PodKind::kMig;
  return p;
}

bool demand_order(const Pending& a, const Pending& b) {
  if (a.pod->priority != b.pod->priority) return a.pod->priority > b.pod->priority;
  if (a.size_bytes != b.size_bytes) return a.size_bytes < b.size_bytes;
  if (a.size_compute != b.size_compute) return a.size_compute < b.size_compute;
  return a.key < b.key;
}

// ---------------------------------------------------------------------------------------------
// Nodes.

struct NodeState {
  const NodeView* view = nullptr;
  std::string raw_product;
  std::string product;  // base product (GFD suffixes stripped)
  const GpuModel* model = nullptr;
  int gpus = 0;
  std::int64_t gpu_mib = 0;
  int max_replicas = 0;
  bool gpu = false;     // has some NVIDIA GPU
  bool mig_on = false;  // some GPU has MIG enabled (or a MIG config other than all-disabled)
  bool mps_on = false;
  std::vector<std::string> gpu_pods;  // running pods holding nvidia.com/*
  std::size_t not_disruptable = 0;
  std::string blocked;      // why no action at all; "" for a candidate
  std::string mig_blocked;  // why no MIG action besides `blocked`
  std::string mps_blocked;
  NodeView fit_view;  // fit-relevant copy whose `used` grows as pending pods take capacity
  // One char per pending pod (Pending::index): '1' when kube-scheduler could put it here as far
  // as nodeSelector, node affinity and taints go (node_constraints.h). Computed once.
  std::string admits;
  std::size_t reserved = 0;  // pending pods counting on its free capacity
  std::optional<ActionKind> planned;
};

bool mig_enabled(const NodeView& node) {
  for (const auto& [resource, n] : node.allocatable) {
    if (n > 0 && starts_with(resource, kMigResourcePrefix)) return true;
  }
  for (const auto& [key, value] : node.labels) {
    if (starts_with(key, kMigResourcePrefix) && key.size() > 6 &&
        key.compare(key.size() - 6, 6, ".count") == 0 && value != "0" && !value.empty()) {
      return true;
    }
  }
  const std::string config = label_of(node, gfd::kMigConfig);
  return !config.empty() && config != kMigAllDisabledConfig;
}

std::int64_t whole_gpu_mib(const NodeView& node, const GpuModel* model,
                           const std::string& raw_product) {
  // Under MIG "single" GFD writes the MIG device's memory into gpu.memory (fit.cpp does the same).
  if (raw_product.find("-MIG-") == std::string::npos) {
    if (auto mib = label_int(node, gfd::kMemoryMiB); mib && *mib > 0) return *mib;
  }
  return model != nullptr ? model->memory_bytes / kMiB : 0;
}

int max_replicas_of(const NodeView& node, const PlanSettings& settings) {
  auto major = label_int(node, "nvidia.com/gpu.compute.major");
  auto minor = label_int(node, "nvidia.com/gpu.compute.minor");
  if (major && minor && (*major > 7 || (*major == 7 && *minor >= 5)))
    return settings.max_mps_replicas;
  return std::min(settings.max_mps_replicas, settings.max_mps_replicas_before_7_5);
}

NodeView fit_copy(const NodeView& node) {
  NodeView v;
  v.name = node.name;
  for (const auto& [k, val] : node.labels) {
    if (fit_reads_label(k)) v.labels.emplace(k, val);
  }
  if (auto it = node.annotations.find(std::string(kRepartitionAnnotation));
      it != node.annotations.end()) {
    v.annotations.insert(*it);
  }
  v.allocatable = node.allocatable;
  v.used = node.used;
  v.unschedulable = node.unschedulable;
  return v;
}

// Everything about a node that does not depend on a pending pod.
NodeState read_node(const NodeView& node, const PlanInput& in, const Catalog& catalog) {
  NodeState s;
  s.view = &node;
  s.gpu = has_nvidia_gpu(node);
  s.raw_product = label_of(node, gfd::kProduct);
  s.product = base_product(s.raw_product);
  s.model = s.product.empty() ? nullptr : catalog.model_for_product(s.product);
  s.gpus = static_cast<int>(std::max<std::int64_t>(0, label_int(node, gfd::kCount).value_or(0)));
  s.gpu_mib = whole_gpu_mib(node, s.model, s.raw_product);
  s.max_replicas = max_replicas_of(node, in.settings);
  s.mig_on = mig_enabled(node);
  s.mps_on =
      label_of(node, gfd::kSharingStrategy) == "mps" || label_of(node, gfd::kMpsCapable) == "true";
  s.fit_view = fit_copy(node);

  if (s.model == nullptr)
    s.mig_blocked = s.product + " is not in the GPU catalog";
  else if (label_of(node, gfd::kMigCapable) != "true")
    s.mig_blocked =
        "not MIG-capable (nvidia.com/mig.capable=" + shown_label(node, gfd::kMigCapable) + ")";
  else if (label_of(node, gfd::kMigStrategy) != "mixed")
    s.mig_blocked = "nvidia.com/mig.strategy=" + shown_label(node, gfd::kMigStrategy) +
                    " (MIG profiles as resources need mixed)";
  else if (in.device_plugin_config_names &&
           in.device_plugin_config_names->count(std::string(kMigMixedDevicePluginConfig)) == 0)
    s.mig_blocked =
        "the device-plugin ConfigMap has no " + std::string(kMigMixedDevicePluginConfig) + " entry";

  if (s.gpu_mib <= 0)
    s.mps_blocked = "GPU memory unknown (no nvidia.com/gpu.memory label)";
  else if (s.mig_on && in.mig_config_names &&
           in.mig_config_names->count(std::string(kMigAllDisabledConfig)) == 0)
    s.mps_blocked = "MIG is on and the mig-parted ConfigMap has no " +
                    std::string(kMigAllDisabledConfig) + " entry";
  return s;
}

// The node-wide gates of planner.h step 3, in the order a person would fix them.
std::string node_gate(const NodeState& s, const PlanSettings& settings) {
  const NodeView& node = *s.view;
  if (!s.gpu) return "no NVIDIA GPU";
  for (const auto& [key, value] : settings.node_selector) {
    if (label_of(node, key) != value || node.labels.count(key) == 0)
      return "not selected by repartition.nodeSelector (" + key + "=" + value + ")";
  }
  if (node.unschedulable) return "cordoned (spec.unschedulable)";
  if (const std::string state = label_of(node, gfd::kMigConfigState);
      state == "pending" || state == "rebooting") {
    return "nvidia.com/mig.config.state=" + state;
  }
  if (auto mark = node.annotations.find(std::string(kRepartitionAnnotation));
      mark != node.annotations.end()) {
    return std::string(kRepartitionAnnotation) + (mark->second.empty() ? "" : "=" + mark->second) +
           ": already being repartitioned";
  }
  if (!s.gpu_pods.empty() && (!settings.allow_disruption || s.not_disruptable > 0)) {
    std::string why = plural(s.gpu_pods.size(), "running GPU pod", "running GPU pods");
    if (settings.allow_disruption) {
      why += ", " + std::to_string(s.not_disruptable) + " without " +
             settings.disruptable_annotation + "=" + settings.disruptable_value;
    }
    return why;
  }
  if (s.gpu_pods.empty()) {
    for (const auto& [resource, n] : node.used) {
      if (n > 0 && starts_with(resource, kNvidiaPrefix))
        return std::to_string(n) + " " + resource + " in use";
    }
  }
  if (s.raw_product.empty()) return "no nvidia.com/gpu.product label";
  if (s.gpus <= 0) return "no nvidia.com/gpu.count label";
  return "";
}

bool product_ok(const Pending& p, const NodeState& s) {
  // Its nodeSelector, required node affinity and tolerations: the scheduler will not put it
  // anywhere else.
  if (s.admits[p.index] != '1') return false;
  if (p.intent.gpu_products.empty()) return true;
  return std::any_of(p.intent.gpu_products.begin(), p.intent.gpu_products.end(),
                     [&](const std::string& w) { return w == s.product || w == s.raw_product; });
}

const MigProfile* model_profile(const GpuModel& model, const std::string& resource) {
  for (const auto& p : model.profiles) {
    if (p.resource_name() == resource) return &p;
  }
  return nullptr;
}

// The pod's MIG instances as profiles of the model; empty when the model lacks one.
std::vector<const MigProfile*> instances_on(const GpuModel& model, const Pending& p) {
  std::vector<const MigProfile*> out;
  for (const auto& [resource, n] : p.mig) {
    const MigProfile* profile = model_profile(model, resource);
    if (profile == nullptr) return {};
    out.insert(out.end(), static_cast<std::size_t>(n), profile);
  }
  return out;
}

MpsBatch with_pod(MpsBatch batch, const Pending& p) {
  batch.memory_bytes = std::max(batch.memory_bytes, p.intent.gpu_memory_bytes.value_or(0));
  batch.compute_percent = std::max(batch.compute_percent, p.intent.gpu_compute_percent.value_or(0));
  batch.replicas += p.shared;
  return batch;
}

// ---------------------------------------------------------------------------------------------
// Proposals: one node sized as MIG or MPS for the demand still waiting.

struct Proposal {
  std::size_t node = 0;
  ActionKind kind = ActionKind::kMig;
  std::vector<std::size_t> served;  // indexes into the pending list, in demand order
  std::vector<ProfileCounts> per_gpu;
  int replicas = 0;
};

Proposal propose_mig(std::size_t n, const NodeState& s, const std::vector<Pending>& pending,
                     const std::vector<bool>& waiting) {
  Proposal out{n, ActionKind::kMig, {}, {}, 0};
  std::vector<const MigProfile*> accepted;
  // The accepted instances only grow, so a request that did not fit once never fits later.
  std::set<std::vector<std::pair<std::string, std::int64_t>>> too_big;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const Pending& p = pending[i];
    if (!waiting[i] || p.kind != PodKind::kMig || !product_ok(p, s)) continue;
    if (too_big.count(p.mig) != 0) continue;
    std::vector<const MigProfile*> extra = instances_on(*s.model, p);
    if (extra.empty()) continue;
    std::vector<const MigProfile*> trial = accepted;
    trial.insert(trial.end(), extra.begin(), extra.end());
    if (auto layout = assign_mig_instances(*s.model, s.gpus, trial)) {
      accepted = std::move(trial);
      out.per_gpu = std::move(*layout);
      out.served.push_back(i);
    } else {
      too_big.insert(p.mig);
    }
  }
  return out;
}

Proposal propose_mps(std::size_t n, const NodeState& s, const std::vector<Pending>& pending,
                     const std::vector<bool>& waiting) {
  Proposal out{n, ActionKind::kMps, {}, {}, 0};
  MpsBatch batch;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const Pending& p = pending[i];
    if (!waiting[i] || p.kind != PodKind::kMps || !product_ok(p, s)) continue;
    const MpsBatch trial = with_pod(batch, p);
    if (auto r = mps_replicas_for(s.gpu_mib, s.gpus, s.max_replicas, trial)) {
      batch = trial;
      out.replicas = *r;
      out.served.push_back(i);
    }
  }
  return out;
}

bool switches_mode(const Proposal& p, const NodeState& s) {
  return p.kind == ActionKind::kMig ? s.mps_on : s.mig_on;
}

// Strictly better by planner.h step 4.
bool better(const Proposal& a, const Proposal& b, const std::vector<Pending>& pending,
            const std::vector<NodeState>& nodes) {
  std::map<std::int32_t, long, std::greater<>> diff;  // pods of a minus pods of b, by priority
  for (std::size_t i : a.served) ++diff[pending[i].pod->priority];
  for (std::size_t i : b.served) --diff[pending[i].pod->priority];
  for (const auto& [priority, d] : diff) {
    if (d != 0) return d > 0;
  }
  const NodeState& na = nodes[a.node];
  const NodeState& nb = nodes[b.node];
  const std::size_t da = na.gpu_pods.size();
  const std::size_t db = nb.gpu_pods.size();
  if (da != db) return da < db;
  if (na.gpus != nb.gpus) return na.gpus < nb.gpus;
  if (a.node != b.node) return a.node < b.node;  // nodes are sorted by name
  const bool sa = switches_mode(a, na);
  const bool sb = switches_mode(b, nb);
  if (sa != sb) return !sa;
  return a.kind == ActionKind::kMig && b.kind == ActionKind::kMps;
}

PlanAction make_action(const Proposal& prop, const NodeState& s,
                       const std::vector<Pending>& pending, const PlanSettings& settings) {
  PlanAction a;
  a.node = s.view->name;
  a.kind = prop.kind;
  const std::string mig_label(gfd::kMigConfig);
  const std::string dp_label(kDevicePluginConfigLabel);
  if (prop.kind == ActionKind::kMig) {
    std::vector<ProfileCounts> per_gpu = prop.per_gpu;
    if (settings.fill_mig_leftover) {
      for (auto& counts : per_gpu) counts = fill_mig_leftover(*s.model, std::move(counts));
    }
    a.mig_config = group_mig_devices(per_gpu);
    a.config_name = config_name(settings.config_name_prefix, a.mig_config);
    a.labels = {{mig_label, a.config_name}, {dp_label, std::string(kMigMixedDevicePluginConfig)}};
    a.steps = {{dp_label, std::string(kMigMixedDevicePluginConfig), "nvidia.com/mps.capable=false"},
               {mig_label, a.config_name, "nvidia.com/mig.config.state=success"}};
  } else {
    a.device_plugin_config.resources = {MpsResource{std::string(kGpuResource), prop.replicas}};
    a.config_name = config_name(settings.config_name_prefix, a.device_plugin_config);
    const LabelStep mps_step{dp_label, a.config_name,
                             "nvidia.com/gpu.replicas=" + std::to_string(prop.replicas)};
    if (s.mig_on) {
      a.labels = {{mig_label, std::string(kMigAllDisabledConfig)}, {dp_label, a.config_name}};
      a.steps = {
          {mig_label, std::string(kMigAllDisabledConfig), "nvidia.com/mig.config.state=success"},
          mps_step};
    } else {
      a.labels = {{dp_label, a.config_name}};
      a.steps = {mps_step};
    }
  }
  for (std::size_t i : prop.served) a.serves.push_back(pending[i].key);
  std::sort(a.serves.begin(), a.serves.end());
  a.disrupts = s.gpu_pods;  // non-empty only when allow_disruption let the node in
  std::sort(a.disrupts.begin(), a.disrupts.end());
  return a;
}

// ---------------------------------------------------------------------------------------------
// Reasons for pods left waiting.

std::string mig_what(const Pending& p, const Catalog& catalog) {
  std::vector<std::string> parts;
  for (const auto& [resource, n] : p.mig) {
    std::string name =
        catalog.profile_for_resource(resource).value_or(resource.substr(kMigResourcePrefix.size()));
    parts.push_back(n > 1 ? std::to_string(n) + " x " + name : name);
  }
  return join(parts, " + ");
}

std::string memory_text(const Pending& p) {
  return p.intent.gpu_memory_text.value_or(format_bytes(p.intent.gpu_memory_bytes.value_or(0)));
}

// Why one node did not serve the pod (empty: the node is not worth naming).
std::string node_reason(const NodeState& s, const Pending& p) {
  if (!s.blocked.empty()) return s.blocked;
  const bool mig = p.kind == PodKind::kMig;
  if (mig && !s.mig_blocked.empty()) return s.mig_blocked;
  if (!mig && !s.mps_blocked.empty()) return s.mps_blocked;
  if (s.planned) {
    const bool same = (*s.planned == ActionKind::kMig) == mig;
    return same ? "repartitioned in this plan for other pending pods, no room left for it"
                : std::string("repartitioned in this plan as ") +
                      std::string(to_string(*s.planned)) + " for other pending pods";
  }
  if (mig) {
    const auto instances = instances_on(*s.model, p);
    if (!assign_mig_instances(*s.model, s.gpus, instances)) {
      return plural(static_cast<std::size_t>(s.gpus), "GPU", "GPUs") + " cannot hold " +
             std::to_string(instances.size()) + " such instances";
    }
  } else {
    MpsBatch alone = with_pod(MpsBatch{}, p);
    if (!mps_replicas_for(s.gpu_mib, s.gpus, s.max_replicas, alone)) {
      std::string why = std::to_string(s.gpu_mib) + " MiB GPU: at most " +
                        std::to_string(s.gpu_mib / 2) + " MiB and 50% of the SMs per replica";
      if (p.intent.gpu_memory_bytes) why += ", needs " + memory_text(p);
      if (p.intent.gpu_compute_percent)
        why += ", needs " + std::to_string(*p.intent.gpu_compute_percent) + "%";
      return why;
    }
  }
  return "could not be sized for it";
}

std::string list_nodes(const std::vector<const NodeState*>& nodes, const Pending& p) {
  std::vector<std::string> parts;
  for (const NodeState* s : nodes) {
    if (parts.size() == kNodesInReason) break;
    parts.push_back(s->view->name + ": " + node_reason(*s, p));
  }
  std::string out = join(parts, "; ");
  if (nodes.size() > parts.size()) {
    out += "; and " + plural(nodes.size() - parts.size(), "more node", "more nodes");
  }
  return out;
}

std::string products_here(const std::vector<NodeState>& nodes) {
  std::vector<std::string> products;
  for (const auto& s : nodes) {
    if (!s.product.empty() &&
        std::find(products.begin(), products.end(), s.product) == products.end()) {
      products.push_back(s.product);
    }
  }
  std::sort(products.begin(), products.end());
  return products.empty() ? "no node has an NVIDIA GPU" : "GPUs here: " + join(products, ", ");
}

// What narrowed the pod's nodes: its gpu-product annotation, spec.nodeSelector, required node
// affinity, GPU nodes' taints it does not tolerate; "" when nothing did.
std::string narrowed_by(const Pending& p, const std::vector<NodeState>& nodes) {
  std::vector<std::string> parts;
  if (!p.intent.gpu_products.empty())
    parts.push_back("gpu-product asks for " + join(p.intent.gpu_products, ","));
  if (!p.pod->node_selector.empty()) {
    std::vector<std::string> terms;
    for (const auto& [k, v] : p.pod->node_selector) terms.push_back(k + "=" + v);
    parts.push_back("spec.nodeSelector asks for " + join(terms, ","));
  }
  if (p.pod->required_node_terms) parts.push_back("its required node affinity narrows");
  if (std::any_of(nodes.begin(), nodes.end(), [&](const NodeState& s) {
        return s.gpu && untolerated_taint(p.pod->tolerations, s.view->taints) != nullptr;
      })) {
    parts.push_back("GPU nodes have taints it does not tolerate");
  }
  return join(parts, " and ");
}

std::string mig_reason(const Pending& p, const std::vector<NodeState>& nodes,
                       const Catalog& catalog) {
  const std::string what = mig_what(p, catalog);
  for (const auto& [resource, n] : p.mig) {
    if (!catalog.profile_for_resource(resource)) {
      return "MIG profile " + resource.substr(kMigResourcePrefix.size()) +
             " is in no GPU model of the catalog, so no node can be partitioned for it";
    }
  }
  std::vector<const NodeState*> with_model;
  for (const auto& s : nodes) {
    if (s.gpu && s.model != nullptr && !instances_on(*s.model, p).empty()) with_model.push_back(&s);
  }
  if (with_model.empty()) {
    return "no node's GPU model has MIG profile " + what + " (" + products_here(nodes) + ")";
  }
  std::vector<const NodeState*> relevant;
  for (const NodeState* s : with_model) {
    if (product_ok(p, *s)) relevant.push_back(s);
  }
  if (relevant.empty()) {
    return narrowed_by(p, nodes) + " and no such node's GPU model has MIG profile " + what;
  }
  return "no idle node with a MIG-capable GPU offering " + what + " (" + list_nodes(relevant, p) +
         ")";
}

std::string mps_reason(const Pending& p, const std::vector<NodeState>& nodes) {
  std::vector<const NodeState*> relevant;
  for (const auto& s : nodes) {
    if (s.gpu && !s.raw_product.empty() && product_ok(p, s)) relevant.push_back(&s);
  }
  if (relevant.empty()) {
    const std::string narrowed = narrowed_by(p, nodes);
    if (!narrowed.empty()) return narrowed + " and no such node has an NVIDIA GPU";
    return "no node has an NVIDIA GPU";
  }
  if (p.intent.gpu_compute_percent && *p.intent.gpu_compute_percent > 50) {
    return "needs gpu-compute=" + std::to_string(*p.intent.gpu_compute_percent) +
           " but MPS splits a GPU into at least 2 replicas of 50% of the SMs each";
  }
  const NodeState* largest = nullptr;
  for (const NodeState* s : relevant) {
    if (s->gpu_mib > 0 && (largest == nullptr || s->gpu_mib > largest->gpu_mib)) largest = s;
  }
  if (largest != nullptr && p.intent.gpu_memory_bytes &&
      mps_share_bytes(largest->gpu_mib, 2) < *p.intent.gpu_memory_bytes) {
    return "needs " + memory_text(p) + " per MPS replica but the largest GPU has " +
           std::to_string(largest->gpu_mib) + " MiB (" + largest->view->name +
           ") and MPS splits a GPU into at least 2 replicas: " +
           std::to_string(largest->gpu_mib / 2) + " MiB each";
  }
  return "no idle node can give it an MPS share (" + list_nodes(relevant, p) + ")";
}

std::string unplaced_reason(const Pending& p, const std::vector<NodeState>& nodes,
                            const Catalog& catalog) {
  switch (p.kind) {
    case PodKind::kError:
      return p.error;
    case PodKind::kBoth:
      return "asks for nvidia.com/gpu.shared and MIG devices together; a node offers MPS or MIG, "
             "never both";
    case PodKind::kMig:
      return mig_reason(p, nodes, catalog);
    case PodKind::kMps:
      return mps_reason(p, nodes);
  }
  return p.error;
}

void hex64(std::uint64_t v, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 0xF];
}

}  // namespace

std::string_view to_string(ActionKind kind) { return kind == ActionKind::kMig ? "mig" : "mps"; }

std::uint64_t fnv1a64(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Compact JSON with keys in sorted order: the content as mig-parted reads it.
std::string canonical_text(const std::vector<MigConfigEntry>& mig_config) {
  std::string out = "[";
  for (std::size_t e = 0; e < mig_config.size(); ++e) {
    const MigConfigEntry& entry = mig_config[e];
    if (e > 0) out += ',';
    out += "{\"devices\":[";
    for (std::size_t i = 0; i < entry.devices.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(entry.devices[i]);
    }
    out += "],\"mig-devices\":{";
    bool first = true;
    for (const auto& [name, n] : entry.mig_devices) {
      if (!first) out += ',';
      first = false;
      out += '"' + name + "\":" + std::to_string(n);
    }
    out += "},\"mig-enabled\":";
    out += entry.mig_enabled ? "true" : "false";
    out += '}';
  }
  out += ']';
  return out;
}

std::string canonical_text(const DevicePluginConfig& config) {
  std::string out = "{\"sharing\":{\"mps\":{\"renameByDefault\":";
  out += config.rename_by_default ? "true" : "false";
  out += ",\"resources\":[";
  for (std::size_t i = 0; i < config.resources.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"name\":\"" + config.resources[i].name +
           "\",\"replicas\":" + std::to_string(config.resources[i].replicas) + "}";
  }
  out += "]}},\"version\":\"" + config.version + "\"}";
  return out;
}

std::string config_name(std::string_view prefix, const std::vector<MigConfigEntry>& mig_config) {
  std::string out(prefix);
  hex64(fnv1a64("mig-parted:" + canonical_text(mig_config)), out);
  return out;
}

std::string config_name(std::string_view prefix, const DevicePluginConfig& config) {
  std::string out(prefix);
  hex64(fnv1a64("device-plugin:" + canonical_text(config)), out);
  return out;
}

Plan plan(const PlanInput& in, const Catalog& catalog) {
  const PlanSettings& settings = in.settings;

  // Nodes, by name.
  std::vector<const NodeView*> sorted_nodes;
  for (const auto& n : in.nodes) sorted_nodes.push_back(&n);
  std::stable_sort(sorted_nodes.begin(), sorted_nodes.end(),
                   [](const NodeView* a, const NodeView* b) { return a->name < b->name; });
  std::vector<NodeState> nodes;
  nodes.reserve(sorted_nodes.size());
  std::map<std::string, std::size_t> node_index;
  for (const NodeView* n : sorted_nodes) {
    node_index.emplace(n->name, nodes.size());
    nodes.push_back(read_node(*n, in, catalog));
  }

  // Running GPU pods per node.
  for (const auto& pod : in.running) {
    if (pod.node_name.empty() || terminated(pod)) continue;
    auto it = node_index.find(pod.node_name);
    if (it == node_index.end()) continue;
    auto demand = pod_demand(pod);
    const bool uses_gpu =
        !demand || std::any_of(demand->resources.begin(), demand->resources.end(),
                               [](const auto& kv) { return starts_with(kv.first, kNvidiaPrefix); });
    if (!uses_gpu) continue;
    NodeState& s = nodes[it->second];
    s.gpu_pods.push_back(pod.display_name());
    auto mark = pod.annotations.find(settings.disruptable_annotation);
    if (mark == pod.annotations.end() || mark->second != settings.disruptable_value)
      ++s.not_disruptable;
  }
  for (auto& s : nodes) {
    std::sort(s.gpu_pods.begin(), s.gpu_pods.end());
    // A candidate keeps GPU pods only under allow_disruption: they are what its action disrupts.
    s.blocked = node_gate(s, settings);
  }

  // Pending pods, in demand order.
  std::vector<Pending> pending;
  for (const auto& pod : in.pending) {
    if (terminated(pod)) continue;
    if (auto p = read_pending(pod, settings)) pending.push_back(std::move(*p));
  }
  std::stable_sort(pending.begin(), pending.end(), demand_order);
  std::vector<bool> waiting(pending.size(), true);
  for (std::size_t i = 0; i < pending.size(); ++i) pending[i].index = i;
  for (auto& s : nodes) {
    s.admits.assign(pending.size(), '0');
    for (const Pending& p : pending) {
      if (may_schedule_on(*p.pod, *s.view)) s.admits[p.index] = '1';
    }
  }

  // Step 2: capacity that exists. Nodes that cannot be repartitioned are used first.
  std::vector<std::size_t> existing_order(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) existing_order[i] = i;
  std::stable_sort(existing_order.begin(), existing_order.end(), [&](std::size_t a, std::size_t b) {
    return !nodes[a].blocked.empty() && nodes[b].blocked.empty();
  });
  for (std::size_t i = 0; i < pending.size(); ++i) {
    Pending& p = pending[i];
    if (p.kind != PodKind::kMig && p.kind != PodKind::kMps) continue;
    const std::vector<std::string> wanted = p.demand.managed_resources();
    for (std::size_t n : existing_order) {
      NodeState& s = nodes[n];
      // Free units of what it asks for first: most nodes have none, and fit_node (which
      // builds its reasons as text) would say no more slowly (BENCHMARKS.md, planner).
      if (!s.gpu || std::any_of(wanted.begin(), wanted.end(), [&](const std::string& r) {
            return s.fit_view.free(r) < p.demand.count(r);
          })) {
        continue;
      }
      if (s.view->unschedulable || s.admits[i] != '1') continue;
      if (!fit_node(p.demand, p.intent, s.fit_view, catalog).fits) continue;
      for (const auto& resource : wanted) s.fit_view.used[resource] += p.demand.count(resource);
      ++s.reserved;
      waiting[i] = false;
      break;
    }
  }
  for (auto& s : nodes) {
    if (s.blocked.empty() && s.reserved > 0) {
      s.blocked = "its free capacity goes to " +
                  plural(s.reserved, "other pending pod", "other pending pods") + " already";
    }
  }

  // Step 4: one action per node, the best (node, kind) first.
  Plan out;
  // Proposals depend on the node only through what propose_* read, so equal nodes share one.
  // A proposal stays valid while every pod it serves still waits: pods it skipped do not change
  // its walk when they go.
  std::map<std::string, Proposal> cache;
  auto stale = [&](const Proposal& p) {
    return std::any_of(p.served.begin(), p.served.end(),
                       [&](std::size_t i) { return !waiting[i]; });
  };
  // Which pods may go to a node depends on more than its GPUs when a pod narrows its nodes or
  // a node has taints.
  const bool any_constraint =
      std::any_of(pending.begin(), pending.end(),
                  [](const Pending& p) {
                    return !p.pod->node_selector.empty() || p.pod->required_node_terms.has_value();
                  }) ||
      std::any_of(nodes.begin(), nodes.end(),
                  [](const NodeState& s) { return !s.view->taints.empty(); });
  auto signature = [&](const NodeState& s, ActionKind kind) {
    std::string key =
        std::string(to_string(kind)) + '|' + s.raw_product + '|' + std::to_string(s.gpus);
    if (kind == ActionKind::kMps)
      key += '|' + std::to_string(s.gpu_mib) + '|' + std::to_string(s.max_replicas);
    // Same GPUs but other labels or taints: which pods may go there matters too.
    if (any_constraint) key += '|' + s.admits;
    return key;
  };
  while (std::any_of(waiting.begin(), waiting.end(), [](bool w) { return w; })) {
    std::optional<Proposal> best;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const NodeState& s = nodes[n];
      if (!s.blocked.empty() || s.planned) continue;
      for (ActionKind kind : {ActionKind::kMig, ActionKind::kMps}) {
        const bool mig = kind == ActionKind::kMig;
        if (!(mig ? s.mig_blocked : s.mps_blocked).empty()) continue;
        const std::string key = signature(s, kind);
        auto it = cache.find(key);
        if (it == cache.end() || stale(it->second)) {
          Proposal fresh =
              mig ? propose_mig(n, s, pending, waiting) : propose_mps(n, s, pending, waiting);
          it = cache.insert_or_assign(key, std::move(fresh)).first;
        }
        if (it->second.served.empty()) continue;
        Proposal candidate = it->second;
        candidate.node = n;
        if (!best || better(candidate, *best, pending, nodes)) best = std::move(candidate);
      }
    }
    if (!best) break;
    NodeState& s = nodes[best->node];
    out.actions.push_back(make_action(*best, s, pending, settings));
    s.planned = best->kind;
    for (std::size_t i : best->served) waiting[i] = false;
  }

  // Step 5: every pod still waiting, with its reason.
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const Pending& p = pending[i];
    if (waiting[i]) out.unplaced.push_back({p.key, unplaced_reason(p, nodes, catalog)});
  }
  return out;
}

}  // namespace gpushare::policy
