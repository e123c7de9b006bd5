// `gpushare simulate` through the CLI (server/simulate_command.cpp): one row per policy, JSON
// with every run, a trace file, a NodeList, and errors that name the flag at fault.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "server/cli.h"
#include "test/support/fixtures.h"
#include "test/unit/server/cli_run.h"

namespace gpushare::server {
namespace {

using ::testing::HasSubstr;

using testing::cli;
using testing::CliRun;

std::filesystem::path temp_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path;
}

TEST(SimulateCommand, TableHasOneRowPerPolicy) {
  const CliRun r = cli({"simulate", "--cluster", "5", "--hours", "0.5", "--seed", "1,2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("5 nodes, 40 GPUs; mix default, load 0.8, 0.5 h, seeds 1,2"));
  EXPECT_THAT(r.out, HasSubstr("(medians over the traces)"));
  for (const char* row : {"\nstatic ", "\non-demand ", "\ngreedy "})
    EXPECT_THAT(r.out, HasSubstr(row));
}

TEST(SimulateCommand, JsonHasEveryRunAndTheMedians) {
  const CliRun r = cli({"simulate", "--cluster", "5", "--hours", "0.5", "--seed", "3,4,5",
                        "--policy", "static,on-demand", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["nodes"], 5);
  ASSERT_EQ(doc["policies"].size(), 2U);
  EXPECT_EQ(doc["policies"][1]["policy"], "on-demand");
  EXPECT_EQ(doc["policies"][1]["runs"].size(), 3U);
  EXPECT_GT(doc["policies"][1]["plannerMs"]["calls"].get<int>(), 0);
  EXPECT_EQ(doc["policies"][0]["plannerMs"]["calls"], 0);
  for (const auto& p : doc["policies"]) {
    for (const auto& run : p["runs"]) {
      EXPECT_EQ(run["served"].get<int>() + run["waiting"].get<int>(), run["pods"].get<int>());
    }
  }
}

TEST(SimulateCommand, TraceFileAndNodeList) {
  // Two real node objects (fixtures/extender/nodes): an H100 at all-balanced and an RTX 4090 at
  // 4 MPS replicas, as a NodeList; two pods, one of a profile all-balanced lacks.
  nlohmann::json list = {{"kind", "NodeList"}, {"items", nlohmann::json::array()}};
  for (const char* f : {"extender/nodes/h100-mixed.json", "extender/nodes/rtx4090-mps.json"})
    list["items"].push_back(nlohmann::json::parse(gpushare::testing::read_fixture(f)));
  const auto nodes = temp_file("gpushare-sim-nodes.json", list.dump());
  const auto trace = temp_file("gpushare-sim-trace.csv",
                               "arrival_s,kind,value,runtime_s,priority\n"
                               "5,mig,1g.10gb,600,0\n"
                               "6,mig,7g.80gb,600,0\n");
  const CliRun r = cli(
      {"simulate", "--trace", trace.string(), "--nodes", nodes.string(), "--hours", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["nodes"], 2);
  EXPECT_EQ(doc["policies"][0]["runs"][0]["served"], 1);  // static: no 7g in all-balanced
  EXPECT_EQ(doc["policies"][0]["runs"][0]["waitedOver5MinByRequest"],
            nlohmann::json({{"mig 7g.80gb", 1}}));
  // On demand: the 1g.10gb pod runs on the H100 until it ends, then the H100 is idle and is
  // relaid out for the 7g.
  EXPECT_EQ(doc["policies"][1]["runs"][0]["served"], 2);
  EXPECT_EQ(doc["policies"][1]["runs"][0]["reconfigurations"], 1);
  // Both at once is refused.
  const CliRun both = cli({"simulate", "--nodes", nodes.string(), "--cluster", "3"});
  EXPECT_EQ(both.code, 2);
  EXPECT_THAT(both.err, HasSubstr("give --nodes or --cluster, not both"));
  std::filesystem::remove(trace);
  std::filesystem::remove(nodes);
}

TEST(SimulateCommand, BadFlagsSayWhich) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"simulate", "--policy", "magic"}, "unknown policy \"magic\""},
      {{"simulate", "--load", "-1"}, "--load must be a number in [0.01, 10], got \"-1\""},
      {{"simulate", "--cluster", "many"}, "--cluster must be a number"},
      {{"simulate", "--seed", "1,x"}, "--seed takes integers separated by commas, got \"x\""},
      {{"simulate", "--mix", "odd"}, "unknown mix \"odd\""},
      {{"simulate", "--trace", "/nonexistent/trace.csv"}, "cannot read /nonexistent/trace.csv"},
      {{"simulate", "extra"}, "simulate takes no positional argument"},
  };
  for (const auto& [args, message] : cases) {
    const CliRun r = cli(args);
    EXPECT_EQ(r.code, 2) << args.back();
    EXPECT_THAT(r.err, HasSubstr(message)) << args.back();
  }
}

}  // namespace
}  // namespace gpushare::server
