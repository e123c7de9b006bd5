// Adding one named entry to a GPU Operator ConfigMap without disturbing anything else in it:
// the device plugin's config map (one key per named config) and mig-parted's config map (one
// key "config.yaml" whose `mig-configs:` map holds every named layout). Written with
// kube::update_object (kube/update.h), so a person (or another controller) editing the same
// ConfigMap never loses a key to us.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "kube/client.h"
#include "kube/update.h"

namespace gpushare::kube {

struct EntryWrite {
  bool written = false;  // false: the entry already held this content, nothing was sent
  // When the entry's content first appeared (recorded by us in the ConfigMap's annotation
  // gpushare.io/written-at.<entry>); nullopt when someone else wrote it and left no trace.
  std::optional<std::chrono::system_clock::time_point> written_at;
};

// The key under which mig-parted's config sits in its ConfigMap (nvidia.md 5.4).
inline constexpr const char* kMigPartedKey = "config.yaml";
inline constexpr const char* kWrittenAtPrefix = "gpushare.io/written-at.";

// device-plugin-config: data[entry] = YAML of `config` (a device plugin config, version v1).
ApiResult<EntryWrite> write_device_plugin_entry(Client& client, const std::string& namespace_name,
                                                const std::string& config_map,
                                                const std::string& entry,
                                                const nlohmann::json& config,
                                                RmwOptions options = {},
                                                std::chrono::system_clock::time_point now = {});

// custom-mig-parted-config: in data["config.yaml"], mig-configs[entry] = `devices` (the
// list of mig-parted entries). Other mig-configs and other keys are kept as they are.
ApiResult<EntryWrite> write_mig_parted_entry(Client& client, const std::string& namespace_name,
                                             const std::string& config_map,
                                             const std::string& entry,
                                             const nlohmann::json& devices, RmwOptions options = {},
                                             std::chrono::system_clock::time_point now = {});

// Garbage collection of gpushare's own entries. An entry is ours when its name starts with
// kEntryPrefix and the ConfigMap carries our written-at annotation for it; anything else (a
// person's entry, the operator's defaults, a gpushare-named entry without that annotation) is
// never removed. Ours is removed when nothing uses it (`in_use` says no: no node's label or
// mark names it) and it was written at least `grace` ago, which covers a replica that wrote an
// entry and has not set its mark yet. Beyond that, at most `max_kept` unused entries of ours
// stay (the ConfigMap must stay far below the API's 1 MiB object limit): the oldest unused ones
// go first, but never one younger than `min_age`.
inline constexpr const char* kEntryPrefix = "gpushare-";

struct PruneRule {
  std::function<bool(const std::string& entry)> in_use;
  std::chrono::system_clock::time_point now;
  std::chrono::system_clock::duration grace = std::chrono::minutes(10);
  std::size_t max_kept = 32;
  std::chrono::system_clock::duration min_age = std::chrono::minutes(1);
};

// Which of `present` (the entry names in `cm`) the rule removes; sorted.
std::vector<std::string> entries_to_prune(const nlohmann::json& cm,
                                          const std::vector<std::string>& present,
                                          const PruneRule& rule);

// Remove what entries_to_prune says, with the written-at annotations, in one
// resourceVersion-preconditioned write (kube/update.h: a concurrent writer is never undone).
// Returns the names removed (empty: nothing written).
ApiResult<std::vector<std::string>> prune_device_plugin_entries(Client& client,
                                                                const std::string& namespace_name,
                                                                const std::string& config_map,
                                                                const PruneRule& rule,
                                                                RmwOptions options = {});
ApiResult<std::vector<std::string>> prune_mig_parted_entries(Client& client,
                                                             const std::string& namespace_name,
                                                             const std::string& config_map,
                                                             const PruneRule& rule,
                                                             RmwOptions options = {});

// The mig-configs names in a mig-parted config.yaml (empty when it has none or is not YAML).
std::vector<std::string> mig_parted_entry_names(const std::string& config_yaml);
// config_yaml without the named mig-configs entries, every other key and layout as it was.
Result<std::string> drop_mig_parted_entries(const std::string& config_yaml,
                                            const std::vector<std::string>& names);

// The pure parts, for tests. JSON as YAML with every string double-quoted, so nothing ("0x10DE",
// "true", "1.0") changes type on the way back.
std::string to_yaml(const nlohmann::json& value);
// YAML text -> JSON (scalars: bool, integer, float, else string); nullopt when not YAML.
std::optional<nlohmann::json> yaml_to_json(const std::string& text);
// `config_yaml` (may be empty) with mig-configs[entry] = devices; nullopt when the entry
// already holds the same content. An error when config_yaml is not a mig-parted file.
Result<std::optional<std::string>> merge_mig_parted(const std::string& config_yaml,
                                                    const std::string& entry,
                                                    const nlohmann::json& devices);

}  // namespace gpushare::kube
