// Reading small files (tokens, certificates, kubeconfigs) with errors as values.
#pragma once

#include <string>

#include "base/result.h"

namespace gpushare::kube {

// The whole file; the error says which path and why ("No such file or directory").
Result<std::string> read_file(const std::string& path);

// path unchanged when absolute or empty; else joined onto base_dir.
std::string resolve_path(const std::string& base_dir, const std::string& path);

}  // namespace gpushare::kube
