// certs/: the CA is a CA, the serving certificate chains to it for TLS server use with exactly the
// SANs asked for, the caBundle is the CA (never a leaf), files land with the right modes, and bad
// input is refused with a message that names it.
#include "certs/certs.h"

#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/base64.h"

namespace gpushare::certs {
namespace {

namespace fs = std::filesystem;

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr parse(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "gpushare-certs-test-XXXXXX").string();
    const char* made = mkdtemp(tmpl.data());
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

CertRequest basic_request() {
  CertRequest r;
  r.service = "gpushare";
  r.namespace_name = "gpushare-system";
  return r;
}

const CertBundle& shared_bundle() {
  static const CertBundle bundle = [] {
    CertRequest r = basic_request();
    r.dns_names = {"gpushare.example.com"};
    r.ip_addresses = {"127.0.0.1", "2001:DB8:0:0::10"};
    auto b = generate_certificates(r);
    if (!b) throw std::runtime_error(b.error());
    return std::move(b).value();
  }();
  return bundle;
}

// X509_verify_cert with the given trust anchors, purpose SSL server and, when given, a host name
// or IP address that must be in the SANs. Returns the verify error string, or "" when verified.
std::string verify(const std::string& ca_pem, const std::string& leaf_pem,
                   const std::string& host = "", const std::string& ip = "") {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())), &BIO_free);
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store.get(), ca);
    X509_free(ca);
  }
  X509Ptr leaf = parse(leaf_pem);
  if (!leaf) return "leaf does not parse";
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      &X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  if (!host.empty()) X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (!ip.empty()) X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str());
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

long days_valid(const X509* cert) {
  int days = 0;
  int seconds = 0;
  ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
  return days;
}

std::string serial_hex(const std::string& pem) {
  X509Ptr cert = parse(pem);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr), &BN_free);
  char* hex = BN_bn2hex(bn.get());
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

TEST(Certs, CaHasCriticalBasicConstraintsCaTrueAndCertSignUsage) {
  const auto& b = shared_bundle();
  EXPECT_TRUE(is_ca(b.ca_cert_pem));
  X509Ptr ca = parse(b.ca_cert_pem);
  ASSERT_TRUE(ca);
  const int idx = X509_get_ext_by_NID(ca.get(), NID_basic_constraints, -1);
  ASSERT_GE(idx, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(ca.get(), idx)), 1);
  EXPECT_NE(X509_get_extension_flags(ca.get()) & EXFLAG_CA, 0u);
  const uint32_t ku = X509_get_key_usage(ca.get());
  EXPECT_NE(ku & KU_KEY_CERT_SIGN, 0u);
  EXPECT_NE(ku & KU_CRL_SIGN, 0u);
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  EXPECT_EQ(X509_check_issued(ca.get(), ca.get()), X509_V_OK);  // self-signed
  // About ten years.
  EXPECT_GE(days_valid(ca.get()), 3650);
  EXPECT_LE(days_valid(ca.get()), 3651);
}

TEST(Certs, ServingCertificateIsALeafForServerAuth) {
  const auto& b = shared_bundle();
  EXPECT_FALSE(is_ca(b.serving_cert_pem));
  X509Ptr leaf = parse(b.serving_cert_pem);
  X509Ptr ca = parse(b.ca_cert_pem);
  ASSERT_TRUE(leaf && ca);
  EXPECT_EQ(X509_get_extension_flags(leaf.get()) & EXFLAG_CA, 0u);
  EXPECT_GE(X509_get_ext_by_NID(leaf.get(), NID_basic_constraints, -1), 0);  // CA:FALSE present
  EXPECT_NE(X509_get_key_usage(leaf.get()) & KU_DIGITAL_SIGNATURE, 0u);
  EXPECT_EQ(X509_get_key_usage(leaf.get()) & KU_KEY_CERT_SIGN, 0u);
  EXPECT_NE(X509_get_extended_key_usage(leaf.get()) & XKU_SSL_SERVER, 0u);
  // authorityKeyIdentifier names the CA's key.
  const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(leaf.get());
  ASSERT_NE(akid, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid, X509_get0_subject_key_id(ca.get())), 0);
  // CN <svc>.<ns>.svc, issued by the CA.
  std::array<char, 256> cn{};
  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.get()), NID_commonName, cn.data(),
                            static_cast<int>(cn.size()));
  EXPECT_STREQ(cn.data(), "gpushare.gpushare-system.svc");
  EXPECT_EQ(X509_check_issued(ca.get(), leaf.get()), X509_V_OK);
  // About one year.
  EXPECT_GE(days_valid(leaf.get()), 365);
  EXPECT_LE(days_valid(leaf.get()), 366);
}

