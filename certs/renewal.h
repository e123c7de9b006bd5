// When serving certificates kept in the cluster (the Secret `gpushare certs --secret` writes, which
// the Helm chart's certificate Jobs run before and after every install and upgrade) can be kept,
// and which CAs the webhook's caBundle must carry across a renewal.
//
// A renewal makes a new CA (the CA key is never stored, certs.h). kube-apiserver trusts only the
// caBundle, and the pods see a rewritten Secret only when the kubelet refreshes the mount (about a
// minute), then reload it (tls.reloadCheck): for that minute the old serving certificate is still
// served. So the caBundle first gets the new CA beside the one that signed the old certificate,
// and only then does the Secret change.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "certs/certs.h"

namespace gpushare::certs {

// What a `kubernetes.io/tls` Secret written by gpushare holds (PEM), any of it possibly empty.
struct StoredCertificates {
  std::string ca_cert_pem;       // ca.crt: the caBundle, one or more CA certificates
  std::string serving_cert_pem;  // tls.crt
  std::string serving_key_pem;   // tls.key
};

// The default margin: replaced when it expires within 30 days (cert-manager's default too).
inline constexpr std::chrono::hours kDefaultRenewBefore{24 * 30};

// Why `stored` cannot serve `request` until `now + renew_before`, in words an operator can act on
// ("tls.crt lacks the name DNS:gpushare.ns.svc", "tls.crt expires on 2027-01-02 (within 30
// days)"), or nullopt when it can be kept. A request that is itself invalid is an Error.
Result<std::optional<std::string>> renewal_reason(const StoredCertificates& stored,
                                                  const CertRequest& request,
                                                  std::chrono::system_clock::time_point now,
                                                  std::chrono::hours renew_before);

// The caBundle (PEM) to publish while `fresh` replaces `old`: fresh.ca_cert_pem first, then each
// CA of old.ca_cert_pem that signed old.serving_cert_pem and is still valid at `now`. CAs that
// signed nothing served any more are dropped, so the bundle does not grow with every renewal.
std::string overlap_ca_bundle(const StoredCertificates& fresh, const StoredCertificates& old,
                              std::chrono::system_clock::time_point now);

}  // namespace gpushare::certs
