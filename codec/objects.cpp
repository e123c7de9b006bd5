#include "codec/objects.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "codec/json.h"
#include "codec/scheduling.h"
#include "policy/fit.h"
#include "policy/quantity.h"

namespace gpushare::codec {

using nlohmann::json;

namespace {

constexpr std::string_view kNvidiaPrefix = "nvidia.com/";

// Thrown only inside this file and caught by each public function: a decode error is one
// message with the JSON path where it was found.
struct DecodeError {
  std::string message;
};

// `path.key["entry"]`, the path of one map entry in messages.
// A hostile key can be megabytes long; messages quote at most 64 bytes of it.
std::string entry_path(const std::string& path, const char* key, const std::string& entry) {
  constexpr std::size_t kShown = 64;
  std::string out = path;
  out += '.';
  out += key;
  out += "[\"";
  out += entry.size() > kShown ? entry.substr(0, kShown) + "..." : entry;
  out += "\"]";
  return out;
}

// A JSON value as a message quotes it, cut to 64 bytes.
std::string shown(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 64 ? text.substr(0, 64) + "..." : text;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DecodeError{path + ": " + what};
}

// One code path for both modes (objects.h): a field of the wrong type is an error naming its
// path when strict, and reads as absent when lenient.
class Decoder {
 public:
  explicit Decoder(DecodeMode mode) : lenient_(mode == DecodeMode::kLenient) {}

  policy::PodView pod_view(const json& pod, const std::string& path) const;
  policy::NodeView node_view(const json& node, const std::string& path) const;

 private:
  // Paths in messages ("request.object.spec.containers[1].resources.limits") are built only
  // when a message is: a path is either a string or a callable that returns one, and on the
  // good path the callables are never called (building them all was half of decode_pod).
  template <typename Path>
  static std::string text(const Path& path) {
    if constexpr (std::is_invocable_v<const Path&>) {
      return path();
    } else {
      return std::string(path);
    }
  }
  template <typename Path>
  static auto child(const Path& path, const char* key) {
    return [&path, key] { return text(path) + "." + key; };
  }

  // Whether `v` has `type`. A mismatch throws when strict; when lenient it is false, and the
  // caller treats the field as absent.
  template <typename Path>
  bool expect(const json& v, json::value_t type, const Path& path) const {
    // Integers arrive as number_unsigned or number_integer; treat them alike.
    const bool ok =
        v.type() == type || (type == json::value_t::number_integer && v.is_number_integer());
    if (!ok && !lenient_) {
      fail(text(path),
           std::string("expected ") + json(type).type_name() + ", got " + v.type_name());
    }
    return ok;
  }

  template <typename Path>
  const json* object_member(const json& obj, const char* key, const Path& path) const {
    const json* v = present_member(obj, key);
    if (v != nullptr && !expect(*v, json::value_t::object, child(path, key))) return nullptr;
    return v;
  }

  template <typename Path>
  std::string string_member(const json& obj, const char* key, const Path& path) const {
    const json* v = present_member(obj, key);
    if (v == nullptr || !expect(*v, json::value_t::string, child(path, key))) return {};
    return v->get<std::string>();
  }

  // The string-valued map at obj[key]. With `numbers`, a resource map: numbers from
  // hand-written JSON become their text (integers; any number when lenient).
  template <typename Path>
  policy::StringMap string_map(const json& obj, const char* key, const Path& path,
                               bool numbers = false) const {
    policy::StringMap out;
    const json* m = object_member(obj, key, path);
    if (m == nullptr) return out;
    for (const auto& [k, v] : m->items()) {
      if (v.is_string()) {
        out.emplace(k, v.template get<std::string>());
      } else if (numbers && (v.is_number_integer() || (lenient_ && v.is_number()))) {
        out.emplace(k, v.dump());
      } else if (!lenient_) {
        fail(entry_path(text(path), key, k),
             numbers ? std::string("expected a quantity string such as \"1\", got ") +
                           v.type_name() + " " + shown(v)
                     : std::string("expected string, got ") + v.type_name());
      }
    }
    return out;
  }

  template <typename Path>
  policy::StringMap quantity_map(const json& obj, const char* key, const Path& path) const {
    return string_map(obj, key, path, /*numbers=*/true);
  }

