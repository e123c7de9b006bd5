// AdmissionReview v1 in, policy, AdmissionReview v1 out (CONTRACT.md sections 2 and 3).
// One entry point, handle_admission_review, serves both doors: POST /mutate and `gpushare mutate`.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/result.h"
#include "policy/admission.h"
#include "policy/catalog.h"
#include "policy/views.h"

namespace gpushare::webhook {

inline constexpr std::string_view kAdmissionApiVersion = "admission.k8s.io/v1";
inline constexpr std::string_view kAdmissionReviewKind = "AdmissionReview";
// request.uid is echoed back; the apiserver sends a UUID (36 characters).
inline constexpr std::size_t kMaxUidLength = 256;
// A denial's status.message is cut here (with "..."): it ends up in a kubectl error line, and
// a message quoting a megabyte annotation helps nobody.
inline constexpr std::size_t kMaxStatusMessageBytes = 4096;

struct GroupVersionKind {
  std::string group;
  std::string version;
  std::string kind;
};

// What gpushare reads of an AdmissionReview request.
struct AdmissionRequest {
  std::string uid;
  std::string operation;       // CREATE, UPDATE, DELETE or CONNECT
  std::string namespace_name;  // request.namespace ("" when absent)
  std::string name;            // request.name ("" at CREATE with generateName)
  GroupVersionKind kind;       // request.kind; from object apiVersion/kind when absent
  std::string sub_resource;
  bool dry_run = false;
  nlohmann::json object;      // request.object (null when absent)
  nlohmann::json old_object;  // request.oldObject (null when absent)

  bool is_pod() const { return kind.group.empty() && kind.kind == "Pod" && sub_resource.empty(); }
};

// Decodes the body. Errors name what is wrong and where: "request.uid: missing",
// "apiVersion: expected admission.k8s.io/v1, got admission.k8s.io/v1beta1",
// "not JSON at byte 17: syntax error while parsing object - ...". The object is checked to be
// a JSON object (or null) here; its Pod fields are decoded by decode_pod.
Result<AdmissionRequest> decode_admission_review(std::string_view body);

// The AdmissionReview v1 response: uid echoed; allowed unless the decision is a denial;
// status {code 403, reason Forbidden, message (at most kMaxStatusMessageBytes)} on denial; warnings
// when any; patch (base64 of `patch`, render_patch's text) and patchType "JSONPatch" only when
// `patch` is not empty. Returns the serialised review.
std::string admission_response(std::string_view uid, const policy::AdmissionDecision& decision,
                               std::string_view patch);

struct MutateResult {
  int http_status = 200;  // 200, 400 (not an AdmissionReview), 500 (internal error)
  std::string body;       // the AdmissionReview response, or {"error": "..."}
  policy::AdmissionDecision decision;
  std::string pod;        // "ns/name" (or "ns/generateName*"), for logs; "" when unknown
  std::string error;      // one line, when http_status != 200
  std::string uid;        // request.uid, when decoded
  std::string operation;  // request.operation, when decoded
  std::string patch;      // the JSON Patch sent (base64) in body; empty when none
};

// Never throws. Non-pod kinds: allowed, no patch (outcome kOutOfScope, rule "3.1 not a pod").
// Pods: decode_pod, then policy::decide_admission with request.operation, then the patch.
// A CREATE whose object cannot be decoded is 400; for other operations a pod that does not
// decode is passed to the policy with only its namespace and name (they are allowed anyway).
MutateResult handle_admission_review(std::string_view body, const policy::ClusterFacts& cluster,
                                     const policy::Catalog& catalog,
                                     const policy::AdmissionSettings& settings);

}  // namespace gpushare::webhook
