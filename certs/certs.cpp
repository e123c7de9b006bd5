// Serving-certificate generation with the OpenSSL 3 EVP and X509 APIs (no deprecated
// RSA_*/EC_KEY_*).
#include "certs/certs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

#include "base/base64.h"

namespace gpushare::certs {
namespace {

// ---- RAII for the OpenSSL objects used here ---------------------------------------------------

struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct NameFree {
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
struct GeneralNameFree {
  void operator()(GENERAL_NAME* p) const { GENERAL_NAME_free(p); }
};

using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using NamePtr = std::unique_ptr<X509_NAME, NameFree>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, ExtFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, GeneralNameFree>;

// "<what>: <OpenSSL's reason>", and the thread's error queue left empty.
std::string openssl_error(std::string_view what) {
  std::string message(what);
  const unsigned long code = ERR_peek_last_error();
  if (code != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    message += ": ";
    message += buf.data();
  }
  ERR_clear_error();
  return message;
}

// ---- input validation ------------------------------------------------------------------------

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 label, as Kubernetes checks it: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool is_dns1123_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  for (char c : s) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

// RFC 1035 label: an RFC 1123 label that starts with a letter (what Kubernetes wants of a
// Service name).
bool is_dns1035_label(std::string_view s) {
  return is_dns1123_label(s) && s.front() >= 'a' && s.front() <= 'z';
}

// RFC 1123 subdomain (dot-separated labels, at most 253 characters); "*." may come first when at
// least one label follows.
bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (s.substr(0, 2) == "*.") s.remove_prefix(2);
  while (true) {
    const auto dot = s.find('.');
    if (!is_dns1123_label(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

struct IpAddress {
  std::string text;
  std::array<unsigned char, 16> bytes{};
  int length = 0;  // 4 or 16
};

bool parse_ip(const std::string& text, IpAddress& out) {
  out.text = text;
  if (inet_pton(AF_INET, text.c_str(), out.bytes.data()) == 1) {
    out.length = 4;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.bytes.data()) == 1) {
    out.length = 16;
    return true;
  }
  return false;
}

constexpr int kMaxDays = 36500;

struct ValidRequest {
  std::vector<std::string> dns_names;
  std::vector<IpAddress> ips;
};

Result<ValidRequest> validate(const CertRequest& r) {
  if (!is_dns1035_label(r.service)) {
    return Error{
        "invalid service name \"" + r.service +
        "\": a Service name must be an RFC 1035 DNS label (at most 63 characters of a-z, 0-9 and "
        "'-', starting with a letter and ending with a letter or digit)"};
  }
  if (!is_dns1123_label(r.namespace_name)) {
    return Error{
        "invalid namespace \"" + r.namespace_name +
        "\": a namespace must be an RFC 1123 DNS label (at most 63 characters of a-z, 0-9 and "
        "'-', starting and ending with a letter or digit)"};
  }
  if (r.ca_days < 1 || r.ca_days > kMaxDays) {
    return Error{"invalid CA validity " + std::to_string(r.ca_days) + " days: must be 1 to " +
                 std::to_string(kMaxDays)};
  }
  if (r.serving_days < 1 || r.serving_days > r.ca_days) {
    return Error{"invalid serving certificate validity " + std::to_string(r.serving_days) +
                 " days: must be 1 to the CA's validity (" + std::to_string(r.ca_days) + " days)"};
  }

  ValidRequest v;
  std::set<std::string> seen;
  auto add_dns = [&](const std::string& name) {
    if (seen.insert(name).second) v.dns_names.push_back(name);
  };
  const std::string svc_ns = r.service + "." + r.namespace_name;
  add_dns(r.service);
  add_dns(svc_ns);
  add_dns(svc_ns + ".svc");
  add_dns(svc_ns + ".svc.cluster.local");
  for (const auto& name : r.dns_names) {
    if (!is_dns_name(name)) {
      return Error{
          "invalid DNS name \"" + name +
          "\": must be a lowercase RFC 1123 DNS name (labels of a-z, 0-9 and '-' separated by "
          "dots, at most 253 characters; \"*.\" allowed first)"};
    }
    add_dns(name);
  }

  std::set<std::string> seen_ips;
  for (const auto& text : r.ip_addresses) {
    IpAddress ip;
    if (!parse_ip(text, ip)) {
      return Error{"invalid IP address \"" + text +
                   "\": must be an IPv4 (192.0.2.10) or IPv6 (2001:db8::10) "
                   "address, without port, prefix length or zone"};
    }
    std::string key(reinterpret_cast<const char*>(ip.bytes.data()),
                    static_cast<std::size_t>(ip.length));
    if (seen_ips.insert(key).second) v.ips.push_back(std::move(ip));
  }
  return v;
}

// ---- certificate building ---------------------------------------------------------------------

Result<PkeyPtr> new_p256_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Error{openssl_error("generating a P-256 key")};
  return key;
}

// 128 random bits, as a positive INTEGER (DER adds a leading zero octet when the top bit is set).
bool set_random_serial(X509* cert) {
  std::array<unsigned char, 16> bytes{};
  do {
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return false;
  } while (std::all_of(bytes.begin(), bytes.end(), [](unsigned char b) { return b == 0; }));
  BnPtr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  return bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

NamePtr make_name(const std::string& common_name) {
  NamePtr name(X509_NAME_new());
  if (!name) return name;
  auto add = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                      0) == 1;
  };
  if (!add("O", "gpushare") || !add("CN", common_name)) name.reset();
  return name;
}

// A certificate with version, serial, names, validity and public key set; no extensions yet.
Result<X509Ptr> new_certificate(const X509_NAME* subject, const X509_NAME* issuer,
                                EVP_PKEY* public_key, int days) {
  X509Ptr cert(X509_new());
  if (!cert) return Error{openssl_error("allocating a certificate")};
  // Backdated five minutes, so that a node whose clock is a little behind accepts it at once.
  constexpr long kBackdateSeconds = 5L * 60L;
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 || !set_random_serial(cert.get()) ||
      X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), issuer) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) == nullptr ||
      X509_set_pubkey(cert.get(), public_key) != 1) {
    return Error{openssl_error("filling in a certificate")};
  }
  return cert;
}

