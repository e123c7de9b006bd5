// The repartition planner; the rules are in planner.h.
#include "policy/planner.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "policy/dra.h"
#include "policy/fit.h"
#include "policy/intent.h"
#include "policy/node_constraints.h"
#include "policy/plan_demand.h"
#include "policy/plan_mig.h"
#include "policy/plan_mps.h"
#include "policy/pod_demand.h"
#include "policy/quantity.h"

namespace gpushare::policy {
namespace {

constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;
// GPUs no pod needs are relaid out only when the demand figures rest on at least this many pods
// of the model (running and waiting): one waiting pod is no evidence for a whole node, and the
// layouts there were chosen by someone (the operator's all-balanced, or earlier plans).
constexpr double kRebalanceEvidence = 8;
// A GPU no pod needs is relaid out only when demand values its new layout this much more. Kept
// small: on the simulated clusters (BENCHMARKS.md, issue 9) 1.25 left idle GPUs in layouts the
// mix had moved away from, while 1.0-1.1 served more pods; 1.1 keeps a margin against relaying
// a GPU out for a gain within the demand figures' noise.
constexpr double kRebalanceMargin = 1.1;
// The layout a GPU no pod needs holds is valued against the MIG pods projected to arrive, not
// only those counted now, when those would ask for this many times the compute slices the
// model's instances offer. A 40-minute window holds about 1.2 mean run times on the simulated
// clusters (lognormal run times, 20-minute median, sigma 1: a 33-minute mean), so at this ratio
// the pods arriving would ask for about 1.25 times what the instances hold at once: more than
// there is. Below it, capacity is not scarce, and relaying out for the larger pods waiting
// costs the small ones little: on the 20-node simulations, 1.0 kept the shifting mix at load
// 0.8 from its large instances (459 pods waiting against greedy's 371), 2.0 let the default mix
// at load 1.0 trade small instances for large ones (43.0% of pods waited over 5 minutes against
// static's 41.3%); 1.5 met both (BENCHMARKS.md, issue 9, 2026-12-07, late). Tuned on those
// figures: a cluster whose pods run much longer than the window is read as less loaded.
constexpr double kScarceArrivals = 1.5;
// Nodes named in one unplaced reason; the rest are counted.
constexpr std::size_t kNodesInReason = 6;
constexpr std::string_view kNvidiaPrefix = "nvidia.com/";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string label_of(const NodeView& node, std::string_view key) { return node.label(key); }

std::string shown_label(const NodeView& node, std::string_view key) {
  const std::string* value = node.labels.find_value(key);
  return value == nullptr ? std::string("unset") : *value;
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
  std::vector<std::string> mig_profiles;  // the profile name of each `mig` resource ("" unknown)
  // Which nodes kube-scheduler may put it on depends only on this (node_constraints.h); pods
  // with equal keys share one row of NodeState::admits.
  std::size_t constraint_class = 0;
  std::string alike;        // alike_key(): pods with equal keys fit, and are reasoned about, alike
  std::int64_t shared = 0;  // nvidia.com/gpu.shared
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
std::optional<Pending> read_pending(const PodView& pod, const PlanSettings& settings,
                                    const Catalog& catalog) {
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
  auto known = [&]() -> std::vector<std::string> {
    auto it = pod.annotations.find(settings.annotation_prefix + std::string(kMigProfileKey));
    if (it == pod.annotations.end()) return {};
    return {it->second};
  };
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
      p.mig_profiles.push_back(catalog.profile_for_resource(resource).value_or(""));
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
  bool gpu = false;     // has some NVIDIA GPU the device plugin publishes
  bool dra = false;     // its GPUs are published through DRA (policy/dra.h)
  bool mig_on = false;  // some GPU has MIG enabled (or a MIG config other than all-disabled)
  bool mps_on = false;
  std::vector<std::string> gpu_pods;  // running pods holding nvidia.com/*
  std::size_t not_disruptable = 0;
  std::string blocked;      // why no action at all; "" for a candidate
  std::string mig_blocked;  // why no MIG action besides `blocked`
  std::string mps_blocked;
  NodeView fit_view;  // fit-relevant copy whose `used` grows as pending pods take capacity
  // One char per constraint class of pending pods (Pending::constraint_class): '1' when
  // kube-scheduler could put such a pod here as far as nodeSelector, node affinity and taints go
  // (node_constraints.h). Computed once.
  std::string admits;
  // MIG (catalog model, MIG-capable): each GPU's layout now, when known (plan_demand.h), and the
  // order in which its GPUs would be relaid out: least worth to the demand first.
  std::optional<std::vector<ProfileCounts>> layout;
  std::vector<int> change_order;
  std::vector<double> gpu_value;
  bool mig_capable = false;
  std::string sizing_key;    // nodes with equal keys get equal proposals (see plan())
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
  // A node whose GPUs come through DRA is kube-scheduler's to allocate and never gpushare's to
  // change: to the planner it has no GPU it could use or repartition (node_gate says why).
  s.dra = serves_through_dra(node);
  s.gpu = has_nvidia_gpu(node) && !s.dra;
  s.raw_product = label_of(node, gfd::kProduct);
  s.product = base_product(s.raw_product);
  s.model = s.product.empty() ? nullptr : catalog.model_for_product(s.product);
  s.gpus = static_cast<int>(std::max<std::int64_t>(0, label_int(node, gfd::kCount).value_or(0)));
  s.gpu_mib = whole_gpu_mib(node, s.model, s.raw_product);
  s.max_replicas = max_replicas_of(node, in.settings);
  s.mig_on = mig_enabled(node);
  s.mps_on =
      label_of(node, gfd::kSharingStrategy) == "mps" || label_of(node, gfd::kMpsCapable) == "true";
  s.mig_capable = s.model != nullptr && label_of(node, gfd::kMigCapable) == "true";
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
  if (s.dra) return "GPUs allocated through DRA (kube-scheduler's; never repartitioned)";
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
    return repartition_mark_summary(mark->second) + ": already being repartitioned";
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
  if (s.admits[p.constraint_class] != '1') return false;
  if (p.intent.gpu_products.empty()) return true;
  return std::any_of(p.intent.gpu_products.begin(), p.intent.gpu_products.end(),
                     [&](const std::string& w) { return w == s.product || w == s.raw_product; });
}

// The pod's MIG instances as profiles of the model; empty when the model lacks one.
std::vector<const MigProfile*> instances_on(const GpuModel& model, const Pending& p) {
  std::vector<const MigProfile*> out;
  for (std::size_t i = 0; i < p.mig.size(); ++i) {
    const MigProfile* profile =
        p.mig_profiles[i].empty() ? nullptr : model.find_profile(p.mig_profiles[i]);
    if (profile == nullptr) return {};
    out.insert(out.end(), static_cast<std::size_t>(p.mig[i].second), profile);
  }
  return out;
}

MpsBatch with_pod(MpsBatch batch, const Pending& p) {
  batch.memory_bytes = std::max(batch.memory_bytes, p.intent.gpu_memory_bytes.value_or(0));
  batch.compute_percent = std::max(batch.compute_percent, p.intent.gpu_compute_percent.value_or(0));
  batch.replicas += p.shared;
  return batch;
}

// A text that is equal for two pods exactly when kube-scheduler's node constraints treat them
// alike: nodeSelector, required node affinity, tolerations.
std::string constraint_key(const PodView& pod) {
  std::string out;
  for (const auto& [k, v] : pod.node_selector) out += k + '=' + v + ';';
  out += '|';
  if (pod.required_node_terms) {
    out += '[';
    for (const auto& term : *pod.required_node_terms) {
      for (const auto* reqs : {&term.match_expressions, &term.match_fields}) {
        for (const auto& r : *reqs) {
          out += r.key + ' ' + r.op;
          for (const auto& v : r.values) out += ' ' + v;
          out += ';';
        }
        out += '/';
      }
      out += ',';
    }
    out += ']';
  }
  out += '|';
  for (const auto& t : pod.tolerations) {
    out += t.key + (t.exists ? "?" : "=") + t.value + ':' + t.effect + ';';
  }
  return out;
}

// Pods that fit exactly the same nodes in the existing-capacity pass.
std::string alike_key(const Pending& p) {
  std::string out = std::to_string(static_cast<int>(p.kind)) + '|' + p.error + '|' +
                    std::to_string(p.constraint_class) + '|';
  for (const auto& [resource, n] : p.demand.resources)
    out += resource + '=' + std::to_string(n) + ';';
  out += '|' + std::to_string(p.intent.gpu_memory_bytes.value_or(-1)) + '|' +
         std::to_string(p.intent.gpu_compute_percent.value_or(-1)) + '|' +
         join(p.intent.gpu_products, ",");
  return out;
}

// The node's per-GPU layout, each GPU's worth to the demand, and the order to relay them out in.
void read_layout(NodeState& s, const PlanInput& in, const DemandSupply& ds) {
  s.change_order.clear();
  s.gpu_value.assign(static_cast<std::size_t>(std::max(0, s.gpus)), 0.0);
  for (int g = 0; g < s.gpus; ++g) s.change_order.push_back(g);
  if (!s.mig_capable || s.gpus <= 0) return;
  s.layout = current_mig_layout(*s.view, *s.model, s.gpus, in.mig_configs);
  if (s.layout) {
    for (int g = 0; g < s.gpus; ++g)
      s.gpu_value[static_cast<std::size_t>(g)] =
          ds.value_of(*s.model, (*s.layout)[static_cast<std::size_t>(g)]);
  } else {
    // Unknown layout: what the node offers, spread over its GPUs.
    ProfileCounts offered;
    for (const auto& p : s.model->profiles) {
      auto it = s.view->allocatable.find(p.resource_name());
      if (it != s.view->allocatable.end() && it->second > 0)
        offered[p.name] = static_cast<int>(it->second);
    }
    const double each = ds.value_of(*s.model, offered) / s.gpus;
    for (auto& v : s.gpu_value) v = each;
  }
  std::stable_sort(s.change_order.begin(), s.change_order.end(), [&](int a, int b) {
    return s.gpu_value[static_cast<std::size_t>(a)] < s.gpu_value[static_cast<std::size_t>(b)];
  });
}

// Nodes with equal keys get equal proposals and rank alike in better() but for their names.
std::string sizing_key(const NodeState& s, bool allow_disruption) {
  std::string key = s.raw_product + '|' + std::to_string(s.gpus) + '|' + std::to_string(s.gpu_mib) +
                    '|' + std::to_string(s.max_replicas) + '|' + (s.mig_on ? '1' : '0') +
                    (s.mps_on ? '1' : '0') + (s.mig_capable ? '1' : '0') +
                    (s.mig_blocked.empty() ? '1' : '0') + (s.mps_blocked.empty() ? '1' : '0') + '|';
  if (s.layout) {
    for (const auto& gpu : *s.layout) key += describe(gpu) + ';';
  } else {
    key += '?';
    for (const auto& [resource, n] : s.view->allocatable)
      key += resource + '=' + std::to_string(n) + ';';
  }
  // Same GPUs but other labels or taints: which pods may go there matters too.
  key += '|' + s.admits;
  if (allow_disruption) key += '|' + std::to_string(s.gpu_pods.size());
  return key;
}

// ---------------------------------------------------------------------------------------------
// Proposals: one node sized as MIG or MPS for the demand still waiting.

// What the plan knows of demand and supply (plan_demand.h), kept current as actions are chosen.
struct Market {
  DemandSupply mig;
  MpsDemand mps;
  // MPS demand with the arrivals projected over a window (PlanInput::projected_mps_arrivals);
  // its needs only: the supply is mps's.
  MpsDemand mps_ahead;
  // MIG pods projected to arrive, per resource (PlanInput::projected_mig_arrivals).
  std::map<std::string, std::int64_t> mig_ahead;
  std::size_t version = 0;  // bumped by every chosen action
};

struct Proposal {
  std::size_t node = 0;
  ActionKind kind = ActionKind::kMig;
  std::vector<std::size_t> served;  // indexes into the pending list, in demand order
  // kMig: the GPUs the pods need relaid out (NodeState::change_order's first ones) and, for
  // each, the instances of the pods it serves.
  std::vector<int> changed;
  std::vector<ProfileCounts> assigned;
  int replicas = 0;  // kMps
  // In pods (plan_demand.h): what the new capacity is worth to demand, and what the capacity it
  // replaces was worth. Computed at Market::version `version`.
  double gain = 0;
  double cost = 0;
  std::size_t version = 0;
  // Waiting pods it does not serve that no other unplanned node could serve.
  std::size_t strands = 0;
  // GPUs the change must relay out: the pods' and those with nothing on them (MIG), or every
  // GPU (MPS). GPUs relaid out only to follow demand are not counted: they are a bonus.
  int touched = 0;
};

// How much a (node, kind) goes against what the node is set up for: 0 MIG on a node in MIG
// mode, or MPS on a GPU that cannot do MIG; 1 a MIG-capable node with MIG off; 2 a switch
// between MPS and MIG, which also takes longer (nvidia.md 9).
int disturbance(const NodeState& s, ActionKind kind) {
  if (kind == ActionKind::kMig) return s.mig_on ? 0 : (s.mps_on ? 2 : 1);
  if (!s.mig_capable) return 0;
  return s.mig_on ? 2 : 1;
}

// A MIG node's layout after the change: the GPUs the pods need hold their instances, filled by
// demand; GPUs with nothing on them are filled too; other GPUs keep their layout unless demand
// values a fresh layout clearly more (the node is idle and paused for the change anyway,
// nvidia.md 5.3). `ds` is updated with the change.
struct MigSizing {
  std::vector<ProfileCounts> per_gpu;
  std::vector<int> relaid;  // every GPU whose layout changes, in the order decided
  int rebalanced = 0;       // of those, GPUs no pod needed
  double gain = 0;
  double cost = 0;
};

MigSizing size_mig(const NodeState& s, const std::vector<int>& changed,
                   const std::vector<ProfileCounts>& assigned, DemandSupply& ds,
                   const PlanSettings& settings,
                   const std::map<std::string, std::int64_t>& mig_ahead) {
  const GpuModel& model = *s.model;
  MigSizing out;
  out.per_gpu = s.layout ? *s.layout : std::vector<ProfileCounts>(static_cast<std::size_t>(s.gpus));
  out.relaid = changed;
  for (int g = 0; g < s.gpus; ++g) {
    if (out.per_gpu[static_cast<std::size_t>(g)].empty() &&
        std::find(out.relaid.begin(), out.relaid.end(), g) == out.relaid.end()) {
      out.relaid.push_back(g);
    }
  }
  for (int g : out.relaid) {
    ds.add_layout(model, out.per_gpu[static_cast<std::size_t>(g)], -1);
    out.per_gpu[static_cast<std::size_t>(g)].clear();
  }
  for (std::size_t k = 0; k < changed.size() && k < assigned.size(); ++k) {
    out.per_gpu[static_cast<std::size_t>(changed[k])] = assigned[k];
    ds.add_layout(model, assigned[k], +1);
  }
  if (settings.fill_mig_leftover) {
    for (int g : out.relaid) {
      auto& counts = out.per_gpu[static_cast<std::size_t>(g)];
      counts = fill_by_demand(model, std::move(counts), ds);
    }
  }
  if (settings.fill_mig_leftover && settings.rebalance_idle_gpus && s.layout &&
      ds.observed_pods(model) >= kRebalanceEvidence) {
    // A fresh layout is sized from the demand counted now; what it replaces is kept for the
    // pods coming when they would fill the model's instances (kScarceArrivals).
    const bool scarce = !mig_ahead.empty() && ds.wanted_slices(model, mig_ahead) >=
                                                  kScarceArrivals * ds.offered_slices(model);
    for (int g : s.change_order) {
      if (std::find(out.relaid.begin(), out.relaid.end(), g) != out.relaid.end()) continue;
      const ProfileCounts& old = out.per_gpu[static_cast<std::size_t>(g)];
      DemandSupply without = ds;
      without.add_layout(model, old, -1);
      DemandSupply trial = without;
      ProfileCounts fresh = fill_by_demand(model, {}, trial);
      DemandSupply raised;
      if (scarce) {
        raised = without;
        raised.raise_demand(mig_ahead);
      }
      const DemandSupply& valued = scarce ? raised : without;
      const double kept = layout_gain(model, old, valued);
      const double gained = layout_gain(model, fresh, valued);
      if (fresh == old || gained <= kept * kRebalanceMargin + 1e-9) continue;
      ds = std::move(trial);
      out.per_gpu[static_cast<std::size_t>(g)] = std::move(fresh);
      out.relaid.push_back(g);
      ++out.rebalanced;
    }
  }
  // Worth of the new layouts, each GPU's instances added in turn to the supply without them.
  DemandSupply base = ds;
  for (int g : out.relaid) base.add_layout(model, out.per_gpu[static_cast<std::size_t>(g)], -1);
  for (int g : out.relaid) {
    const ProfileCounts& counts = out.per_gpu[static_cast<std::size_t>(g)];
    out.gain += layout_gain(model, counts, base);
    base.add_layout(model, counts, +1);
    out.cost += s.gpu_value[static_cast<std::size_t>(g)];
  }
  return out;
}

void value_mig(Proposal& p, const NodeState& s, const Market& market,
               const PlanSettings& settings) {
  DemandSupply trial = market.mig;
  const MigSizing sized = size_mig(s, p.changed, p.assigned, trial, settings, market.mig_ahead);
  p.gain = sized.gain;
  p.cost = sized.cost;
  p.version = market.version;
}

Proposal propose_mig(std::size_t n, const NodeState& s, const std::vector<Pending>& pending,
                     const std::vector<bool>& waiting, const Market& market,
                     const PlanSettings& settings) {
  Proposal out{n, ActionKind::kMig, {}, {}, {}, 0, 0, 0, 0};
  std::vector<const MigProfile*> accepted;
  // GPUs relaid out for the pods so far: only as many as they need, least valuable first
  // (plan_demand.h); with an unknown layout every GPU is listed anew.
  int changed = s.layout ? 0 : s.gpus;
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
    bool fits = false;
    for (int k = std::max(changed, 1); k <= s.gpus && !fits; ++k) {
      if (auto layout = assign_mig_instances(*s.model, k, trial)) {
        out.assigned = std::move(*layout);
        changed = k;
        fits = true;
      }
    }
    if (fits) {
      accepted = std::move(trial);
      out.served.push_back(i);
    } else {
      too_big.insert(p.mig);
    }
  }
  if (out.served.empty()) return out;
  out.changed.assign(s.change_order.begin(), s.change_order.begin() + changed);
  out.touched = static_cast<int>(out.changed.size());
  if (s.layout) {
    for (int g = 0; g < s.gpus; ++g) {
      if ((*s.layout)[static_cast<std::size_t>(g)].empty() &&
          std::find(out.changed.begin(), out.changed.end(), g) == out.changed.end())
        ++out.touched;
    }
  }
  value_mig(out, s, market, settings);
  return out;
}

std::int64_t current_replicas(const NodeState& s) {
  auto it = s.view->allocatable.find(std::string(kSharedGpuResource));
  return it == s.view->allocatable.end() ? 0 : it->second;
}

Proposal propose_mps(std::size_t n, const NodeState& s, const std::vector<Pending>& pending,
                     const std::vector<bool>& waiting, const Market& market) {
  // One replica size per node. Each size the waiting pods' needs call for is tried; the one
  // that serves the most waiting pods wins, then the one whose replicas are worth most to MPS
  // demand, then more replicas. Sizing for the largest pod of a batch would give every small
  // pod a large share.
  std::vector<std::size_t> wanting;
  std::set<std::pair<std::int64_t, int>> needs;  // (memory, compute) stated
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const Pending& p = pending[i];
    if (!waiting[i] || p.kind != PodKind::kMps || !product_ok(p, s)) continue;
    wanting.push_back(i);
    needs.emplace(p.intent.gpu_memory_bytes.value_or(0), p.intent.gpu_compute_percent.value_or(0));
  }
  const double own = static_cast<double>(current_replicas(s));
  const double others = market.mps.supply() - own;
  Proposal best{n, ActionKind::kMps, {}, {}, {}, 0, 0, 0, market.version};
  std::set<int> tried;
  for (const auto& [memory, compute] : needs) {
    MpsBatch need;
    need.memory_bytes = memory;
    need.compute_percent = compute;
    need.replicas = 1;
    auto most = mps_replicas_for(s.gpu_mib, 1, s.max_replicas, need);
    if (!most || !tried.insert(*most).second) continue;
    Proposal out{n, ActionKind::kMps, {}, {}, {}, 0, 0, 0, market.version};
    MpsBatch batch;
    for (std::size_t i : wanting) {
      const MpsBatch trial = with_pod(batch, pending[i]);
      auto r = mps_replicas_for(s.gpu_mib, s.gpus, s.max_replicas, trial);
      if (r && *r >= *most) {
        batch = trial;
        out.replicas = *r;
        out.served.push_back(i);
      }
    }
    if (out.served.empty()) continue;
    out.gain =
        market.mps.gain(mps_share_bytes(s.gpu_mib, out.replicas), out.replicas * s.gpus, others);
    const bool wins = best.served.empty() || out.served.size() > best.served.size() ||
                      (out.served.size() == best.served.size() &&
                       (out.gain > best.gain + 1e-9 ||
                        (std::abs(out.gain - best.gain) <= 1e-9 && out.replicas > best.replicas)));
    if (wins) best = std::move(out);
  }
  if (best.served.empty()) return best;
  best.touched = s.gpus;
  // What it replaces: every MIG instance of the node, or its current replicas.
  if (s.mig_on) {
    for (double v : s.gpu_value) best.cost += v;
  }
  if (own > 0 && s.gpus > 0) {
    const int replicas = static_cast<int>(own) / s.gpus;
    if (replicas > 0)
      best.cost +=
          market.mps.gain(mps_share_bytes(s.gpu_mib, replicas), static_cast<int>(own), others);
    // Fewer, larger replicas serve the waiting pods the node's replicas are too small for, and
    // take the node from the smaller pods those replicas serve for as long as any pod runs there.
    // Only when the new replicas are worth at least what the node offers now to the MPS pods
    // projected to arrive (plan_demand.h, RecentArrivals). Halving an MPS node for one 8 GiB
    // pod as a cluster filled left 2 and 4 GiB pods waiting for hours (BENCHMARKS.md, issue 9,
    // 2026-12-07, night).
    if (replicas > best.replicas) {
      const double kept = market.mps_ahead.gain(mps_share_bytes(s.gpu_mib, replicas),
                                                static_cast<int>(own), others);
      const double made = market.mps_ahead.gain(mps_share_bytes(s.gpu_mib, best.replicas),
                                                best.replicas * s.gpus, others);
      if (made < kept) best.served.clear();
    }
  }
  return best;
}

// Whether some layout of the node could serve the pod alone.
bool could_host(const NodeState& s, const Pending& p) {
  if (!product_ok(p, s)) return false;
  if (p.kind == PodKind::kMig)
    return s.mig_blocked.empty() && s.model != nullptr && !instances_on(*s.model, p).empty() &&
           assign_mig_instances(*s.model, s.gpus, instances_on(*s.model, p)).has_value();
  if (p.kind == PodKind::kMps)
    return s.mps_blocked.empty() &&
           mps_replicas_for(s.gpu_mib, s.gpus, s.max_replicas, with_pod(MpsBatch{}, p)).has_value();
  return false;
}

std::int32_t top_priority(const Proposal& p, const std::vector<Pending>& pending) {
  std::int32_t out = std::numeric_limits<std::int32_t>::min();
  for (std::size_t i : p.served) out = std::max(out, pending[i].pod->priority);
  return out;
}

// Strictly better by planner.h step 4.
bool better(const Proposal& a, const Proposal& b, const std::vector<Pending>& pending,
            const std::vector<NodeState>& nodes) {
  const NodeState& na = nodes[a.node];
  const NodeState& nb = nodes[b.node];
  const std::int32_t pa = top_priority(a, pending);
  const std::int32_t pb = top_priority(b, pending);
  if (pa != pb) return pa > pb;
  const std::size_t da = na.gpu_pods.size();
  const std::size_t db = nb.gpu_pods.size();
  if (da != db) return da < db;
  // More waiting pods served (by priority): one node changed instead of two.
  std::map<std::int32_t, long, std::greater<>> diff;  // pods of a minus pods of b, by priority
  for (std::size_t i : a.served) ++diff[pending[i].pod->priority];
  for (std::size_t i : b.served) --diff[pending[i].pod->priority];
  for (const auto& [priority, d] : diff) {
    if (d != 0) return d > 0;
  }
  // Then the one that leaves no waiting pod without a node (the only H20 for an H20 profile
  // is not spent on MPS pods an H100 could take).
  if (a.strands != b.strands) return a.strands < b.strands;
  // Then the node already set up for this kind (an RTX for MPS, not an H100 in MIG mode),
  // then what the new capacity is worth to demand minus what the capacity it replaces was
  // worth, both in pods (plan_demand.h): the change that costs least capacity others use,
  // whatever the node's name.
  const int ca = disturbance(na, a.kind);
  const int cb = disturbance(nb, b.kind);
  if (ca != cb) return ca < cb;
  // Then the smaller change: fewer GPUs relaid out (a 1-GPU node for one small pod, not an
  // 8-GPU one).
  if (a.touched != b.touched) return a.touched < b.touched;
  const double net_a = a.gain - a.cost;
  const double net_b = b.gain - b.cost;
  if (std::abs(net_a - net_b) > 1e-9) return net_a > net_b;
  if (std::abs(a.cost - b.cost) > 1e-9) return a.cost < b.cost;
  if (a.changed.size() != b.changed.size()) return a.changed.size() < b.changed.size();
  // MPS: the smallest GPU that serves the same pods keeps larger ones for larger requests.
  if (a.kind == ActionKind::kMps && b.kind == ActionKind::kMps && na.gpu_mib != nb.gpu_mib)
    return na.gpu_mib < nb.gpu_mib;
  if (na.gpus != nb.gpus) return na.gpus < nb.gpus;
  if (a.node != b.node) return a.node < b.node;  // nodes are sorted by name
  return a.kind == ActionKind::kMig && b.kind == ActionKind::kMps;
}

std::string gpu_list(const std::vector<int>& gpus) {
  std::vector<int> sorted = gpus;
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (int g : sorted) out += (out.empty() ? "" : ",") + std::to_string(g);
  return out;
}

std::string worth(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Why this node and this layout, for `gpushare plan` readers and the controller's log.
std::string why_this(const Proposal& prop, const NodeState& s, const std::vector<int>& relaid,
                     int rebalanced) {
  std::string out = "serves " + plural(prop.served.size(), "waiting pod", "waiting pods") + "; ";
  if (prop.kind == ActionKind::kMig) {
    if (!s.layout) {
      out += "every GPU relaid out (its per-GPU layout is not known)";
    } else if (static_cast<int>(relaid.size()) == s.gpus) {
      out += "every GPU relaid out";
    } else {
      out += "relays out GPU " + gpu_list(relaid) + " of " + std::to_string(s.gpus) +
             ", the others keep their layout";
    }
    if (rebalanced > 0) {
      out += " (" + plural(static_cast<std::size_t>(rebalanced), "GPU", "GPUs") +
             " no waiting pod needs, relaid out to follow demand)";
    }
  } else {
    out += std::to_string(prop.replicas) + " MPS replicas per GPU";
  }
  out += "; worth " + worth(prop.gain) + " pods to demand, replacing capacity worth " +
         worth(prop.cost);
  switch (disturbance(s, prop.kind)) {
    case 0:
      out += prop.kind == ActionKind::kMig ? "; the node is in MIG mode already"
                                           : "; its GPUs cannot do MIG";
      break;
    case 1:
      out += "; a MIG-capable node with MIG off";
      break;
    default:
      out += "; switches the node between MPS and MIG";
  }
  return out;
}

PlanAction make_action(const Proposal& prop, const NodeState& s,
                       const std::vector<Pending>& pending, const PlanSettings& settings,
                       Market& market) {
  PlanAction a;
  a.node = s.view->name;
  a.kind = prop.kind;
  const std::string mig_label(gfd::kMigConfig);
  const std::string dp_label(gfd::kDevicePluginConfig);
  std::vector<int> relaid;
  int rebalanced = 0;
  if (prop.kind == ActionKind::kMig) {
    MigSizing sized =
        size_mig(s, prop.changed, prop.assigned, market.mig, settings, market.mig_ahead);
    relaid = sized.relaid;
    rebalanced = sized.rebalanced;
    a.mig_config = group_mig_devices(sized.per_gpu);
    a.config_name = config_name(settings.config_name_prefix, a.mig_config);
    a.labels = {{mig_label, a.config_name}, {dp_label, std::string(kMigMixedDevicePluginConfig)}};
    a.steps = {{dp_label, std::string(kMigMixedDevicePluginConfig), "nvidia.com/mps.capable=false"},
               {mig_label, a.config_name, "nvidia.com/mig.config.state=success"}};
    market.mps.add_supply(-static_cast<double>(current_replicas(s)));
  } else {
    if (s.layout && s.model != nullptr) {
      for (const auto& gpu : *s.layout) market.mig.add_layout(*s.model, gpu, -1);
    }
    market.mps.add_supply(static_cast<double>(prop.replicas) * s.gpus -
                          static_cast<double>(current_replicas(s)));
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
  ++market.version;
  for (std::size_t i : prop.served) a.serves.push_back(pending[i].key);
  std::sort(a.serves.begin(), a.serves.end());
  a.disrupts = s.gpu_pods;  // non-empty only when allow_disruption let the node in
  std::sort(a.disrupts.begin(), a.disrupts.end());
  a.why = why_this(prop, s, relaid, rebalanced);
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
    const auto replicas = mps_replicas_for(s.gpu_mib, s.gpus, s.max_replicas, alone);
    if (!replicas) {
      std::string why = std::to_string(s.gpu_mib) + " MiB GPU: at most " +
                        std::to_string(s.gpu_mib / 2) + " MiB and 50% of the SMs per replica";
      if (p.intent.gpu_memory_bytes) why += ", needs " + memory_text(p);
      if (p.intent.gpu_compute_percent)
        why += ", needs " + std::to_string(*p.intent.gpu_compute_percent) + "%";
      return why;
    }
    const std::int64_t now = s.gpus > 0 ? current_replicas(s) / s.gpus : 0;
    if (now > *replicas) {
      return "keeps its " + std::to_string(now) +
             " MPS replicas per GPU: " + std::to_string(*replicas) +
             " larger ones for it would be worth less to the MPS pods that run and arrive";
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
    if (pod.node_name.empty() || pod.terminated()) continue;
    auto demand = pod_demand(pod);
    auto it = node_index.find(pod.node_name);
    if (it == node_index.end()) continue;
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
    if (pod.terminated()) continue;
    if (auto p = read_pending(pod, settings, catalog)) pending.push_back(std::move(*p));
  }
  std::stable_sort(pending.begin(), pending.end(), demand_order);
  std::vector<bool> waiting(pending.size(), true);
  // Pods with the same scheduling constraints may go to the same nodes: one admits row each.
  std::map<std::string, std::size_t> constraint_classes;
  std::vector<const PodView*> class_pod;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    pending[i].index = i;
    auto [it, fresh] =
        constraint_classes.emplace(constraint_key(*pending[i].pod), constraint_classes.size());
    if (fresh) class_pod.push_back(pending[i].pod);
    pending[i].constraint_class = it->second;
    pending[i].alike = alike_key(pending[i]);
  }
  for (auto& s : nodes) {
    s.admits.assign(class_pod.size(), '0');
    for (std::size_t c = 0; c < class_pod.size(); ++c) {
      if (may_schedule_on(*class_pod[c], *s.view)) s.admits[c] = '1';
    }
  }

  // Demand and supply of every MIG resource and of MPS replicas (plan_demand.h), and each MIG
  // node's layout.
  // MIG demand is what runs and waits now; a waiting pod counts once, like a running one.
  // (Counting waiting pods twice followed a shifting mix better with the linear worth of earlier
  // versions; with the Poisson worth, which already sizes past the count, once left fewer pods
  // waiting at each load: BENCHMARKS.md, issue 9, 2026-12-06.)
  // MPS demand is the larger of that and the MPS pods that arrived within the window
  // (PlanInput::recent_mps_arrivals), per gpu-memory need. An MPS node whose pods just ended looks
  // like surplus the minute it idles, and when a cluster fills, the pods running are fewer than
  // the arrival rate will keep running; sized from the snapshot, too few nodes went MPS early and
  // idle ones went back to MIG for one pod, while MPS pods queued. Arrivals for MIG too
  // over-sized rare profiles and lost rows on 20 nodes (BENCHMARKS.md, issue 9, 2026-12-07c).
  Market market;
  DemandSupply& ds = market.mig;
  DemandCount demand = count_demand(in.running, in.pending, settings);
  for (const auto& [need, n] : in.recent_mps_arrivals)
    demand.mps[need] = std::max(demand.mps[need], n);
  for (const auto& [resource, n] : demand.mig) ds.add_demand(resource, static_cast<double>(n));
  for (const auto& [need, n] : demand.mps) {
    for (std::int64_t k = 0; k < n; ++k) market.mps.add_need(need);
  }
  std::map<std::int64_t, std::int64_t> ahead = demand.mps;
  for (const auto& [need, n] : in.projected_mps_arrivals) ahead[need] = std::max(ahead[need], n);
  for (const auto& [need, n] : ahead) {
    for (std::int64_t k = 0; k < n; ++k) market.mps_ahead.add_need(need);
  }
  for (const auto& s : nodes) {
    for (const auto& [resource, n] : s.view->allocatable) {
      if (n > 0 && starts_with(resource, kMigResourcePrefix))
        ds.add_supply(resource, static_cast<double>(n));
      if (n > 0 && resource == kSharedGpuResource) market.mps.add_supply(static_cast<double>(n));
    }
  }
  market.mig_ahead = in.projected_mig_arrivals;
  for (auto& s : nodes) read_layout(s, in, ds);

  // Step 2: capacity that exists. Nodes that cannot be repartitioned are used first.
  std::vector<std::size_t> existing_order(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) existing_order[i] = i;
  std::stable_sort(existing_order.begin(), existing_order.end(), [&](std::size_t a, std::size_t b) {
    return !nodes[a].blocked.empty() && nodes[b].blocked.empty();
  });
  // Per resource, the nodes that offer some of it free, in that order: most nodes offer none of
  // what a pod asks for, and this keeps the pass near linear in pods + nodes.
  std::map<std::string, std::vector<std::size_t>> offering;
  for (std::size_t n : existing_order) {
    const NodeState& s = nodes[n];
    if (!s.gpu || s.view->unschedulable) continue;
    for (const auto& [resource, count] : s.fit_view.allocatable) {
      if (is_managed_resource(resource) && s.fit_view.free(resource) > 0)
        offering[resource].push_back(n);
    }
  }
  // Pods alike (same request, intent and constraints) that found no room: capacity only shrinks
  // in this pass, so the next such pod finds none either.
  std::set<std::string> no_room;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    Pending& p = pending[i];
    if (p.kind != PodKind::kMig && p.kind != PodKind::kMps) continue;
    const std::vector<std::string> wanted = p.demand.managed_resources();
    if (no_room.count(p.alike) != 0) continue;
    auto list = offering.find(wanted.front());
    bool placed = false;
    if (list != offering.end()) {
      auto& candidates = list->second;
      for (std::size_t k = 0; k < candidates.size() && !placed; ++k) {
        NodeState& s = nodes[candidates[k]];
        if (std::any_of(wanted.begin(), wanted.end(), [&](const std::string& r) {
              return s.fit_view.free(r) < p.demand.count(r);
            })) {
          continue;
        }
        if (s.admits[p.constraint_class] != '1') continue;
        if (!fit_node(p.demand, p.intent, s.fit_view, catalog).fits) continue;
        for (const auto& resource : wanted) s.fit_view.used[resource] += p.demand.count(resource);
        ++s.reserved;
        waiting[i] = false;
        placed = true;
        // A node with none of it left is dropped, so later pods do not walk it again.
        if (s.fit_view.free(wanted.front()) <= 0)
          candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(k));
      }
    }
    if (!placed) no_room.insert(p.alike);
  }
  for (auto& s : nodes) {
    if (s.blocked.empty() && s.reserved > 0) {
      s.blocked = "its free capacity goes to " +
                  plural(s.reserved, "other pending pod", "other pending pods") + " already";
    }
  }

