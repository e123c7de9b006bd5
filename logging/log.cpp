#include "logging/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>

namespace gpushare::logging {

namespace {

std::atomic<bool> g_json{false};

// A JSON string literal; ill-formed UTF-8 becomes U+FFFD rather than an exception or a line
// no log pipeline can parse.
std::string json_string(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Text format: bare when unambiguous, else quoted as JSON would.
std::string text_value(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \"=\n\r\t") == std::string::npos) return v;
  return json_string(v);
}

}  // namespace

bool setup(const std::string& level, const std::string& format, spdlog::sink_ptr sink) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return false;
  if (format != "text" && format != "json") return false;
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("gpushare", std::move(sink));
  spdlog::set_default_logger(logger);
  g_json = format == "json";
  // The message part (%v) is built by write(): for JSON, members after time and level.
  if (g_json) {
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  spdlog::set_level(lvl);
  spdlog::flush_on(spdlog::level::info);
  return true;
}

void write(spdlog::level::level_enum level, std::string_view message, const Fields& fields) {
  if (!spdlog::should_log(level)) return;
  std::string line;
  if (g_json) {
    line = "\"msg\":" + json_string(message);
    for (const auto& [k, v] : fields) line += "," + json_string(k) + ":" + json_string(v);
  } else {
    line = message;
    for (const auto& [k, v] : fields) line += " " + k + "=" + text_value(v);
  }
  spdlog::log(level, "{}", line);
}

}  // namespace gpushare::logging