  void containers(const json& spec, const char* key, bool init, const std::string& path,
                  policy::PodView& pod) const {
    const json* list = present_member(spec, key);
    const auto list_path = child(path, key);
    if (list == nullptr || !expect(*list, json::value_t::array, list_path)) return;
    for (std::size_t i = 0; i < list->size(); ++i) {
      const json& c = (*list)[i];
      const auto cpath = [&] { return list_path() + "[" + std::to_string(i) + "]"; };
      if (!expect(c, json::value_t::object, cpath)) continue;
      policy::ContainerView view;
      view.name = string_member(c, "name", cpath);
      view.init = init;
      view.index = i;
      view.restartable = init && string_member(c, "restartPolicy", cpath) == "Always";
      if (const json* res = object_member(c, "resources", cpath)) {
        const auto rpath = child(cpath, "resources");
        view.limits = quantity_map(*res, "limits", rpath);
        view.requests = quantity_map(*res, "requests", rpath);
      }
      pod.containers.push_back(std::move(view));
    }
  }

  bool lenient_;
};

policy::PodView Decoder::pod_view(const json& pod, const std::string& path) const {
  if (!pod.is_object()) fail(path, std::string("expected object, got ") + pod.type_name());
  policy::PodView view;
  if (const json* meta = object_member(pod, "metadata", path)) {
    const auto mpath = child(path, "metadata");
    view.name = string_member(*meta, "name", mpath);
    view.namespace_name = string_member(*meta, "namespace", mpath);
    view.generate_name = string_member(*meta, "generateName", mpath);
    view.annotations = string_map(*meta, "annotations", mpath);
    view.labels = string_map(*meta, "labels", mpath);
  }
  if (const json* spec = object_member(pod, "spec", path)) {
    const std::string spath = path + ".spec";
    containers(*spec, "initContainers", true, spath, view);
    containers(*spec, "containers", false, spath, view);
    view.node_name = string_member(*spec, "nodeName", spath);
    view.node_selector = string_map(*spec, "nodeSelector", spath);
    decode_pod_constraints(*spec, view);
    if (const json* prio = present_member(*spec, "priority")) {
      // nlohmann narrows silently; a priority is an int32 in the API, so check the range.
      const bool fits = prio->is_number_unsigned()
                            ? prio->get<std::uint64_t>() <= static_cast<std::uint64_t>(INT32_MAX)
                            : prio->is_number_integer() && prio->get<std::int64_t>() >= INT32_MIN &&
                                  prio->get<std::int64_t>() <= INT32_MAX;
      if (fits) {
        view.priority = static_cast<std::int32_t>(prio->get<std::int64_t>());
      } else if (!lenient_) {
        fail(spath + ".priority", "expected a 32-bit integer, got " + shown(*prio));
      }
    }
  }
  if (const json* status = object_member(pod, "status", path)) {
    view.phase = string_member(*status, "phase", child(path, "status"));
  }
  return view;
}

policy::NodeView Decoder::node_view(const json& node, const std::string& path) const {
  if (!node.is_object()) fail(path, std::string("expected object, got ") + node.type_name());
  policy::NodeView view;
  const json* meta = object_member(node, "metadata", path);
  if (meta == nullptr) fail(path + ".metadata", "missing; a Node needs metadata.name");
  const std::string mpath = path + ".metadata";
  view.name = string_member(*meta, "name", mpath);
  if (view.name.empty()) fail(mpath + ".name", "missing or empty");
  view.labels = string_map(*meta, "labels", mpath);
  view.annotations = string_map(*meta, "annotations", mpath);
  if (const json* spec = object_member(node, "spec", path)) {
    if (const json* u = present_member(*spec, "unschedulable")) {
      if (expect(*u, json::value_t::boolean, path + ".spec.unschedulable")) {
        view.unschedulable = u->get<bool>();
      }
    }
    view.taints = decode_taints(*spec);
  }
  if (const json* status = object_member(node, "status", path)) {
    for (const auto& [name, text] : quantity_map(*status, "allocatable", path + ".status")) {
      if (std::string_view(name).substr(0, kNvidiaPrefix.size()) != kNvidiaPrefix)
        continue;  // the scheduler checks the rest
      // A value that is no quantity fails in both modes: what the node offers is unknown.
      auto q = policy::parse_quantity(text);
      if (!q)
        fail(entry_path(path + ".status", "allocatable", name),
             "\"" + text + "\" is not a quantity: " + q.error());
      view.allocatable[name] = q->milli < 0 ? 0 : q->ceil_units();
    }
  }
  return view;
}

}  // namespace

Result<policy::PodView> decode_pod(const json& pod, std::string_view path, DecodeMode mode) {
  try {
    return Decoder(mode).pod_view(pod, std::string(path));
  } catch (const DecodeError& e) {
    return Error{e.message};
  }
}

Result<policy::NodeView> decode_node(const json& node, std::string_view path, DecodeMode mode) {
  try {
    return Decoder(mode).node_view(node, std::string(path));
  } catch (const DecodeError& e) {
    return Error{e.message};
  }
}

Result<std::vector<policy::NodeView>> decode_node_list(const json& list, std::string_view path) {
  const std::string p(path);
  const json* items = &list;
  std::string items_path = p;
  if (list.is_object()) {
    items = present_member(list, "items");
    items_path = p + ".items";
    if (items == nullptr) return std::vector<policy::NodeView>{};
  }
  if (!items->is_array()) {
    return Error{items_path + ": expected array of Nodes, got " + std::string(items->type_name())};
  }
  std::vector<policy::NodeView> out;
  out.reserve(items->size());
  for (std::size_t i = 0; i < items->size(); ++i) {
    auto node = decode_node((*items)[i], items_path + "[" + std::to_string(i) + "]");
    if (!node) return Error{node.error()};
    out.push_back(std::move(node).value());
  }
  return out;
}

namespace {

// The pod's shape around a given spec shape; the parts outside spec are the same for both.
struct PodShapes {
  JsonShape all{};
  JsonShape container{JsonShape::Kind::kObject,
                      {{"name", &all}, {"resources", &all}, {"restartPolicy", &all}},
                      nullptr};
  JsonShape containers{JsonShape::Kind::kArray, {}, &container};
  JsonShape metadata{JsonShape::Kind::kObject,
                     {{"name", &all},
                      {"namespace", &all},
                      {"generateName", &all},
                      {"labels", &all},
                      {"annotations", &all}},
                     nullptr};
  JsonShape status{JsonShape::Kind::kObject, {{"phase", &all}}, nullptr};
  JsonShape spec;
  JsonShape pod;

