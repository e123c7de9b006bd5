// A Pod (JSON, as kube-apiserver sends it) -> policy::PodView: only the fields gpushare decides on.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "policy/result.h"
#include "policy/views.h"

namespace gpushare::webhook {

// Decodes `pod`. `path` names the object in error messages ("request.object"), so errors read
// "request.object.spec.containers[1].resources.limits: expected object, got string".
// The namespace is `namespace_override` when non-empty (AdmissionReview's request.namespace is
// authoritative), else metadata.namespace. Null is accepted wherever Kubernetes may send it
// (metadata, annotations, labels, containers, initContainers, resources, limits, requests...).
// Quantities keep their text; a JSON integer (hand-written input) becomes its decimal text and
// any other non-string quantity is an error naming its path.
// Containers: spec.initContainers (init = true) first, then spec.containers; `index` is the
// position within its own list.
Result<policy::PodView> decode_pod(const nlohmann::json& pod,
                                   std::string_view namespace_override = {},
                                   std::string_view path = "object");

}  // namespace gpushare::webhook
