#include "test/support/json_patch.h"

#include <cstddef>
#include <optional>
#include <utility>

namespace gpushare::testing {
namespace {

using nlohmann::json;

struct PatchError {
  std::string message;
};

[[noreturn]] void fail(std::string message) { throw PatchError{std::move(message)}; }

// RFC 6901 array index: "0" or digits without a leading zero. Nothing else ("-" is handled by
// the caller, "+1", "-1", "01", " 1" are errors).
std::optional<std::size_t> array_index(const std::string& token) {
  if (token.empty() || token.size() > 18) return std::nullopt;
  if (token.size() > 1 && token[0] == '0') return std::nullopt;
  std::size_t value = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  return value;
}

std::vector<std::string> tokens_of(const std::string& pointer, const char* member) {
  std::vector<std::string> tokens;
  std::string error;
  if (!parse_json_pointer(pointer, tokens, error)) fail(std::string(member) + " " + error);
  return tokens;
}

// The container that holds the last token: every token but the last must resolve.
json& parent_of(json& document, const std::vector<std::string>& tokens) {
  json* node = &document;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    if (node->is_object()) {
      auto it = node->find(token);
      if (it == node->end()) fail("parent does not exist: no member \"" + token + "\"");
      node = &*it;
    } else if (node->is_array()) {
      auto index = array_index(token);
      if (!index) fail("parent does not exist: \"" + token + "\" is not an array index");
      if (*index >= node->size()) fail("parent does not exist: index " + token + " out of range");
      node = &(*node)[*index];
    } else {
      fail("parent does not exist: \"" + token + "\" looked up in a " +
           std::string(node->type_name()));
    }
  }
  if (!node->is_object() && !node->is_array()) {
    fail("parent is a " + std::string(node->type_name()) + ", not an object or array");
  }
  return *node;
}

json& resolve(json& document, const std::vector<std::string>& tokens) {
  json& parent = parent_of(document, tokens);
  const std::string& last = tokens.back();
  if (parent.is_object()) {
    auto it = parent.find(last);
    if (it == parent.end()) fail("path does not exist: no member \"" + last + "\"");
    return *it;
  }
  auto index = array_index(last);
  if (!index) fail("path does not exist: \"" + last + "\" is not an array index");
  if (*index >= parent.size()) fail("path does not exist: index " + last + " out of range");
  return parent[*index];
}

void add(json& document, const std::vector<std::string>& tokens, json value) {
  json& parent = parent_of(document, tokens);
  const std::string& last = tokens.back();
  if (parent.is_object()) {
    parent[last] = std::move(value);  // replaces an existing member (RFC 6902 4.1)
    return;
  }
  if (last == "-") {
    parent.push_back(std::move(value));
    return;
  }
  auto index = array_index(last);
  if (!index) fail("\"" + last + "\" is not an array index");
  if (*index > parent.size())
    fail("index " + last + " out of range (size " + std::to_string(parent.size()) + ")");
  parent.insert(parent.begin() + static_cast<std::ptrdiff_t>(*index), std::move(value));
}

json remove(json& document, const std::vector<std::string>& tokens) {
  json& parent = parent_of(document, tokens);
  const std::string& last = tokens.back();
  if (parent.is_object()) {
    auto it = parent.find(last);
    if (it == parent.end()) fail("path does not exist: no member \"" + last + "\"");
    json removed = std::move(*it);
    parent.erase(it);
    return removed;
  }
  auto index = array_index(last);
  if (!index) fail("\"" + last + "\" is not an array index");
  if (*index >= parent.size()) fail("path does not exist: index " + last + " out of range");
  json removed = std::move(parent[*index]);
  parent.erase(parent.begin() + static_cast<std::ptrdiff_t>(*index));
  return removed;
}

const std::string& string_member(const json& op, const char* key) {
  auto it = op.find(key);
  if (it == op.end()) fail(std::string("missing \"") + key + "\"");
  if (!it->is_string()) fail(std::string("\"") + key + "\" is not a string");
  return it->get_ref<const std::string&>();
}

const json& value_member(const json& op) {
  auto it = op.find("value");
  if (it == op.end()) fail("missing \"value\"");
  return *it;
}

bool is_prefix(const std::vector<std::string>& prefix, const std::vector<std::string>& tokens) {
  if (prefix.size() > tokens.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (prefix[i] != tokens[i]) return false;
  }
  return true;
}

void apply_one(json& document, const json& op) {
  if (!op.is_object()) fail("operation is a " + std::string(op.type_name()) + ", not an object");
  const std::string& name = string_member(op, "op");
  auto path = tokens_of(string_member(op, "path"), "path");
  if (name == "add") {
    add(document, path, value_member(op));
  } else if (name == "remove") {
    remove(document, path);
  } else if (name == "replace") {
    const json& value = value_member(op);
    resolve(document, path) = value;
  } else if (name == "move") {
    auto from = tokens_of(string_member(op, "from"), "from");
    if (from == path) {
      resolve(document, from);  // must exist; no change
      return;
    }
    if (is_prefix(from, path))
      fail("\"from\" is a proper prefix of \"path\" (moving into a child of itself)");
    json value = remove(document, from);
    add(document, path, std::move(value));
  } else if (name == "copy") {
    auto from = tokens_of(string_member(op, "from"), "from");
    json value = resolve(document, from);
    add(document, path, std::move(value));
  } else if (name == "test") {
    const json& value = value_member(op);
    if (resolve(document, path) != value) fail("test failed: value differs");
  } else {
    fail("unknown op \"" + name + "\"");
  }
}

}  // namespace

bool parse_json_pointer(std::string_view pointer, std::vector<std::string>& tokens,
                        std::string& error) {
  tokens.clear();
  if (pointer.empty()) {
    error = "\"\" addresses the whole document, which kube-apiserver's json-patch does not support";
    return false;
  }
  if (pointer.front() != '/') {
    error = "\"" + std::string(pointer) + "\" does not start with '/'";
    return false;
  }
  std::string token;
  for (std::size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    char c = pointer[i];
    if (c == '~') {
      if (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1')) {
        error = "\"" + std::string(pointer) + "\": '~' not followed by '0' or '1'";
        return false;
      }
      token += pointer[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      token += c;
    }
  }
  return true;
}

PatchOutcome apply_json_patch(const json& document, const json& patch) {
  PatchOutcome outcome;
  if (!patch.is_array()) {
    outcome.error = "patch is a " + std::string(patch.type_name()) + ", not an array of operations";
    return outcome;
  }
  json working = document;
  for (std::size_t i = 0; i < patch.size(); ++i) {
    try {
      apply_one(working, patch[i]);
    } catch (const PatchError& e) {
      std::string label = "op " + std::to_string(i);
      if (patch[i].is_object()) {
        auto op = patch[i].find("op");
        auto path = patch[i].find("path");
        if (op != patch[i].end() && op->is_string() && path != patch[i].end() &&
            path->is_string()) {
          label += " (" + op->get<std::string>() + " " + path->get<std::string>() + ")";
        }
      }
      outcome.error = label + ": " + e.message;
      return outcome;
    }
  }
  outcome.ok = true;
  outcome.document = std::move(working);
  return outcome;
}

PatchOutcome apply_json_patch(const json& document, std::string_view patch_text) {
  json patch =
      json::parse(patch_text.begin(), patch_text.end(), nullptr, /*allow_exceptions=*/false);
  if (patch.is_discarded()) {
    PatchOutcome outcome;
    outcome.error = "patch is not JSON";
    return outcome;
  }
  return apply_json_patch(document, patch);
}

}  // namespace gpushare::testing
