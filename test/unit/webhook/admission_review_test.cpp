// webhook/admission_review: golden AdmissionReviews (test/fixtures/admission/), each patch applied
// with the strict RFC 6902 applier to the object as received; then every malformed body we
// could think of, each answered 400 with a precise error and never a crash.
#include "webhook/admission_review.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "base/base64.h"
#include "codec/json.h"
#include "codec/objects.h"
#include "test/support/fixtures.h"
#include "test/support/json_patch.h"
#include "webhook/json_patch.h"

namespace gpushare::webhook {
namespace {

using codec::dump_json;
using nlohmann::json;

MutateResult mutate(std::string_view body, const policy::ClusterView& cluster = {}) {
  return handle_admission_review(body, policy::facts_of(cluster), policy::Catalog::builtin(),
                                 policy::AdmissionSettings{});
}

json parse_body(const MutateResult& r) {
  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(body.is_discarded()) << "response body is not JSON: " << r.body.substr(0, 300);
  return body;
}

// The decoded JSON Patch of a response ("" when there is none).
std::string patch_text(const json& response) {
  if (!response.contains("patch")) return {};
  auto text = base::base64_decode(response["patch"].get<std::string>());
  EXPECT_TRUE(text.ok()) << "patch is not base64";
  return text.ok() ? *text : std::string();
}

// "containers[2]" / "initContainers[0]" -> that container of the pod.
const json& container_at(const json& pod, const std::string& ref) {
  auto bracket = ref.find('[');
  std::string list = ref.substr(0, bracket);
  std::size_t index = std::stoul(ref.substr(bracket + 1));
  return pod.at("spec").at(list).at(index);
}

// The pod without what gpushare may change: annotations and containers' resources.
json without_mutable(json pod) {
  if (pod.contains("metadata") && pod["metadata"].is_object()) pod["metadata"].erase("annotations");
  for (const char* list : {"containers", "initContainers"}) {
    if (!pod["spec"].contains(list)) continue;
    for (auto& c : pod["spec"][list]) c.erase("resources");
  }
  return pod;
}

std::vector<std::string> fixture_cases() {
  std::vector<std::string> names;
  const std::string suffix = ".expected.json";
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::fixture_path("admission"))) {
    std::string file = entry.path().filename().string();
    if (file.size() > suffix.size() && file.ends_with(suffix))
      names.push_back(file.substr(0, file.size() - suffix.size()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

class AdmissionFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(AdmissionFixture, MatchesExpected) {
  const std::string name = GetParam();
  const std::string request_text = testing::read_fixture("admission/" + name + ".json");
  const json request = json::parse(request_text);
  const json expected = json::parse(testing::read_fixture("admission/" + name + ".expected.json"));

  MutateResult r = mutate(request_text);
  ASSERT_EQ(r.http_status, 200) << r.error;
  EXPECT_TRUE(r.error.empty());
  json review = parse_body(r);
  EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(review["kind"], "AdmissionReview");
  ASSERT_TRUE(review.contains("response"));
  const json& response = review["response"];
  EXPECT_EQ(response["uid"], request["request"]["uid"]);
  EXPECT_EQ(r.uid, request["request"]["uid"]);
  ASSERT_EQ(response["allowed"], expected["allowed"]) << review.dump();
  // patch and patchType together or not at all (the apiserver rejects either alone).
  EXPECT_EQ(response.contains("patch"), response.contains("patchType")) << review.dump();

  if (!expected["allowed"].get<bool>()) {
    EXPECT_EQ(r.decision.outcome, policy::AdmissionOutcome::kDenied);
    ASSERT_TRUE(response.contains("status"));
    EXPECT_EQ(response["status"]["code"], 403);
    EXPECT_EQ(response["status"]["reason"], "Forbidden");
    const std::string message = response["status"]["message"];
    for (const auto& part : expected["messageContains"]) {
      EXPECT_NE(message.find(part.get<std::string>()), std::string::npos)
          << "message lacks " << part << ": " << message;
    }
    EXPECT_FALSE(response.contains("patch"));
    return;
  }

  EXPECT_FALSE(response.contains("status"));
  if (!expected.value("patch", false)) {
    EXPECT_FALSE(response.contains("patch")) << patch_text(response);
    EXPECT_FALSE(response.contains("patchType"));
    EXPECT_TRUE(r.patch.empty());
    return;
  }
  ASSERT_TRUE(response.contains("patch")) << review.dump();
  EXPECT_EQ(response["patchType"], "JSONPatch");
  const std::string text = patch_text(response);
  EXPECT_EQ(text, r.patch);
  const json patch_contains = expected.value("patchContains", json::array());
  for (const auto& part : patch_contains) {
    EXPECT_NE(text.find(part.get<std::string>()), std::string::npos)
        << "patch lacks " << part << ": " << text;
  }

  const json& object = request["request"]["object"];
  testing::PatchOutcome applied = testing::apply_json_patch(object, std::string_view(text));
  ASSERT_TRUE(applied.ok) << applied.error << "\npatch: " << text;
  const json& pod = applied.document;

  EXPECT_EQ(pod["metadata"]["annotations"]["gpushare.io/assigned-resource"],
            expected["assignedResource"]);
  EXPECT_EQ(r.decision.assigned_resource, expected["assignedResource"]);
  if (expected.contains("annotationsAfter")) {
    EXPECT_EQ(pod["metadata"]["annotations"], expected["annotationsAfter"]);
  }
  const json resources_after = expected.value("resourcesAfter", json::object());
  for (const auto& [ref, resources] : resources_after.items()) {
    EXPECT_EQ(container_at(pod, ref).value("resources", json::object()), resources) << ref;
  }
  // Nothing else moved: no other field, no container order.
  EXPECT_EQ(without_mutable(pod), without_mutable(object));

  // Reinvocation (reinvocationPolicy: IfNeeded): the patched pod needs no further patch.
  json again = request;
  again["request"]["object"] = pod;
  MutateResult second = mutate(again.dump());
  ASSERT_EQ(second.http_status, 200) << second.error;
  json second_review = parse_body(second);
  EXPECT_EQ(second_review["response"]["allowed"], true) << second.body;
  EXPECT_FALSE(second_review["response"].contains("patch"))
      << patch_text(second_review["response"]);
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string out = info.param;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return out;
}

// The webhook builds only the parts of a review it reads (review_shape): a pod with everything a
// real one carries besides (env, probes, volumes, managedFields, status, userInfo) gets exactly
// the answer the bare golden pod gets.
TEST_P(AdmissionFixture, ThePartsNotReadChangeNothing) {
  const std::string name = GetParam();
  json request = json::parse(testing::read_fixture("admission/" + name + ".json"));
  MutateResult bare = mutate(request.dump());
  json& req = request["request"];
  req["userInfo"] = {{"username", "system:serviceaccount:kube-system:replicaset-controller"},
                     {"groups", {"system:serviceaccounts", "system:authenticated"}}};
  req["options"] = {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "CreateOptions"}};
  json& pod = req["object"];
  if (pod.is_object()) {
    pod["metadata"]["managedFields"] = json::array(
        {{{"manager", "kube-controller-manager"}, {"fieldsV1", {{"f:spec", {{"f:x", {}}}}}}}});
    pod["metadata"]["ownerReferences"] = json::array({{{"kind", "ReplicaSet"}, {"name", "rs"}}});
    pod["spec"]["volumes"] = json::array({{{"name", "v"}, {"emptyDir", json::object()}}});
    pod["spec"]["dnsPolicy"] = "ClusterFirst";
    pod["status"]["conditions"] = json::array({{{"type", "PodScheduled"}}});
    for (const char* list : {"containers", "initContainers"}) {
      if (!pod["spec"].contains(list) || !pod["spec"][list].is_array()) continue;
      for (auto& c : pod["spec"][list]) {
        if (!c.is_object()) continue;
        c["env"] = json::array({{{"name", "A"}, {"value", "1"}}, {{"name", "B"}, {"value", "2"}}});
        c["livenessProbe"] = {{"httpGet", {{"path", "/h"}, {"port", 8080}}}};
        c["volumeMounts"] = json::array({{{"name", "v"}, {"mountPath", "/v"}}});
      }
    }
  }
  MutateResult full = mutate(request.dump());
  EXPECT_EQ(full.http_status, bare.http_status);
  EXPECT_EQ(full.body, bare.body);
  EXPECT_EQ(full.error, bare.error);
}

INSTANTIATE_TEST_SUITE_P(Golden, AdmissionFixture, ::testing::ValuesIn(fixture_cases()), test_name);

TEST(AdmissionFixtures, EveryInputHasItsExpectationAndTheContractCasesAreThere) {
  // An input without its .expected.json would never run: fixture_cases() lists expectations.
  const std::vector<std::string> cases = fixture_cases();
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::fixture_path("admission"))) {
    const std::string file = entry.path().filename().string();
    if (!file.ends_with(".json") || file.ends_with(".expected.json")) continue;
    const std::string name = file.substr(0, file.size() - 5);
    EXPECT_TRUE(std::binary_search(cases.begin(), cases.end(), name))
        << file << " has no " << name << ".expected.json";
  }
  // One case at least for each admission rule of CONTRACT.md section 3 and for each answer shape.
  for (const char* required :
       {"no-intent-cpu-only", "no-intent-plain-gpu", "update-operation", "not-a-pod",
        "mps-annotation", "mps-two-gpus-denied", "shared-two-no-annotations-denied",
        "mig-profile-1g12gb", "gpu-product-h20-memory-20gi", "init-container-gpu",
        "unknown-key-denied", "reinvocation-idempotent"}) {
    EXPECT_TRUE(std::binary_search(cases.begin(), cases.end(), required)) << required;
  }
  int denied = 0;
  int patched = 0;
  int unchanged = 0;
  for (const auto& name : cases) {
    const json expected =
        json::parse(testing::read_fixture("admission/" + name + ".expected.json"));
    if (!expected.at("allowed").get<bool>()) {
      ++denied;
      EXPECT_FALSE(expected.value("messageContains", json::array()).empty())
          << name << ": a denial must say what its message contains";
    } else if (expected.value("patch", true)) {
      ++patched;
    } else {
      ++unchanged;
    }
  }
  EXPECT_GT(denied, 0);
  EXPECT_GT(patched, 0);
  EXPECT_GT(unchanged, 0);
}

// ---------------------------------------------------------------------------------------------
// Hand-written inputs.

json minimal_review(json object, std::string operation = "CREATE") {
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"request",
               {{"uid", "u-1"},
                {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                {"namespace", "ml"},
                {"operation", operation},
                {"object", std::move(object)}}}};
}

