#include "server/command_input.h"

#include <fstream>
#include <sstream>

namespace gpushare::server {

Result<std::string> read_input(const std::vector<std::string>& positional, std::istream& in) {
  if (positional.size() > 1)
    return Error{"expected one input file, got " + std::to_string(positional.size())};
  std::stringstream s;
  if (positional.empty() || positional[0] == "-") {
    s << in.rdbuf();
    return s.str();
  }
  std::ifstream f(positional[0], std::ios::binary);
  if (!f) return Error{positional[0] + ": cannot be read"};
  s << f.rdbuf();
  return s.str();
}

Result<policy::Catalog> load_catalog(const std::string& path, const std::string& what) {
  if (path.empty()) return policy::Catalog::builtin();
  std::ifstream f(path);
  if (!f) return Error{what + " " + path + ": cannot be read"};
  std::stringstream s;
  s << f.rdbuf();
  auto c = policy::Catalog::from_yaml(s.str());
  if (!c) return Error{what + " " + path + ": " + c.error()};
  return c;
}

}  // namespace gpushare::server
