// codec/json.h, the JSON toolbox every edge shares: the bounded parser's answers (the webhook and
// the extender tests check them through their doors too), the member readers, pointer escaping
// and the UTF-8-safe dump.
#include "codec/json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/json_build.h"
#include "codec/json_reference.h"

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

// The fast parser (codec/json_build.h) against nlohmann: the same documents accepted, and with
// no shape the same DOM, to the type of each number (dump tells 1 from 1.0 and -0 from -0.0).
struct Doc {
  const char* name;
  std::string text;
  bool valid;  // as nlohmann reads it; checked against nlohmann too
};

std::vector<Doc> documents() {
  const std::string deep64 = std::string(64, '[') + std::string(64, ']');
  return {
      // Structure and whitespace.
      {"empty array", "[]", true},
      {"empty object", "{}", true},
      {"whitespace around", " \t\r\n[ 1 , { \"a\" : [ ] } ]\n ", true},
      {"vertical tab is not whitespace", "\v1", false},
      {"form feed is not whitespace", "\f1", false},
      {"nested", R"({"a":{"b":[1,{"c":null}],"d":true},"e":false})", true},
      {"trailing comma in array", "[1,]", false},
      {"trailing comma in object", R"({"a":1,})", false},
      {"lone comma", "[,]", false},
      {"leading comma", "[,1]", false},
      {"object comma", "{,}", false},
      {"key without value", R"({"a"})", false},
      {"key and colon only", R"({"a":})", false},
      {"number key", "{1:2}", false},
      {"missing comma", "[1 2]", false},
      {"missing member comma", R"({"a":1 "b":2})", false},
      {"unclosed array", "[1", false},
      {"unclosed object", R"({"a":1)", false},
      {"mismatched close", "[1}", false},
      {"extra close", "[1]]", false},
      {"trailing garbage", "[1]x", false},
      {"two values", R"("a" "b")", false},
      {"NUL byte", std::string("[\0]", 3), false},
      {"NUL ends the input for nlohmann", std::string("[] \0 x", 6), true},
      {"NUL in a string", std::string("\"\0\"", 3), false},
      {"NUL as the value", std::string(" \0", 2), false},
      {"single quotes", "'a'", false},
      {"line comment", "// c\n1", false},
      {"block comment", "/**/1", false},
      {"trailing comment", "[1]/**/", false},
      {"BOM first", "\xEF\xBB\xBF{}", true},
      {"BOM last", "{}\xEF\xBB\xBF", false},
      {"BOM alone", "\xEF\xBB\xBF", false},
      {"half a BOM", "\xEF\xBB{}", false},
      // Literals.
      {"true", "true", true},
      {"false", "[false]", true},
      {"null", "null", true},
      {"short literal", "nul", false},
      {"long literal", "nulll", false},
      {"capitalised", "True", false},
      // Numbers.
      {"zero", "0", true},
      {"minus zero", "-0", true},
      {"minus zero float", "-0.0", true},
      {"exponent", "1E+2", true},
      {"negative exponent", "-1.5e-3", true},
      {"exponent overflow", "1e400", false},
      {"negative overflow", "[-1e400]", false},
      {"underflow to zero", "1e-400", true},
      {"largest double", "1.7976931348623157e308", true},
      {"just past it", "1.7976931348623159e308", false},
      {"hex", "0x", false},
      {"leading zero", "01", false},
      {"leading zeros", "-00", false},
      {"no fraction digits", "1.", false},
      {"no integer digits", ".5", false},
      {"no exponent digits", "1e", false},
      {"exponent sign only", "1e+", false},
      {"minus only", "-", false},
      {"plus", "+1", false},
      {"uint64 max", "18446744073709551615", true},
      {"uint64 max + 1", "18446744073709551616", true},
      {"int64 min", "-9223372036854775808", true},
      {"int64 min - 1", "-9223372036854775809", true},
      {"30 digits", "123456789012345678901234567890", true},
      {"300 digits", std::string(300, '9'), true},
      {"308 digits", std::string(308, '9'), true},
      {"309 digits", std::string(309, '9'), false},
      {"400 digits", "[" + std::string(400, '7') + "]", false},
      {"long fraction", "0." + std::string(400, '1'), true},
      // Strings and escapes.
      {"escapes", R"(["\"\\\/\b\f\n\r\t"])", true},
      {"unknown escape", R"("\x")", false},
      {"escaped NUL", R"("\u0000")", true},
      {"BMP escape", R"("\u00e9\u20AC")", true},
      {"bad hex", R"("\uZZZZ")", false},
      {"short hex", R"("\u12")", false},
      {"surrogate pair", R"("\ud83d\ude00")", true},
      {"lone high surrogate", R"("\ud83d")", false},
      {"high surrogate then text", R"("\ud83dx")", false},
      {"high then non-surrogate", R"("\ud83d\u0041")", false},
      {"high then high", R"("\ud83d\ud83d")", false},
      {"lone low surrogate", R"("\ude00")", false},
      {"raw tab", "\"\t\"", false},
      {"raw newline", "\"\n\"", false},
      {"DEL", "\"\x7f\"", true},
      {"unterminated", "\"abc", false},
      {"backslash at end", "\"abc\\", false},
      {"long plain", "\"" + std::string(1000, 'x') + "\"", true},
      {"brackets inside", "\"" + std::string(1000, '[') + "\"", true},
      // UTF-8 in strings.
      {"2 bytes", "\"\xC3\xA9\"", true},
      {"overlong 2 bytes C0", "\"\xC0\x80\"", false},
      {"overlong 2 bytes C1", "\"\xC1\xBF\"", false},
      {"overlong 3 bytes", "\"\xE0\x80\x80\"", false},
      {"smallest 3 bytes", "\"\xE0\xA0\x80\"", true},
      {"UTF-8 surrogate", "\"\xED\xA0\x80\"", false},
      {"last before surrogates", "\"\xED\x9F\xBF\"", true},
      {"overlong 4 bytes", "\"\xF0\x80\x80\x80\"", false},
      {"smallest 4 bytes", "\"\xF0\x90\x80\x80\"", true},
      {"U+10FFFF", "\"\xF4\x8F\xBF\xBF\"", true},
      {"beyond U+10FFFF", "\"\xF4\x90\x80\x80\"", false},
      {"F5 lead", "\"\xF5\x80\x80\x80\"", false},
      {"FF", "\"\xFF\"", false},
      {"lone continuation", "\"\x80\"", false},
      {"truncated 3 bytes", "\"\xE2\x82\"", false},
      {"truncated at end", "\"\xE2\x82", false},
      {"bad continuation", "\"\xE2\x28\xA1\"", false},
      {"UTF-8 key", "{\"\xC3\xA9\":1}", true},
      {"bad UTF-8 key", "{\"\xC3\":1}", false},
      {"UTF-8 outside a string", "\xC3\xA9", false},
      // Depth (kMaxJsonDepth = 64 arrays/objects).
      {"64 levels", deep64, true},
      {"64 levels of objects",
       [] {
         std::string s;
         for (int i = 0; i < 63; ++i) s += "{\"a\":";
         s += "{}";
         for (int i = 0; i < 63; ++i) s += "}";
         return s;
       }(),
       true},
  };
}

