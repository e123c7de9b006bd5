#include "policy/dra.h"

#include <algorithm>
#include <map>

namespace gpushare::policy {

bool serves_through_dra(const NodeView& node) {
  if (!node.dra || node.dra->devices <= 0) return false;
  constexpr std::string_view kNvidia = "nvidia.com/";
  return std::none_of(node.allocatable.begin(), node.allocatable.end(), [&](const auto& kv) {
    return kv.second > 0 && std::string_view(kv.first).substr(0, kNvidia.size()) == kNvidia;
  });
}

std::string product_from_dra(std::string_view product_name) {
  std::string out(product_name);
  std::replace(out.begin(), out.end(), ' ', '-');
  return out;
}

std::vector<DraDeviceClass> dra_device_classes(const Catalog& catalog) {
  std::map<std::string, DraDeviceClass> by_name;
  for (const auto& model : catalog.models()) {
    for (const auto& profile : model.profiles) {
      const std::string resource = profile.resource_name();
      DraDeviceClass c;
      // "nvidia.com/mig-1g.10gb.me" -> "gpushare-mig-1g.10gb.me": a DNS subdomain, as
      // DeviceClass names must be, and the resource name readable in it.
      c.name = "gpushare-" + resource.substr(resource.find('/') + 1);
      c.profile = profile.name;
      c.extended_resource = resource;
      const std::string attr = "device.attributes['" + std::string(kNvidiaDraDriver) + "']";
      c.selector = "device.driver == '" + std::string(kNvidiaDraDriver) + "' && " + attr +
                   ".type == 'mig' && " + attr + ".profile == '" + profile.name + "'";
      by_name.emplace(c.name, std::move(c));
    }
  }
  std::vector<DraDeviceClass> out;
  out.reserve(by_name.size());
  for (auto& [name, c] : by_name) out.push_back(std::move(c));
  return out;
}

}  // namespace gpushare::policy