json gpu_pod(json limits, json annotations = json{{"gpushare.io/mode", "mps"}}) {
  return json{
      {"metadata", {{"name", "p"}, {"annotations", std::move(annotations)}}},
      {"spec",
       {{"containers",
         json::array({{{"name", "main"}, {"resources", {{"limits", std::move(limits)}}}}})}}}};
}

struct Applied {
  MutateResult result;
  json response;
  json pod;  // request.object with the patch applied
};

Applied run_and_apply(const json& review) {
  Applied out;
  out.result = mutate(review.dump());
  EXPECT_EQ(out.result.http_status, 200) << out.result.error;
  out.response = parse_body(out.result)["response"];
  std::string text = patch_text(out.response);
  out.pod = review["request"]["object"];
  if (!text.empty()) {
    auto applied = testing::apply_json_patch(out.pod, std::string_view(text));
    EXPECT_TRUE(applied.ok) << applied.error << "\n" << text;
    out.pod = applied.document;
  }
  return out;
}

struct BadInput {
  const char* what;
  std::string body;
  std::string error;  // expected substring of {"error": ...}
};

std::string with_request(const std::string& request) {
  return R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":)" + request +
         "}";
}

std::string review_with_object(const std::string& object) {
  return with_request(
      R"({"uid":"u-1","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"ml","operation":"CREATE","object":)" +
      object + "}");
}

