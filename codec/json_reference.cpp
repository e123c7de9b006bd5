#include "codec/json_reference.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "codec/json_scan.h"

namespace gpushare::codec {
namespace {

using nlohmann::json;

// "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..." ->
// "syntax error ...": the byte offset is given separately.
std::string parser_message(const json::exception& e) {
  std::string_view what = e.what();
  if (auto bracket = what.find("] ");
      bracket != std::string_view::npos && what.starts_with("[json.")) {
    what.remove_prefix(bracket + 2);
  }
  if (what.starts_with("parse error")) {
    if (auto colon = what.find(": "); colon != std::string_view::npos)
      what.remove_prefix(colon + 2);
  }
  return valid_utf8(truncate_for_message(what, 200));
}

// Builds the DOM from SAX events as nlohmann's own DOM parser does (its event loop is
// iterative), refusing an array or object that opens deeper than max_depth, and leaving out
// what the shape (if any) does not keep: a skipped value's events only count its nesting.
class BoundedDomBuilder {
 public:
  BoundedDomBuilder(std::size_t max_depth, const JsonShape* shape)
      : max_depth_(max_depth), root_shape_(shape) {}

  json root;
  bool too_deep = false;
  bool failed = false;
  std::size_t error_byte = 0;
  std::string error;

  bool null() { return put(nullptr); }
  bool boolean(bool value) { return put(value); }
  bool number_integer(json::number_integer_t value) { return put(value); }
  bool number_unsigned(json::number_unsigned_t value) { return put(value); }
  bool number_float(json::number_float_t value, const json::string_t&) { return put(value); }
  bool string(json::string_t& value) { return put(std::move(value)); }
  bool binary(json::binary_t&) {  // never produced by JSON text
    failed = true;
    error = "binary value";
    return false;
  }

  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool key(json::string_t& key) {
    if (skipping_ > 0) return true;
    const Frame& parent = stack_.back();
    if (parent.shape != nullptr) {  // an object with a kObject shape: only what it keeps
      if (!parent.shape->keeps(key, next_shape_)) {
        skip_next_ = true;
        return true;
      }
    } else {
      next_shape_ = nullptr;
    }
    // Duplicate keys: the last one wins, as in nlohmann's parser and Go's encoding/json.
    member_ = &parent.node->get_ref<json::object_t&>()[key];
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool end_array() { return close(); }

  bool parse_error(std::size_t byte, const std::string&, const json::exception& e) {
    failed = true;
    error_byte = byte;
    error = parser_message(e);
    return false;
  }

 private:
  struct Frame {
    json* node;
    const JsonShape* shape;  // kObject for an object, kArray for an array; nullptr: keep all
  };

  // The shape of the value that starts now (nullptr: keep it whole).
  const JsonShape* value_shape() const {
    if (stack_.empty()) return root_shape_;
    const Frame& parent = stack_.back();
    if (parent.node->is_array()) return parent.shape != nullptr ? parent.shape->element : nullptr;
    return next_shape_;
  }
  template <typename Value>
  json* place(Value&& value) {
    if (stack_.empty()) {
      root = json(std::forward<Value>(value));
      return &root;
    }
    json* parent = stack_.back().node;
    if (parent->is_array()) {
      auto& array = parent->get_ref<json::array_t&>();
      array.emplace_back(std::forward<Value>(value));
      return &array.back();
    }
    *member_ = json(std::forward<Value>(value));
    return member_;
  }
  template <typename Value>
  bool put(Value&& value) {
    if (skipping_ > 0) return true;
    if (skip_next_) {
      skip_next_ = false;
      return true;
    }
    place(std::forward<Value>(value));
    return true;
  }
  bool open(json::value_t type) {
    if (stack_.size() + skipping_ >= max_depth_) {
      too_deep = true;
      return false;
    }
    if (skipping_ > 0 || skip_next_) {
      skip_next_ = false;
      ++skipping_;
      return true;
    }
    const JsonShape* shape = value_shape();
    const auto wanted =
        type == json::value_t::object ? JsonShape::Kind::kObject : JsonShape::Kind::kArray;
    if (shape != nullptr && shape->kind != wanted) shape = nullptr;  // kAll, or another type
    stack_.push_back(Frame{place(type), shape});
    return true;
  }
  bool close() {
    if (skipping_ > 0) {
      --skipping_;
      return true;
    }
    stack_.pop_back();
    return true;
  }

  std::size_t max_depth_;
  const JsonShape* root_shape_;
  std::vector<Frame> stack_;
  json* member_ = nullptr;
  const JsonShape* next_shape_ = nullptr;  // for the member whose key came last
  bool skip_next_ = false;                 // the member whose key came last is not kept
  std::size_t skipping_ = 0;               // depth inside a value that is not kept
};

}  // namespace

Result<json> parse_json_reference(std::string_view text, const JsonShape* shape,
                                  std::string_view expected, int max_depth) {
  if (json_scan::only_whitespace(text))
    return Error{"empty body: expected " + std::string(expected)};
  BoundedDomBuilder builder(static_cast<std::size_t>(max_depth < 0 ? 0 : max_depth), shape);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json,
                         /*strict=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {  // not expected: the builder reports errors as values
    return Error{std::string("not JSON: ") + valid_utf8(truncate_for_message(e.what(), 200))};
  }
  if (builder.too_deep) {
    return Error{"JSON nested deeper than " + std::to_string(max_depth) + " levels"};
  }
  if (!ok || builder.failed) {
    return Error{"not JSON at byte " + std::to_string(builder.error_byte) + ": " + builder.error};
  }
  return std::move(builder.root);
}

}  // namespace gpushare::codec
