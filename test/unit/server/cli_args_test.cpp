// The command line's grammar (server/cli_args.cpp) and the exit codes run_cli gives for it: a
// flag a subcommand does not take, a switch with a value, a single flag twice or a positional
// argument too many is refused (exit 2) with the subcommand's usage line, never ignored.
#include "server/cli_args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "server/cli.h"
#include "test/unit/server/cli_run.h"

namespace gpushare::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Refused {
  std::vector<std::string> argv;
  std::string message;  // a part of the error
};

TEST(CliArgs, RefusesWhatTheSubcommandDoesNotTake) {
  const std::vector<Refused> cases = {
      {{"mutate", "--dns", "x", "pod.json"},
       "mutate takes no flag --dns; usage: gpushare mutate [--catalog FILE]"},
      {{"plan", "--nodes", "/nonexistent"}, "plan takes no flag --nodes"},
      {{"certs", "--service", "s", "--namespace", "n", "--out", "d", "--catalog", "c"},
       "certs takes no flag --catalog"},
      {{"serve", "--config", "c.yaml", "--confg", "d.yaml"}, "serve takes no flag --confg"},
      {{"simulate", "--json=yes"}, "flag --json takes no value; usage: gpushare simulate"},
      {{"filter", "--nodes", "a.json", "--nodes", "b.json"}, "flag --nodes given twice"},
      {{"mutate", "a.json", "b.json"},
       "mutate takes at most one input (FILE or -), got \"b.json\""},
      {{"serve", "--config", "c.yaml", "extra"}, "serve takes no positional argument"},
      {{"mutate", "--catalog"}, "flag --catalog needs a value"},
      {{"--catalog", "c.yaml"}, "no subcommand given"},
      {{"mutant"}, "unknown command \"mutant\""},
      {{"serve", "--no-such-flag"}, "serve takes no flag --no-such-flag"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.argv));
    const auto parsed = parse_args(c.argv);
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(parsed.error(), HasSubstr(c.message));
  }
}

TEST(CliArgs, TakesWhatTheSubcommandTakes) {
  struct Accepted {
    std::vector<std::string> argv;
    std::string flag;
    std::vector<std::string> values;
    std::vector<std::string> positional;
  };
  const std::vector<Accepted> cases = {
      {{"mutate", "--nodes", "n.json", "-"}, "nodes", {"n.json"}, {"-"}},
      {{"--catalog=c.yaml", "plan", "in.json"}, "catalog", {"c.yaml"}, {"in.json"}},
      {{"certs", "--service", "s", "--namespace", "n", "--out", "d", "--ip", "1.2.3.4", "--ip",
        "::1"},
       "ip",
       {"1.2.3.4", "::1"},
       {}},
      {{"simulate", "--json", "--cluster", "5"}, "json", {"true"}, {}},
      {{"serve", "--config", "c.yaml", "--listen=:8443"}, "listen", {":8443"}, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.argv));
    const auto parsed = parse_args(c.argv);
    ASSERT_TRUE(parsed.ok()) << parsed.error();
    EXPECT_EQ(parsed->many(c.flag), c.values);
    EXPECT_EQ(parsed->positional, c.positional);
  }
}

TEST(CliArgs, HelpAndVersionAnywhere) {
  for (const std::vector<std::string>& argv : {std::vector<std::string>{"--help"},
                                               {"mutate", "--help"},
                                               {"plan", "--nodes", "x", "--version"}}) {
    const auto parsed = parse_args(argv);
    ASSERT_TRUE(parsed.ok()) << parsed.error();
  }
}

TEST(CliArgs, EveryFlagHasOneKind) {
  // parse_args decides whether "--x" swallows the next argument before it knows the subcommand,
  // so a flag must take a value in every subcommand or in none.
  for (const auto& a : command_specs()) {
    for (const auto& b : command_specs()) {
      for (const auto& fa : a.flags) {
        for (const auto& fb : b.flags) {
          if (fa.name == fb.name) {
            EXPECT_EQ(fa.takes_value, fb.takes_value)
                << fa.name << " in " << a.name << "/" << b.name;
          }
        }
      }
    }
  }
}

using testing::cli;
using testing::CliRun;