TEST(Certs, ServingCertificateVerifiesAgainstTheCaForTheNamesTheApiserverDials) {
  const auto& b = shared_bundle();
  EXPECT_EQ(verify(b.ca_cert_pem, b.serving_cert_pem), "");
  // kube-apiserver dials <svc>.<ns>.svc for a service reference (kubernetes.md 2.6).
  EXPECT_EQ(verify(b.ca_cert_pem, b.serving_cert_pem, "gpushare.gpushare-system.svc"), "");
  EXPECT_EQ(verify(b.ca_cert_pem, b.serving_cert_pem, "gpushare.example.com"), "");
  EXPECT_EQ(verify(b.ca_cert_pem, b.serving_cert_pem, "", "127.0.0.1"), "");
  EXPECT_EQ(verify(b.ca_cert_pem, b.serving_cert_pem, "", "2001:db8::10"), "");
  EXPECT_NE(verify(b.ca_cert_pem, b.serving_cert_pem, "other.gpushare-system.svc"), "");
  EXPECT_NE(verify(b.ca_cert_pem, b.serving_cert_pem, "", "127.0.0.2"), "");
}

TEST(Certs, ServingCertificateDoesNotVerifyAgainstAnotherCa) {
  const auto& b = shared_bundle();
  auto other = generate_certificates(basic_request());
  ASSERT_TRUE(other) << other.error();
  EXPECT_NE(verify(other->ca_cert_pem, b.serving_cert_pem), "");
  // During rotation the caBundle holds old and new CA: both serving certificates verify.
  const std::string overlap = b.ca_cert_pem + other->ca_cert_pem;
  EXPECT_TRUE(is_ca(overlap));
  EXPECT_EQ(verify(overlap, b.serving_cert_pem), "");
  EXPECT_EQ(verify(overlap, other->serving_cert_pem), "");
}

