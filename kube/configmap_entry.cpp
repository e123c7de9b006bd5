#include "kube/configmap_entry.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "codec/json.h"
#include "kube/lease.h"
#include "kube/paths.h"

namespace gpushare::kube {

using codec::member;
using codec::string_member;
namespace {

using Clock = std::chrono::system_clock;

void emit_json(YAML::Emitter& out, const nlohmann::json& value) {
  if (value.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, v] : value.items()) {
      out << YAML::Key << YAML::DoubleQuoted << k << YAML::Value;
      emit_json(out, v);
    }
    out << YAML::EndMap;
  } else if (value.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& v : value) emit_json(out, v);
    out << YAML::EndSeq;
  } else if (value.is_string()) {
    out << YAML::DoubleQuoted << value.get<std::string>();
  } else if (value.is_boolean()) {
    out << (value.get<bool>() ? "true" : "false");
  } else if (value.is_number_integer()) {
    out << value.dump();
  } else if (value.is_number()) {
    out << value.get<double>();
  } else {
    out << YAML::Null;
  }
}

// Re-emits a parsed node with the quoting it had: yaml-cpp would otherwise write a quoted
// "0x233510DE" (a device-filter) plain, and mig-parted would then read a number.
void emit_node(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& kv : node) {
        out << YAML::Key;
        emit_node(out, kv.first);
        out << YAML::Value;
        emit_node(out, kv.second);
      }
      out << YAML::EndMap;
      return;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& v : node) emit_node(out, v);
      out << YAML::EndSeq;
      return;
    case YAML::NodeType::Scalar:
      if (node.Tag() != "?") out << YAML::DoubleQuoted;  // quoted or tagged in the source
      out << node.Scalar();
      return;
    default:
      out << YAML::Null;
  }
}

nlohmann::json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() != "?") return text;  // quoted in the source: always a string
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    return nullptr;
  try {
    std::size_t used = 0;
    long long i = std::stoll(text, &used, 10);
    if (used == text.size()) return i;
    // Decimal only: stod would also read "0x10DE", "inf" and "nan", which YAML keeps as text.
    if (text.find_first_not_of("0123456789+-.eE") == std::string::npos) {
      double d = std::stod(text, &used);
      if (used == text.size()) return d;
    }
  } catch (const std::exception&) {
  }
  return text;
}

nlohmann::json node_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node) out[kv.first.Scalar()] = node_to_json(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& v : node) out.push_back(node_to_json(v));
      return out;
    }
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    default:
      return nullptr;
  }
}

// The annotation that remembers when we first wrote `entry`; empty when the name would not
// be a valid annotation key (name part over 63 characters).
std::string written_at_key(const std::string& entry) {
  std::string name =
      std::string(kWrittenAtPrefix).substr(std::string("gpushare.io/").size()) + entry;
  return name.size() > 63 ? std::string() : std::string(kWrittenAtPrefix) + entry;
}

std::optional<Clock::time_point> read_written_at(const nlohmann::json& cm,
                                                 const std::string& entry) {
  std::string key = written_at_key(entry);
  if (key.empty()) return std::nullopt;
  return parse_time(string_member(member(member(cm, "metadata"), "annotations"), key.c_str()));
}

// One entry's change to a ConfigMap: returns true when `cm` was modified, false when the
// entry is already there with this content.
using Mutate = std::function<Result<bool>(nlohmann::json& cm)>;

ApiResult<EntryWrite> read_modify_write(Client& client, const std::string& ns,
                                        const std::string& name, const std::string& entry,
                                        const Mutate& mutate, const RmwOptions& options,
                                        Clock::time_point now) {
  if (now == Clock::time_point{}) now = Clock::now();
  // A missing ConfigMap is not created: the operator mounts only the one its ClusterPolicy
  // names, so ours would be read by nobody. NotFound goes back to the caller.
  std::optional<Clock::time_point> unchanged_since;
  auto updated = update_object(
      client, paths::config_map(ns, name),
      [&](nlohmann::json& cm) -> Result<bool> {
        if (!member(cm, "data").is_object()) cm["data"] = nlohmann::json::object();
        auto changed = mutate(cm);
        if (!changed) return Error{changed.error()};
        if (!*changed) {
          unchanged_since = read_written_at(cm, entry);
          return false;
        }
        if (std::string key = written_at_key(entry); !key.empty()) {
          cm["metadata"]["annotations"][key] = micro_time(now);
        }
        return true;
      },
      options);
  if (!updated) return updated.error();
  if (!updated->written) return EntryWrite{false, unchanged_since};
  return EntryWrite{true, now};
}

}  // namespace

std::string to_yaml(const nlohmann::json& value) {
  YAML::Emitter out;
  emit_json(out, value);
  return std::string(out.c_str()) + "\n";
}