std::string fast_dump(const std::string& text, const JsonShape* shape, bool& ok) {
  json out;
  ok = build_json_shaped(text, shape, kMaxJsonDepth, out) == json_scan::Failure::kNone;
  return ok ? out.dump() : std::string();
}

TEST(FastParser, AgreesWithNlohmann) {
  for (const Doc& d : documents()) {
    SCOPED_TRACE(d.name);
    EXPECT_EQ(json::accept(d.text), d.valid) << "the table is wrong about nlohmann";
    bool ok = false;
    const std::string dumped = fast_dump(d.text, nullptr, ok);
    EXPECT_EQ(ok, d.valid);
    if (ok && d.valid) {
      EXPECT_EQ(dumped, json::parse(d.text).dump());
    }
    // Through the public door: the same answer, errors worded as the reference words them.
    const auto got = parse_json(d.text);
    const auto want = parse_json_reference(d.text, nullptr);
    ASSERT_EQ(got.ok(), want.ok());
    if (got.ok()) {
      EXPECT_EQ(got->dump(), want->dump());
    } else {
      EXPECT_EQ(got.error(), want.error());
    }
  }
}

TEST(FastParser, NumbersKeepNlohmannsTypes) {
  struct Case {
    const char* text;
    json::value_t type;
  };
  const Case cases[] = {
      {"0", json::value_t::number_unsigned},
      {"-0", json::value_t::number_integer},
      {"-0.0", json::value_t::number_float},
      {"18446744073709551615", json::value_t::number_unsigned},
      {"18446744073709551616", json::value_t::number_float},
      {"-9223372036854775808", json::value_t::number_integer},
      {"-9223372036854775809", json::value_t::number_float},
      {"1e2", json::value_t::number_float},
      {"1.0", json::value_t::number_float},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    json out;
    ASSERT_EQ(build_json_shaped(c.text, nullptr, kMaxJsonDepth, out), json_scan::Failure::kNone);
    EXPECT_EQ(out.type(), c.type);
    EXPECT_EQ(out.type(), json::parse(c.text).type());
    EXPECT_EQ(out.dump(), json::parse(c.text).dump());
  }
}

