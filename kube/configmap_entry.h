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
