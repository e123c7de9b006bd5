// codec/json.h, the JSON toolbox every edge shares: the bounded parser's answers (the webhook and
// the extender tests check them through their doors too), the member readers, pointer escaping
// and the UTF-8-safe dump.
#include "codec/json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gpushare::codec {
namespace {

using nlohmann::json;

TEST(ParseJson, Answers) {
  struct Case {
    std::string text;
    std::string error;  // empty: parses
  };
  const std::vector<Case> cases = {
      {"{\"a\":[1,2]}", ""},
      {"", "empty body: expected a JSON document"},
      {" \r\n\t", "empty body: expected a JSON document"},
      {"{", "not JSON at byte 2: syntax error while parsing object key - unexpected end of input"},
      {"{} x", "not JSON at byte 4: syntax error while parsing value - invalid literal"},
      {"\"" + std::string(1000, '[') + "\"", ""},  // brackets in a string do not nest
      {std::string(64, '[') + std::string(64, ']'), ""},
      {std::string(65, '[') + std::string(65, ']'), "JSON nested deeper than 64 levels"},
      {std::string(100000, '['), "JSON nested deeper than 64 levels"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text.substr(0, 40));
    const auto parsed = parse_json(c.text);
    if (c.error.empty()) {
      EXPECT_TRUE(parsed.ok()) << parsed.error();
    } else {
      ASSERT_FALSE(parsed.ok());
      EXPECT_EQ(parsed.error().substr(0, c.error.size()), c.error) << parsed.error();
    }
  }
  EXPECT_EQ(parse_json("", "an AdmissionReview JSON object").error(),
            "empty body: expected an AdmissionReview JSON object");
  EXPECT_EQ(parse_json("[[[]]]", "x", 2).error(), "JSON nested deeper than 2 levels");
  // Duplicate keys: the last wins, as in Go's encoding/json.
  EXPECT_EQ((*parse_json(R"({"a":1,"a":2})"))["a"], 2);
}

TEST(ParseJsonShaped, BuildsOnlyWhatTheShapeKeeps) {
  using Kind = JsonShape::Kind;
  const JsonShape all{};
  const JsonShape item{Kind::kObject, {{"name", &all}}, nullptr};
  const JsonShape items{Kind::kArray, {}, &item};
  const JsonShape root{Kind::kObject, {{"items", &items}, {"meta", &all}}, nullptr};
  struct Case {
    const char* name;
    const char* text;
    const char* want;  // the DOM built, as JSON
  };
  const Case cases[] = {
      {"unlisted members go, listed ones keep their own shape",
       R"({"items":[{"name":"a","env":[1,2,{"x":[]}]},{"name":"b"}],"meta":{"k":[1]},"other":{"deep":[[[]]]}})",
       R"({"items":[{"name":"a"},{"name":"b"}],"meta":{"k":[1]}})"},
      {"a type other than the shape's kind is kept whole",
       R"({"items":{"name":"x","env":1},"meta":"m"})",
       R"({"items":{"name":"x","env":1},"meta":"m"})"},
      {"array elements that are not objects stay", R"({"items":[1,"s",null,[2]]})",
       R"({"items":[1,"s",null,[2]]})"},
      {"duplicate keys: the last wins", R"({"meta":1,"other":2,"meta":3})", R"({"meta":3})"},
      {"a root of another type is kept", R"([1,2])", R"([1,2])"},
  };
  for (const Case& c : cases) {
    auto got = parse_json_shaped(c.text, &root);
    ASSERT_TRUE(got.ok()) << c.name << ": " << got.error();
    EXPECT_EQ(*got, nlohmann::json::parse(c.want)) << c.name;
  }
}

TEST(ParseJsonShaped, WhatIsNotBuiltIsStillChecked) {
  using Kind = JsonShape::Kind;
  const JsonShape all{};
  const JsonShape root{Kind::kObject, {{"keep", &all}}, nullptr};
  // Invalid JSON, bad UTF-8 and hostile nesting inside a skipped member are refused as before.
  auto broken = parse_json_shaped(R"({"skip":[1,2,}],"keep":1})", &root);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().find("not JSON at byte"), std::string::npos) << broken.error();
  EXPECT_FALSE(parse_json_shaped("{\"skip\":\"\xff\",\"keep\":1}", &root).ok());
  std::string deep = R"({"skip":)" + std::string(200, '[') + std::string(200, ']') + "}";
  auto too_deep = parse_json_shaped(deep, &root);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_NE(too_deep.error().find("nested deeper"), std::string::npos) << too_deep.error();
  EXPECT_FALSE(parse_json_shaped("   ", &root).ok());
  // No shape: the whole document, as parse_json.
  EXPECT_EQ(*parse_json_shaped(R"({"skip":[1]})", nullptr),
            nlohmann::json::parse(R"({"skip":[1]})"));
}

TEST(Members, LenientAndPresentOnly) {
  const json obj = {{"s", "text"}, {"n", 1}, {"null", nullptr}, {"o", {{"k", "v"}}}};
  EXPECT_EQ(member(obj, "o")["k"], "v");
  EXPECT_TRUE(member(obj, "missing").is_null());
  EXPECT_TRUE(member(json::array(), "s").is_null());
  EXPECT_EQ(string_member(obj, "s"), "text");
  EXPECT_EQ(string_member(obj, "n"), "");  // not a string: empty
  ASSERT_NE(present_member(obj, "n"), nullptr);
  EXPECT_EQ(*present_member(obj, "n"), 1);
  EXPECT_EQ(present_member(obj, "null"), nullptr);
  EXPECT_EQ(present_member(obj, "missing"), nullptr);
  EXPECT_EQ(present_member(json("str"), "s"), nullptr);
}

TEST(JsonText, EscapePointerToken) {
  EXPECT_EQ(escape_pointer_token("nvidia.com/gpu"), "nvidia.com~1gpu");
  EXPECT_EQ(escape_pointer_token("~/"), "~0~1");
  EXPECT_EQ(escape_pointer_token("~1"), "~01");
}

TEST(JsonText, DumpAndValidUtf8ReplaceInvalidSequences) {
  EXPECT_EQ(dump_json(json(std::string("a\xff"))), "\"a\xEF\xBF\xBD\"");
  EXPECT_EQ(valid_utf8("a\xff"), "a\xEF\xBF\xBD");
  EXPECT_EQ(valid_utf8("ascii"), "ascii");
  EXPECT_EQ(truncate_for_message("abcdef", 3), "abc...");
  EXPECT_EQ(truncate_for_message("abc", 3), "abc");
}

}  // namespace
}  // namespace gpushare::codec
