#include "codec/mig_parted.h"

#include <optional>

namespace gpushare::codec {
namespace {

std::optional<policy::MigConfigEntry> decode_entry(const nlohmann::json& e) {
  if (!e.is_object()) return std::nullopt;
  policy::MigConfigEntry out;
  auto enabled = e.find("mig-enabled");
  if (enabled == e.end() || !enabled->is_boolean()) return std::nullopt;
  out.mig_enabled = enabled->get<bool>();
  auto devices = e.find("devices");
  if (devices == e.end()) return std::nullopt;
  if (devices->is_string()) {
    if (devices->get<std::string>() != "all") return std::nullopt;
  } else if (devices->is_array()) {
    for (const auto& d : *devices) {
      if (!d.is_number_integer() || d.get<long long>() < 0 || d.get<long long>() > 1024)
        return std::nullopt;
      out.devices.push_back(static_cast<int>(d.get<long long>()));
    }
    if (out.devices.empty()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (auto counts = e.find("mig-devices"); counts != e.end() && !counts->is_null()) {
    if (!counts->is_object()) return std::nullopt;
    for (const auto& [profile, n] : counts->items()) {
      if (!n.is_number_integer() || n.get<long long>() < 0 || n.get<long long>() > 64)
        return std::nullopt;
      if (n.get<long long>() > 0) out.mig_devices[profile] = static_cast<int>(n.get<long long>());
    }
  }
  return out;
}

}  // namespace

std::map<std::string, std::vector<policy::MigConfigEntry>> decode_mig_configs(
    const nlohmann::json& mig_configs) {
  std::map<std::string, std::vector<policy::MigConfigEntry>> out;
  if (!mig_configs.is_object()) return out;
  for (const auto& [name, entries] : mig_configs.items()) {
    if (!entries.is_array() || entries.empty()) continue;
    std::vector<policy::MigConfigEntry> decoded;
    for (const auto& e : entries) {
      auto entry = decode_entry(e);
      if (!entry) {
        decoded.clear();
        break;
      }
      decoded.push_back(std::move(*entry));
    }
    if (!decoded.empty()) out.emplace(name, std::move(decoded));
  }
  return out;
}

}  // namespace gpushare::codec