std::vector<BadInput> bad_inputs() {
  std::string fixture = testing::read_fixture("admission/mps-annotation.json");
  std::vector<BadInput> cases = {
      {"empty body", "", "empty body: expected an AdmissionReview JSON object"},
      {"whitespace body", " \r\n\t", "empty body"},
      {"null", "null", "expected a JSON object (an AdmissionReview), got null"},
      {"array", "[]", "expected a JSON object (an AdmissionReview), got array"},
      {"string", "\"AdmissionReview\"", "got string"},
      {"not JSON", "apiVersion: admission.k8s.io/v1",
       "not JSON at byte 1: syntax error while parsing value - invalid literal"},
      {"truncated", fixture.substr(0, fixture.size() / 2), "not JSON at byte"},
      {"trailing garbage", R"({"apiVersion":"admission.k8s.io/v1"} x)", "not JSON at byte 38"},
      {"invalid UTF-8", "{\"apiVersion\":\"\xff\xfe\"}", "not JSON at byte"},
      {"no apiVersion", R"({"kind":"AdmissionReview","request":{}})",
       "apiVersion: missing, expected admission.k8s.io/v1"},
      {"v1beta1",
       R"({"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}})",
       "apiVersion: expected admission.k8s.io/v1, got \"admission.k8s.io/v1beta1\""},
      {"apiVersion number", R"({"apiVersion":1,"kind":"AdmissionReview"})",
       "apiVersion: expected admission.k8s.io/v1, got number"},
      {"wrong kind", R"({"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{}})",
       "kind: expected AdmissionReview, got \"Pod\""},
      {"no request", R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})",
       "request: missing"},
      {"null request", with_request("null"), "request: missing"},
      {"request array", with_request("[]"), "request: expected object, got array"},
      {"no uid", with_request(R"({"operation":"CREATE"})"), "request.uid: missing"},
      {"uid number", with_request(R"({"uid":42,"operation":"CREATE"})"),
       "request.uid: expected string, got number"},
      {"uid empty", with_request(R"({"uid":"","operation":"CREATE"})"), "request.uid: empty"},
      {"no operation", with_request(R"({"uid":"u"})"), "request.operation: missing"},
      {"bad operation", with_request(R"({"uid":"u","operation":"PATCH"})"),
       "request.operation: expected CREATE, UPDATE, DELETE or CONNECT, got \"PATCH\""},
      {"kind not object",
       with_request(R"({"uid":"u","operation":"CREATE","kind":"Pod","object":{}})"),
       "request.kind: expected object {group, version, kind}, got string"},
      {"no kind anywhere", with_request(R"({"uid":"u","operation":"CREATE","object":{}})"),
       "request.kind: missing"},
      {"object missing",
       with_request(
           R"({"uid":"u","operation":"CREATE","kind":{"group":"","version":"v1","kind":"Pod"}})"),
       "request.object: missing"},
      {"object null", review_with_object("null"), "request.object: missing"},
      {"object array", review_with_object("[1]"), "request.object: expected object, got array"},
      {"dryRun string", with_request(R"({"uid":"u","operation":"CREATE","dryRun":"yes"})"),
       "request.dryRun: expected boolean, got string"},
      {"namespace number", with_request(R"({"uid":"u","operation":"CREATE","namespace":7})"),
       "request.namespace: expected string, got number"},
      {"metadata string", review_with_object(R"({"metadata":"x"})"),
       "request.object.metadata: expected object, got string"},
      {"annotations array", review_with_object(R"({"metadata":{"annotations":[]}})"),
       "request.object.metadata.annotations: expected object, got array"},
      {"annotation value number",
       review_with_object(R"({"metadata":{"annotations":{"gpushare.io/gpu-compute":50}}})"),
       "request.object.metadata.annotations[\"gpushare.io/gpu-compute\"]: expected string, got "
       "number"},
      {"labels value bool", review_with_object(R"({"metadata":{"labels":{"a":true}}})"),
       "request.object.metadata.labels[\"a\"]: expected string, got boolean"},
      {"spec array", review_with_object(R"({"spec":[]})"),
       "request.object.spec: expected object, got array"},
      {"containers not an array", review_with_object(R"({"spec":{"containers":{"name":"main"}}})"),
       "request.object.spec.containers: expected array, got object"},
      {"initContainers string",
       review_with_object(R"({"spec":{"initContainers":"x","containers":[]}})"),
       "request.object.spec.initContainers: expected array, got string"},
      {"container not object", review_with_object(R"({"spec":{"containers":[{"name":"a"},7]}})"),
       "request.object.spec.containers[1]: expected object, got number"},
      {"container name number", review_with_object(R"({"spec":{"containers":[{"name":1}]}})"),
       "request.object.spec.containers[0].name: expected string, got number"},
      {"resources string",
       review_with_object(R"({"spec":{"containers":[{"name":"a","resources":"1"}]}})"),
       "request.object.spec.containers[0].resources: expected object, got string"},
      {"limits string",
       review_with_object(
           R"({"spec":{"containers":[{"name":"a"},{"name":"b","resources":{"limits":"nvidia.com/gpu=1"}}]}})"),
       "request.object.spec.containers[1].resources.limits: expected object, got string"},
      {"quantity float",
       review_with_object(
           R"({"spec":{"containers":[{"name":"a","resources":{"limits":{"nvidia.com/gpu":1.5}}}]}})"),
       "request.object.spec.containers[0].resources.limits[\"nvidia.com/gpu\"]: expected a "
       "quantity string such as \"1\", got number 1.5"},
      {"quantity bool",
       review_with_object(
           R"({"spec":{"initContainers":[{"name":"a","resources":{"requests":{"nvidia.com/gpu":true}}}]}})"),
       "request.object.spec.initContainers[0].resources.requests[\"nvidia.com/gpu\"]: expected a "
       "quantity string such as \"1\", got boolean true"},
      {"quantity object",
       review_with_object(
           R"({"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":{}}}}]}})"),
       "limits[\"cpu\"]: expected a quantity string such as \"1\", got object {}"},
      {"priority string", review_with_object(R"({"spec":{"containers":[],"priority":"high"}})"),
       "request.object.spec.priority: expected a 32-bit integer, got \"high\""},
      {"priority too big",
       review_with_object(R"({"spec":{"containers":[],"priority":4294967296}})"),
       "request.object.spec.priority: expected a 32-bit integer"},
      {"status phase number", review_with_object(R"({"status":{"phase":3}})"),
       "request.object.status.phase: expected string, got number"},
  };
  return cases;
}

