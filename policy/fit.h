// Can this node serve this pod's gpushare-managed GPU request now, later, or never?
// Pure: the extender's /filter and /prioritize, and the offline commands, all call fit_node.
//
// Rules, in the order they are checked (each failure names what a person can change):
//  1. A pod that asks for no gpushare-managed resource fits every node.
//     A node whose GPUs come through DRA (policy/dra.h) fits when gpu-product allows its
//     product and it has devices of each MIG profile asked for; rules 2-5 are the device
//     plugin's and do not apply to it.
//  2. No NVIDIA GPU on the node (no nvidia.com/gpu.product label, no nvidia.com/* allocatable,
//     no MIG-manager state): never fits.
//  3. nvidia.com/mig.config.state pending/rebooting, or gpushare's repartition mark: fits later.
//  4. gpushare.io/gpu-product: the node's product, GFD suffixes (-SHARED, -MIG-<profile>)
//     stripped, must equal one value exactly; a different model never fits.
//  5. Each managed resource the pod asks for (fit_mig / fit_shared in fit.cpp).
// spec.unschedulable and taints are left to the scheduler's own plugins (NodeUnschedulable,
// TaintToleration), which run before any extender.
#pragma once

#include <string>
#include <string_view>

#include "policy/catalog.h"
#include "policy/intent.h"
#include "policy/node_labels.h"
#include "policy/pod_demand.h"
#include "policy/views.h"

namespace gpushare::policy {

// Node annotation that gpushare's repartition controller sets while it changes the node's
// MIG/MPS layout (it also taints the node; the annotation is what the policy reads, since a
// taint may be tolerated). Present, whatever its value, means "being changed".
// The key is fixed rather than built from the configurable pod-annotation prefix: it is
// gpushare's own bookkeeping on nodes, never written by users.
inline constexpr std::string_view kRepartitionAnnotation = "gpushare.io/repartition";

// The mark as a reason shows it: "gpushare.io/repartition" and, when the value names one, the
// config being applied ("gpushare.io/repartition=gpushare-0a1b..."). The value is the
// controller's whole mark (JSON, hundreds of bytes); a FailedScheduling event needs only which
// layout the node is going to.
std::string repartition_mark_summary(std::string_view value);

struct NodeFit {
  bool fits = false;
  // Only meaningful when !fits: true when no eviction, wait or repartition can make the node
  // fit (the extender reports it in FailedAndUnresolvableNodes so preemption skips it).
  bool unresolvable = false;
  std::string reason;  // empty when fits
};

NodeFit fit_node(const PodDemand& demand, const Intent& intent, const NodeView& node,
                 const Catalog& catalog);

// "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb-SHARED" -> "NVIDIA-H100-80GB-HBM3": the model part of a
// nvidia.com/gpu.product value, as GFD writes it under MIG "single" and unrenamed sharing.
std::string base_product(std::string_view gpu_product);

// The node labels fit_node and score_node read: the gfd:: keys above and
// "nvidia.com/mig-<profile>.count". A node cache may drop every other label (GFD writes ~13 per
// MIG profile) to keep the copies it hands the extender small. The only annotation read is
// kRepartitionAnnotation.
bool fit_reads_label(std::string_view key);

// Some sign of an NVIDIA GPU: a gpu.product label, any nvidia.com/* allocatable, or a MIG
// manager state (GFD removes gpu.product while a node is being repartitioned).
bool has_nvidia_gpu(const NodeView& node);

}  // namespace gpushare::policy