std::optional<nlohmann::json> yaml_to_json(const std::string& text) {
  try {
    return node_to_json(YAML::Load(text));
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

Result<std::optional<std::string>> merge_mig_parted(const std::string& config_yaml,
                                                    const std::string& entry,
                                                    const nlohmann::json& devices) {
  YAML::Node doc;
  try {
    doc = YAML::Load(config_yaml);
  } catch (const YAML::Exception& e) {
    return Error{std::string(kMigPartedKey) + " is not YAML: " + e.what()};
  }
  if (!doc.IsNull() && !doc.IsMap())
    return Error{std::string(kMigPartedKey) + " is not a YAML map"};
  YAML::Node configs = doc.IsMap() ? doc["mig-configs"] : YAML::Node();
  if (configs.IsDefined() && !configs.IsNull() && !configs.IsMap()) {
    return Error{std::string(kMigPartedKey) + ": mig-configs is not a map"};
  }
  if (configs.IsMap() && configs[entry].IsDefined() && node_to_json(configs[entry]) == devices) {
    return std::optional<std::string>();  // already there: no write, no new propagation wait
  }

  // Re-emit key by key so that other keys and other layouts keep their content (comments
  // are lost: yaml-cpp does not keep them).
  YAML::Emitter out;
  out << YAML::BeginMap;
  bool has_version = false, has_configs = false;
  if (doc.IsMap()) {
    for (const auto& kv : doc) {
      const std::string key = kv.first.Scalar();
      if (key == "version") has_version = true;
      if (key != "mig-configs") {
        out << YAML::Key;
        emit_node(out, kv.first);
        out << YAML::Value;
        emit_node(out, kv.second);
        continue;
      }
      has_configs = true;
      out << YAML::Key << "mig-configs" << YAML::Value << YAML::BeginMap;
      bool replaced = false;
      if (kv.second.IsMap()) {
        for (const auto& c : kv.second) {
          out << YAML::Key;
          emit_node(out, c.first);
          out << YAML::Value;
          if (c.first.Scalar() == entry) {
            emit_json(out, devices);
            replaced = true;
          } else {
            emit_node(out, c.second);
          }
        }
      }
      if (!replaced) {
        out << YAML::Key << entry << YAML::Value;
        emit_json(out, devices);
      }
      out << YAML::EndMap;
    }
  }
  if (!has_version) out << YAML::Key << "version" << YAML::Value << "v1";
  if (!has_configs) {
    out << YAML::Key << "mig-configs" << YAML::Value << YAML::BeginMap << YAML::Key << entry
        << YAML::Value;
    emit_json(out, devices);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  if (!out.good())
    return Error{std::string("cannot write ") + kMigPartedKey + ": " + out.GetLastError()};
  return std::optional<std::string>(std::string(out.c_str()) + "\n");
}

ApiResult<EntryWrite> write_device_plugin_entry(Client& client, const std::string& namespace_name,
                                                const std::string& config_map,
                                                const std::string& entry,
                                                const nlohmann::json& config, RmwOptions options,
                                                Clock::time_point now) {
  return read_modify_write(
      client, namespace_name, config_map, entry,
      [&](nlohmann::json& cm) -> Result<bool> {
        nlohmann::json& data = cm["data"];
        if (auto it = data.find(entry); it != data.end() && it->is_string()) {
          if (auto existing = yaml_to_json(it->get<std::string>()); existing && *existing == config)
            return false;
        }
        data[entry] = to_yaml(config);
        return true;
      },
      options, now);
}

ApiResult<EntryWrite> write_mig_parted_entry(Client& client, const std::string& namespace_name,
                                             const std::string& config_map,
                                             const std::string& entry,
                                             const nlohmann::json& devices, RmwOptions options,
                                             Clock::time_point now) {
  return read_modify_write(
      client, namespace_name, config_map, entry,
      [&](nlohmann::json& cm) -> Result<bool> {
        nlohmann::json& data = cm["data"];
        auto merged = merge_mig_parted(string_member(data, kMigPartedKey), entry, devices);
        if (!merged) return Error{merged.error()};
        if (!*merged) return false;
        data[kMigPartedKey] = **merged;
        return true;
      },
      options, now);
}

std::vector<std::string> entries_to_prune(const nlohmann::json& cm,
                                          const std::vector<std::string>& present,
                                          const PruneRule& rule) {
  struct Ours {
    std::string name;
    Clock::time_point written_at;
  };
  std::vector<Ours> unused;
  for (const auto& name : present) {
    if (name.rfind(kEntryPrefix, 0) != 0) continue;
    auto written_at = read_written_at(cm, name);
    if (!written_at) continue;  // no trace of our write: not ours to remove
    if (!rule.in_use || !rule.in_use(name)) unused.push_back({name, *written_at});
  }
  std::sort(unused.begin(), unused.end(), [](const Ours& a, const Ours& b) {
    return a.written_at != b.written_at ? a.written_at < b.written_at : a.name < b.name;
  });
  std::vector<std::string> out;
  for (const auto& e : unused) {  // oldest first
    const auto age = rule.now - e.written_at;
    const std::size_t unused_left = unused.size() - out.size();
    if (age >= rule.grace || (unused_left > rule.max_kept && age >= rule.min_age))
      out.push_back(e.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

void drop_written_at(nlohmann::json& cm, const std::string& entry) {
  std::string key = written_at_key(entry);
  auto& metadata = cm["metadata"];
  if (key.empty() || !member(metadata, "annotations").is_object()) return;
  metadata["annotations"].erase(key);
}

// One prune of one ConfigMap: `names` lists its entries, `drop` removes some from it.
using ListEntries = std::function<std::vector<std::string>(const nlohmann::json& cm)>;
using DropEntries =
    std::function<Result<bool>(nlohmann::json& cm, const std::vector<std::string>& names)>;

ApiResult<std::vector<std::string>> prune(Client& client, const std::string& ns,
                                          const std::string& name, const PruneRule& rule,
                                          const ListEntries& list, const DropEntries& drop,
                                          const RmwOptions& options) {
  std::vector<std::string> removed;
  auto updated = update_object(
      client, paths::config_map(ns, name),
      [&](nlohmann::json& cm) -> Result<bool> {
        // Decided again on every attempt: a conflict means the ConfigMap changed under us.
        removed = entries_to_prune(cm, list(cm), rule);
        if (removed.empty()) return false;
        auto dropped = drop(cm, removed);
        if (!dropped) return Error{dropped.error()};
        for (const auto& entry : removed) drop_written_at(cm, entry);
        return true;
      },
      options);
  if (!updated) return updated.error();
  if (!updated->written) return std::vector<std::string>{};
  return removed;
}

}  // namespace

ApiResult<std::vector<std::string>> prune_device_plugin_entries(Client& client,
                                                                const std::string& namespace_name,
                                                                const std::string& config_map,
                                                                const PruneRule& rule,
                                                                RmwOptions options) {
  return prune(
      client, namespace_name, config_map, rule,
      [](const nlohmann::json& cm) {
        std::vector<std::string> names;
        const nlohmann::json& data = member(cm, "data");
        if (data.is_object())
          for (const auto& [key, value] : data.items()) names.push_back(key);
        return names;
      },
      [](nlohmann::json& cm, const std::vector<std::string>& names) -> Result<bool> {
        for (const auto& n : names) cm["data"].erase(n);
        return true;
      },
      options);
}

ApiResult<std::vector<std::string>> prune_mig_parted_entries(Client& client,
                                                             const std::string& namespace_name,
                                                             const std::string& config_map,
                                                             const PruneRule& rule,
                                                             RmwOptions options) {
  return prune(
      client, namespace_name, config_map, rule,
      [](const nlohmann::json& cm) {
        return mig_parted_entry_names(string_member(member(cm, "data"), kMigPartedKey));
      },
      [](nlohmann::json& cm, const std::vector<std::string>& names) -> Result<bool> {
        auto kept = drop_mig_parted_entries(string_member(cm["data"], kMigPartedKey), names);
        if (!kept) return Error{kept.error()};
        cm["data"][kMigPartedKey] = *kept;
        return true;
      },
      options);
}

std::vector<std::string> mig_parted_entry_names(const std::string& config_yaml) {
  std::vector<std::string> names;
  try {
    YAML::Node doc = YAML::Load(config_yaml);
    if (!doc.IsMap()) return names;
    YAML::Node configs = doc["mig-configs"];
    if (!configs.IsMap()) return names;
    for (const auto& c : configs) names.push_back(c.first.Scalar());
  } catch (const YAML::Exception&) {
    names.clear();
  }
  return names;
}

Result<std::string> drop_mig_parted_entries(const std::string& config_yaml,
                                            const std::vector<std::string>& names) {
  YAML::Node doc;
  try {
    doc = YAML::Load(config_yaml);
  } catch (const YAML::Exception& e) {
    return Error{std::string(kMigPartedKey) + " is not YAML: " + e.what()};
  }
  if (!doc.IsMap()) return Error{std::string(kMigPartedKey) + " is not a YAML map"};
  auto dropped = [&](const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  // Re-emitted key by key, as merge_mig_parted does, so that everything else keeps its content.
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const auto& kv : doc) {
    out << YAML::Key;
    emit_node(out, kv.first);
    out << YAML::Value;
    if (kv.first.Scalar() != "mig-configs" || !kv.second.IsMap()) {
      emit_node(out, kv.second);
      continue;
    }
    out << YAML::BeginMap;
    for (const auto& c : kv.second) {
      if (dropped(c.first.Scalar())) continue;
      out << YAML::Key;
      emit_node(out, c.first);
      out << YAML::Value;
      emit_node(out, c.second);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  if (!out.good())
    return Error{std::string("cannot write ") + kMigPartedKey + ": " + out.GetLastError()};
  return std::string(out.c_str()) + "\n";
}

}  // namespace gpushare::kube
