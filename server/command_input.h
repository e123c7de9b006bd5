// What the CLI subcommands and `serve` read from files: a command's input document and the GPU
// catalog. One place, so every command says "cannot be read" the same way.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "base/result.h"
#include "policy/catalog.h"

namespace gpushare::server {

// The one positional argument (a file, or "-"/none for `in`), read whole.
Result<std::string> read_input(const std::vector<std::string>& positional, std::istream& in);

// The catalog at `path`, or the built-in one when `path` is empty. `what` names the setting in
// errors ("--catalog", "catalog").
Result<policy::Catalog> load_catalog(const std::string& path, const std::string& what);

}  // namespace gpushare::server
