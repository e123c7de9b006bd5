#include "server/nodes_file.h"

#include <fstream>
#include <sstream>

#include "codec/json.h"
#include "codec/objects.h"

namespace gpushare::server {

Result<policy::ClusterView> load_nodes_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"--nodes " + path + ": cannot be read"};
  std::stringstream text;
  text << in.rdbuf();
  auto json = codec::parse_json(text.str(), "a NodeList");
  if (!json) return Error{"--nodes " + path + ": " + json.error()};
  auto nodes = codec::decode_node_list(*json, "NodeList");
  if (!nodes) return Error{"--nodes " + path + ": " + nodes.error()};
  return policy::ClusterView{std::move(*nodes)};
}

}  // namespace gpushare::server
