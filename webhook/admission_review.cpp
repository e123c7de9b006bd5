#include "webhook/admission_review.h"

#include <exception>
#include <utility>

#include "base/base64.h"
#include "codec/json.h"
#include "codec/objects.h"
#include "webhook/json_patch.h"

namespace gpushare::webhook {
namespace {

using codec::dump_json;
using codec::present_member;
using codec::truncate_for_message;
using codec::valid_utf8;
using nlohmann::json;
using nlohmann::ordered_json;

struct DecodeError {
  std::string message;
};

[[noreturn]] void fail(const std::string& message) { throw DecodeError{message}; }

std::string got(const json& value) { return "got " + std::string(value.type_name()); }

std::string json_quoted(std::string_view text) {
  return dump_json(json(truncate_for_message(text, 100)));
}

std::string optional_string(const json& object, const char* key, const std::string& path) {
  const json* value = present_member(object, key);
  if (value == nullptr) return {};
  if (!value->is_string()) fail(path + ": expected string, " + got(*value));
  return value->get<std::string>();
}

GroupVersionKind decode_gvk(const json& value, const std::string& path) {
  if (!value.is_object()) fail(path + ": expected object {group, version, kind}, " + got(value));
  GroupVersionKind gvk;
  gvk.group = optional_string(value, "group", path + ".group");
  gvk.version = optional_string(value, "version", path + ".version");
  gvk.kind = optional_string(value, "kind", path + ".kind");
  if (gvk.kind.empty()) fail(path + ".kind: missing");
  return gvk;
}

// apiVersion "v1" -> {"", "v1"}; "apps/v1" -> {"apps", "v1"}.
GroupVersionKind gvk_of_object(const json& object) {
  GroupVersionKind gvk;
  std::string api_version = optional_string(object, "apiVersion", "request.object.apiVersion");
  if (auto slash = api_version.find('/'); slash != std::string::npos) {
    gvk.group = api_version.substr(0, slash);
    gvk.version = api_version.substr(slash + 1);
  } else {
    gvk.version = api_version;
  }
  gvk.kind = optional_string(object, "kind", "request.object.kind");
  return gvk;
}

// What decode() reads of an AdmissionReview. Of the pod, admission reads the annotations and the
// containers' resources (decide_admission; render_patch patches those two) and the names (for
// messages); labels, priority and phase are small and kept, so that a malformed one is still a
// 400. The node constraints (codec::pod_shape_without_node_constraints) read as absent, so they
// are not type-checked either: the API server decoded the Pod before it called. Everything else
// of the pod (env, volumes, probes, managedFields, ...) is parsed and validated but not built
// (codec::JsonShape). A field read here that is not listed would read as absent:
// AdmissionFixture.ThePartsNotReadChangeNothing answers every golden review with and without a
// real pod's other fields, and the goldens themselves pass through this shape.
const codec::JsonShape& review_shape() {
  using Kind = codec::JsonShape::Kind;
  static const codec::JsonShape all{};
  static const codec::JsonShape request{
      Kind::kObject,
      {{"uid", &all},
       {"operation", &all},
       {"namespace", &all},
       {"name", &all},
       {"subResource", &all},
       {"dryRun", &all},
       {"kind", &all},
       {"object", &codec::pod_shape_without_node_constraints()},
       {"oldObject", &codec::pod_shape_without_node_constraints()}},
      nullptr};
  static const codec::JsonShape review{
      Kind::kObject, {{"apiVersion", &all}, {"kind", &all}, {"request", &request}}, nullptr};
  return review;
}

AdmissionRequest decode(std::string_view body) {
  Result<json> parsed =
      codec::parse_json_shaped(body, &review_shape(), "an AdmissionReview JSON object");
  if (!parsed) fail(parsed.error());
  json& root = parsed.value();
  if (!root.is_object()) fail("expected a JSON object (an AdmissionReview), " + got(root));

  const json* api_version = present_member(root, "apiVersion");
  if (api_version == nullptr) fail("apiVersion: missing, expected admission.k8s.io/v1");
  if (!api_version->is_string() ||
      api_version->get_ref<const std::string&>() != kAdmissionApiVersion) {
    fail("apiVersion: expected admission.k8s.io/v1, got " +
         (api_version->is_string() ? json_quoted(api_version->get_ref<const std::string&>())
                                   : std::string(api_version->type_name())));
  }
  const json* kind = present_member(root, "kind");
  if (kind == nullptr) fail("kind: missing, expected AdmissionReview");
  if (!kind->is_string() || kind->get_ref<const std::string&>() != kAdmissionReviewKind) {
    fail("kind: expected AdmissionReview, got " +
         (kind->is_string() ? json_quoted(kind->get_ref<const std::string&>())
                            : std::string(kind->type_name())));
  }

  auto request_it = root.find("request");
  if (request_it == root.end() || request_it->is_null()) fail("request: missing");
  json& request = *request_it;
  if (!request.is_object()) fail("request: expected object, " + got(request));

  AdmissionRequest out;
  const json* uid = present_member(request, "uid");
  if (uid == nullptr) fail("request.uid: missing");
  if (!uid->is_string()) fail("request.uid: expected string, " + got(*uid));
  out.uid = uid->get<std::string>();
  if (out.uid.empty()) fail("request.uid: empty");
  if (out.uid.size() > kMaxUidLength) {
    fail("request.uid: longer than " + std::to_string(kMaxUidLength) + " characters (" +
         std::to_string(out.uid.size()) + ")");
  }

  const json* operation = present_member(request, "operation");
  if (operation == nullptr) fail("request.operation: missing");
  if (!operation->is_string()) fail("request.operation: expected string, " + got(*operation));
  out.operation = operation->get<std::string>();
  if (out.operation != "CREATE" && out.operation != "UPDATE" && out.operation != "DELETE" &&
      out.operation != "CONNECT") {
    fail("request.operation: expected CREATE, UPDATE, DELETE or CONNECT, got " +
         json_quoted(out.operation));
  }

  out.namespace_name = optional_string(request, "namespace", "request.namespace");
  out.name = optional_string(request, "name", "request.name");
  out.sub_resource = optional_string(request, "subResource", "request.subResource");
  if (const json* dry_run = present_member(request, "dryRun")) {
    if (!dry_run->is_boolean()) fail("request.dryRun: expected boolean, " + got(*dry_run));
    out.dry_run = dry_run->get<bool>();
  }

  for (const char* key : {"object", "oldObject"}) {
    auto it = request.find(key);
    if (it == request.end() || it->is_null()) continue;
    if (!it->is_object()) fail(std::string("request.") + key + ": expected object, " + got(*it));
    (std::string_view(key) == "object" ? out.object : out.old_object) = std::move(*it);
  }

  if (const json* gvk = present_member(request, "kind")) {
    out.kind = decode_gvk(*gvk, "request.kind");
  } else {
    // Hand-written input may leave request.kind out: take the object's own apiVersion/kind.
    const json& source = out.object.is_object() ? out.object : out.old_object;
    if (source.is_object()) out.kind = gvk_of_object(source);
    if (out.kind.kind.empty()) fail("request.kind: missing (and request.object has no kind)");
  }
  if (out.operation == "CREATE" && out.is_pod() && out.object.is_null())
    fail("request.object: missing");
  return out;
}

ordered_json error_body(const std::string& message) { return ordered_json{{"error", message}}; }

}  // namespace

Result<AdmissionRequest> decode_admission_review(std::string_view body) {
  try {
    return decode(body);
  } catch (const DecodeError& e) {
    return Error{e.message};
  }
}

std::string admission_response(std::string_view uid, const policy::AdmissionDecision& decision,
                               std::string_view patch) {
  // Written directly, in the order of the v1 type's fields; every string goes through
  // append_json_string, which writes what dump_json would.
  const bool allowed = decision.outcome != policy::AdmissionOutcome::kDenied;
  std::string out = R"({"apiVersion":")";
  out += kAdmissionApiVersion;
  out += R"(","kind":")";
  out += kAdmissionReviewKind;
  out += R"(","response":{"uid":)";
  codec::append_json_string(out, uid);
  out += allowed ? R"(,"allowed":true)" : R"(,"allowed":false)";
  if (!allowed) {
    out += R"(,"status":{"code":403,"reason":"Forbidden","message":)";
    codec::append_json_string(out, truncate_for_message(decision.message, kMaxStatusMessageBytes));
    out += '}';
  }
  if (allowed && !patch.empty()) {
    out += R"(,"patchType":"JSONPatch","patch":")";
    out += base::base64_encode(patch);  // base64: nothing to escape
    out += '"';
  }
  if (!decision.warnings.empty()) {
    out += R"(,"warnings":[)";
    for (std::size_t i = 0; i < decision.warnings.size(); ++i) {
      if (i != 0) out += ',';
      codec::append_json_string(out, decision.warnings[i]);
    }
    out += ']';
  }
  out += "}}";
  return out;
}

