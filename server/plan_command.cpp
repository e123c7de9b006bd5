// `gpushare plan [FILE|-]`: the repartition planner, offline (CONTRACT.md sections 1 and 5), for
// an operator's dry run. The same policy::plan the controller runs; same input, same bytes out.
//
// Input: {"nodes": [Node...] or a NodeList, "pods": [Pod...] or a PodList, "configMaps":
// [ConfigMap...] or a list, optional}. Pods with spec.nodeName are running (their requests make
// the nodes' `used`), the others are pending. A ConfigMap whose data["config.yaml"] holds
// "mig-configs" is the mig-parted one (names: its config names); any other is the device-plugin
// one (names: its data keys). Without ConfigMaps of a kind, its names are taken as unknown.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string_view>

#include "codec/json.h"
#include "codec/mig_parted.h"
#include "codec/objects.h"
#include "codec/plan_json.h"
#include "kube/configmap_entry.h"
#include "policy/catalog.h"
#include "policy/planner.h"
#include "policy/pod_demand.h"
#include "policy/quantity.h"
#include "server/command_input.h"
#include "server/serve.h"

namespace gpushare::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

int fail(std::ostream& err, const std::string& message) {
  err << "gpushare: plan: " << message << "\n";
  return 2;
}

// A bare array, a list object ({"items": [...]}), null or absent: the items.
Result<std::vector<const json*>> items_of(const json& doc, const std::string& key) {
  std::vector<const json*> out;
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return out;
  const json* list = &*it;
  if (list->is_object()) {
    auto items = list->find("items");
    if (items == list->end() || items->is_null()) return out;
    list = &*items;
  }
  if (!list->is_array()) {
    return Error{key + ": expected an array or a list object with items, got " +
                 std::string(list->type_name())};
  }
  for (const auto& item : *list) out.push_back(&item);
  return out;
}

struct ConfigNames {
  std::optional<std::set<std::string>> mig_parted;
  std::optional<std::set<std::string>> device_plugin;
  std::map<std::string, std::vector<policy::MigConfigEntry>> mig_configs;
};

Result<ConfigNames> read_config_maps(const std::vector<const json*>& maps) {
  ConfigNames out;
  for (std::size_t i = 0; i < maps.size(); ++i) {
    const json& cm = *maps[i];
    std::string where = "configMaps[" + std::to_string(i) + "]";
    if (!cm.is_object())
      return Error{where + ": expected object, got " + std::string(cm.type_name())};
    if (auto md = cm.find("metadata"); md != cm.end() && md->is_object()) {
      if (auto name = md->find("name"); name != md->end() && name->is_string())
        where += " (" + name->get<std::string>() + ")";
    }
    auto data = cm.find("data");
    if (data == cm.end() || data->is_null()) continue;
    if (!data->is_object())
      return Error{where + ".data: expected object, got " + std::string(data->type_name())};
    for (const auto& [key, value] : data->items()) {
      if (!value.is_string())
        return Error{where + ".data." + key + ": expected string, got " +
                     std::string(value.type_name())};
    }
    std::set<std::string> mig_names;
    bool mig_parted = false;
    if (auto text = data->find("config.yaml"); text != data->end()) {
      try {
        const YAML::Node doc = YAML::Load(text->get<std::string>());
        if (doc.IsMap() && doc["mig-configs"]) {
          const YAML::Node configs = doc["mig-configs"];
          if (!configs.IsMap())
            return Error{where + ".data.config.yaml: mig-configs: expected a map"};
          mig_parted = true;
          for (const auto& entry : configs) mig_names.insert(entry.first.as<std::string>());
          if (auto as_json = kube::yaml_to_json(text->get<std::string>()); as_json) {
            for (auto& [name, entries] :
                 codec::decode_mig_configs(codec::member(*as_json, "mig-configs"))) {
              out.mig_configs.insert_or_assign(name, std::move(entries));
            }
          }
        }
      } catch (const YAML::Exception& e) {
        return Error{where + ".data.config.yaml: " + e.what()};
      }
    }
    if (mig_parted) {
      if (!out.mig_parted) out.mig_parted.emplace();
      out.mig_parted->insert(mig_names.begin(), mig_names.end());
    } else {
      if (!out.device_plugin) out.device_plugin.emplace();
      for (const auto& [key, value] : data->items()) out.device_plugin->insert(key);
    }
  }
  return out;
}

// "<field>: \"<key>\" <why>", or with `indexed` "<field>[\"<key>\"]: <why>".
std::string entry_error(const std::string& field, const std::string& key, std::string_view why,
                        bool indexed) {
  std::string out = field;
  out += indexed ? "[\"" : ": \"";
  out += key;
  out += indexed ? "\"]: " : "\" ";
  out += why;
  return out;
}

// An optional field of pod counts, {"<key>": pods, ...}; `read_key` turns a key into the map's
// key or says why it cannot (the message follows "<field>: \"<key>\" ").
template <class Key, class ReadKey>
Result<std::map<Key, std::int64_t>> read_pod_counts(const json& doc, const std::string& field,
                                                    std::string_view shape, ReadKey read_key) {
  std::map<Key, std::int64_t> out;
  auto it = doc.find(field);
  if (it == doc.end() || it->is_null()) return out;
  if (!it->is_object()) {
    return Error{field + ": expected an object {\"" + std::string(shape) + "\": pods}, got " +
                 std::string(it->type_name())};
  }
  for (auto item = it->begin(); item != it->end(); ++item) {
    const std::string& key = item.key();
    const json& value = item.value();
    Result<Key> read = read_key(key);
    if (!read) return Error{entry_error(field, key, read.error(), false)};
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
      return Error{entry_error(field, key, "expected a pod count >= 0, got " + value.dump(), true)};
    }
    out[*read] += value.get<std::int64_t>();
  }
  return out;
}