  // Step 4: one action per node, the best (node, kind) first.
  Plan out;
  // Proposals depend on a node only through what propose_* and better() read of it, so nodes
  // alike share one (sizing_key), and the first of them by name is the one to take. A proposal
  // stays valid while every pod it serves still waits: pods it skipped do not change its walk
  // when they go.
  struct Group {
    std::vector<std::size_t> nodes;  // by name
    std::size_t next = 0;            // the first not yet planned
    std::optional<Proposal> proposal[2];
  };
  std::vector<Group> groups;
  std::map<std::string, std::size_t> group_of;
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    NodeState& s = nodes[n];
    if (!s.blocked.empty()) continue;
    s.sizing_key = sizing_key(s, settings.allow_disruption);
    auto [it, fresh] = group_of.emplace(s.sizing_key, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].nodes.push_back(n);
  }
  auto stale = [&](const Proposal& p) {
    return std::any_of(p.served.begin(), p.served.end(),
                       [&](std::size_t i) { return !waiting[i]; });
  };
  // Which groups could serve each waiting pod at all, and on how many unplanned nodes: a pod
  // that only one node can serve must not lose that node to pods others could serve.
  std::vector<std::vector<std::size_t>> hosts(pending.size());
  std::vector<std::size_t> support(pending.size(), 0);
  std::map<std::string, std::size_t> hosts_of_kind;  // alike key -> first pod of that kind
  for (std::size_t i = 0; i < pending.size(); ++i) {
    auto [kind, fresh] = hosts_of_kind.emplace(pending[i].alike, i);
    if (!fresh) {
      hosts[i] = hosts[kind->second];
      support[i] = support[kind->second];
      continue;
    }
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (could_host(nodes[groups[g].nodes.front()], pending[i])) {
        hosts[i].push_back(g);
        support[i] += groups[g].nodes.size();
      }
    }
  }
  // Waiting pods that only the next node of group g could still serve.
  auto lonely_on = [&](std::size_t g, const Proposal& p) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (!waiting[i] || support[i] != 1 || hosts[i].empty()) continue;
      if (std::find(hosts[i].begin(), hosts[i].end(), g) == hosts[i].end()) continue;
      if (std::find(p.served.begin(), p.served.end(), i) == p.served.end()) ++out;
    }
    return out;
  };
  const bool any_lonely =
      std::any_of(support.begin(), support.end(), [](std::size_t n) { return n <= 1; });
  while (std::any_of(waiting.begin(), waiting.end(), [](bool w) { return w; })) {
    std::optional<Proposal> best;
    std::size_t best_group = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      Group& group = groups[g];
      if (group.next >= group.nodes.size()) continue;
      const std::size_t n = group.nodes[group.next];
      const NodeState& s = nodes[n];
      for (ActionKind kind : {ActionKind::kMig, ActionKind::kMps}) {
        const bool mig = kind == ActionKind::kMig;
        if (!(mig ? s.mig_blocked : s.mps_blocked).empty()) continue;
        auto& cached = group.proposal[mig ? 0 : 1];
        if (!cached || stale(*cached)) {
          cached = mig ? propose_mig(n, s, pending, waiting, market, settings)
                       : propose_mps(n, s, pending, waiting, market);
        } else if (cached->version != market.version && !cached->served.empty()) {
          // Same pods, but the supply moved: value it again.
          if (mig)
            value_mig(*cached, s, market, settings);
          else
            cached = propose_mps(n, s, pending, waiting, market);
        }
        if (cached->served.empty()) continue;
        Proposal candidate = *cached;
        candidate.node = n;
        if (any_lonely) candidate.strands = lonely_on(g, candidate);
        if (!best || better(candidate, *best, pending, nodes)) {
          best = std::move(candidate);
          best_group = g;
        }
      }
    }
    if (!best) break;
    NodeState& s = nodes[best->node];
    out.actions.push_back(make_action(*best, s, pending, settings, market));
    s.planned = best->kind;
    ++groups[best_group].next;
    for (std::size_t i : best->served) waiting[i] = false;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (std::find(hosts[i].begin(), hosts[i].end(), best_group) != hosts[i].end()) --support[i];
    }
  }

  // Step 5: every pod still waiting, with its reason.
  std::map<std::string, std::string> reasons;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    const Pending& p = pending[i];
    if (!waiting[i]) continue;
    // Pods alike get the same reason: computed once per kind (it walks every node).
    auto [it, fresh] = reasons.try_emplace(p.alike);
    if (fresh) it->second = unplaced_reason(p, nodes, catalog);
    out.unplaced.push_back({p.key, it->second});
  }
  return out;
}

}  // namespace gpushare::policy