// A real TLS handshake, in memory: a server using tls.crt/tls.key, a client that trusts only the
// caBundle and checks the name kube-apiserver dials, as Go's crypto/tls does. Returns "" on
// success.
std::string handshake(const std::string& trusted_pem, const CertBundle& server,
                      const std::string& host) {
  using CtxPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
  using SslPtr = std::unique_ptr<SSL, decltype(&SSL_free)>;
  CtxPtr sctx(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  CtxPtr cctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  X509Ptr cert = parse(server.serving_cert_pem);
  std::unique_ptr<BIO, decltype(&BIO_free)> kbio(
      BIO_new_mem_buf(server.serving_key_pem.data(),
                      static_cast<int>(server.serving_key_pem.size())),
      &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!cert || !key || SSL_CTX_use_certificate(sctx.get(), cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(sctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(sctx.get()) != 1) {
    return "server context";
  }
  X509_STORE* store = SSL_CTX_get_cert_store(cctx.get());
  std::unique_ptr<BIO, decltype(&BIO_free)> cabio(
      BIO_new_mem_buf(trusted_pem.data(), static_cast<int>(trusted_pem.size())), &BIO_free);
  while (X509* ca = PEM_read_bio_X509(cabio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, ca);
    X509_free(ca);
  }
  SSL_CTX_set_verify(cctx.get(), SSL_VERIFY_PEER, nullptr);
  SslPtr s(SSL_new(sctx.get()), &SSL_free);
  SslPtr c(SSL_new(cctx.get()), &SSL_free);
  BIO* sbio = nullptr;
  BIO* cbio = nullptr;
  BIO_new_bio_pair(&sbio, 0, &cbio, 0);
  SSL_set_bio(s.get(), sbio, sbio);
  SSL_set_bio(c.get(), cbio, cbio);
  SSL_set_accept_state(s.get());
  SSL_set_connect_state(c.get());
  SSL_set_tlsext_host_name(c.get(), host.c_str());
  SSL_set1_host(c.get(), host.c_str());
  bool c_done = false;
  bool s_done = false;
  for (int i = 0; i < 100 && !(c_done && s_done); ++i) {
    if (!c_done) {
      const int r = SSL_do_handshake(c.get());
      if (r == 1) {
        c_done = true;
      } else if (SSL_get_error(c.get(), r) != SSL_ERROR_WANT_READ) {
        const long v = SSL_get_verify_result(c.get());
        ERR_clear_error();
        return v != X509_V_OK ? X509_verify_cert_error_string(v) : "client handshake failed";
      }
    }
    if (!s_done) {
      const int r = SSL_do_handshake(s.get());
      if (r == 1) {
        s_done = true;
      } else if (SSL_get_error(s.get(), r) != SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return "server handshake failed";
      }
    }
  }
  if (!(c_done && s_done)) return "handshake did not finish";
  return SSL_get_verify_result(c.get()) == X509_V_OK ? "" : "not verified";
}

TEST(Certs, TlsHandshakeSucceedsWithTheCaBundleAndTheServiceName) {
  const auto& b = shared_bundle();
  EXPECT_EQ(handshake(b.ca_cert_pem, b, "gpushare.gpushare-system.svc"), "");
  EXPECT_NE(handshake(b.ca_cert_pem, b, "gpushare.other-namespace.svc"), "");
  auto other = generate_certificates(basic_request());
  ASSERT_TRUE(other) << other.error();
  EXPECT_NE(handshake(other->ca_cert_pem, b, "gpushare.gpushare-system.svc"), "");
  // A leaf as the "CA" (the caBundle bug) does not verify either.
  EXPECT_NE(handshake(b.serving_cert_pem, b, "gpushare.gpushare-system.svc"), "");
}

TEST(Certs, CarriesExactlyTheSansAskedFor) {
  const auto& b = shared_bundle();
  auto sans = certificate_sans(b.serving_cert_pem);
  ASSERT_TRUE(sans) << sans.error();
  const std::vector<std::string> expected = {
      "DNS:gpushare",
      "DNS:gpushare.gpushare-system",
      "DNS:gpushare.gpushare-system.svc",
      "DNS:gpushare.gpushare-system.svc.cluster.local",
      "DNS:gpushare.example.com",
      "IP:127.0.0.1",
      "IP:2001:db8::10",
  };
  EXPECT_EQ(*sans, expected);
}

TEST(Certs, DefaultSansOnlyAndDuplicatesDropped) {
  CertRequest r = basic_request();
  r.dns_names = {"gpushare.gpushare-system.svc", "*.gpushare.example.com"};
  r.ip_addresses = {"10.0.0.1", "10.0.0.1", "::1", "0:0:0:0:0:0:0:1"};
  auto b = generate_certificates(r);
  ASSERT_TRUE(b) << b.error();
  auto sans = certificate_sans(b->serving_cert_pem);
  ASSERT_TRUE(sans) << sans.error();
  const std::vector<std::string> expected = {
      "DNS:gpushare",
      "DNS:gpushare.gpushare-system",
      "DNS:gpushare.gpushare-system.svc",
      "DNS:gpushare.gpushare-system.svc.cluster.local",
      "DNS:*.gpushare.example.com",
      "IP:10.0.0.1",
      "IP:::1",
  };
  EXPECT_EQ(*sans, expected);
  auto names = serving_dns_names(r);
  ASSERT_TRUE(names);
  EXPECT_EQ(names->size(), 5u);
}

TEST(Certs, CaHasNoSans) {
  auto sans = certificate_sans(shared_bundle().ca_cert_pem);
  ASSERT_TRUE(sans);
  EXPECT_TRUE(sans->empty());
}

TEST(Certs, KeysMatchTheirCertificatesAndAreP256) {
  const auto& b = shared_bundle();
  EXPECT_TRUE(key_matches_certificate(b.serving_cert_pem, b.serving_key_pem));
  EXPECT_TRUE(key_matches_certificate(b.ca_cert_pem, b.ca_key_pem));
  EXPECT_FALSE(key_matches_certificate(b.serving_cert_pem, b.ca_key_pem));
  EXPECT_FALSE(key_matches_certificate(b.ca_cert_pem, b.serving_key_pem));
  EXPECT_FALSE(key_matches_certificate(b.serving_cert_pem, "not a key"));
  EXPECT_NE(b.serving_key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);

  X509Ptr leaf = parse(b.serving_cert_pem);
  EVP_PKEY* pub = X509_get0_pubkey(leaf.get());
  ASSERT_NE(pub, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(pub, "EC"));
  std::array<char, 64> group{};
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(pub, group.data(), group.size(), &len), 1);
  EXPECT_STREQ(group.data(), "prime256v1");
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_ecdsa_with_SHA256);
}

TEST(Certs, CaBundleDecodesToTheCaNotTheLeaf) {
  const auto& b = shared_bundle();
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  auto bundle = write_certificates(b, tmp.path().string());
  ASSERT_TRUE(bundle) << bundle.error();
  EXPECT_EQ(bundle->find('\n'), std::string::npos);  // one line, as caBundle wants
  auto decoded = base::base64_decode(*bundle);
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(*decoded, b.ca_cert_pem);
  EXPECT_NE(*decoded, b.serving_cert_pem);
  EXPECT_TRUE(is_ca(*decoded));
  EXPECT_EQ(*decoded, read_file(tmp.path() / "ca.crt"));
  EXPECT_EQ(verify(*decoded, read_file(tmp.path() / "tls.crt"), "gpushare.gpushare-system.svc"),
            "");
}

TEST(Certs, WritesFilesWithModesAndCreatesTheDirectory) {
  const auto& b = shared_bundle();
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const fs::path dir = tmp.path() / "nested" / "out";
  auto bundle = write_certificates(b, dir.string());
  ASSERT_TRUE(bundle) << bundle.error();
  auto mode = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode(dir / "tls.key"), 0600u);
  EXPECT_EQ(mode(dir / "tls.crt"), 0644u);
  EXPECT_EQ(mode(dir / "ca.crt"), 0644u);
  EXPECT_EQ(read_file(dir / "tls.key"), b.serving_key_pem);
  EXPECT_EQ(read_file(dir / "tls.crt"), b.serving_cert_pem);
  // Only the three files: no temporaries left behind, and no CA key.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"ca.crt", "tls.crt", "tls.key"}));

  // Writing again over the same files works (rotation) and keeps the modes.
  auto again = generate_certificates(basic_request());
  ASSERT_TRUE(again) << again.error();
  auto bundle2 = write_certificates(*again, dir.string());
  ASSERT_TRUE(bundle2) << bundle2.error();
  EXPECT_NE(*bundle2, *bundle);
  EXPECT_EQ(mode(dir / "tls.key"), 0600u);
  EXPECT_EQ(read_file(dir / "tls.key"), again->serving_key_pem);
}

