// Serving-certificate generation for the webhook and the scheduler extender (`gpushare certs`).
//
// One call makes a fresh ECDSA P-256 CA and a serving certificate signed by it, with the SANs that
// kube-apiserver dials for a service reference (`<svc>.<ns>.svc`, CONTRACT.md section 1 and
// shared/reference/kubernetes.md section 2.6) plus any extra DNS names and IP addresses. The CA's
// private key is returned to the caller but never written: a lost CA key means the next rotation
// makes a new CA, and the caBundle carries old and new CA during the overlap (certs/README.md).
//
// Expected failures (bad names, unwritable directory, OpenSSL errors) are values: gpushare::Result.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace gpushare::certs {

struct CertRequest {
  std::string service;                 // Service name: an RFC 1035 DNS label, like Kubernetes wants
  std::string namespace_name;          // Namespace: an RFC 1123 DNS label
  std::vector<std::string> dns_names;  // extra DNS SANs (RFC 1123 subdomains, `*.` allowed first)
  std::vector<std::string> ip_addresses;  // extra IP SANs, IPv4 or IPv6 (inet_pton syntax)
  int ca_days = 3650;                     // CA validity
  int serving_days = 365;                 // serving certificate validity, at most ca_days
};

// PEM text. Keys are unencrypted PKCS#8 ("BEGIN PRIVATE KEY").
struct CertBundle {
  std::string ca_cert_pem;
  std::string ca_key_pem;
  std::string serving_cert_pem;
  std::string serving_key_pem;
};

// File names inside the output directory; the same keys as a `kubernetes.io/tls` Secret
// (plus ca.crt, which cert-manager also writes), so the directory can be mounted as is.
inline constexpr std::string_view kCaCertFile = "ca.crt";
inline constexpr std::string_view kServingCertFile = "tls.crt";
inline constexpr std::string_view kServingKeyFile = "tls.key";

// The DNS SANs the serving certificate gets for `request`, in order: <svc>, <svc>.<ns>,
// <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local, then request.dns_names; duplicates dropped.
// Fails, naming the field and the value, when the request is invalid (IP addresses and validity
// days are checked too).
Result<std::vector<std::string>> serving_dns_names(const CertRequest& request);

// Generates the CA (basicConstraints critical CA:TRUE, keyUsage keyCertSign+cRLSign,
// subjectKeyIdentifier) and the serving certificate (CA:FALSE, digitalSignature, serverAuth,
// authorityKeyIdentifier, the SANs above, CN <svc>.<ns>.svc), each with a random 128-bit serial.
Result<CertBundle> generate_certificates(const CertRequest& request);

// Writes ca.crt and tls.crt (mode 0644) and tls.key (mode 0600) into `dir`, creating it (0755)
// when missing. Each file is written to a temporary name and renamed into place, so a server that
// watches the files never reads a half-written one. Returns the caBundle: base64 of ca.crt.
Result<std::string> write_certificates(const CertBundle& bundle, const std::string& dir);

// The subjectAltName entries of the first certificate in `pem`, as "DNS:<name>" and
// "IP:<address>" (IPv6 in its canonical inet_ntop form), in certificate order.
Result<std::vector<std::string>> certificate_sans(const std::string& pem);

// True when `pem` holds at least one certificate and every certificate in it has basicConstraints
// CA:TRUE. A caBundle must pass this: a leaf certificate there blocks every admission.
bool is_ca(const std::string& pem);

// True when the private key `key_pem` belongs to the first certificate in `cert_pem`.
bool key_matches_certificate(const std::string& cert_pem, const std::string& key_pem);

// Each certificate of a PEM bundle as its own PEM block, in order (anything between blocks is
// dropped); empty when there is none.
std::vector<std::string> split_certificates(const std::string& pem);

// notAfter of the first certificate in `pem`.
Result<std::chrono::system_clock::time_point> certificate_not_after(const std::string& pem);

// True when the first certificate in `cert_pem` carries a signature made by the key of one of the
// certificates in `ca_pem` (whose subject is its issuer). Validity dates are not checked here.
bool signed_by_any(const std::string& cert_pem, const std::string& ca_pem);

}  // namespace gpushare::certs
