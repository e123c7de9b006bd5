// Loading golden fixtures from test/fixtures/ for table-driven tests.
#pragma once

#include <string>

namespace gpushare::testing {

// The text of test/fixtures/<relative_path>; fails the calling test (ADD_FAILURE) and returns
// "" when the file cannot be read.
std::string read_fixture(const std::string& relative_path);
std::string fixture_path(const std::string& relative_path);

}  // namespace gpushare::testing
