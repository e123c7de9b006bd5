#include "webhook/json_patch.h"

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec/json.h"

namespace gpushare::webhook {
namespace {

using codec::append_json_string;
using codec::dump_json;
using codec::escape_pointer_token;
using codec::present_member;
using nlohmann::json;

// The ops, written as text as they are decided: an admission's patch is a handful of small ops,
// and building them as nlohmann values cost more than the rest of the decision (every object
// and array it frees allocates a stack on the way out).
class PatchWriter {
 public:
  void remove(const std::string& path) {
    open("remove", path);
    text_ += '}';
  }
  // `value` is JSON text.
  void add(const std::string& path, std::string_view value) {
    open("add", path);
    text_ += R"(,"value":)";
    text_ += value;
    text_ += '}';
  }
  std::string finish() && {
    if (!text_.empty()) text_ += ']';
    return std::move(text_);
  }

 private:
  void open(std::string_view op, const std::string& path) {
    text_ += text_.empty() ? '[' : ',';
    text_ += R"({"op":")";
    text_ += op;
    text_ += R"(","path":)";
    append_json_string(text_, path);
  }
  std::string text_;
};

std::string string_text(std::string_view value) {
  std::string out;
  append_json_string(out, value);
  return out;
}

// {"<key>":"<value>"}
std::string one_member_object(std::string_view key, std::string_view value) {
  std::string out = "{";
  append_json_string(out, key);
  out += ':';
  append_json_string(out, value);
  out += '}';
  return out;
}

void render_renames(const json& pod_json, const policy::PodView& pod,
                    const policy::AdmissionDecision& decision, PatchWriter& ops) {
  // Working state of the resource maps touched so far (their keys, each with its value as JSON
  // text), keyed by their pointer, so that a second rename of the same key (or to a key renamed
  // before) sees the state after earlier ops.
  using MapState = std::vector<std::pair<std::string, std::string>>;
  std::map<std::string, MapState> maps;
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
        MapState entries;
        for (const auto& [key, value] : original->items()) entries.emplace_back(key, "");
        state = maps.emplace(map_path, std::move(entries)).first;
      }
      MapState& map = state->second;
      auto from = std::find_if(map.begin(), map.end(),
                               [&](const auto& entry) { return entry.first == rename.from; });
      if (from == map.end()) continue;
      // The value as the pod has it, or as an earlier op of this patch moved it here.
      std::string value = from->second.empty()
                              ? dump_json((*present_member(*resources, map_key))[rename.from])
                              : std::move(from->second);
      map.erase(from);
      auto to = std::find_if(map.begin(), map.end(),
                             [&](const auto& entry) { return entry.first == rename.to; });
      if (to == map.end()) to = map.emplace(map.end(), rename.to, "");
      to->second = value;
      ops.remove(map_path + "/" + escape_pointer_token(rename.from));
      ops.add(map_path + "/" + escape_pointer_token(rename.to), value);
    }
  }
}

void render_annotation(const json& pod_json, const policy::AdmissionDecision& decision,
                       PatchWriter& ops) {
  const std::string& key = decision.annotation_key;
  if (key.empty()) return;
  const json* metadata = present_member(pod_json, "metadata");
  if (metadata == nullptr || metadata->is_null()) {
    ops.add("/metadata",
            R"({"annotations":)" + one_member_object(key, decision.annotation_value) + "}");
    return;
  }
  if (!metadata->is_object()) return;  // not a Pod as decoded; nothing applies
  const json* annotations = present_member(*metadata, "annotations");
  if (annotations == nullptr || annotations->is_null()) {
    ops.add("/metadata/annotations", one_member_object(key, decision.annotation_value));
    return;
  }
  if (!annotations->is_object()) return;
  auto existing = annotations->find(key);
  if (existing != annotations->end() && existing->is_string() &&
      existing->get_ref<const std::string&>() == decision.annotation_value) {
    return;
  }
  // add on an existing member replaces it (RFC 6902 4.1).
  ops.add("/metadata/annotations/" + escape_pointer_token(key),
          string_text(decision.annotation_value));
}

}  // namespace

std::string render_patch(const json& pod_json, const policy::PodView& pod,
                         const policy::AdmissionDecision& decision) {
  if (decision.outcome != policy::AdmissionOutcome::kAllowed || !pod_json.is_object()) return {};
  PatchWriter ops;
  render_renames(pod_json, pod, decision, ops);
  render_annotation(pod_json, decision, ops);
  return std::move(ops).finish();
}

}  // namespace gpushare::webhook