TEST(AdmissionReviewMalformed, EachIs400WithAPreciseError) {
  for (const BadInput& bad : bad_inputs()) {
    MutateResult r = mutate(bad.body);
    EXPECT_EQ(r.http_status, 400) << bad.what << ": " << r.body.substr(0, 300);
    json body = parse_body(r);
    ASSERT_TRUE(body.is_object() && body.contains("error") && body["error"].is_string())
        << bad.what;
    EXPECT_EQ(body.size(), 1u) << bad.what;
    EXPECT_EQ(body["error"], r.error) << bad.what;
    EXPECT_NE(r.error.find(bad.error), std::string::npos)
        << bad.what << ":\n  got      " << r.error << "\n  expected " << bad.error;
    EXPECT_EQ(r.error.find('\n'), std::string::npos) << bad.what << ": error is not one line";
  }
}

TEST(AdmissionReviewMalformed, DeepNestingIsRefusedWithoutRecursion) {
  std::string deep(100000, '[');
  MutateResult r = mutate(deep);
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.error, "JSON nested deeper than 64 levels");

  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_EQ(mutate(objects).error, "JSON nested deeper than 64 levels");

  // Deep inside an otherwise valid review, closed properly.
  json review = minimal_review(gpu_pod({{"nvidia.com/gpu", "1"}}));
  std::string body = review.dump();
  std::string nested = std::string(70, '[') + std::string(70, ']');
  body.insert(body.size() - 2, ",\"extra\":" + nested);
  EXPECT_EQ(mutate(body).error, "JSON nested deeper than 64 levels");

  // 60 levels is fine (a Pod needs about 14).
  std::string ok_body = review.dump();
  ok_body.insert(ok_body.size() - 2, ",\"extra\":" + std::string(55, '[') + std::string(55, ']'));
  EXPECT_EQ(mutate(ok_body).http_status, 200) << mutate(ok_body).error;
}

