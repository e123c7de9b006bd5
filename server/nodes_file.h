// --nodes FILE for the offline commands: a NodeList (JSON, as `kubectl get nodes -o json`
// prints it) taken as the cluster's state.
#pragma once

#include <string>

#include "base/result.h"
#include "policy/views.h"

namespace gpushare::server {

Result<policy::ClusterView> load_nodes_file(const std::string& path);

}  // namespace gpushare::server
