// `gpushare plan` on test/fixtures/plan/*.json gives *.expected.json, byte for byte, and the
// same bytes when the input arrays are shuffled (CONTRACT.md section 5: same input, same plan).
// Runs the real binary (unit_server depends on it), so the CLI's decoding and rendering are
// covered along with the planner.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "test/support/fixtures.h"

namespace {

std::string run_plan_binary(const std::string& input_path) {
  const std::string cmd = std::string(GPUSHARE_BINARY) + " plan " + input_path + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return "";
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe.get()))
    out.append(buf.data(), n);
  return out;
}

TEST(PlanFixtures, GoldenOutputs) {
  const std::filesystem::path dir = gpushare::testing::fixture_path("plan");
  std::vector<std::filesystem::path> inputs;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".json" && name.find(".expected.") == std::string::npos)
      inputs.push_back(entry.path());
  }
  std::sort(inputs.begin(), inputs.end());
  ASSERT_GE(inputs.size(), 6U);
  std::mt19937 rng(7);
  for (const auto& path : inputs) {
    const std::string stem = path.stem().string();
    SCOPED_TRACE(stem);
    const std::string expected = gpushare::testing::read_fixture("plan/" + stem + ".expected.json");
    const std::string got = run_plan_binary(path.string());
    EXPECT_EQ(got, expected);
    // Shuffled arrays, same bytes.
    nlohmann::json doc =
        nlohmann::json::parse(gpushare::testing::read_fixture("plan/" + stem + ".json"));
    for (const char* key : {"nodes", "pods", "configMaps"}) {
      if (doc.contains(key) && doc[key].is_array())
        std::shuffle(doc[key].begin(), doc[key].end(), rng);
    }
    const std::filesystem::path shuffled =
        std::filesystem::temp_directory_path() / ("gpushare-plan-" + stem + "-shuffled.json");
    {
      std::FILE* f = std::fopen(shuffled.string().c_str(), "wb");
      ASSERT_NE(f, nullptr);
      const std::string text = doc.dump();
      std::fwrite(text.data(), 1, text.size(), f);
      std::fclose(f);
    }
    EXPECT_EQ(run_plan_binary(shuffled.string()), expected) << "shuffled";
    std::filesystem::remove(shuffled);
  }
}

}  // namespace