TEST(AdmissionReviewMalformed, HugeStrings) {
  // An unterminated 8 MiB string: the parser's "last read" is not echoed in full.
  std::string body = R"({"apiVersion":")" + std::string(8 << 20, 'a');
  MutateResult r = mutate(body);
  EXPECT_EQ(r.http_status, 400);
  EXPECT_NE(r.error.find("not JSON at byte"), std::string::npos) << r.error.substr(0, 300);
  EXPECT_LT(r.body.size(), 1024u);

  // A terminated 4 MiB apiVersion: named, not echoed.
  body = R"({"apiVersion":")" + std::string(4 << 20, 'v') + R"(","kind":"AdmissionReview"})";
  r = mutate(body);
  EXPECT_EQ(r.http_status, 400);
  EXPECT_NE(r.error.find("apiVersion: expected admission.k8s.io/v1, got \"vvv"), std::string::npos);
  EXPECT_LT(r.body.size(), 1024u);

  // A 1 MiB uid cannot be echoed back.
  json review = minimal_review(gpu_pod({{"nvidia.com/gpu", "1"}}));
  review["request"]["uid"] = std::string(1 << 20, 'u');
  r = mutate(review.dump());
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.error, "request.uid: longer than 256 characters (1048576)");

  // A 1 MiB annotation key and value: decided (denied), with a bounded message.
  review = minimal_review(
      gpu_pod({{"nvidia.com/gpu", "1"}},
              {{"gpushare.io/" + std::string(1 << 20, 'k'), std::string(1 << 20, 'x')}}));
  r = mutate(review.dump());
  ASSERT_EQ(r.http_status, 200) << r.error;
  json response = parse_body(r)["response"];
  EXPECT_EQ(response["allowed"], false);
  EXPECT_LE(response["status"]["message"].get<std::string>().size(), kMaxStatusMessageBytes + 3);

  // A huge bad key in a map is quoted, truncated, in the error.
  review = minimal_review(gpu_pod({{"nvidia.com/gpu", "1"}}, {{std::string(1 << 20, 'k'), 5}}));
  r = mutate(review.dump());
  EXPECT_EQ(r.http_status, 400);
  EXPECT_LT(r.error.size(), 400u) << r.error.substr(0, 400);
  EXPECT_NE(r.error.find("expected string, got number"), std::string::npos);
}

TEST(AdmissionReviewMalformed, EveryPrefixOfAFixtureIsAnsweredCleanly) {
  std::string fixture = testing::read_fixture("admission/init-container-gpu.json");
  while (!fixture.empty() && fixture.back() == '\n') fixture.pop_back();
  for (std::size_t n = 0; n < fixture.size(); ++n) {
    MutateResult r = mutate(std::string_view(fixture).substr(0, n));
    ASSERT_EQ(r.http_status, 400) << "prefix of " << n << " bytes";
    ASSERT_FALSE(parse_body(r).is_discarded());
  }
  EXPECT_EQ(mutate(fixture).http_status, 200);
}