TEST(Certs, WriteFailsAsAValueWhenTheDirectoryCannotBeMade) {
  const auto& b = shared_bundle();
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::ofstream(tmp.path() / "file") << "x";
  auto r = write_certificates(b, (tmp.path() / "file" / "sub").string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("file/sub"), std::string::npos) << r.error();
  EXPECT_FALSE(write_certificates(b, ""));
}

TEST(Certs, WriteRefusesALeafAsTheCa) {
  // The bug that blocked all admission elsewhere: a leaf in caBundle (anchors.md 3.1).
  CertBundle b = shared_bundle();
  b.ca_cert_pem = b.serving_cert_pem;
  TempDir tmp;
  auto r = write_certificates(b, (tmp.path() / "out").string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not a CA"), std::string::npos) << r.error();
  EXPECT_FALSE(fs::exists(tmp.path() / "out"));

  CertBundle mismatched = shared_bundle();
  mismatched.serving_key_pem = mismatched.ca_key_pem;
  auto r2 = write_certificates(mismatched, (tmp.path() / "out").string());
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().find("does not match"), std::string::npos) << r2.error();
}

TEST(Certs, IsCaRejectsLeavesMixedBundlesAndGarbage) {
  const auto& b = shared_bundle();
  EXPECT_FALSE(is_ca(b.serving_cert_pem));
  EXPECT_FALSE(is_ca(b.ca_cert_pem + b.serving_cert_pem));
  EXPECT_FALSE(is_ca(""));
  EXPECT_FALSE(is_ca("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
  EXPECT_FALSE(certificate_sans("garbage"));
}

void expect_error_naming(const CertRequest& r, const std::string& value, const std::string& what) {
  auto b = generate_certificates(r);
  ASSERT_FALSE(b) << "accepted " << value;
  EXPECT_NE(b.error().find("\"" + value + "\""), std::string::npos) << b.error();
  EXPECT_NE(b.error().find(what), std::string::npos) << b.error();
  EXPECT_FALSE(serving_dns_names(r));
}

TEST(Certs, BadServiceNameIsAnErrorNamingIt) {
  for (const std::string& bad :
       std::vector<std::string>{"", "Gpushare", "gpu_share", "-gpushare", "gpushare-", "1gpushare",
                                "gpu.share", std::string(64, 'a')}) {
    CertRequest r = basic_request();
    r.service = bad;
    expect_error_naming(r, bad, "service");
  }
}

TEST(Certs, BadNamespaceIsAnErrorNamingIt) {
  for (const std::string& bad :
       std::vector<std::string>{"", "Kube", "a.b", "ns_1", std::string(64, 'n')}) {
    CertRequest r = basic_request();
    r.namespace_name = bad;
    expect_error_naming(r, bad, "namespace");
  }
  CertRequest ok = basic_request();
  ok.namespace_name = "1-ns";  // a namespace may start with a digit
  EXPECT_TRUE(generate_certificates(ok));
}

TEST(Certs, BadIpIsAnErrorNamingIt) {
  for (const std::string& bad :
       std::vector<std::string>{"", "256.1.1.1", "10.0.0", "10.0.0.1/24", "10.0.0.1:443",
                                "fe80::1%eth0", "[::1]", "localhost", "2001:db8:::1"}) {
    CertRequest r = basic_request();
    r.ip_addresses = {"127.0.0.1", bad};
    expect_error_naming(r, bad, "IP address");
  }
}

TEST(Certs, BadDnsNameIsAnErrorNamingIt) {
  for (const std::string& bad :
       std::vector<std::string>{"", "Upper.example.com", "a..b", "a.b.", ".a", "a_b.example", "*",
                                "a.*.b", "-a.example", std::string(254, 'a')}) {
    CertRequest r = basic_request();
    r.dns_names = {bad};
    expect_error_naming(r, bad, "DNS name");
  }
}

TEST(Certs, BadValidityIsAnError) {
  CertRequest r = basic_request();
  r.serving_days = 0;
  EXPECT_FALSE(generate_certificates(r));
  r = basic_request();
  r.ca_days = 30;
  r.serving_days = 31;  // would outlive its CA
  auto b = generate_certificates(r);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().find("31"), std::string::npos) << b.error();
  r = basic_request();
  r.ca_days = 30;
  r.serving_days = 7;
  auto ok = generate_certificates(r);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(days_valid(parse(ok->serving_cert_pem).get()), 7);
}

TEST(Certs, LongNamesStillWorkAndTheCnFallsBack) {
  CertRequest r;
  r.service = "s" + std::string(62, 'x');
  r.namespace_name = std::string(63, 'n');
  auto b = generate_certificates(r);
  ASSERT_TRUE(b) << b.error();
  const std::string dialled = r.service + "." + r.namespace_name + ".svc";
  EXPECT_EQ(verify(b->ca_cert_pem, b->serving_cert_pem, dialled), "");
}

TEST(Certs, TwoGenerationsDifferInSerialsAndKeys) {
  auto a = generate_certificates(basic_request());
  auto b = generate_certificates(basic_request());
  ASSERT_TRUE(a && b);
  EXPECT_NE(serial_hex(a->serving_cert_pem), serial_hex(b->serving_cert_pem));
  EXPECT_NE(serial_hex(a->ca_cert_pem), serial_hex(b->ca_cert_pem));
  EXPECT_NE(serial_hex(a->ca_cert_pem), serial_hex(a->serving_cert_pem));
  EXPECT_NE(a->serving_key_pem, b->serving_key_pem);
  EXPECT_NE(a->ca_key_pem, b->ca_key_pem);
  // Positive and at most 128 bits (RFC 5280: at most 20 octets).
  X509Ptr cert = parse(a->serving_cert_pem);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr), &BN_free);
  EXPECT_FALSE(BN_is_negative(bn.get()));
  EXPECT_FALSE(BN_is_zero(bn.get()));
  EXPECT_LE(BN_num_bits(bn.get()), 128);
  EXPECT_GT(BN_num_bits(bn.get()), 64);  // fails with probability 2^-64
}

}  // namespace
}  // namespace gpushare::certs
