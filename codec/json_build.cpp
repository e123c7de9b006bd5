#include "codec/json_build.h"

#include <string>
#include <vector>

namespace gpushare::codec {
namespace {

using json_scan::Failure;
using nlohmann::json;

// An array or object being built, with the shape its children take their own from.
struct Frame {
  json* node;
  const JsonShape* shape;  // kObject for an object, kArray for an array; nullptr: keep all
  bool object;
  const char* start;  // its opening bracket, for JsonShape::record_source
};

class Builder {
 public:
  Builder(std::string_view text, std::size_t max_depth, std::vector<std::string_view>* sources)
      : p_(text.data()),
        end_(text.data() + text.size()),
        max_depth_(max_depth),
        sources_(sources) {}

  Failure run(const JsonShape* root_shape, json& root);

 private:
  // A scalar at p_ into `target`; false when invalid.
  bool scalar(json& target);
  // The key at p_ (just after its quote): a view of the body, or of key_ when it had escapes.
  bool key(std::string_view& out);
  // Closes the innermost container, p_ just past its closing bracket.
  void pop() {
    const Frame& top = stack_.back();
    if (sources_ != nullptr && top.shape != nullptr && top.shape->record_source)
      sources_->emplace_back(top.start, static_cast<std::size_t>(p_ - top.start));
    stack_.pop_back();
  }

  const char* p_;
  const char* end_;
  std::size_t max_depth_;
  std::vector<std::string_view>* sources_;  // where record_source values go; may be nullptr
  std::vector<Frame> stack_;
  std::string key_;  // decoded key, reused
};

bool Builder::scalar(json& target) {
  const char c = *p_;
  if (c == '"') {
    const char* body = p_ + 1;
    bool escaped = false;
    const char* after = json_scan::skip_string(body, end_, escaped);
    if (after == nullptr) return false;
    const std::string_view raw(body, static_cast<std::size_t>(after - 1 - body));
    if (escaped) {
      std::string value;
      json_scan::decode_escaped(raw, value);
      target = std::move(value);
    } else {
      target = std::string(raw);
    }
    p_ = after;
    return true;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    bool integral = false, may_overflow = false;
    const char* after = json_scan::skip_number(p_, end_, integral, may_overflow);
    if (after == nullptr ||
        !json_scan::number_value(std::string_view(p_, static_cast<std::size_t>(after - p_)),
                                 integral, target)) {
      return false;
    }
    p_ = after;
    return true;
  }
  const char* after = json_scan::skip_literal(p_, end_);
  if (after == nullptr) return false;
  if (c == 't') {
    target = true;
  } else if (c == 'f') {
    target = false;
  } else {
    target = nullptr;
  }
  p_ = after;
  return true;
}

bool Builder::key(std::string_view& out) {
  bool escaped = false;
  const char* after = json_scan::skip_string(p_, end_, escaped);
  if (after == nullptr) return false;
  out = std::string_view(p_, static_cast<std::size_t>(after - 1 - p_));
  if (escaped) {
    key_.clear();
    json_scan::decode_escaped(out, key_);
    out = key_;
  }
  p_ = after;
  return true;
}

// Iterative, with an explicit stack of kept containers: nesting costs heap, never the C stack.
Failure Builder::run(const JsonShape* root_shape, json& root) {
  // nlohmann skips a UTF-8 byte order mark at the very start.
  if (end_ - p_ >= 3 && std::string_view(p_, 3) == "\xEF\xBB\xBF") p_ += 3;
  json* target = &root;                 // where the next value goes
  const JsonShape* shape = root_shape;  // and the shape it has (nullptr: keep all)
  p_ = json_scan::skip_whitespace(p_, end_);
  for (;;) {
    // A value to keep starts at p_ (whitespace skipped).
    if (p_ == end_) return Failure::kInvalid;
    const char c = *p_;
    bool opened = false;
    if (c == '{' || c == '[') {
      if (stack_.size() >= max_depth_) return Failure::kTooDeep;
      const bool object = c == '{';
      const auto wanted = object ? JsonShape::Kind::kObject : JsonShape::Kind::kArray;
      // A value whose type differs from its shape's kind is kept whole.
      if (shape != nullptr && shape->kind != wanted) shape = nullptr;
      *target = object ? json::value_t::object : json::value_t::array;
      stack_.push_back(Frame{target, shape, object, p_});
      p_ = json_scan::skip_whitespace(p_ + 1, end_);
      if (p_ < end_ && *p_ == (object ? '}' : ']')) {
        ++p_;
        pop();
      } else {
        opened = true;
      }
    } else if (!scalar(*target)) {
      return Failure::kInvalid;
    }

    // Find the next value to keep: the first element/member of what just opened, or the one
    // after the value just ended, closing containers and skipping unkept members on the way.
    bool first = opened;
    for (;;) {
      if (stack_.empty()) {
        p_ = json_scan::skip_whitespace(p_, end_);
        // Trailing garbage is refused, but nlohmann's lexer reads a NUL byte between tokens as
        // the end of input (a C string's end), so whatever follows one is not looked at.
        return p_ == end_ || *p_ == '\0' ? Failure::kNone : Failure::kInvalid;
      }
      Frame& top = stack_.back();
      if (!first) {
        p_ = json_scan::skip_whitespace(p_, end_);
        if (p_ == end_) return Failure::kInvalid;
        if (*p_ == (top.object ? '}' : ']')) {
          ++p_;
          pop();
          continue;
        }
        if (*p_ != ',') return Failure::kInvalid;
        p_ = json_scan::skip_whitespace(p_ + 1, end_);
      }
      first = false;
      if (!top.object) {
        auto& array = top.node->get_ref<json::array_t&>();
        array.emplace_back();
        target = &array.back();
        shape = top.shape != nullptr ? top.shape->element : nullptr;
        break;
      }
      if (p_ == end_ || *p_ != '"') return Failure::kInvalid;
      ++p_;
      std::string_view name;
      if (!key(name)) return Failure::kInvalid;
      p_ = json_scan::skip_whitespace(p_, end_);
      if (p_ == end_ || *p_ != ':') return Failure::kInvalid;
      p_ = json_scan::skip_whitespace(p_ + 1, end_);
      if (top.shape != nullptr) {
        if (!top.shape->keeps(name, shape)) {  // not kept: validate and move on
          Failure failure = Failure::kNone;
          p_ = json_scan::skip_value(p_, end_, stack_.size(), max_depth_, failure);
          if (p_ == nullptr) return failure;
          continue;
        }
      } else {
        shape = nullptr;
      }
      // Duplicate keys: the last one wins, as in nlohmann's parser and Go's encoding/json.
      target = &top.node->get_ref<json::object_t&>()[std::string(name)];
      break;
    }
  }
}

}  // namespace

json_scan::Failure build_json_shaped(std::string_view text, const JsonShape* shape,
                                     std::size_t max_depth, nlohmann::json& out,
                                     std::vector<std::string_view>* sources) {
  Builder builder(text, max_depth, sources);
  return builder.run(shape, out);
}

}  // namespace gpushare::codec