TEST(AdmissionReviewMalformed, CorruptedBytesNeverCrash) {
  const std::string fixture =
      testing::read_fixture("admission/requests-and-limits-multi-container.json");
  const char replacements[] = {'"', '{', '}', '[', ']', ',', ':', '0', 'x', '\\', '\0', '\xff'};
  std::size_t k = 0;
  for (std::size_t i = 0; i < fixture.size(); i += 7) {
    std::string body = fixture;
    body[i] = replacements[k++ % sizeof(replacements)];
    MutateResult r = mutate(body);
    ASSERT_TRUE(r.http_status == 200 || r.http_status == 400)
        << r.http_status << " at byte " << i << ": " << r.error;
    ASSERT_FALSE(parse_body(r).is_discarded());
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding details.

TEST(AdmissionReviewDecode, NullsWhereKubernetesSendsThem) {
  json pod = {
      {"metadata", {{"name", "p"}, {"annotations", nullptr}, {"labels", nullptr}}},
      {"spec",
       {{"initContainers", nullptr},
        {"containers",
         json::array({{{"name", "a"}, {"resources", {{"limits", nullptr}, {"requests", nullptr}}}},
                      {{"name", "b"}, {"resources", nullptr}}})},
        {"nodeName", nullptr},
        {"priority", nullptr}}},
      {"status", nullptr}};
  json review = minimal_review(pod);
  review["request"]["oldObject"] = nullptr;
  review["request"]["dryRun"] = nullptr;
  review["request"]["name"] = nullptr;
  review["request"]["subResource"] = nullptr;
  MutateResult r = mutate(review.dump());
  EXPECT_EQ(r.http_status, 200) << r.error;
  EXPECT_EQ(r.decision.outcome, policy::AdmissionOutcome::kOutOfScope);
}

TEST(AdmissionReviewDecode, ContainersNullOrMissingMeanNone) {
  for (const json& spec : {json{{"containers", nullptr}}, json::object(), json(nullptr)}) {
    MutateResult r =
        mutate(minimal_review(json{{"metadata", {{"name", "p"}}}, {"spec", spec}}).dump());
    EXPECT_EQ(r.http_status, 200) << spec.dump() << ": " << r.error;
  }
}

TEST(AdmissionReviewDecode, PodViewFields) {
  json pod = json::parse(R"({
    "metadata": {"namespace": "from-object", "generateName": "job-", "labels": {"app": "x"},
                 "annotations": {"gpushare.io/mode": "mps"}},
    "spec": {"nodeName": "n1", "priority": -5,
             "initContainers": [{"name": "i0", "resources": {"limits": {"nvidia.com/gpu": 1}}},
                                {"name": "i1"}],
             "containers": [{"name": "c0", "resources": {"requests": {"cpu": "250m", "nvidia.com/gpu": "1"}}}]},
    "status": {"phase": "Pending"}})");
  auto view = codec::decode_pod(pod, "request.object");
  ASSERT_TRUE(view) << view.error();
  EXPECT_EQ(view->namespace_name, "from-object");
  EXPECT_EQ(view->name, "");
  EXPECT_EQ(view->generate_name, "job-");
  EXPECT_EQ(view->display_name(), "from-object/job-*");
  EXPECT_EQ(view->labels, (policy::StringMap{{"app", "x"}}));
  EXPECT_EQ(view->annotations, (policy::StringMap{{"gpushare.io/mode", "mps"}}));
  EXPECT_EQ(view->node_name, "n1");
  EXPECT_EQ(view->priority, -5);
  EXPECT_EQ(view->phase, "Pending");
  ASSERT_EQ(view->containers.size(), 3u);
  EXPECT_EQ(view->containers[0].name, "i0");
  EXPECT_TRUE(view->containers[0].init);
  EXPECT_EQ(view->containers[0].index, 0u);
  EXPECT_EQ(view->containers[0].limits,
            (policy::StringMap{{"nvidia.com/gpu", "1"}}));  // number -> text
  EXPECT_EQ(view->containers[1].name, "i1");
  EXPECT_TRUE(view->containers[1].init);
  EXPECT_EQ(view->containers[1].index, 1u);
  EXPECT_EQ(view->containers[2].name, "c0");
  EXPECT_FALSE(view->containers[2].init);
  EXPECT_EQ(view->containers[2].index, 0u);
  EXPECT_EQ(view->containers[2].requests,
            (policy::StringMap{{"cpu", "250m"}, {"nvidia.com/gpu", "1"}}));
}

TEST(AdmissionReviewDecode, RequestNamespaceIsAuthoritative) {
  json pod = gpu_pod({{"nvidia.com/gpu", "1"}});
  pod["metadata"]["namespace"] = "other";
  MutateResult r = mutate(minimal_review(pod).dump());
  EXPECT_EQ(r.pod, "ml/p");
}

TEST(AdmissionReviewDecode, RequestFields) {
  json review = minimal_review(gpu_pod({{"nvidia.com/gpu", "1"}}));
  review["request"]["dryRun"] = true;
  review["request"]["name"] = "p";
  auto decoded = decode_admission_review(review.dump());
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(decoded->uid, "u-1");
  EXPECT_EQ(decoded->operation, "CREATE");
  EXPECT_EQ(decoded->namespace_name, "ml");
  EXPECT_EQ(decoded->name, "p");
  EXPECT_TRUE(decoded->dry_run);
  EXPECT_TRUE(decoded->is_pod());
  EXPECT_TRUE(decoded->object.is_object());
  EXPECT_TRUE(decoded->old_object.is_null());
}

TEST(AdmissionReviewDecode, KindFromObjectWhenRequestKindIsAbsent) {
  json review = minimal_review(gpu_pod({{"nvidia.com/gpu", "1"}}));
  review["request"].erase("kind");
  review["request"]["object"]["apiVersion"] = "v1";
  review["request"]["object"]["kind"] = "Pod";
  Applied a = run_and_apply(review);
  EXPECT_EQ(a.pod["spec"]["containers"][0]["resources"]["limits"],
            (json{{"nvidia.com/gpu.shared", "1"}}));
}

// ---------------------------------------------------------------------------------------------
// Outcomes that need no fixture.

TEST(AdmissionReviewRespond, NonPodKindsAreAllowedUntouched) {
  for (const json& kind : {json{{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}},
                           json{{"group", ""}, {"version", "v1"}, {"kind", "Binding"}}}) {
    json review = minimal_review(gpu_pod({{"nvidia.com/gpu", "2"}}));
    review["request"]["kind"] = kind;
    MutateResult r = mutate(review.dump());
    ASSERT_EQ(r.http_status, 200) << r.error;
    json response = parse_body(r)["response"];
    EXPECT_EQ(response, (json{{"uid", "u-1"}, {"allowed", true}}));
    EXPECT_EQ(r.decision.outcome, policy::AdmissionOutcome::kOutOfScope);
  }
  // A Pod subresource (pods/ephemeralcontainers, pods/status) is not a pod to admit.
  json review = minimal_review(gpu_pod({{"nvidia.com/gpu", "2"}}), "UPDATE");
  review["request"]["subResource"] = "ephemeralcontainers";
  EXPECT_EQ(parse_body(mutate(review.dump()))["response"],
            (json{{"uid", "u-1"}, {"allowed", true}}));
}

TEST(AdmissionReviewRespond, DeleteWithOnlyOldObject) {
  json review = minimal_review(nullptr, "DELETE");
  review["request"]["oldObject"] = gpu_pod({{"nvidia.com/gpu", "2"}});
  MutateResult r = mutate(review.dump());
  ASSERT_EQ(r.http_status, 200) << r.error;
  EXPECT_EQ(parse_body(r)["response"], (json{{"uid", "u-1"}, {"allowed", true}}));
  EXPECT_EQ(r.pod, "ml/p");
}

TEST(AdmissionReviewRespond, UpdateOfAPodWeCannotDecodeIsStillAllowed) {
  json review = minimal_review(
      json{{"metadata", {{"name", "p"}}}, {"spec", {{"containers", "bad"}}}}, "UPDATE");
  review["request"]["name"] = "p";
  MutateResult r = mutate(review.dump());
  ASSERT_EQ(r.http_status, 200) << r.error;
  EXPECT_EQ(parse_body(r)["response"]["allowed"], true);
}

TEST(AdmissionReviewRespond, IntegerQuantityKeepsItsJsonValue) {
  Applied a = run_and_apply(minimal_review(gpu_pod({{"nvidia.com/gpu", 1}, {"cpu", 2}})));
  EXPECT_EQ(a.pod["spec"]["containers"][0]["resources"]["limits"],
            (json{{"nvidia.com/gpu.shared", 1}, {"cpu", 2}}));
}

TEST(AdmissionReviewRespond, MissingMetadataIsCreated) {
  json pod = {{"spec",
               {{"containers",
                 json::array({{{"name", "main"},
                               {"resources", {{"limits", {{"nvidia.com/gpu.shared", "1"}}}}}}})}}}};
  Applied a = run_and_apply(minimal_review(pod));
  EXPECT_EQ(a.pod["metadata"],
            (json{{"annotations", {{"gpushare.io/assigned-resource", "nvidia.com/gpu.shared"}}}}));
  json null_metadata = pod;
  null_metadata["metadata"] = nullptr;
  Applied b = run_and_apply(minimal_review(null_metadata));
  EXPECT_EQ(b.pod["metadata"], a.pod["metadata"]);
}

TEST(AdmissionReviewRespond, StaleAssignedResourceIsReplaced) {
  json pod = gpu_pod(
      {{"nvidia.com/gpu", "1"}},
      {{"gpushare.io/mode", "mps"}, {"gpushare.io/assigned-resource", "nvidia.com/mig-1g.12gb"}});
  Applied a = run_and_apply(minimal_review(pod));
  EXPECT_EQ(a.pod["metadata"]["annotations"]["gpushare.io/assigned-resource"],
            "nvidia.com/gpu.shared");
  EXPECT_EQ(a.pod["metadata"]["annotations"].size(), 2u);
}

TEST(AdmissionReviewRespond, DenialShape) {
  MutateResult r = mutate(minimal_review(gpu_pod({{"nvidia.com/gpu", "3"}})).dump());
  ASSERT_EQ(r.http_status, 200);
  json response = parse_body(r)["response"];
  EXPECT_EQ(response["uid"], "u-1");
  EXPECT_EQ(response["allowed"], false);
  EXPECT_EQ(response["status"]["code"], 403);
  EXPECT_EQ(response["status"]["reason"], "Forbidden");
  // The message a user reads in `kubectl apply`: the container, what it asked for, the rule and
  // what to do instead.
  EXPECT_EQ(
      response["status"]["message"],
      "container \"main\" asks for 3 nvidia.com/gpu.shared (nvidia.com/gpu: 3 mapped to MPS): "
      "MPS shared GPUs are limited to 1 per container, since the device plugin cannot give "
      "one container several replicas. Ask for 1, or for more memory use "
      "gpushare.io/gpu-memory or a MIG profile (gpushare.io/mig-profile)");
  EXPECT_EQ(r.decision.message, response["status"]["message"]);
  EXPECT_FALSE(response.contains("patch"));
  EXPECT_FALSE(response.contains("patchType"));
  EXPECT_TRUE(r.patch.empty());
}

TEST(AdmissionReviewRespond, ResponseFieldOrderAndWarnings) {
  policy::AdmissionDecision d;
  d.outcome = policy::AdmissionOutcome::kAllowed;
  d.warnings = {"w1", "w2"};
  const std::string patch = R"([{"op":"add","path":"/metadata/annotations","value":{"a":"b"}}])";
  std::string text = admission_response("u", d, patch);
  EXPECT_EQ(
      text,
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true,)"
      R"("patchType":"JSONPatch","patch":")" +
          base::base64_encode(
              R"([{"op":"add","path":"/metadata/annotations","value":{"a":"b"}}])") +
          R"(","warnings":["w1","w2"]}})");
  // The reference's example patch, byte for byte.
  EXPECT_EQ(
      base::base64_encode(
          R"([{"op":"add","path":"/metadata/annotations","value":{"example.com/gpu-share":"mps"}}])"),
      "W3sib3AiOiJhZGQiLCJwYXRoIjoiL21ldGFkYXRhL2Fubm90YXRpb25zIiwidmFsdWUiOnsiZXhhbXBsZS5jb20vZ3B1"
      "LXNoYXJlIjoibXBzIn19XQ==");
  d.warnings.clear();
  EXPECT_EQ(
      admission_response("u", d, ""),
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true}})");
}

