#include "webhook/pod_decode.h"

#include <cstdint>
#include <limits>
#include <utility>

#include "webhook/json_util.h"

namespace gpushare::webhook {
namespace {

using nlohmann::json;

// Thrown and caught inside this file only: the first problem found, with its path.
struct DecodeError {
  std::string message;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DecodeError{path + ": " + what};
}

std::string expected(std::string_view want, const json& got) {
  return "expected " + std::string(want) + ", got " + std::string(json_type_name(got));
}

// The member `key` of `object`, or nullptr when absent or null.
const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string key_path(const std::string& path, const std::string& key) {
  // Keys holding dots or slashes ("gpushare.io/mode") are quoted, JSONPath style.
  json quoted = truncate_for_message(key, 100);
  return path + "[" + dump_json(quoted) + "]";
}

std::string optional_string(const json& object, const char* key, const std::string& path) {
  const json* value = member(object, key);
  if (value == nullptr) return {};
  if (!value->is_string()) fail(path + "." + key, expected("string", *value));
  return value->get<std::string>();
}

const json* optional_object(const json& object, const char* key, const std::string& path) {
  const json* value = member(object, key);
  if (value != nullptr && !value->is_object()) fail(path + "." + key, expected("object", *value));
  return value;
}

policy::StringMap string_map(const json& object, const char* key, const std::string& path) {
  policy::StringMap out;
  const json* map = optional_object(object, key, path);
  if (map == nullptr) return out;
  std::string map_path = path + "." + key;
  for (const auto& [k, v] : map->items()) {
    if (!v.is_string()) fail(key_path(map_path, k), expected("string", v));
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

policy::StringMap quantity_map(const json& resources, const char* key, const std::string& path) {
  policy::StringMap out;
  const json* map = optional_object(resources, key, path);
  if (map == nullptr) return out;
  std::string map_path = path + "." + key;
  for (const auto& [k, v] : map->items()) {
    std::string text;
    if (v.is_string()) {
      text = v.get<std::string>();
    } else if (v.is_number_integer()) {  // signed or unsigned
      text = v.is_number_unsigned() ? std::to_string(v.get<std::uint64_t>())
                                    : std::to_string(v.get<std::int64_t>());
    } else if (v.is_number()) {
      fail(key_path(map_path, k),
           "expected a quantity string such as \"1\", got number " + dump_json(v));
    } else {
      fail(key_path(map_path, k), expected("a quantity string", v));
    }
    out.emplace(k, std::move(text));
  }
  return out;
}

void containers(const json& spec, const char* key, bool init, const std::string& spec_path,
                std::vector<policy::ContainerView>& out) {
  const json* list = member(spec, key);
  if (list == nullptr) return;
  std::string list_path = spec_path + "." + key;
  if (!list->is_array()) fail(list_path, expected("array", *list));
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& c = (*list)[i];
    std::string c_path = list_path + "[" + std::to_string(i) + "]";
    if (!c.is_object()) fail(c_path, expected("object", c));
    policy::ContainerView view;
    view.init = init;
    view.index = i;
    view.name = optional_string(c, "name", c_path);
    if (const json* resources = optional_object(c, "resources", c_path)) {
      std::string r_path = c_path + ".resources";
      view.limits = quantity_map(*resources, "limits", r_path);
      view.requests = quantity_map(*resources, "requests", r_path);
    }
    out.push_back(std::move(view));
  }
}

policy::PodView decode(const json& pod, std::string_view namespace_override,
                       const std::string& path) {
  if (!pod.is_object()) fail(path, expected("object (a Pod)", pod));
  policy::PodView view;
  if (const json* metadata = optional_object(pod, "metadata", path)) {
    std::string m_path = path + ".metadata";
    view.namespace_name = optional_string(*metadata, "namespace", m_path);
    view.name = optional_string(*metadata, "name", m_path);
    view.generate_name = optional_string(*metadata, "generateName", m_path);
    view.annotations = string_map(*metadata, "annotations", m_path);
    view.labels = string_map(*metadata, "labels", m_path);
  }
  if (!namespace_override.empty()) view.namespace_name = std::string(namespace_override);
  if (const json* spec = optional_object(pod, "spec", path)) {
    std::string s_path = path + ".spec";
    containers(*spec, "initContainers", true, s_path, view.containers);
    containers(*spec, "containers", false, s_path, view.containers);
    view.node_name = optional_string(*spec, "nodeName", s_path);
    if (const json* priority = member(*spec, "priority")) {
      bool fits = false;
      if (priority->is_number_unsigned()) {
        fits = priority->get<std::uint64_t>() <=
               static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max());
      } else if (priority->is_number_integer()) {
        auto p = priority->get<std::int64_t>();
        fits = p >= std::numeric_limits<std::int32_t>::min() &&
               p <= std::numeric_limits<std::int32_t>::max();
      }
      if (!fits)
        fail(s_path + ".priority",
             "expected a 32-bit integer, got " + truncate_for_message(dump_json(*priority), 40));
      view.priority = static_cast<std::int32_t>(priority->get<std::int64_t>());
    }
  }
  if (const json* status = optional_object(pod, "status", path)) {
    view.phase = optional_string(*status, "phase", path + ".status");
  }
  return view;
}

}  // namespace

Result<policy::PodView> decode_pod(const json& pod, std::string_view namespace_override,
                                   std::string_view path) {
  try {
    return decode(pod, namespace_override, std::string(path));
  } catch (const DecodeError& e) {
    return Result<policy::PodView>::fail(e.message);
  }
}

}  // namespace gpushare::webhook
