// Kubernetes object JSON -> policy views, for every edge: the Pod of an AdmissionReview or an
// ExtenderArgs, the Nodes of an ExtenderArgs, a NodeList from `--nodes FILE`, and the objects
// the watch cache receives. Only the fields gpushare decides on are read;
// null is accepted wherever Go may send it (kubernetes.md 1.2).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "codec/json.h"
#include "policy/views.h"

namespace gpushare::codec {

// How a decoder meets a field of the wrong type. kStrict, at every edge where a user or a
// client writes the object (admission, the extender, the offline commands): an error that names
// the field's path. kLenient, for the watch cache, which must account for every pod
// kube-apiserver sends: the field reads as absent and the object is kept. A GPU quantity that
// is no quantity fails in both modes (what the object holds or offers would be unknown).
enum class DecodeMode { kStrict, kLenient };

// `path` prefixes error messages: "Pod.spec.containers[1].resources.limits: expected object, got
// string". Containers: init containers first (init = true), then containers.
// Quantities keep their text; a JSON number (hand-written input) becomes its decimal text.
Result<policy::PodView> decode_pod(const nlohmann::json& pod, std::string_view path = "Pod",
                                   DecodeMode mode = DecodeMode::kStrict);
// The parts of a Pod decode_pod reads (and the webhook's JSON Patch is written against), for
// parse_json_shaped: an edge that decodes a pod from a large body builds only these. A field
// decode_pod starts to read must be added here (AdmissionFixture.ThePartsNotReadChangeNothing).
const JsonShape& pod_shape();
// pod_shape() without spec.nodeName, nodeSelector, affinity and tolerations (the largest part of
// a pod's DOM): for an edge that reads none of them, which then read as absent.
const JsonShape& pod_shape_without_node_constraints();
// What decode_node reads of a Node (metadata.name, spec unschedulable/taints,
// status.allocatable), with only the labels and the annotation policy::fit_node reads
// (policy::fit_reads_label, kRepartitionAnnotation), and record_source set: the extender echoes
// the Nodes that pass as they came, and builds only this much of the thousands kube-scheduler
// sends in full-node mode (~45 labels and a few long annotations each).
const JsonShape& fit_node_shape();

// metadata.name (required), labels, annotations, spec.unschedulable, spec.taints (read
// leniently, codec/scheduling.h), and status.allocatable
// nvidia.com/* as whole units (quantities rounded up; other resources are ignored).
// `used` stays empty: a Node object does not say what its pods hold.
Result<policy::NodeView> decode_node(const nlohmann::json& node, std::string_view path = "Node",
                                     DecodeMode mode = DecodeMode::kStrict);

// A NodeList ({"items": [...]}, null items allowed) or a bare array of Nodes.
Result<std::vector<policy::NodeView>> decode_node_list(const nlohmann::json& list,
                                                       std::string_view path = "NodeList");

}  // namespace gpushare::codec
