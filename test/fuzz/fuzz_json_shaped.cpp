// codec's fast JSON parser (codec/json_build.h) against nlohmann's, through the depth-bounded
// reference (codec/json_reference.h): the same documents accepted, for the same reason (syntax or
// depth), and the same DOM built, with no shape and with a shape that keeps some members. Any
// difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "codec/json.h"
#include "codec/json_build.h"
#include "codec/json_reference.h"

using namespace gpushare;
using codec::JsonShape;

namespace {

void check(std::string_view text, const JsonShape* shape, int max_depth) {
  nlohmann::json fast;
  const auto failure =
      codec::build_json_shaped(text, shape, static_cast<std::size_t>(max_depth), fast);
  const auto reference = codec::parse_json_reference(text, shape, "x", max_depth);
  const bool too_deep = !reference.ok() && reference.error().starts_with("JSON nested deeper than");
  const bool agree = reference.ok() ? failure == codec::json_scan::Failure::kNone &&
                                          fast.dump() == reference->dump()
                     : too_deep ? failure == codec::json_scan::Failure::kTooDeep
                                : failure == codec::json_scan::Failure::kInvalid;
  if (!agree) {
    std::fprintf(stderr, "fast: %d, reference: %s\n", static_cast<int>(failure),
                 reference.ok() ? reference->dump().c_str() : reference.error().c_str());
    std::abort();
  }
  // The public door answers exactly as the reference, errors included.
  const auto got = codec::parse_json_shaped(text, shape, "x", max_depth);
  if (got.ok() != reference.ok() ||
      (got.ok() ? got->dump() != reference->dump() : got.error() != reference.error())) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using Kind = JsonShape::Kind;
  static const JsonShape all{};
  static const JsonShape item{Kind::kObject, {{"name", &all}, {"b", &all}}, nullptr};
  static const JsonShape items{Kind::kArray, {}, &item};
  static const JsonShape root{Kind::kObject, {{"a", &items}, {"b", &all}}, nullptr};
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // nlohmann's own verdict, unbounded: where the fast parser accepts, so must it.
  nlohmann::json fast;
  if (codec::build_json_shaped(text, nullptr, codec::kMaxJsonDepth, fast) ==
          codec::json_scan::Failure::kNone &&
      !nlohmann::json::accept(text)) {
    std::abort();
  }
  check(text, nullptr, codec::kMaxJsonDepth);
  check(text, &root, codec::kMaxJsonDepth);
  check(text, &root, 3);  // a small limit, so the depth check is reached in short inputs
  return 0;
}
