// certs/renewal: stored certificates are kept exactly when they still serve the request for longer
// than the margin, every other case names why, and the overlap bundle carries the new CA and the
// one that signed what is served now, not every CA ever made.
#include "certs/renewal.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace gpushare::certs {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;

CertRequest request_for(const std::string& service, int serving_days = 365) {
  CertRequest r;
  r.service = service;
  r.namespace_name = "gpushare-system";
  r.serving_days = serving_days;
  return r;
}

StoredCertificates stored_from(const CertBundle& b) {
  return {b.ca_cert_pem, b.serving_cert_pem, b.serving_key_pem};
}

StoredCertificates generated(const CertRequest& r) {
  auto b = generate_certificates(r);
  EXPECT_TRUE(b) << b.error();
  return stored_from(*b);
}

TEST(Renewal, KeepsOrNamesWhy) {
  const auto now = system_clock::now();
  const auto good = generated(request_for("gpushare"));
  const auto other = generated(request_for("gpushare"));
  const auto short_lived = generated(request_for("gpushare", 10));
  struct Case {
    std::string name;
    StoredCertificates stored;
    CertRequest request;
    std::string reason;  // empty: kept
  };
  auto with_ip = request_for("gpushare");
  with_ip.ip_addresses = {"10.0.0.1"};
  const std::vector<Case> cases = {
      {"valid for a year", good, request_for("gpushare"), ""},
      {"empty Secret", {}, request_for("gpushare"), "tls.crt is missing"},
      {"no key",
       {good.ca_cert_pem, good.serving_cert_pem, ""},
       request_for("gpushare"),
       "tls.key is missing"},
      {"no CA",
       {"", good.serving_cert_pem, good.serving_key_pem},
       request_for("gpushare"),
       "ca.crt is missing"},
      {"leaf as CA",
       {good.serving_cert_pem, good.serving_cert_pem, good.serving_key_pem},
       request_for("gpushare"),
       "ca.crt holds a certificate that is not a CA"},
      {"key of another pair",
       {good.ca_cert_pem, good.serving_cert_pem, other.serving_key_pem},
       request_for("gpushare"),
       "tls.key does not belong to tls.crt"},
      {"signed by another CA",
       {other.ca_cert_pem, good.serving_cert_pem, good.serving_key_pem},
       request_for("gpushare"),
       "tls.crt is not signed by a CA in ca.crt"},
      {"another service", good, request_for("webhook"), "tls.crt lacks the name DNS:webhook"},
      {"an IP it lacks", good, with_ip, "tls.crt lacks the name IP:10.0.0.1"},
      {"expires in 10 days", short_lived, request_for("gpushare"), "tls.crt expires on"},
  };
  for (const auto& c : cases) {
    auto reason = renewal_reason(c.stored, c.request, now, kDefaultRenewBefore);
    ASSERT_TRUE(reason) << c.name << ": " << reason.error();
    if (c.reason.empty()) {
      EXPECT_FALSE(reason->has_value()) << c.name << ": " << reason->value_or("");
    } else {
      ASSERT_TRUE(reason->has_value()) << c.name;
      EXPECT_EQ(reason->value().rfind(c.reason, 0), 0U) << c.name << ": " << reason->value();
    }
  }
}

TEST(Renewal, MarginDecides) {
  const auto now = system_clock::now();
  const auto ten_days = generated(request_for("gpushare", 10));
  auto kept = renewal_reason(ten_days, request_for("gpushare"), now, hours(24 * 5));
  ASSERT_TRUE(kept);
  EXPECT_FALSE(kept->has_value());
  auto renewed = renewal_reason(ten_days, request_for("gpushare"), now, hours(24 * 11));
  ASSERT_TRUE(renewed);
  ASSERT_TRUE(renewed->has_value());
  EXPECT_NE(renewed->value().find("(within 11 days)"), std::string::npos) << renewed->value();
}

TEST(Renewal, InvalidRequestIsAnError) {
  auto bad = renewal_reason({}, request_for("Not_A_Label"), system_clock::now(), hours(1));
  EXPECT_FALSE(bad);
}

TEST(Renewal, OverlapBundleHasTheNewCaAndTheOneServingNow) {
  const auto now = system_clock::now();
  const auto first = generated(request_for("gpushare"));
  const auto second = generated(request_for("gpushare"));
  const auto third = generated(request_for("gpushare"));

  // Renewing first -> second: both CAs, the new one first.
  const std::string bundle = overlap_ca_bundle(second, first, now);
  EXPECT_EQ(split_certificates(bundle),
            (std::vector<std::string>{split_certificates(second.ca_cert_pem).front(),
                                      split_certificates(first.ca_cert_pem).front()}));
  EXPECT_TRUE(is_ca(bundle));
  EXPECT_TRUE(signed_by_any(first.serving_cert_pem, bundle));
  EXPECT_TRUE(signed_by_any(second.serving_cert_pem, bundle));

  // Renewing again (second, stored with that bundle) -> third: first's CA signed nothing served.
  StoredCertificates stored_second = second;
  stored_second.ca_cert_pem = bundle;
  EXPECT_EQ(split_certificates(overlap_ca_bundle(third, stored_second, now)),
            (std::vector<std::string>{split_certificates(third.ca_cert_pem).front(),
                                      split_certificates(second.ca_cert_pem).front()}));

  // Nothing stored before: the new CA alone.
  EXPECT_EQ(overlap_ca_bundle(third, {}, now), split_certificates(third.ca_cert_pem).front());
}

TEST(Renewal, NotAfterAndSplit) {
  const auto now = system_clock::now();
  const auto ten_days = generated(request_for("gpushare", 10));
  auto not_after = certificate_not_after(ten_days.serving_cert_pem);
  ASSERT_TRUE(not_after) << not_after.error();
  EXPECT_GT(*not_after, now + hours(24 * 9));
  EXPECT_LT(*not_after, now + hours(24 * 11));
  EXPECT_FALSE(certificate_not_after("not a certificate"));
  EXPECT_TRUE(split_certificates("garbage").empty());
  EXPECT_EQ(split_certificates(ten_days.ca_cert_pem + ten_days.serving_cert_pem).size(), 2U);
}

}  // namespace
}  // namespace gpushare::certs