  explicit PodShapes(bool node_constraints)
      : spec{JsonShape::Kind::kObject,
             {{"containers", &containers}, {"initContainers", &containers}, {"priority", &all}},
             nullptr},
        pod{JsonShape::Kind::kObject,
            {{"apiVersion", &all},
             {"kind", &all},
             {"metadata", &metadata},
             {"spec", &spec},
             {"status", &status}},
            nullptr} {
    if (node_constraints) {
      for (const char* key : {"nodeName", "nodeSelector", "affinity", "tolerations"})
        spec.members.emplace(key, &all);
    }
  }
  PodShapes(const PodShapes&) = delete;
  PodShapes& operator=(const PodShapes&) = delete;
};

}  // namespace

const JsonShape& pod_shape() {
  static const PodShapes shapes(/*node_constraints=*/true);
  return shapes.pod;
}

const JsonShape& pod_shape_without_node_constraints() {
  static const PodShapes shapes(/*node_constraints=*/false);
  return shapes.pod;
}

const JsonShape& fit_node_shape() {
  using Kind = JsonShape::Kind;
  static const JsonShape all{};
  static const JsonShape labels{Kind::kObject, {}, nullptr, false, &policy::fit_reads_label};
  static const JsonShape annotations{
      Kind::kObject, {{std::string(policy::kRepartitionAnnotation), &all}}, nullptr};
  static const JsonShape metadata{
      Kind::kObject, {{"name", &all}, {"labels", &labels}, {"annotations", &annotations}}, nullptr};
  static const JsonShape spec{Kind::kObject, {{"unschedulable", &all}, {"taints", &all}}, nullptr};
  static const JsonShape status{Kind::kObject, {{"allocatable", &all}}, nullptr};
  static const JsonShape node{Kind::kObject,
                              {{"metadata", &metadata}, {"spec", &spec}, {"status", &status}},
                              nullptr,
                              /*record_source=*/true};
  return node;
}

}  // namespace gpushare::codec
