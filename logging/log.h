// The one logging facade every folder writes through: one line per event, a message and
// key/value fields, as text (`msg key=value`) or as one JSON object per line, chosen once by the
// server's config. Nothing else calls spdlog directly, so a JSON line is always valid JSON
// whatever a message or a field holds (quotes, newlines, bad UTF-8).
#pragma once

#include <spdlog/common.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpushare::logging {

using Fields = std::vector<std::pair<std::string, std::string>>;

// Installs the process-wide logger. `sink` defaults to stderr (tests pass their own). Returns
// false for an unknown level or format ("text" or "json").
bool setup(const std::string& level, const std::string& format, spdlog::sink_ptr sink = nullptr);

void write(spdlog::level::level_enum level, std::string_view message, const Fields& fields = {});
inline void info(std::string_view m, const Fields& f = {}) { write(spdlog::level::info, m, f); }
inline void warn(std::string_view m, const Fields& f = {}) { write(spdlog::level::warn, m, f); }
inline void error(std::string_view m, const Fields& f = {}) { write(spdlog::level::err, m, f); }
inline void debug(std::string_view m, const Fields& f = {}) { write(spdlog::level::debug, m, f); }

}  // namespace gpushare::logging
