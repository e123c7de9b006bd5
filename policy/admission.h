// The admission decision (CONTRACT.md section 3, rules 1-7): which resource each container's
// nvidia.com/gpu request becomes, or why the pod is denied. Pure: the webhook renders it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "policy/catalog.h"
#include "policy/cluster_facts.h"
#include "policy/intent.h"
#include "policy/views.h"

namespace gpushare::policy {

struct AdmissionSettings {
  std::string annotation_prefix = "gpushare.io/";
};

// In one container, the resource `from` (in limits and in requests, wherever present) is
// replaced by `to` with the same quantity text.
struct ResourceRename {
  std::size_t container = 0;  // index into PodView::containers
  std::string from;
  std::string to;
};

enum class AdmissionOutcome { kOutOfScope, kAllowed, kDenied };
std::string_view to_string(AdmissionOutcome outcome);

struct AdmissionDecision {
  AdmissionOutcome outcome = AdmissionOutcome::kOutOfScope;
  std::string rule;               // the CONTRACT rule that decided, for logs ("3.3 mps")
  std::string message;            // the denial, a sentence a user can act on
  std::string assigned_resource;  // the resource chosen; empty when none was mapped
  std::vector<ResourceRename> renames;
  std::vector<std::string> warnings;  // each at most ~120 characters
  // The annotation to record (rule 7): key with prefix, value. Empty key: none to add.
  std::string annotation_key;
  std::string annotation_value;
};

AdmissionDecision decide_admission(const PodView& pod, std::string_view operation,
                                   const ClusterFacts& cluster, const Catalog& catalog,
                                   const AdmissionSettings& settings);

}  // namespace gpushare::policy
