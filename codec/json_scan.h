// The byte-level half of codec's fast JSON parser: validating scanners for strings, numbers,
// literals and whole values that allocate nothing, so that the parts of a body a JsonShape drops
// cost one pass over their bytes (POST /mutate skips most of a pod: env, probes, managedFields).
// The grammar is nlohmann's strict one (RFC 8259, RFC 3629 UTF-8), so that the fast parser
// accepts exactly what codec/json_reference.h accepts; test/fuzz/fuzz_json_shaped.cpp checks it.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace gpushare::codec::json_scan {

// What a failed scan met: bad bytes, or an array/object opened deeper than max_depth.
enum class Failure { kNone, kInvalid, kTooDeep };

inline const char* skip_whitespace(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  return p;
}

// Nothing but JSON's four whitespace bytes (an empty body, for the "empty body" error).
inline bool only_whitespace(std::string_view text) {
  const char* end = text.data() + text.size();
  return skip_whitespace(text.data(), end) == end;
}

// `p` is just after a string's opening quote. Returns the byte after its closing quote, or
// nullptr when the string is unterminated, holds a control character, a bad escape, a lone
// surrogate escape or ill-formed UTF-8. `escaped` is set when a backslash occurs, i.e. when the
// raw bytes between the quotes are not already the decoded value.
const char* skip_string(const char* p, const char* end, bool& escaped);

// The value of a string body that skip_string accepted and found escaped, appended to `out`.
void decode_escaped(std::string_view body, std::string& out);

// A number token starting at `p`, per RFC 8259 (no leading zeros, no '+', digits on both sides
// of '.'). Returns its end or nullptr. `integral`: no fraction nor exponent. `may_overflow`:
// large enough that strtod could reach infinity, which nlohmann refuses ("number overflow").
const char* skip_number(const char* p, const char* end, bool& integral, bool& may_overflow);

// The number as nlohmann stores it: an integral token that fits int64 (negative) or uint64
// (otherwise) as such, anything else as strtod's double in the C locale. False when the double
// is infinite, which nlohmann refuses.
bool number_value(std::string_view token, bool integral, nlohmann::json& out);
// Whether number_value would refuse the token, without building anything.
bool number_is_finite(std::string_view token);

// "true", "false" or "null" at `p`: its end, or nullptr.
const char* skip_literal(const char* p, const char* end);

// Skips one whole value starting at `p` (whitespace before it already skipped), validating it as
// the parser would, `depth` arrays/objects deep already. Returns its end, or nullptr with
// `failure` set. Iterative: nesting is bounded by max_depth only, never by the stack.
const char* skip_value(const char* p, const char* end, std::size_t depth, std::size_t max_depth,
                       Failure& failure);

}  // namespace gpushare::codec::json_scan
