// The strict RFC 6902 applier of test/support: it must accept what RFC 6902 and kube-apiserver
// (evanphx/json-patch v4) both accept, and refuse anything either refuses.
#include "test/support/json_patch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gpushare::testing {
namespace {

using nlohmann::json;

json apply_ok(const json& doc, const char* patch) {
  PatchOutcome out = apply_json_patch(doc, std::string_view(patch));
  EXPECT_TRUE(out.ok) << patch << " -> " << out.error;
  return out.document;
}

std::string apply_err(const json& doc, const char* patch) {
  PatchOutcome out = apply_json_patch(doc, std::string_view(patch));
  EXPECT_FALSE(out.ok) << patch << " applied, giving " << out.document.dump();
  return out.error;
}

TEST(JsonPointer, UnescapesTildeZeroAndOne) {
  std::vector<std::string> tokens;
  std::string error;
  ASSERT_TRUE(parse_json_pointer("/a~1b/c~0d/~01/", tokens, error)) << error;
  EXPECT_EQ(tokens, (std::vector<std::string>{"a/b", "c~d", "~1", ""}));
}

TEST(JsonPointer, RejectsMalformed) {
  std::vector<std::string> tokens;
  std::string error;
  for (const char* bad : {"", "a/b", "/a~", "/a~2", "/~x", "metadata"}) {
    EXPECT_FALSE(parse_json_pointer(bad, tokens, error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

TEST(JsonPatch, AddToObjectMemberAndReplaceExisting) {
  json doc = {{"metadata", {{"annotations", {{"a", "1"}}}}}};
  json out = apply_ok(doc, R"([{"op":"add","path":"/metadata/annotations/b","value":"2"},
                                {"op":"add","path":"/metadata/annotations/a","value":"3"}])");
  EXPECT_EQ(out["metadata"]["annotations"], (json{{"a", "3"}, {"b", "2"}}));
}

TEST(JsonPatch, AddWholeMapWhereMissing) {
  json doc = {{"metadata", {{"name", "p"}}}};
  json out = apply_ok(doc, R"([{"op":"add","path":"/metadata/annotations","value":{"k/x":"v"}}])");
  EXPECT_EQ(out["metadata"]["annotations"]["k/x"], "v");
}

TEST(JsonPatch, AddUnderMissingParentFails) {
  json doc = {{"metadata", {{"name", "p"}}}};
  std::string error =
      apply_err(doc, R"([{"op":"add","path":"/metadata/annotations/k","value":"v"}])");
  EXPECT_NE(error.find("op 0 (add /metadata/annotations/k)"), std::string::npos) << error;
  EXPECT_NE(error.find("parent does not exist"), std::string::npos) << error;
  apply_err(doc, R"([{"op":"add","path":"/spec/containers/0","value":{}}])");
}

TEST(JsonPatch, AddUnderScalarFails) {
  apply_err(json{{"a", "text"}}, R"([{"op":"add","path":"/a/b","value":1}])");
  apply_err(json{{"a", nullptr}}, R"([{"op":"add","path":"/a/b","value":1}])");
}

TEST(JsonPatch, ArrayAddIndexRules) {
  json doc = {{"a", {1, 2}}};
  EXPECT_EQ(apply_ok(doc, R"([{"op":"add","path":"/a/0","value":0}])")["a"], (json{0, 1, 2}));
  EXPECT_EQ(apply_ok(doc, R"([{"op":"add","path":"/a/2","value":3}])")["a"], (json{1, 2, 3}));
  EXPECT_EQ(apply_ok(doc, R"([{"op":"add","path":"/a/-","value":3}])")["a"], (json{1, 2, 3}));
  apply_err(doc, R"([{"op":"add","path":"/a/3","value":3}])");
  apply_err(doc, R"([{"op":"add","path":"/a/01","value":3}])");
  apply_err(doc, R"([{"op":"add","path":"/a/-1","value":3}])");
  apply_err(doc, R"([{"op":"add","path":"/a/+1","value":3}])");
  apply_err(doc, R"([{"op":"add","path":"/a/x","value":3}])");
}

TEST(JsonPatch, RemoveAndReplaceNeedTheTarget) {
  json doc = {{"limits", {{"nvidia.com/gpu", "1"}}}, {"list", {1, 2}}};
  json out = apply_ok(doc, R"([{"op":"remove","path":"/limits/nvidia.com~1gpu"},
                                {"op":"replace","path":"/list/1","value":5}])");
  EXPECT_EQ(out, (json{{"limits", json::object()}, {"list", {1, 5}}}));
  apply_err(doc, R"([{"op":"remove","path":"/limits/nvidia.com/gpu"}])");  // unescaped '/'
  apply_err(doc, R"([{"op":"remove","path":"/limits/missing"}])");
  apply_err(doc, R"([{"op":"replace","path":"/limits/missing","value":"1"}])");
  apply_err(doc, R"([{"op":"remove","path":"/list/2"}])");
  apply_err(doc, R"([{"op":"remove","path":"/list/-"}])");
  apply_err(doc, R"([{"op":"replace","path":"/list/-","value":1}])");
}

TEST(JsonPatch, MoveCopyTest) {
  json doc = {{"a", {{"b", "x"}}}, {"c", json::array()}};
  json out = apply_ok(doc, R"([{"op":"copy","from":"/a/b","path":"/c/-"},
                                {"op":"move","from":"/a/b","path":"/d"},
                                {"op":"test","path":"/d","value":"x"},
                                {"op":"test","path":"/c","value":["x"]}])");
  EXPECT_EQ(out, (json{{"a", json::object()}, {"c", {"x"}}, {"d", "x"}}));
  apply_err(doc, R"([{"op":"move","from":"/a","path":"/a/b/c"}])");
  apply_err(doc, R"([{"op":"move","from":"/missing","path":"/z"}])");
  apply_err(doc, R"([{"op":"copy","from":"/missing","path":"/z"}])");
  apply_err(doc, R"([{"op":"test","path":"/a/b","value":"y"}])");
  apply_err(doc, R"([{"op":"test","path":"/a/missing","value":null}])");
  apply_err(doc, R"([{"op":"move","path":"/z"}])");  // no from
}

TEST(JsonPatch, TestComparesNumbersByValueAndTypes) {
  json doc = {{"n", 1}, {"s", "1"}};
  apply_ok(doc, R"([{"op":"test","path":"/n","value":1}])");
  apply_err(doc, R"([{"op":"test","path":"/s","value":1}])");
}

TEST(JsonPatch, MalformedOperations) {
  json doc = {{"a", 1}};
  apply_err(doc, R"({"op":"add","path":"/b","value":1})");      // not an array
  apply_err(doc, R"([{"path":"/b","value":1}])");               // no op
  apply_err(doc, R"([{"op":"add","value":1}])");                // no path
  apply_err(doc, R"([{"op":"add","path":"/b"}])");              // no value
  apply_err(doc, R"([{"op":"replace","path":"/a"}])");          // no value
  apply_err(doc, R"([{"op":"merge","path":"/b","value":1}])");  // unknown op
  apply_err(doc, R"([{"op":"add","path":"b","value":1}])");     // no leading '/'
  apply_err(doc, R"([{"op":"add","path":"","value":1}])");      // whole document
  apply_err(doc, R"([{"op":"add","path":5,"value":1}])");       // path not a string
  apply_err(doc, R"([1])");
  apply_err(doc, R"([{"op":"add","path":"/a~2","value":1}])");
  apply_err(doc, "[{");
}

TEST(JsonPatch, AllOrNothing) {
  json doc = {{"a", 1}};
  PatchOutcome out = apply_json_patch(doc, std::string_view(R"([{"op":"add","path":"/b","value":2},
                                                                {"op":"remove","path":"/c"}])"));
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("op 1 (remove /c)"), std::string::npos) << out.error;
  EXPECT_EQ(doc, (json{{"a", 1}}));
}

TEST(JsonPatch, EmptyPatchIsIdentity) {
  json doc = {{"a", 1}};
  EXPECT_EQ(apply_ok(doc, "[]"), doc);
}

TEST(JsonPatch, EmptyKeyAndTildeKeys) {
  json doc = {{"", {{"~", 1}}}};
  EXPECT_EQ(apply_ok(doc, R"([{"op":"replace","path":"//~0","value":2}])"),
            (json{{"", {{"~", 2}}}}));
}

}  // namespace
}  // namespace gpushare::testing
