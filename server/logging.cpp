#include "server/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>

namespace gpushare::server {

namespace {

std::atomic<bool> g_json{false};

std::string json_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string text_value(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \"=\n\t") == std::string::npos) return v;
  return "\"" + json_escape(v) + "\"";
}

}  // namespace

bool setup_logging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return false;
  if (format != "text" && format != "json") return false;
  auto logger = spdlog::stderr_logger_mt("gpushare");
  spdlog::set_default_logger(logger);
  g_json = format == "json";
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

void log(spdlog::level::level_enum level, const std::string& message, const Fields& fields) {
  if (!spdlog::should_log(level)) return;
  std::string line;
  if (g_json) {
    line = "\"msg\":\"" + json_escape(message) + "\"";
    for (const auto& [k, v] : fields)
      line += ",\"" + json_escape(k) + "\":\"" + json_escape(v) + "\"";
  } else {
    line = message;
    for (const auto& [k, v] : fields) line += " " + k + "=" + text_value(v);
  }
  spdlog::log(level, "{}", line);
}

}  // namespace gpushare::server