TEST(FastParser, DepthAtAndAboveTheLimit) {
  using Kind = JsonShape::Kind;
  const JsonShape all{};
  const JsonShape root{Kind::kObject, {{"keep", &all}}, nullptr};
  json out;
  for (const JsonShape* shape : {static_cast<const JsonShape*>(nullptr), &root}) {
    for (const char* member : {"keep", "skip"}) {
      SCOPED_TRACE(std::string(member) + (shape == nullptr ? " no shape" : " shaped"));
      // The root object is level 1: 63 more arrays make 64, 64 more make 65.
      const auto doc = [&](int arrays) {
        return std::string("{\"") + member + "\":" + std::string(arrays, '[') +
               std::string(arrays, ']') + "}";
      };
      EXPECT_EQ(build_json_shaped(doc(63), shape, kMaxJsonDepth, out), json_scan::Failure::kNone);
      EXPECT_EQ(build_json_shaped(doc(64), shape, kMaxJsonDepth, out),
                json_scan::Failure::kTooDeep);
      EXPECT_EQ(parse_json_shaped(doc(64), shape).error(), "JSON nested deeper than 64 levels");
      // A syntax error before the depth is reached is reported as such, as before.
      EXPECT_EQ(
          parse_json_shaped("{\"" + std::string(member) + "\":[1,]," + doc(64).substr(1), shape)
              .error()
              .substr(0, 16),
          "not JSON at byte");
    }
  }
  EXPECT_EQ(build_json_shaped("[]", nullptr, 0, out), json_scan::Failure::kTooDeep);
  EXPECT_EQ(build_json_shaped("1", nullptr, 0, out), json_scan::Failure::kNone);
  // Hostile depth, skipped or kept, stops at the limit without using the C stack.
  EXPECT_EQ(build_json_shaped(std::string(100000, '['), nullptr, 1 << 30, out),
            json_scan::Failure::kInvalid);
  EXPECT_EQ(build_json_shaped("{\"skip\":" + std::string(100000, '['), &root, 1 << 30, out),
            json_scan::Failure::kInvalid);
}

