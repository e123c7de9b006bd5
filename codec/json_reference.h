// parse_json_shaped as it was before codec/json_build.h: nlohmann's SAX parser with a depth-bounded
// DOM builder. It words parse_json_shaped's refusals ("not JSON at byte N: ...", nested too
// deep), and the unit and fuzz tests hold the fast parser to its answers.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/result.h"
#include "codec/json.h"

namespace gpushare::codec {

// Same contract and errors as parse_json_shaped (codec/json.h).
Result<nlohmann::json> parse_json_reference(std::string_view text, const JsonShape* shape,
                                            std::string_view expected = "a JSON document",
                                            int max_depth = kMaxJsonDepth);

}  // namespace gpushare::codec