TEST(Cli, MisplacedFlagExitsTwoWithTheUsageLine) {
  const CliRun r = cli({"mutate", "--dns", "x", "/nonexistent/pod.json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, StartsWith("gpushare: mutate takes no flag --dns;"));
  EXPECT_THAT(r.err, HasSubstr("usage: gpushare mutate [--catalog FILE] [--nodes FILE] [FILE|-]"));
  EXPECT_EQ(r.out, "");
  // plan --nodes used to be ignored: the plan came from the input alone.
  const CliRun plan = cli({"plan", "--nodes", "/nonexistent", "-"});
  EXPECT_EQ(plan.code, 2);
  EXPECT_THAT(plan.err, HasSubstr("takes no flag --nodes"));
}

TEST(Cli, PlanRejectsUnreadableArrivals) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"projectedMpsArrivals": {"lots": 3}})", "projectedMpsArrivals: \"lots\" is no gpu"},
      {R"({"projectedMigArrivals": [1]})", "projectedMigArrivals: expected an object"},
      {R"({"projectedMigArrivals": {"1g.10gb": 3}})", "\"1g.10gb\" is no MIG resource"},
      {R"({"projectedMigArrivals": {"nvidia.com/mig-": 3}})", "is no MIG resource"},
      {R"({"projectedMigArrivals": {"nvidia.com/mig-1g.10gb": -1}})",
       "projectedMigArrivals[\"nvidia.com/mig-1g.10gb\"]: expected a pod count >= 0, got -1"},
      {R"({"recentMpsArrivals": [1]})", "recentMpsArrivals: expected an object"},
      {R"({"recentMpsArrivals": {"lots": 3}})", "\"lots\" is no gpu-memory quantity"},
      {R"({"recentMpsArrivals": {"-4Gi": 3}})", "\"-4Gi\" is no gpu-memory quantity"},
      {R"({"recentMpsArrivals": {"4Gi": -1}})", "expected a pod count >= 0, got -1"},
      {R"({"recentMpsArrivals": {"4Gi": "2"}})", "expected a pod count >= 0, got \"2\""},
  };
  for (const auto& [input, message] : cases) {
    SCOPED_TRACE(input);
    const CliRun r = cli({"plan", "-"}, input);
    EXPECT_EQ(r.code, 2);
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_EQ(r.out, "");
  }
  const CliRun ok = cli({"plan", "-"}, R"({"recentMpsArrivals": {"4Gi": 2, "0": 1},
      "projectedMigArrivals": {"nvidia.com/mig-1g.10gb": 40}})");
  EXPECT_EQ(ok.code, 0) << ok.err;
}

TEST(Cli, HelpVersionAndNothing) {
  EXPECT_EQ(cli({"--help"}).code, 0);
  EXPECT_THAT(cli({"help"}).out, HasSubstr("Usage:"));
  EXPECT_EQ(cli({"--version"}).code, 0);
  EXPECT_THAT(cli({"--version"}).out, StartsWith("gpushare "));
  const CliRun none = cli({});
  EXPECT_EQ(none.code, 2);
  EXPECT_THAT(none.out, HasSubstr("Usage:"));
}

}  // namespace
}  // namespace gpushare::server

namespace gpushare::server {
namespace {

// certs writes files (--out) or a Secret (--secret), never both; the in-cluster flags need
// --secret, and a bad margin is refused before the cluster is contacted.
TEST(Cli, CertsFlagsBelongToOneMode) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"certs", "--service", "s", "--namespace", "n", "--out", "d", "--secret", "x"},
       "certs takes --out or --secret, not both"},
      {{"certs", "--service", "s", "--namespace", "n", "--out", "d", "--webhook", "w"},
       "--webhook needs --secret"},
      {{"certs", "--service", "s", "--namespace", "n", "--out", "d", "--remove"},
       "--remove needs --secret"},
      {{"certs", "--service", "s", "--namespace", "n"},
       "certs needs --service, --namespace and --out"},
      {{"certs", "--secret", "x", "--remove"}, "certs --secret needs --namespace"},
      {{"certs", "--namespace", "n", "--secret", "x", "--kubeconfig", "/nonexistent/kubeconfig"},
       "cannot read \"/nonexistent/kubeconfig\""},
  };
  for (const auto& c : cases) {
    auto r = testing::cli(c.args);
    EXPECT_EQ(r.code, 2) << c.message;
    EXPECT_THAT(r.err, ::testing::HasSubstr(c.message));
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

}  // namespace
}  // namespace gpushare::server