// Adds an extension written in OpenSSL's configuration syntax ("critical,CA:TRUE").
bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool add_subject_alt_names(X509* cert, const ValidRequest& names) {
  GeneralNamesPtr gens(sk_GENERAL_NAME_new_null());
  if (!gens) return false;
  auto push = [&](int type, ASN1_STRING* value) {
    GeneralNamePtr gn(GENERAL_NAME_new());
    if (!gn) {
      ASN1_STRING_free(value);
      return false;
    }
    GENERAL_NAME_set0_value(gn.get(), type, value);  // gn owns value from here
    if (sk_GENERAL_NAME_push(gens.get(), gn.get()) == 0) return false;
    static_cast<void>(gn.release());  // the stack owns gn from here
    return true;
  };
  for (const auto& dns : names.dns_names) {
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    if (s == nullptr || ASN1_STRING_set(s, dns.data(), static_cast<int>(dns.size())) != 1) {
      ASN1_IA5STRING_free(s);
      return false;
    }
    if (!push(GEN_DNS, s)) return false;
  }
  for (const auto& ip : names.ips) {
    ASN1_OCTET_STRING* s = ASN1_OCTET_STRING_new();
    if (s == nullptr || ASN1_OCTET_STRING_set(s, ip.bytes.data(), ip.length) != 1) {
      ASN1_OCTET_STRING_free(s);
      return false;
    }
    if (!push(GEN_IPADD, s)) return false;
  }
  return X509_add1_ext_i2d(cert, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_DEFAULT) == 1;
}

Result<std::string> cert_to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return Error{openssl_error("encoding a certificate as PEM")};
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<std::string> key_to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Error{openssl_error("encoding a private key as PEM")};
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

// Every certificate in `pem`, in order; empty when there is none.
std::vector<X509Ptr> read_certificates(const std::string& pem) {
  std::vector<X509Ptr> out;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(cert);
  }
  ERR_clear_error();  // the read that ends the loop leaves "no start line" behind
  return out;
}

// ---- files ------------------------------------------------------------------------------------

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// Writes `content` to dir/name with `mode`, through a temporary file and rename(2).
Result<bool> write_file_atomically(const std::filesystem::path& dir, std::string_view name,
                                   const std::string& content, mode_t mode) {
  const std::filesystem::path target = dir / std::string(name);
  std::string tmp = (dir / ("." + std::string(name) + ".tmp-XXXXXX")).string();
  const int fd = mkstemp(tmp.data());  // created with mode 0600
  if (fd < 0) {
    return Error{"cannot create a file in " + dir.string() + ": " + errno_text(errno)};
  }
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Error{what + " " + target.string() + ": " + errno_text(err)};
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set the mode of");
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Error{"cannot write " + target.string() + ": " + errno_text(err)};
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Error{"cannot rename a temporary file to " + target.string() + ": " + errno_text(err)};
  }
  return true;
}

}  // namespace