TEST(FastParser, ShapedAgreesWithTheReference) {
  using Kind = JsonShape::Kind;
  const JsonShape all{};
  // keep_key: two-letter keys starting with 'n' ("na") are kept too, by both parsers.
  const JsonShape item{
      Kind::kObject, {{"name", &all}, {"\xC3\xA9", &all}}, nullptr, false, [](std::string_view k) {
        return k.size() == 2 && k[0] == 'n';
      }};
  const JsonShape items{Kind::kArray, {}, &item};
  const JsonShape root{Kind::kObject, {{"items", &items}, {"meta", &all}}, nullptr};
  std::vector<std::string> texts = {
      R"({"items":[{"name":"a","env":[1,2,{"x":[]}]},{"name":"b"}],"meta":{"k":[1]},"o":{}})",
      R"({"items":[{"n\u0061me":"escaped key","\u00e9":1,"na":2}],"other":"\ud83d\ude00"})",
      R"({"items":{"name":"x"},"meta":"m","meta":[1e5,-0,"\n"]})",
      R"({"skip":[1,2,}],"meta":1})",
      R"({"skip":"\ud800","meta":1})",
      R"({"skip":1e400,"meta":1})",
      R"({"skip":01,"meta":1})",
      R"({"skip":tru,"meta":1})",
      R"({"skip":{"a" 1},"meta":1})",
      R"({"skip":{"a":1,},"meta":1})",
      R"({"skip":[[[],{}],{"a":[{"b":"c\"d"}]}]  ,  "meta" : 1 } )",
      "{\"skip\":\"\xFF\",\"meta\":1}",
      R"({"items":[{"name":"a"}]} x)",
      R"([{"items":1}])",
  };
  for (const Doc& d : documents()) texts.push_back(R"({"skip":)" + d.text + R"(,"meta":1})");
  for (const Doc& d : documents()) texts.push_back(R"({"meta":)" + d.text + "}");
  for (const std::string& text : texts) {
    SCOPED_TRACE(text.substr(0, 80));
    const auto want = parse_json_reference(text, &root);
    bool ok = false;
    const std::string dumped = fast_dump(text, &root, ok);
    ASSERT_EQ(ok, want.ok()) << (want.ok() ? "" : want.error());
    if (ok) {
      EXPECT_EQ(dumped, want->dump());
    }
  }
}

TEST(ParseJsonShaped, KeepKeyAndRecordSource) {
  using Kind = JsonShape::Kind;
  const JsonShape all{};
  const JsonShape labels{Kind::kObject, {}, nullptr, false, [](std::string_view k) {
                           return k.rfind("keep/", 0) == 0;
                         }};
  const JsonShape node{Kind::kObject, {{"labels", &labels}}, nullptr, /*record_source=*/true};
  const JsonShape items{Kind::kArray, {}, &node};
  const JsonShape root{Kind::kObject, {{"items", &items}}, nullptr};
  // Whitespace, escapes and unkept members inside an item are part of its recorded bytes.
  const std::string first = R"({ "labels" : {"keep/a":"1","drop/b":"2"}, "status":{"x":[1, 2]} })";
  const std::string second = R"({"labels":{"keep/c":"3"}})";
  const std::string text =
      R"({"items":[)" + first + " ,\n" + second + R"(,{}],"other":{"labels":1}})";
  std::vector<std::string_view> sources;
  auto got = parse_json_shaped(text, &root, "x", kMaxJsonDepth, &sources);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got->dump(), R"({"items":[{"labels":{"keep/a":"1"}},{"labels":{"keep/c":"3"}},{}]})");
  ASSERT_EQ(sources.size(), 3u);
  EXPECT_EQ(sources[0], first);
  EXPECT_EQ(sources[1], second);
  EXPECT_EQ(sources[2], "{}");
  for (std::string_view s : sources) {  // each is a view into the text, not a copy
    EXPECT_GE(s.data(), text.data());
    EXPECT_LE(s.data() + s.size(), text.data() + text.size());
  }
  // No `sources`: the same DOM, nothing recorded anywhere.
  EXPECT_EQ(parse_json_shaped(text, &root)->dump(), got->dump());
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
