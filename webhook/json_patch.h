// The decision, rendered as an RFC 6902 JSON Patch against the Pod exactly as received.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "policy/admission.h"
#include "policy/views.h"

namespace gpushare::webhook {

// The operations that carry out `decision` on `pod_json` (the object `pod` was decoded from):
//  - each ResourceRename, in resources.limits and resources.requests of the container it names
//    (spec.initContainers[i] or spec.containers[i], from PodView::containers[k]), where `from`
//    is present: remove ".../nvidia.com~1gpu", then add ".../<to>" with the original value;
//  - the annotation (decision.annotation_key non-empty): adds /metadata (when missing or null),
//    /metadata/annotations (when missing or null) or /metadata/annotations/<key>; nothing
//    when the pod already carries that exact value (reinvocation is idempotent).
// Every op applies, in order, to `pod_json` (the renderer tracks what earlier ops changed).
// Returns the patch as JSON text (a compact array, as dump_json would write it); empty when
// there is nothing to change. Denials and out-of-scope decisions render nothing.
std::string render_patch(const nlohmann::json& pod_json, const policy::PodView& pod,
                         const policy::AdmissionDecision& decision);

}  // namespace gpushare::webhook
