// The JSON toolbox every edge shares, each tool written once: a depth-bounded parser, lenient and
// present-only member readers, RFC 6901 token escaping, and a dump that never throws on bad UTF-8.
// Type names in messages come from nlohmann's own json::type_name().
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace gpushare::codec {

// Deepest nesting of arrays/objects accepted in a body. A Pod inside an AdmissionReview needs
// about 14 and a NodeList inside ExtenderArgs about 10; 64 leaves room and keeps hostile bodies
// cheap.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text` as one JSON document (strict RFC 8259, valid UTF-8, no comments), building the
// DOM from nlohmann's iterative SAX parser and stopping at the first array or object nested
// deeper than `max_depth`, so no input can exhaust the stack. Errors: "empty body: expected
// <expected>", "not JSON at byte N: <parser message>", "JSON nested deeper than 64 levels".
// Never throws.
Result<nlohmann::json> parse_json(std::string_view text,
                                  std::string_view expected = "a JSON document",
                                  int max_depth = kMaxJsonDepth);

// Which parts of a document to build. An edge that reads a few fields of a large object (the
// webhook reads ~20 of a pod's hundreds) parses and validates all of it, as above, but builds
// only those: the DOM of the rest was most of an admission's cost.
//   kAll:    keep the value whole;
//   kObject: an object keeps only `members` (each with its own shape);
//   kArray:  an array keeps every element, each with `element`'s shape.
// A value whose JSON type differs from its shape's kind is kept whole, so that decoders report
// a wrong type exactly as they would without a shape.
// record_source: an object or array of this shape also has its bytes, exactly as received,
// appended to parse_json_shaped's `sources` as it ends (the extender echoes whole Node objects
// it read only a few fields of).
// keep_key: a kObject shape also keeps, whole, each member not in `members` for which it says
// yes (a node's labels: the few the extender reads, whatever their number).
struct JsonShape {
  enum class Kind { kAll, kObject, kArray };
  Kind kind = Kind::kAll;
  std::map<std::string, const JsonShape*, std::less<>> members;
  const JsonShape* element = nullptr;
  bool record_source = false;
  bool (*keep_key)(std::string_view key) = nullptr;

  // kObject: whether member `key` is built, and its shape when it is (nullptr: whole). Both
  // parsers ask this, so they keep the same members.
  bool keeps(std::string_view key, const JsonShape*& shape) const {
    if (auto it = members.find(key); it != members.end()) {
      shape = it->second;
      return true;
    }
    shape = nullptr;
    return keep_key != nullptr && keep_key(key);
  }
};
// parse_json, building only what `shape` keeps (nullptr: everything). Errors are the same.
// `sources`, when given, receives views into `text` of the record_source values, in the order
// they end (siblings in document order); it is complete only when the parse succeeds.
Result<nlohmann::json> parse_json_shaped(std::string_view text, const JsonShape* shape,
                                         std::string_view expected = "a JSON document",
                                         int max_depth = kMaxJsonDepth,
                                         std::vector<std::string_view>* sources = nullptr);

// Lenient readers for API objects: a missing member, a null one, or a parent that is not an
// object reads as null / "", because the apiserver omits empty fields and gpushare decodes only
// what it uses. Strict decoders (codec/objects.cpp) check types themselves.
const nlohmann::json& member(const nlohmann::json& object, std::string_view key);
std::string string_member(const nlohmann::json& object, std::string_view key);

// The member `key` of `object`, or nullptr when `object` is not an object or the member is
// absent or null (Go's encoding/json writes null for empty slices and maps).
const nlohmann::json* present_member(const nlohmann::json& object, std::string_view key);

// One RFC 6901 reference token: '~' -> "~0" first, then '/' -> "~1".
std::string escape_pointer_token(std::string_view token);

// Compact serialisation; invalid UTF-8 in strings is replaced by U+FFFD instead of throwing.
std::string dump_json(const nlohmann::json& value);
std::string dump_json(const nlohmann::ordered_json& value);

// Appends `text` as a JSON string, byte for byte what dump_json writes for it. For responses
// written without a DOM (the admission response was 8% of /mutate's CPU as an ordered_json).
void append_json_string(std::string& out, std::string_view text);

// `text` with every ill-formed UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

// At most `max_bytes` of `text`, with "..." when cut (the cut may split a UTF-8 sequence;
// dump_json repairs that).
std::string truncate_for_message(std::string_view text, std::size_t max_bytes);

}  // namespace gpushare::codec
