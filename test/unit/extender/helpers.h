// Shared by the extender tests: node fixtures as JSON and as NodeViews, ExtenderArgs builders.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "codec/objects.h"
#include "extender/extender.h"
#include "test/support/fixtures.h"

namespace gpushare::extender::testing {

using codec::decode_node;
using codec::decode_pod;

inline nlohmann::json fixture_json(const std::string& relative) {
  return nlohmann::json::parse(gpushare::testing::read_fixture("extender/" + relative));
}

// test/fixtures/extender/nodes/<file>
inline nlohmann::json node_json(const std::string& file) { return fixture_json("nodes/" + file); }

inline policy::NodeView node_view(const std::string& file) {
  auto v = decode_node(node_json(file));
  if (!v) throw std::runtime_error(file + ": " + v.error());
  return std::move(v).value();
}

// Every node fixture, as the watch cache would hold them (nothing used).
inline std::vector<policy::NodeView> all_nodes() {
  std::vector<policy::NodeView> out;
  for (const char* f : {"h100-mixed.json", "h20-mig.json", "rtx4090-mps.json", "h100-pending.json",
                        "h100-whole.json", "t4.json", "a100-single.json", "cpu-only.json"})
    out.push_back(node_view(f));
  return out;
}

// A Pod whose one container asks for `resource: count` (none when resource is empty).
inline nlohmann::json pod_json(const std::string& resource, int count = 1,
                               nlohmann::json annotations = nullptr) {
  nlohmann::json limits = nlohmann::json::object();
  if (!resource.empty()) limits[resource] = std::to_string(count);
  return {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"annotations", annotations}}},
          {"spec", {{"containers", {{{"name", "c"}, {"resources", {{"limits", limits}}}}}}}},
          {"status", nlohmann::json::object()}};
}

inline std::string cache_args(const nlohmann::json& pod, const std::vector<std::string>& names) {
  return nlohmann::json{{"Pod", pod}, {"Nodes", nullptr}, {"NodeNames", names}}.dump();
}

inline std::string payload_args(const nlohmann::json& pod,
                                const std::vector<nlohmann::json>& nodes) {
  return nlohmann::json{{"Pod", pod},
                        {"Nodes", {{"metadata", nlohmann::json::object()}, {"items", nodes}}},
                        {"NodeNames", nullptr}}
      .dump();
}

}  // namespace gpushare::extender::testing
