#include "codec/json.h"

#include <algorithm>
#include <utility>

#include "codec/json_build.h"
#include "codec/json_reference.h"
#include "codec/json_scan.h"

namespace gpushare::codec {

using nlohmann::json;

Result<json> parse_json_shaped(std::string_view text, const JsonShape* shape,
                               std::string_view expected, int max_depth,
                               std::vector<std::string_view>* sources) {
  if (json_scan::only_whitespace(text))
    return Error{"empty body: expected " + std::string(expected)};
  json root;
  if (build_json_shaped(text, shape, static_cast<std::size_t>(max_depth < 0 ? 0 : max_depth), root,
                        sources) == json_scan::Failure::kNone) {
    return root;  // moved: C++20 treats a returned local as an rvalue
  }
  // The fast parser says only no. Refusals are rare (a broken client, a hostile body) and cost
  // one more linear pass, so nlohmann's parser reads the body again and words the error as it
  // always has: the byte, its message, or the depth, whichever it meets first.
  return parse_json_reference(text, shape, expected, max_depth);
}

Result<json> parse_json(std::string_view text, std::string_view expected, int max_depth) {
  return parse_json_shaped(text, nullptr, expected, max_depth);
}

const json& member(const json& object, std::string_view key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string string_member(const json& object, std::string_view key) {
  const json& v = member(object, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

const json* present_member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size() + 4);
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string dump_json(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void append_json_string(std::string& out, std::string_view text) {
  // Printable ASCII other than '"' and '\\' is written as itself; anything else (escapes,
  // control characters, UTF-8 and its repair) is left to nlohmann's serializer.
  const bool plain = std::all_of(text.begin(), text.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
  });
  if (!plain) {
    out += dump_json(json(std::string(text)));
    return;
  }
  out += '"';
  out += text;
  out += '"';
}

std::string valid_utf8(std::string_view text) {
  bool ascii = true;
  for (char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return std::string(text);
  // nlohmann's serializer knows UTF-8 well; let it do the repair, then read the string back.
  return json::parse(dump_json(json(std::string(text)))).get<std::string>();
}

std::string truncate_for_message(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return std::string(text.substr(0, max_bytes)) + "...";
}

}  // namespace gpushare::codec
