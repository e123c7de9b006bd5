// `gpushare certs --secret`: the webhook's serving certificate kept in the cluster, as the Helm
// chart's certificate Jobs use it (charts/gpushare, certificates.mode: job). Run before and after
// every install and upgrade, it keeps the Secret while it still serves the Service's names for
// longer than the margin, and otherwise renews it without an admission outage: the webhook's
// caBundle gets the new CA beside the one in use first, then the Secret changes (certs/renewal.h).
// Run again with `--remove` after an uninstall, it deletes the Secret it wrote (and only that).
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"
#include "certs/certs.h"
#include "certs/renewal.h"
#include "kube/client.h"

namespace gpushare::server {

// The label that marks a Secret as written here: one written by someone else is never replaced
// or deleted, only used when it is still good.
inline constexpr const char* kCertsManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kCertsManagedByValue = "gpushare-certs";

struct ClusterCertsRequest {
  certs::CertRequest request;  // service and namespace: the Secret lives in that namespace
  std::string secret;          // Secret name
  std::string webhook;         // MutatingWebhookConfiguration whose caBundle to set; empty: none
  std::chrono::hours renew_before = certs::kDefaultRenewBefore;
};

struct ClusterCertsOutcome {
  bool renewed = false;
  std::string why;             // why renewed ("tls.crt expires on ..."), or why kept
  std::string ca_bundle;       // base64 of the Secret's ca.crt, as the webhook carries it
  bool webhook_found = false;  // false before install (pre-install: it does not exist yet)
  bool webhook_written = false;
};

Result<ClusterCertsOutcome> ensure_cluster_certificates(
    kube::Client& client, const ClusterCertsRequest& request,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// Deletes the Secret when it carries kCertsManagedByLabel; true when deleted, false when it was
// not there or is someone else's (then it is left alone).
Result<bool> remove_cluster_certificates(kube::Client& client, const std::string& namespace_name,
                                         const std::string& secret);

}  // namespace gpushare::server
