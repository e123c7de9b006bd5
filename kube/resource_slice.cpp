#include "kube/resource_slice.h"

#include <algorithm>
#include <set>

#include "codec/json.h"
#include "policy/dra.h"

namespace gpushare::kube {

using codec::member;
using codec::string_member;

namespace {

// A device attribute's string value. The driver publishes its attributes unqualified ("profile"),
// which the API reads as "gpu.nvidia.com/profile"; either spelling is accepted.
std::string string_attribute(const nlohmann::json& attributes, const std::string& name) {
  const std::string qualified = std::string(policy::kNvidiaDraDriver) + "/" + name;
  for (const std::string* key : {&name, &qualified}) {
    if (const nlohmann::json* value = codec::present_member(attributes, *key))
      return string_member(*value, "string");
  }
  return "";
}

std::vector<std::string> sorted(std::set<std::string> items) {
  return {items.begin(), items.end()};
}

}  // namespace

Result<std::optional<ResourceSliceRecord>> decode_resource_slice(const nlohmann::json& slice) {
  const nlohmann::json& metadata = member(slice, "metadata");
  ResourceSliceRecord out;
  out.name = string_member(metadata, "name");
  if (out.name.empty()) return Error{"resourceslice: metadata.name missing"};
  out.resource_version = string_member(metadata, "resourceVersion");
  const nlohmann::json& spec = member(slice, "spec");
  const std::optional<ResourceSliceRecord> none;
  if (string_member(spec, "driver") != policy::kNvidiaDraDriver) return none;
  out.node_name = string_member(spec, "nodeName");
  if (out.node_name.empty()) return none;

  std::set<std::string> products, profiles;
  const nlohmann::json& devices = member(spec, "devices");
  if (devices.is_array()) {
    for (const auto& device : devices) {
      const nlohmann::json& attributes = member(device, "attributes");
      ++out.gpus.devices;
      if (std::string product = string_attribute(attributes, "productName"); !product.empty())
        products.insert(policy::product_from_dra(product));
      if (string_attribute(attributes, "type") == "mig") {
        if (std::string profile = string_attribute(attributes, "profile"); !profile.empty())
          profiles.insert(std::move(profile));
      }
    }
  }
  out.gpus.products = sorted(std::move(products));
  out.gpus.profiles = sorted(std::move(profiles));
  return std::optional<ResourceSliceRecord>(std::move(out));
}

policy::DraGpus merge_dra_gpus(const std::vector<const policy::DraGpus*>& parts) {
  std::set<std::string> products, profiles;
  policy::DraGpus out;
  for (const policy::DraGpus* p : parts) {
    products.insert(p->products.begin(), p->products.end());
    profiles.insert(p->profiles.begin(), p->profiles.end());
    out.devices += p->devices;
  }
  out.products = sorted(std::move(products));
  out.profiles = sorted(std::move(profiles));
  return out;
}

}  // namespace gpushare::kube
