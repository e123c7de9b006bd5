// The one policy behind both doors: the HTTP endpoints and the offline subcommands call the
// same functions with the same inputs, so `gpushare mutate` answers exactly what POST
// /mutate answers (CONTRACT.md section 1).
#pragma once

#include <string>
#include <string_view>

#include "policy/admission.h"
#include "policy/catalog.h"
#include "policy/intent.h"
#include "server/cluster_state.h"

namespace gpushare::server {

struct Reply {
  int http_status = 200;
  std::string body;
  std::string error;  // one line when http_status != 200
  // For logs and metrics.
  std::string subject;  // the pod
  std::string outcome;  // allowed / denied / out-of-scope, or the filter counts
  std::string rule;
  std::string detail;
};

struct ServiceSettings {
  policy::AdmissionSettings admission;
  policy::PlacementPolicy default_placement = policy::PlacementPolicy::kBinpack;
};

class Service {
 public:
  Service(const policy::Catalog& catalog, const ClusterState& cluster, ServiceSettings settings)
      : catalog_(catalog), cluster_(cluster), settings_(std::move(settings)) {}

  Reply mutate(std::string_view body) const;
  Reply filter(std::string_view body) const;
  Reply prioritize(std::string_view body) const;

  const ClusterState& cluster() const { return cluster_; }
  const policy::Catalog& catalog() const { return catalog_; }

 private:
  const policy::Catalog& catalog_;
  const ClusterState& cluster_;
  ServiceSettings settings_;
};

}  // namespace gpushare::server
