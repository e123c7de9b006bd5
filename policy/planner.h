// The repartition planner (CONTRACT.md section 5; ARCHITECTURE.md "planner" and "Repartitioning
// protocol"). Pure and deterministic: the same PlanInput gives the same Plan, whatever the order
// of its nodes and pods. No JSON here: server/plan_command.cpp (and the controller) render it.
//
// How a plan is made (planner.cpp holds the steps, plan_mig.h / plan_mps.h the per-node sizing):
//  1. Pending pods that ask for a gpushare-managed resource (nvidia.com/gpu.shared,
//     nvidia.com/mig-*) are ordered: priority (higher first), then smallest first (MIG: the
//     profile's memory then compute slices, times the count; MPS: gpu-memory then gpu-compute),
//     then "ns/name".
//  2. Capacity that exists comes first: in that order, each pod takes free capacity on the first
//     node where fit_node says it fits now (busy nodes before idle ones, then by name), minus what
//     earlier pods of this plan took. Those pods are neither in an action nor unplaced, and a node
//     whose free capacity a pending pod counts on is not repartitioned (the pod will start there).
//  3. Candidate nodes: an NVIDIA GPU with gpu.product and gpu.count labels, not cordoned, not
//     marked (kRepartitionAnnotation), mig.config.state neither pending nor rebooting, and idle:
//     no running pod bound to it holds any nvidia.com/* resource. With allow_disruption, a node
//     whose GPU pods all carry the disruptable annotation is a candidate too; the action lists
//     them in `disrupts`. MIG also needs mig.capable=true, mig.strategy=mixed and a catalog model;
//     MPS needs the GPU's memory (gpu.memory label, else the catalog's figure). A pod is only
//     ever sized onto a node kube-scheduler could put it on (node_constraints.h: nodeSelector,
//     required node affinity, taints); steps 2 and 4 alike.
//  4. Each candidate node is sized for the remaining demand, as MIG and as MPS; nodes alike
//     (same GPUs, layout, labels that matter) are sized once. The sizing knows demand and
//     supply (plan_demand.h: pods running or waiting per MIG profile and per MPS share, against
//     the instances and replicas the cluster offers) and each node's per-GPU layout (from the
//     mig-parted config its mig.config names, or its GFD counts spread evenly):
//     - MIG (plan_mig.h): the pods' instances go onto as few GPUs as hold them, the least
//       valuable to demand first; those GPUs are filled from demand (the instances worth the
//       most pods in all, plan_demand.h), and every other GPU keeps its layout, listed
//       with its exact counts so mig-parted skips it. Since the node is paused for the change
//       anyway, a GPU no pod needs is relaid out too when demand rests on 8+ pods of the model
//       and values a fresh layout 10% more than what the GPU holds (rebalance_idle_gpus). When
//       the MIG pods projected to arrive (projected_mig_arrivals) would ask for 1.5 times the
//       compute slices the model's instances offer, both layouts are valued against that
//       larger demand: the capacity a GPU holds is kept for what is coming.
//     - MPS (plan_mps.h): each replica size the waiting pods' needs call for is tried; the one
//       serving the most waiting pods wins, then the one worth most to MPS demand. A node that
//       offers replicas is re-sized to fewer, larger ones only when they are worth at least
//       what its replicas are worth to MPS demand projected at the arrival rate
//       (projected_mps_arrivals): new capacity is sized from what was seen, capacity that
//       exists is kept for what is coming.
//     The (node, kind) that wins: it serves the highest priority; fewer disrupted pods; more
//     pods served, by priority; it strands no waiting pod that only this node could serve;
//     the node set up for the kind (MPS on a GPU without MIG, MIG on a node in MIG mode, a
//     switch last); fewer GPUs relaid out; more worth to demand minus the worth of the capacity
//     replaced; then fewer GPUs, the node's name. One action per node; repeat until no node
//     serves anything. Each action says why (PlanAction::why).
//  5. Every pod still waiting gets a reason a person can act on: which nodes could have served
//     it and why each did not.
//
// Label order (nvidia.md sections 5 and 9): `labels` is the end state, as CONTRACT.md shows it;
// `steps` is the order to get there, one label at a time, each waiting for its condition:
//  - MIG: nvidia.com/device-plugin.config=mig-mixed first (off MPS; wait mps.capable=false), then
//    nvidia.com/mig.config=<configName> (wait mig.config.state=success).
//  - MPS on a node with MIG on: nvidia.com/mig.config=all-disabled (wait success), then
//    nvidia.com/device-plugin.config=<configName> (wait gpu.replicas=<replicas>).
//  - MPS otherwise: only the device-plugin step.
// A step whose label already has the value is still listed (setting it again changes nothing).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/catalog.h"
#include "policy/layout.h"
#include "policy/views.h"

