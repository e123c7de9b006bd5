// kube-scheduler extender verbs, POST /filter and POST /prioritize (shared/reference/kubernetes.md
// section 1), as functions of the request body. The server's routes and the offline `gpushare
// filter` / `gpushare prioritize` commands call these same functions: one policy, two doors.
//
// Both modes of the protocol:
//  - nodeCacheCapable: true  -> the body has "NodeNames"; nodes come from the NodeSource (the
//    server's watch cache, or `--nodes FILE` offline) and the reply lists names.
//  - nodeCacheCapable: false -> the body has "Nodes" (a NodeList); nodes are decoded from it and
//    the reply echoes the Node objects that pass, unchanged. A Node object does not say what its
//    pods hold, so `used` is 0 there: filter then checks allocatable, not what is free.
// When both are non-null, NodeNames wins (that is what a cache-capable scheduler reads back);
// when both are null there are no nodes and the reply is an empty NodeNames list.
//
// Decisions:
//  - A pod that asks for no gpushare-managed resource (nvidia.com/gpu.shared, nvidia.com/mig-*)
//    passes every node, whatever its annotations; prioritize gives every node 0.
//  - Invalid gpushare.io/ annotations on a managed pod (the webhook normally denies such pods):
//    every node goes to FailedAndUnresolvableNodes with the annotation error as the reason,
//    since no eviction on any node can fix an annotation; prioritize gives every node 0.
//  - A name not in the NodeSource: FailedNodes, "not in gpushare's node cache yet" (a later
//    attempt may find it); prioritize gives it 0.
//  - A body that is not an ExtenderArgs (not JSON, wrong types, a Pod with a malformed quantity):
//    HTTP 400 with {"error": "<what, where>"}. The scheduler treats any non-200 as an extender
//    error, which is right for input nobody can decide on. Everything else is 200 with
//    "Error": "".
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/catalog.h"
#include "policy/intent.h"
#include "policy/views.h"

namespace gpushare::extender {

// Looks nodes up by name in cache-capable mode: `out` gets one entry per name, in order, the
// node or nullptr when unknown. Called once per request with every name that is judged (the
// server's cache takes its lock once for all of them), and again for the few payload-mode nodes
// that may be DRA nodes. The pointers stay valid while the source does (it holds what it hands
// out). An empty function knows no node. policy::fit_reads_label says which labels decisions need.
using NodeSource = std::function<void(std::span<const std::string_view> names,
                                      std::vector<const policy::NodeView*>& out)>;

// A NodeSource over a fixed list (the unit tests and the extender fuzzer; the offline commands
// use server::StaticClusterState). Later duplicates lose.
NodeSource node_source_from(std::vector<policy::NodeView> nodes);

struct ExtenderSettings {
  std::string annotation_prefix = "gpushare.io/";
  policy::PlacementPolicy default_placement = policy::PlacementPolicy::kBinpack;
  const policy::Catalog* catalog = nullptr;  // nullptr: policy::Catalog::builtin()
};

struct ExtenderResult {
  int http_status = 200;
  std::string body;              // the reply, JSON
  std::string error;             // why the status is 400 (also in body); empty otherwise
  std::string pod;               // "ns/name" of the pod asked about (empty when undecodable)
  bool managed = false;          // the pod asks for a gpushare-managed resource
  bool payload_mode = false;     // nodes came in "Nodes" rather than "NodeNames"
  std::size_t nodes = 0;         // nodes in the request
  std::size_t passed = 0;        // filter: nodes returned as passing
  std::size_t failed = 0;        // filter: FailedNodes
  std::size_t unresolvable = 0;  // filter: FailedAndUnresolvableNodes
};

// ExtenderFilterResult:
//   {"Nodes":null,"NodeNames":[...],"FailedNodes":{...},"FailedAndUnresolvableNodes":{...},"Error":""}
//   {"Nodes":{"apiVersion":"v1","kind":"NodeList","metadata":{},"items":[...]},"NodeNames":null,...}
// Returned names are always a subset of the input, in input order.
ExtenderResult handle_filter(std::string_view body, const NodeSource& nodes,
                             const ExtenderSettings& settings);

// HostPriorityList: [{"Host":"n1","Score":7},...], one entry per input node, in input order,
// integer scores 0..10 (policy/score.h).
ExtenderResult handle_prioritize(std::string_view body, const NodeSource& nodes,
                                 const ExtenderSettings& settings);

}  // namespace gpushare::extender