MutateResult handle_admission_review(std::string_view body, const policy::ClusterFacts& cluster,
                                     const policy::Catalog& catalog,
                                     const policy::AdmissionSettings& settings) {
  MutateResult result;
  try {
    Result<AdmissionRequest> decoded = decode_admission_review(body);
    if (!decoded) {
      result.http_status = 400;
      result.error = valid_utf8(decoded.error());
      result.body = dump_json(error_body(result.error));
      return result;
    }
    AdmissionRequest& request = decoded.value();
    result.uid = request.uid;
    result.operation = request.operation;

    if (!request.is_pod()) {
      result.decision.outcome = policy::AdmissionOutcome::kOutOfScope;
      result.decision.rule = "3.1 not a pod";
      std::string what = request.kind.group.empty() ? request.kind.kind
                                                    : request.kind.kind + "." + request.kind.group;
      if (!request.sub_resource.empty()) what += "/" + request.sub_resource;
      result.pod = what + " " + request.namespace_name + "/" + request.name;
    } else {
      const json& object = request.object.is_object() ? request.object : request.old_object;
      Result<policy::PodView> pod =
          object.is_object()
              ? codec::decode_pod(
                    object, request.object.is_object() ? "request.object" : "request.oldObject")
              : Error{"request.object: missing"};
      if (!pod && request.operation == "CREATE") {
        result.http_status = 400;
        result.error = valid_utf8(pod.error());
        result.body = dump_json(error_body(result.error));
        return result;
      }
      policy::PodView view;
      if (pod) {
        view = std::move(pod.value());
        // request.namespace is authoritative; the object's may be empty at CREATE.
        if (!request.namespace_name.empty()) view.namespace_name = request.namespace_name;
      } else {
        view.namespace_name = request.namespace_name;
        view.name = request.name;
      }
      result.pod = view.display_name();
      result.decision =
          policy::decide_admission(view, request.operation, cluster, catalog, settings);
      if (result.decision.outcome == policy::AdmissionOutcome::kAllowed &&
          request.operation == "CREATE") {
        result.patch = render_patch(request.object, view, result.decision);
      }
    }
    result.http_status = 200;
    result.body = admission_response(request.uid, result.decision, result.patch);
  } catch (const std::exception& e) {
    result.http_status = 500;
    result.error =
        valid_utf8(std::string("internal error: ") + truncate_for_message(e.what(), 200));
    result.body = dump_json(error_body(result.error));
  }
  return result;
}

}  // namespace gpushare::webhook
