// Dynamic Resource Allocation: what gpushare decides about nodes whose GPUs NVIDIA's DRA driver
// publishes as ResourceSlices (docs/reference/nvidia-dra-driver.md), and the DeviceClasses that
// let kube-scheduler serve the webhook's nvidia.com/mig-<profile> requests from those devices
// (KEP-5004: a DeviceClass's extendedResourceName).
//
// On such a node kube-scheduler allocates devices itself, counting instances and (for
// DynamicMIG) memory slices through shared counters; gpushare never repartitions it. The
// extender keeps only the rules that DRA cannot know: gpushare.io/gpu-product, and which MIG
// profiles the node has at all.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/catalog.h"
#include "policy/views.h"

namespace gpushare::policy {

// The NVIDIA DRA driver's name: ResourceSlice spec.driver, and the domain of its attributes.
inline constexpr std::string_view kNvidiaDraDriver = "gpu.nvidia.com";

// The node's GPUs come through DRA: a DRA driver publishes devices for it, and the device plugin
// publishes no nvidia.com/* capacity (a node with both is still the device plugin's).
bool serves_through_dra(const NodeView& node);

// "NVIDIA H100 80GB HBM3" (the driver's productName attribute) -> "NVIDIA-H100-80GB-HBM3", the
// form GPU Feature Discovery labels and gpushare.io/gpu-product use.
std::string product_from_dra(std::string_view product_name);

// One DeviceClass: the devices of one MIG profile, whatever GPU model holds them, requested
// through the resource name the webhook writes.
struct DraDeviceClass {
  std::string name;               // "gpushare-mig-1g.10gb.me"
  std::string profile;            // "1g.10gb+me", as the driver's profile attribute says
  std::string extended_resource;  // "nvidia.com/mig-1g.10gb.me"
  std::string selector;           // CEL over the driver's attributes
};

// One class per distinct profile name of the catalog, sorted by name. A profile name says its
// memory and compute, so one class serves every model that has it; gpu-product still narrows
// the model through the extender.
std::vector<DraDeviceClass> dra_device_classes(const Catalog& catalog);

}  // namespace gpushare::policy
