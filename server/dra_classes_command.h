// `gpushare dra-classes`: the DeviceClasses that let kube-scheduler serve the webhook's
// nvidia.com/mig-<profile> requests from NVIDIA DRA driver devices (policy/dra.h), as YAML for
// kubectl apply. manifests/overlays/dra/deviceclasses.yaml is its output for the built-in
// catalog.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

namespace gpushare::server {

int run_dra_classes(const std::optional<std::string>& catalog_path, std::ostream& out,
                    std::ostream& err);

}  // namespace gpushare::server
