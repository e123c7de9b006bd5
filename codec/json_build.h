// The fast half of parse_json_shaped: one pass over the body that builds, as nlohmann::json, only
// what a JsonShape keeps and skips the rest with codec/json_scan.h. It answers only yes or no;
// parse_json_shaped asks codec/json_reference.h for the words of a refusal.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "codec/json.h"
#include "codec/json_scan.h"

namespace gpushare::codec {

// Parses `text` (the whole of it, after an optional UTF-8 BOM, as nlohmann allows) into `out`,
// building only what `shape` keeps (nullptr: everything). kNone on success. `sources` (may be
// nullptr) receives the bytes of each value whose shape has record_source, as parse_json_shaped
// says.
json_scan::Failure build_json_shaped(std::string_view text, const JsonShape* shape,
                                     std::size_t max_depth, nlohmann::json& out,
                                     std::vector<std::string_view>* sources = nullptr);

}  // namespace gpushare::codec