// ---- public API -------------------------------------------------------------------------------

Result<std::vector<std::string>> serving_dns_names(const CertRequest& request) {
  auto valid = validate(request);
  if (!valid) return Error{valid.error()};
  return std::move(valid.value().dns_names);
}

Result<CertBundle> generate_certificates(const CertRequest& request) {
  auto valid = validate(request);
  if (!valid) return Error{valid.error()};

  // The CA.
  auto ca_key = new_p256_key();
  if (!ca_key) return Error{ca_key.error()};
  NamePtr ca_name = make_name("gpushare-ca");
  if (!ca_name) return Error{openssl_error("building the CA's name")};
  auto ca = new_certificate(ca_name.get(), ca_name.get(), ca_key->get(), request.ca_days);
  if (!ca) return Error{ca.error()};
  X509* ca_cert = ca->get();
  if (!add_extension(ca_cert, ca_cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !add_extension(ca_cert, ca_cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_extension(ca_cert, ca_cert, NID_subject_key_identifier, "hash")) {
    return Error{openssl_error("adding the CA's extensions")};
  }
  if (X509_sign(ca_cert, ca_key->get(), EVP_sha256()) <= 0) {
    return Error{openssl_error("signing the CA certificate")};
  }

  // The serving certificate. Go ignores the CN (kubernetes.md 2.6) but people read it; an X.509
  // CN holds at most 64 characters, so a very long <svc>.<ns>.svc falls back to <svc>.
  auto key = new_p256_key();
  if (!key) return Error{key.error()};
  std::string cn = request.service + "." + request.namespace_name + ".svc";
  if (cn.size() > 64) cn = request.service;
  NamePtr name = make_name(cn);
  if (!name) return Error{openssl_error("building the serving certificate's name")};
  auto leaf = new_certificate(name.get(), ca_name.get(), key->get(), request.serving_days);
  if (!leaf) return Error{leaf.error()};
  X509* leaf_cert = leaf->get();
  if (!add_extension(leaf_cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(leaf_cert, ca_cert, NID_key_usage, "critical,digitalSignature") ||
      !add_extension(leaf_cert, ca_cert, NID_ext_key_usage, "serverAuth") ||
      !add_extension(leaf_cert, ca_cert, NID_subject_key_identifier, "hash") ||
      !add_extension(leaf_cert, ca_cert, NID_authority_key_identifier, "keyid:always") ||
      !add_subject_alt_names(leaf_cert, valid.value())) {
    return Error{openssl_error("adding the serving certificate's extensions")};
  }
  if (X509_sign(leaf_cert, ca_key->get(), EVP_sha256()) <= 0) {
    return Error{openssl_error("signing the serving certificate")};
  }

  CertBundle bundle;
  auto ca_pem = cert_to_pem(ca_cert);
  auto ca_key_pem = key_to_pem(ca_key->get());
  auto leaf_pem = cert_to_pem(leaf_cert);
  auto leaf_key_pem = key_to_pem(key->get());
  for (const auto* r : {&ca_pem, &ca_key_pem, &leaf_pem, &leaf_key_pem}) {
    if (!*r) return Error{r->error()};
  }
  bundle.ca_cert_pem = std::move(ca_pem).value();
  bundle.ca_key_pem = std::move(ca_key_pem).value();
  bundle.serving_cert_pem = std::move(leaf_pem).value();
  bundle.serving_key_pem = std::move(leaf_key_pem).value();
  return bundle;
}

Result<std::string> write_certificates(const CertBundle& bundle, const std::string& dir) {
  if (dir.empty()) return Error{"no output directory given"};
  // Refuse to hand out a caBundle that would block every admission (anchors.md 3.1).
  if (!is_ca(bundle.ca_cert_pem)) {
    return Error{"refusing to write: the CA certificate is not a CA (basicConstraints CA:TRUE)"};
  }
  if (read_certificates(bundle.serving_cert_pem).empty()) {
    return Error{"refusing to write: the serving certificate is not a PEM certificate"};
  }
  if (!key_matches_certificate(bundle.serving_cert_pem, bundle.serving_key_pem)) {
    return Error{"refusing to write: the serving key does not match the serving certificate"};
  }

  const std::filesystem::path path(dir);
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Error{"cannot create directory " + dir + ": " + ec.message()};
  if (!std::filesystem::is_directory(path, ec)) return Error{dir + " is not a directory"};

  // The key first, so that a reader never pairs a new certificate with an old key for long.
  const std::pair<std::string_view, std::pair<const std::string*, mode_t>> files[] = {
      {kServingKeyFile, {&bundle.serving_key_pem, 0600}},
      {kServingCertFile, {&bundle.serving_cert_pem, 0644}},
      {kCaCertFile, {&bundle.ca_cert_pem, 0644}},
  };
  for (const auto& [name, content_mode] : files) {
    auto written = write_file_atomically(path, name, *content_mode.first, content_mode.second);
    if (!written) return Error{written.error()};
  }
  return base::base64_encode(bundle.ca_cert_pem);
}

Result<std::vector<std::string>> certificate_sans(const std::string& pem) {
  auto certs = read_certificates(pem);
  if (certs.empty()) return Error{"no PEM certificate found"};
  std::vector<std::string> out;
  GeneralNamesPtr gens(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certs.front().get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!gens) return out;  // no subjectAltName extension
  for (int i = 0; i < sk_GENERAL_NAME_num(gens.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(gens.get(), i);
    auto text = [](const ASN1_STRING* s) {
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<std::size_t>(ASN1_STRING_length(s)));
    };
    switch (gn->type) {
      case GEN_DNS:
        out.push_back("DNS:" + text(gn->d.dNSName));
        break;
      case GEN_IPADD: {
        const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
        const int len = ASN1_STRING_length(ip);
        std::array<char, INET6_ADDRSTRLEN> buf{};
        const int family = len == 4 ? AF_INET : (len == 16 ? AF_INET6 : 0);
        if (family == 0 ||
            inet_ntop(family, ASN1_STRING_get0_data(ip), buf.data(), buf.size()) == nullptr) {
          out.emplace_back("IP:<malformed>");
        } else {
          out.push_back(std::string("IP:") + buf.data());
        }
        break;
      }
      case GEN_URI:
        out.push_back("URI:" + text(gn->d.uniformResourceIdentifier));
        break;
      case GEN_EMAIL:
        out.push_back("email:" + text(gn->d.rfc822Name));
        break;
      default:
        out.emplace_back("other:" + std::to_string(gn->type));
        break;
    }
  }
  return out;
}

bool is_ca(const std::string& pem) {
  auto certs = read_certificates(pem);
  if (certs.empty()) return false;
  for (const auto& cert : certs) {
    // EXFLAG_CA is set exactly when basicConstraints says CA:TRUE.
    if ((X509_get_extension_flags(cert.get()) & EXFLAG_CA) == 0) return false;
  }
  return true;
}

bool key_matches_certificate(const std::string& cert_pem, const std::string& key_pem) {
  auto certs = read_certificates(cert_pem);
  if (certs.empty()) return false;
  BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  if (!bio) return false;
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  const bool match = key && X509_check_private_key(certs.front().get(), key.get()) == 1;
  ERR_clear_error();
  return match;
}

std::vector<std::string> split_certificates(const std::string& pem) {
  std::vector<std::string> out;
  for (const auto& cert : read_certificates(pem)) {
    auto text = cert_to_pem(cert.get());
    if (text) out.push_back(std::move(*text));
  }
  return out;
}

Result<std::chrono::system_clock::time_point> certificate_not_after(const std::string& pem) {
  auto certs = read_certificates(pem);
  if (certs.empty()) return Error{"no PEM certificate found"};
  struct tm when {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certs.front().get()), &when) != 1) {
    return Error{openssl_error("reading a certificate's notAfter")};
  }
  return std::chrono::system_clock::from_time_t(timegm(&when));
}

bool signed_by_any(const std::string& cert_pem, const std::string& ca_pem) {
  auto certs = read_certificates(cert_pem);
  if (certs.empty()) return false;
  for (const auto& ca : read_certificates(ca_pem)) {
    if (X509_check_issued(ca.get(), certs.front().get()) != X509_V_OK) continue;
    EVP_PKEY* key = X509_get0_pubkey(ca.get());
    if (key != nullptr && X509_verify(certs.front().get(), key) == 1) {
      ERR_clear_error();
      return true;
    }
  }
  ERR_clear_error();
  return false;
}

}  // namespace gpushare::certs
