// JSON helpers shared by the webhook's decoder and encoder: a depth-bounded parse, RFC 6901
// pointer escaping and a dump that never throws on bad UTF-8.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "policy/result.h"

namespace gpushare::webhook {

// Deepest nesting of arrays/objects accepted in a request body. A Pod inside an
// AdmissionReview needs about 14; 64 leaves room and keeps hostile bodies cheap.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text` as one JSON document (strict RFC 8259, valid UTF-8, no comments), building the
// DOM from nlohmann's iterative SAX parser and stopping at the first array or object nested
// deeper than `max_depth`, so no input can exhaust the stack. Errors: "empty body: ...",
// "not JSON at byte N: <parser message>", "JSON nested deeper than 64 levels". Never throws.
Result<nlohmann::json> parse_json_bounded(std::string_view text, int max_depth = kMaxJsonDepth);

// One RFC 6901 reference token: '~' -> "~0" first, then '/' -> "~1".
std::string escape_pointer_token(std::string_view token);

// Compact serialisation; invalid UTF-8 in strings is replaced by U+FFFD instead of throwing.
std::string dump_json(const nlohmann::json& value);
std::string dump_json(const nlohmann::ordered_json& value);

// `text` with every ill-formed UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

// "string", "number", "object", ... for messages.
std::string_view json_type_name(const nlohmann::json& value);

// At most `max_bytes` of `text`, with "..." when cut (the cut may split a UTF-8 sequence;
// dump_json repairs that).
std::string truncate_for_message(std::string_view text, std::size_t max_bytes);

}  // namespace gpushare::webhook
