#include "kube/file_util.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace gpushare::kube {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read \"" + path + "\": " + std::strerror(errno)};
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return Error{"cannot read \"" + path + "\": read error"};
  return out.str();
}

std::string resolve_path(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
  return base_dir.back() == '/' ? base_dir + path : base_dir + "/" + path;
}

}  // namespace gpushare::kube