// The response is written without a DOM; it must be byte for byte what serialising the same
// review as an ordered_json writes, for strings that need escaping or UTF-8 repair too.
TEST(AdmissionReviewRespond, WrittenAsTheDomWouldSerialiseIt) {
  auto reference = [](std::string_view uid, const policy::AdmissionDecision& d,
                      const std::string& patch) {
    const bool allowed = d.outcome != policy::AdmissionOutcome::kDenied;
    nlohmann::ordered_json response;
    response["uid"] = std::string(uid);
    response["allowed"] = allowed;
    if (!allowed) {
      response["status"] = nlohmann::ordered_json{
          {"code", 403},
          {"reason", "Forbidden"},
          {"message", codec::truncate_for_message(d.message, kMaxStatusMessageBytes)}};
    }
    if (allowed && !patch.empty()) {
      response["patchType"] = "JSONPatch";
      response["patch"] = base::base64_encode(patch);
    }
    if (!d.warnings.empty()) response["warnings"] = d.warnings;
    nlohmann::ordered_json review;
    review["apiVersion"] = kAdmissionApiVersion;
    review["kind"] = kAdmissionReviewKind;
    review["response"] = std::move(response);
    return dump_json(review);
  };
  const std::string patch = R"([{"op":"add","path":"/a","value":"é\"q\""}])";
  const std::vector<std::string> texts = {"",
                                          "plain",
                                          "quote \" and backslash \\",
                                          "tab\tnewline\n\x01\x7f",
                                          "caf\xc3\xa9",
                                          "bad \xff\xfe utf-8",
                                          "cut \xe2\x82",
                                          std::string(5000, 'm') + "\xc3\xa9"};
  for (const auto& text : texts) {
    for (auto outcome : {policy::AdmissionOutcome::kAllowed, policy::AdmissionOutcome::kDenied,
                         policy::AdmissionOutcome::kOutOfScope}) {
      policy::AdmissionDecision d;
      d.outcome = outcome;
      d.message = text;
      d.warnings = {text, "second"};
      EXPECT_EQ(admission_response(text, d, patch), reference(text, d, patch)) << text;
      d.warnings.clear();
      EXPECT_EQ(admission_response(text, d, ""), reference(text, d, ""));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// render_patch on its own: every op applies, whatever the decision holds.

TEST(RenderPatch, RepeatedAndChainedRenamesStayApplicable) {
  json pod = json::parse(R"({"metadata":{"annotations":{}},"spec":{
      "initContainers":[{"name":"i","resources":{"requests":{"nvidia.com/gpu":"1"}}}],
      "containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"1","a/b~c":"2"}}}]}})");
  auto view = codec::decode_pod(pod);
  ASSERT_TRUE(view) << view.error();
  policy::AdmissionDecision d;
  d.outcome = policy::AdmissionOutcome::kAllowed;
  d.renames = {{0, "nvidia.com/gpu", "x/y"},  // init container: requests only
               {1, "nvidia.com/gpu", "x/y"},
               {1, "nvidia.com/gpu", "x/y"},    // again: nothing left to rename
               {1, "a/b~c", "nvidia.com/gpu"},  // into a key renamed away before
               {1, "missing", "z"},
               {1, "same", "same"},
               {7, "nvidia.com/gpu", "z"}};  // no such container
  json patch = json::parse(render_patch(pod, *view, d));
  auto applied = testing::apply_json_patch(pod, patch);
  ASSERT_TRUE(applied.ok) << applied.error << "\n" << patch.dump();
  EXPECT_EQ(applied.document["spec"]["initContainers"][0]["resources"]["requests"],
            (json{{"x/y", "1"}}));
  EXPECT_EQ(applied.document["spec"]["containers"][0]["resources"]["limits"],
            (json{{"x/y", "1"}, {"nvidia.com/gpu", "2"}}));
  EXPECT_NE(patch.dump().find("/spec/containers/0/resources/limits/a~1b~0c"), std::string::npos)
      << patch.dump();
}

TEST(RenderPatch, AnnotationCases) {
  policy::AdmissionDecision d;
  d.outcome = policy::AdmissionOutcome::kAllowed;
  d.annotation_key = "gpushare.io/assigned-resource";
  d.annotation_value = "nvidia.com/gpu.shared";
  policy::PodView view;
  auto ops_for = [&](const json& pod) {
    const std::string text = render_patch(pod, view, d);
    return text.empty() ? json::array() : json::parse(text);
  };
  EXPECT_EQ(
      ops_for(json{{"spec", json::object()}}),
      json::parse(
          R"([{"op":"add","path":"/metadata","value":{"annotations":{"gpushare.io/assigned-resource":"nvidia.com/gpu.shared"}}}])"));
  EXPECT_EQ(
      ops_for(json{{"metadata", {{"name", "p"}}}}),
      json::parse(
          R"([{"op":"add","path":"/metadata/annotations","value":{"gpushare.io/assigned-resource":"nvidia.com/gpu.shared"}}])"));
  EXPECT_EQ(
      ops_for(json{{"metadata", {{"annotations", {{"x", "y"}}}}}}),
      json::parse(
          R"([{"op":"add","path":"/metadata/annotations/gpushare.io~1assigned-resource","value":"nvidia.com/gpu.shared"}])"));
  EXPECT_EQ(ops_for(json{
                {"metadata",
                 {{"annotations", {{"gpushare.io/assigned-resource", "nvidia.com/gpu.shared"}}}}}}),
            json::array());
  d.annotation_key = "a~b/c";
  EXPECT_EQ(ops_for(json{{"metadata", {{"annotations", json::object()}}}})[0]["path"],
            "/metadata/annotations/a~0b~1c");
  d.outcome = policy::AdmissionOutcome::kDenied;
  EXPECT_EQ(ops_for(json{{"metadata", {{"name", "p"}}}}), json::array());
}

}  // namespace
}  // namespace gpushare::webhook
