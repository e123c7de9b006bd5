#include "certs/renewal.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <ctime>

namespace gpushare::certs {
namespace {

// inet_pton + inet_ntop: the text certificate_sans prints for the same address.
std::string canonical_ip(const std::string& text) {
  std::array<unsigned char, 16> raw{};
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (inet_pton(AF_INET, text.c_str(), raw.data()) == 1 &&
      inet_ntop(AF_INET, raw.data(), buf.data(), buf.size()) != nullptr) {
    return buf.data();
  }
  if (inet_pton(AF_INET6, text.c_str(), raw.data()) == 1 &&
      inet_ntop(AF_INET6, raw.data(), buf.data(), buf.size()) != nullptr) {
    return buf.data();
  }
  return text;
}

std::string utc_date(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%d %H:%M UTC", &tm);
  return buf.data();
}

}  // namespace

Result<std::optional<std::string>> renewal_reason(const StoredCertificates& stored,
                                                  const CertRequest& request,
                                                  std::chrono::system_clock::time_point now,
                                                  std::chrono::hours renew_before) {
  auto dns = serving_dns_names(request);  // validates the request too
  if (!dns) return Error{dns.error()};
  using Reason = std::optional<std::string>;
  if (stored.serving_cert_pem.empty()) return Reason{"tls.crt is missing"};
  if (stored.serving_key_pem.empty()) return Reason{"tls.key is missing"};
  if (stored.ca_cert_pem.empty()) return Reason{"ca.crt is missing"};
  if (!is_ca(stored.ca_cert_pem)) return Reason{"ca.crt holds a certificate that is not a CA"};
  if (!key_matches_certificate(stored.serving_cert_pem, stored.serving_key_pem)) {
    return Reason{"tls.key does not belong to tls.crt"};
  }
  if (!signed_by_any(stored.serving_cert_pem, stored.ca_cert_pem)) {
    return Reason{"tls.crt is not signed by a CA in ca.crt"};
  }
  auto sans = certificate_sans(stored.serving_cert_pem);
  if (!sans) return Reason{"tls.crt: " + sans.error()};
  std::vector<std::string> wanted;
  for (const auto& name : *dns) wanted.push_back("DNS:" + name);
  for (const auto& ip : request.ip_addresses) wanted.push_back("IP:" + canonical_ip(ip));
  for (const auto& name : wanted) {
    if (std::find(sans->begin(), sans->end(), name) == sans->end()) {
      return Reason{"tls.crt lacks the name " + name};
    }
  }
  for (const auto* pem : {&stored.serving_cert_pem, &stored.ca_cert_pem}) {
    auto not_after = certificate_not_after(*pem);
    if (!not_after) return Reason{not_after.error()};
    if (*not_after <= now + renew_before) {
      const char* which = pem == &stored.ca_cert_pem ? "ca.crt" : "tls.crt";
      return Reason{std::string(which) + " expires on " + utc_date(*not_after) + " (within " +
                    std::to_string(renew_before.count() / 24) + " days)"};
    }
  }
  return Reason{};
}

std::string overlap_ca_bundle(const StoredCertificates& fresh, const StoredCertificates& old,
                              std::chrono::system_clock::time_point now) {
  std::vector<std::string> bundle = split_certificates(fresh.ca_cert_pem);
  for (auto& ca : split_certificates(old.ca_cert_pem)) {
    if (std::find(bundle.begin(), bundle.end(), ca) != bundle.end()) continue;
    if (!signed_by_any(old.serving_cert_pem, ca)) continue;
    auto not_after = certificate_not_after(ca);
    if (!not_after || *not_after <= now) continue;
    bundle.push_back(std::move(ca));
  }
  std::string out;
  for (const auto& ca : bundle) out += ca;
  return out;
}

}  // namespace gpushare::certs
