// The command line's grammar: which subcommands exist, which flags each takes (with a value or
// as a switch, once or repeated) and how many positional arguments. A flag a subcommand does not
// take, a switch given a value, a single flag given twice or one positional argument too many is
// an error that names it, with that subcommand's usage line (the CLI exits 2 on it), so a typo
// never passes silently as an ignored flag.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace gpushare::server {

struct FlagSpec {
  std::string_view name;  // without "--"
  bool takes_value = true;
  bool repeatable = false;
};

struct CommandSpec {
  std::string_view name;
  std::string_view usage;  // the line after "usage: gpushare "
  std::size_t max_positional = 0;
  std::vector<FlagSpec> flags;
};

// Every subcommand of CONTRACT.md section 1, and simulate.
const std::vector<CommandSpec>& command_specs();

struct Args {
  std::string command;  // empty with --help / --version alone
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> flags;  // switches hold "true"

  std::optional<std::string> one(const std::string& name) const;
  const std::vector<std::string>& many(const std::string& name) const;
};

// Parses and checks argv (without the program name) against command_specs(). --help and
// --version are taken anywhere; with either, the rest is not checked.
Result<Args> parse_args(const std::vector<std::string>& argv);

}  // namespace gpushare::server
