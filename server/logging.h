// Structured logs on spdlog: one line per event with key/value fields, as text
// (`msg key=value`) or as one JSON object per line, chosen by config.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <utility>
#include <vector>

namespace gpushare::server {

using Fields = std::vector<std::pair<std::string, std::string>>;

// Installs the process-wide logger (stderr). Returns false for an unknown level/format.
bool setup_logging(const std::string& level, const std::string& format);

void log(spdlog::level::level_enum level, const std::string& message, const Fields& fields = {});
inline void log_info(const std::string& m, const Fields& f = {}) { log(spdlog::level::info, m, f); }
inline void log_warn(const std::string& m, const Fields& f = {}) { log(spdlog::level::warn, m, f); }
inline void log_error(const std::string& m, const Fields& f = {}) { log(spdlog::level::err, m, f); }
inline void log_debug(const std::string& m, const Fields& f = {}) {
  log(spdlog::level::debug, m, f);
}

}  // namespace gpushare::server
