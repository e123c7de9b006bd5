// logging/: every line in JSON format is one valid JSON object whatever the message and fields
// hold; text format quotes what would be ambiguous; the level filters.
#include "logging/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace gpushare::logging {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Logging, JsonLinesAreValidJsonWhateverTheyHold) {
  std::ostringstream out;
  ASSERT_TRUE(setup("info", "json", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  const std::string nasty = "quote \" backslash \\ newline \n tab \t bad utf-8 \xff\xfe end";
  info(nasty, {{"pod", "ns/p"}, {"error", nasty}, {"k\"ey", "v"}});
  warn("second");
  debug("filtered out at info");
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 2U) << out.str();
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "info");
  EXPECT_TRUE(first.contains("time"));
  EXPECT_EQ(first["pod"], "ns/p");
  EXPECT_EQ(first["k\"ey"], "v");
  const std::string msg = first["msg"];
  EXPECT_EQ(msg.substr(0, 30), nasty.substr(0, 30));
  EXPECT_NE(msg.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD for the bad bytes
  EXPECT_EQ(nlohmann::json::parse(lines[1])["level"], "warning");
}

TEST(Logging, TextQuotesWhatWouldBeAmbiguous) {
  std::ostringstream out;
  ASSERT_TRUE(setup("debug", "text", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  debug("admission", {{"pod", "ns/p"}, {"detail", "two words"}, {"empty", ""}, {"nl", "a\nb"}});
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 1U) << out.str();
  EXPECT_NE(lines[0].find(" debug admission pod=ns/p detail=\"two words\" empty=\"\" nl=\"a\\nb\""),
            std::string::npos)
      << lines[0];
}

TEST(Logging, UnknownLevelOrFormatIsRefused) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  EXPECT_FALSE(setup("loud", "json", sink));
  EXPECT_FALSE(setup("info", "xml", sink));
  EXPECT_TRUE(setup("off", "text", sink));
}

}  // namespace
}  // namespace gpushare::logging