namespace gpushare::policy {

// Well-known config names the plan uses besides its own.
inline constexpr std::string_view kMigMixedDevicePluginConfig = "mig-mixed";
inline constexpr std::string_view kMigAllDisabledConfig = "all-disabled";

struct PlanSettings {
  // Off: only nodes with no running GPU pods are repartitioned (CONTRACT.md section 5).
  bool allow_disruption = false;
  // With allow_disruption: a node qualifies when every GPU pod on it has this annotation = value.
  // Deliberately outside the webhook's `gpushare.io/` keys (CONTRACT 3, rule 1): a whole-GPU pod
  // may say it can be evicted without becoming a sharing pod or being denied as unknown intent.
  std::string disruptable_annotation = "repartition.gpushare.io/disruptable";
  std::string disruptable_value = "true";
  std::string config_name_prefix = "gpushare-";
  // The MPS daemon's limits (nvidia.md 1.4): 48 replicas from compute capability 7.5 on, else 16.
  // A node without gpu.compute.major/minor labels gets the lower limit.
  int max_mps_replicas = 48;
  int max_mps_replicas_before_7_5 = 16;
  // Where pods' share intent lives (CONTRACT.md section 3).
  std::string annotation_prefix = "gpushare.io/";
  // Only nodes carrying every one of these labels are candidates (empty: all nodes).
  std::map<std::string, std::string> node_selector;
  // Fill each GPU's unused MIG space (plan_mig.h). Off: only the instances pods ask for.
  bool fill_mig_leftover = true;
  // With fill_mig_leftover: the GPUs of a node being relaid out that no pod needs are relaid
  // out too when demand clearly values another layout more (plan_demand.h).
  bool rebalance_idle_gpus = true;
};

// One entry of a mig-parted `mig-configs` list (nvidia.md 4.1).
struct MigConfigEntry {
  std::vector<int> devices;  // GPU indices, ascending
  bool mig_enabled = true;
  ProfileCounts mig_devices;
  friend bool operator==(const MigConfigEntry&, const MigConfigEntry&) = default;
};

struct PlanInput {
  std::vector<NodeView> nodes;   // `used` as the node cache computes it
  std::vector<PodView> running;  // bound pods (node_name set); Succeeded/Failed ones are ignored
  std::vector<PodView> pending;  // unbound pods, as admitted (resources already mutated)
  // Config names present in the GPU Operator's ConfigMaps; nullopt when not known. When known,
  // a plan that needs "mig-mixed" (device plugin) or "all-disabled" (mig-parted) and does not
  // find it skips that node and says so. gpushare's own names need not be present: the
  // controller writes them.
  std::optional<std::set<std::string>> mig_config_names;
  std::optional<std::set<std::string>> device_plugin_config_names;
  // The content of mig-parted configs, by name, where known (the controller reads the GPU
  // Operator's ConfigMap): a node's per-GPU layout is that of the config its
  // nvidia.com/mig.config names. An entry with no `devices` applies to every GPU.
  std::map<std::string, std::vector<MigConfigEntry>> mig_configs;
  // MPS pods that arrived within a recent window, gone since or not (one per shared GPU), by
  // stated gpu-memory in bytes (0: unstated): plan_demand.h, RecentArrivals. Empty when not
  // known. MPS replicas are sized for the larger of it and the MPS pods running and waiting now.
  std::map<std::int64_t, std::int64_t> recent_mps_arrivals;
  // The same, projected over a whole window at the rate seen since counting began
  // (RecentArrivals::read). What an MPS node's current replicas are valued at when a plan would
  // make them fewer and larger (step 4); empty: recent_mps_arrivals is used.
  std::map<std::int64_t, std::int64_t> projected_mps_arrivals;
  // MIG pods per resource ("nvidia.com/mig-1g.10gb") projected the same way: what the layout
  // of a GPU no pod needs is valued at when the cluster is short of the model's capacity
  // (step 4). Empty when not known.
  std::map<std::string, std::int64_t> projected_mig_arrivals;
  PlanSettings settings;
};

enum class ActionKind { kMig, kMps };
std::string_view to_string(ActionKind kind);

// A device-plugin config (nvidia.md 1.2): version v1, MPS sharing, renamed resource.
struct MpsResource {
  std::string name = "nvidia.com/gpu";
  int replicas = 0;
  friend bool operator==(const MpsResource&, const MpsResource&) = default;
};
struct DevicePluginConfig {
  std::string version = "v1";
  bool rename_by_default = true;
  std::vector<MpsResource> resources;
  friend bool operator==(const DevicePluginConfig&, const DevicePluginConfig&) = default;
};

// Set `label` to `value`, then wait until the node shows `wait_for` ("key=value").
struct LabelStep {
  std::string label;
  std::string value;
  std::string wait_for;
  friend bool operator==(const LabelStep&, const LabelStep&) = default;
};

struct PlanAction {
  std::string node;
  ActionKind kind = ActionKind::kMig;
  std::string config_name;                  // the ConfigMap key to write (content-derived)
  std::vector<MigConfigEntry> mig_config;   // kMig: every GPU exactly once, ordered by index
  DevicePluginConfig device_plugin_config;  // kMps
  std::vector<std::pair<std::string, std::string>> labels;  // end state, CONTRACT.md order
  std::vector<std::string> serves;                          // "ns/name", sorted
  std::vector<LabelStep> steps;                             // the order to apply `labels` in
  std::vector<std::string> disrupts;  // running pods to stop first (allow_disruption)
  // Why this node and layout: the GPUs it relays out and what they held, how the node stands.
  std::string why;
  friend bool operator==(const PlanAction&, const PlanAction&) = default;
};

struct UnplacedPod {
  std::string pod;  // "ns/name"
  std::string reason;
  friend bool operator==(const UnplacedPod&, const UnplacedPod&) = default;
};

struct Plan {
  std::vector<PlanAction> actions;    // in the order they were chosen
  std::vector<UnplacedPod> unplaced;  // in demand order (priority, smallest first, name)
  friend bool operator==(const Plan&, const Plan&) = default;
};

// Node names and pod "ns/name" are expected to be unique (as in a cluster).
Plan plan(const PlanInput& input, const Catalog& catalog);

// Content-derived config names: prefix + 16 hex digits of FNV-1a 64 over canonical_text(...).
// The same content always gives the same name, so a layout already written is reused as is.
std::string canonical_text(const std::vector<MigConfigEntry>& mig_config);
std::string canonical_text(const DevicePluginConfig& config);
std::string config_name(std::string_view prefix, const std::vector<MigConfigEntry>& mig_config);
std::string config_name(std::string_view prefix, const DevicePluginConfig& config);
std::uint64_t fnv1a64(std::string_view text);

}  // namespace gpushare::policy