// Optional "recentMpsArrivals" and "projectedMpsArrivals": {"<gpu-memory>": pods, ...}, what the
// controller's watch cache counted and projected (policy::PlanInput::recent_mps_arrivals and
// projected_mps_arrivals); "0" for pods that state no gpu-memory.
Result<std::map<std::int64_t, std::int64_t>> read_mps_arrivals(const json& doc,
                                                               const std::string& field) {
  return read_pod_counts<std::int64_t>(doc, field, "<gpu-memory>",
                                       [](const std::string& key) -> Result<std::int64_t> {
                                         auto memory = policy::parse_quantity(key);
                                         if (!memory || memory->milli < 0)
                                           return Error{"is no gpu-memory quantity (e.g. \"4Gi\")"};
                                         return memory->ceil_units();
                                       });
}

// Optional "projectedMigArrivals": {"nvidia.com/mig-<profile>": pods, ...}, the MIG pods the
// controller's watch cache projected to arrive (policy::PlanInput::projected_mig_arrivals).
Result<std::map<std::string, std::int64_t>> read_mig_arrivals(const json& doc) {
  return read_pod_counts<std::string>(
      doc, "projectedMigArrivals", "nvidia.com/mig-<profile>",
      [](const std::string& key) -> Result<std::string> {
        if (!key.starts_with(policy::kMigResourcePrefix) ||
            key.size() == policy::kMigResourcePrefix.size()) {
          return Error{"is no MIG resource (e.g. \"nvidia.com/mig-1g.10gb\")"};
        }
        return key;
      });
}

Result<policy::PlanInput> read_plan_input(const json& doc) {
  if (!doc.is_object()) {
    return Error{
        "expected an object {\"nodes\": [...], \"pods\": [...], \"configMaps\": [...]}, got " +
        std::string(doc.type_name())};
  }
  policy::PlanInput input;
  auto nodes = items_of(doc, "nodes");
  if (!nodes) return Error{nodes.error()};
  std::set<std::string> node_names;
  for (std::size_t i = 0; i < nodes->size(); ++i) {
    auto node = codec::decode_node(*(*nodes)[i], "nodes[" + std::to_string(i) + "]");
    if (!node) return Error{node.error()};
    if (!node_names.insert(node->name).second) return Error{"nodes: duplicate node " + node->name};
    input.nodes.push_back(std::move(node).value());
  }
  auto pods = items_of(doc, "pods");
  if (!pods) return Error{pods.error()};
  std::set<std::string> pod_names;
  std::map<std::string, std::size_t> node_at;
  for (std::size_t i = 0; i < input.nodes.size(); ++i) node_at.emplace(input.nodes[i].name, i);
  for (std::size_t i = 0; i < pods->size(); ++i) {
    const std::string where = "pods[" + std::to_string(i) + "]";
    auto pod = codec::decode_pod(*(*pods)[i], where);
    if (!pod) return Error{pod.error()};
    if (!pod_names.insert(pod->display_name()).second)
      return Error{"pods: duplicate pod " + pod->display_name()};
    if (pod->node_name.empty()) {
      input.pending.push_back(std::move(pod).value());
      continue;
    }
    // What the node cache does: bound, non-terminated pods hold their effective requests.
    if (pod->phase != "Succeeded" && pod->phase != "Failed") {
      if (auto at = node_at.find(pod->node_name); at != node_at.end()) {
        auto demand = policy::pod_demand(*pod);
        if (!demand) return Error{where + " (" + pod->display_name() + "): " + demand.error()};
        for (const auto& [resource, n] : demand->resources)
          input.nodes[at->second].used[resource] += n;
      }
    }
    input.running.push_back(std::move(pod).value());
  }
  auto maps = items_of(doc, "configMaps");
  if (!maps) return Error{maps.error()};
  auto names = read_config_maps(*maps);
  if (!names) return Error{names.error()};
  input.mig_config_names = std::move(names->mig_parted);
  input.device_plugin_config_names = std::move(names->device_plugin);
  input.mig_configs = std::move(names->mig_configs);
  auto arrivals = read_mps_arrivals(doc, "recentMpsArrivals");
  if (!arrivals) return Error{arrivals.error()};
  input.recent_mps_arrivals = std::move(arrivals).value();
  auto projected = read_mps_arrivals(doc, "projectedMpsArrivals");
  if (!projected) return Error{projected.error()};
  input.projected_mps_arrivals = std::move(projected).value();
  auto mig = read_mig_arrivals(doc);
  if (!mig) return Error{mig.error()};
  input.projected_mig_arrivals = std::move(mig).value();
  return input;
}

}  // namespace

int run_plan(const std::vector<std::string>& positional,
             const std::optional<std::string>& catalog_path, std::istream& in, std::ostream& out,
             std::ostream& err) {
  auto catalog = load_catalog(catalog_path.value_or(""), "--catalog");
  if (!catalog) return fail(err, catalog.error());
  auto text = read_input(positional, in);
  if (!text) return fail(err, text.error());
  auto doc = codec::parse_json(*text, "{\"nodes\": [...], \"pods\": [...]}");
  if (!doc) return fail(err, doc.error());
  auto input = read_plan_input(*doc);
  if (!input) return fail(err, input.error());
  const policy::Plan plan = policy::plan(*input, *catalog);
  out << codec::plan_json(plan).dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace gpushare::server
