#include "webhook/json_patch.h"

#include <map>
#include <string>

#include "codec/json.h"

namespace gpushare::webhook {
namespace {

using codec::escape_pointer_token;
using codec::present_member;
using nlohmann::json;

json op_remove(const std::string& path) { return json{{"op", "remove"}, {"path", path}}; }

json op_add(const std::string& path, json value) {
  return json{{"op", "add"}, {"path", path}, {"value", std::move(value)}};
}

void render_renames(const json& pod_json, const policy::PodView& pod,
                    const policy::AdmissionDecision& decision, json& ops) {
  // Working copies of the resource maps touched so far, keyed by their pointer, so that a
  // second rename of the same key (or to a key renamed before) sees the state after earlier ops.
  std::map<std::string, json> maps;
  const json* spec = present_member(pod_json, "spec");
  if (spec == nullptr) return;
  for (const policy::ResourceRename& rename : decision.renames) {
    if (rename.container >= pod.containers.size() || rename.from == rename.to ||
        rename.from.empty() || rename.to.empty()) {
      continue;
    }
    const policy::ContainerView& view = pod.containers[rename.container];
    const char* list_key = view.init ? "initContainers" : "containers";
    const json* list = present_member(*spec, list_key);
    if (list == nullptr || !list->is_array() || view.index >= list->size()) continue;
    const json* resources = present_member((*list)[view.index], "resources");
    if (resources == nullptr) continue;
    std::string base =
        "/spec/" + std::string(list_key) + "/" + std::to_string(view.index) + "/resources/";
    for (const char* map_key : {"limits", "requests"}) {
      std::string map_path = base + map_key;
      auto state = maps.find(map_path);
      if (state == maps.end()) {
        const json* original = present_member(*resources, map_key);
        if (original == nullptr || !original->is_object()) continue;
        state = maps.emplace(map_path, *original).first;
      }
      json& map = state->second;
      auto from = map.find(rename.from);
      if (from == map.end()) continue;
      json value = *from;
      map.erase(from);
      map[rename.to] = value;
      ops.push_back(op_remove(map_path + "/" + escape_pointer_token(rename.from)));
      ops.push_back(op_add(map_path + "/" + escape_pointer_token(rename.to), std::move(value)));
    }
  }
}

void render_annotation(const json& pod_json, const policy::AdmissionDecision& decision, json& ops) {
  const std::string& key = decision.annotation_key;
  if (key.empty()) return;
  const json* metadata = present_member(pod_json, "metadata");
  if (metadata == nullptr || metadata->is_null()) {
    ops.push_back(
        op_add("/metadata", json{{"annotations", json{{key, decision.annotation_value}}}}));
    return;
  }
  if (!metadata->is_object()) return;  // not a Pod as decoded; nothing applies
  const json* annotations = present_member(*metadata, "annotations");
  if (annotations == nullptr || annotations->is_null()) {
    ops.push_back(op_add("/metadata/annotations", json{{key, decision.annotation_value}}));
    return;
  }
  if (!annotations->is_object()) return;
  auto existing = annotations->find(key);
  if (existing != annotations->end() && existing->is_string() &&
      existing->get_ref<const std::string&>() == decision.annotation_value) {
    return;
  }
  // add on an existing member replaces it (RFC 6902 4.1).
  ops.push_back(
      op_add("/metadata/annotations/" + escape_pointer_token(key), decision.annotation_value));
}

}  // namespace

json render_patch(const json& pod_json, const policy::PodView& pod,
                  const policy::AdmissionDecision& decision) {
  json ops = json::array();
  if (decision.outcome != policy::AdmissionOutcome::kAllowed || !pod_json.is_object()) return ops;
  render_renames(pod_json, pod, decision, ops);
  render_annotation(pod_json, decision, ops);
  return ops;
}

}  // namespace gpushare::webhook
