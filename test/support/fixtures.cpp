#include "test/support/fixtures.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace gpushare::testing {

std::string fixture_path(const std::string& relative_path) {
  return std::string(GPUSHARE_FIXTURES_DIR) + "/" + relative_path;
}

std::string read_fixture(const std::string& relative_path) {
  std::ifstream in(fixture_path(relative_path), std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read fixture " << fixture_path(relative_path);
    return {};
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace gpushare::testing
