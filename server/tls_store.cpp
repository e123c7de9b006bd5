#include "server/tls_store.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

namespace gpushare::server {

struct CertPair {
  X509* cert = nullptr;
  STACK_OF(X509) * chain = nullptr;
  EVP_PKEY* key = nullptr;
  ~CertPair() {
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

namespace {

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot be read"};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

Result<std::shared_ptr<const CertPair>> parse_pair(const std::string& cert_file,
                                                   const std::string& cert_pem,
                                                   const std::string& key_file,
                                                   const std::string& key_pem) {
  auto pair = std::make_shared<CertPair>();
  std::unique_ptr<BIO, BioDeleter> cbio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  pair->cert = PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr);
  if (!pair->cert) return Error{cert_file + ": no PEM certificate (" + openssl_error() + ")"};
  pair->chain = sk_X509_new_null();
  while (X509* extra = PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr))
    sk_X509_push(pair->chain, extra);
  ERR_clear_error();  // the loop ends on "no start line"
  std::unique_ptr<BIO, BioDeleter> kbio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  pair->key = PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr);
  if (!pair->key) return Error{key_file + ": no PEM private key (" + openssl_error() + ")"};
  if (X509_check_private_key(pair->cert, pair->key) != 1) {
    ERR_clear_error();
    return Error{key_file + ": the key does not match the certificate in " + cert_file};
  }
  return std::shared_ptr<const CertPair>(pair);
}

}  // namespace

TlsStore::TlsStore(std::string cert_file, std::string key_file, int min_version)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)), min_version_(min_version) {}

TlsStore::~TlsStore() { stop(); }

Result<bool> TlsStore::load() {
  auto cert_pem = read_file(cert_file_);
  if (!cert_pem) return Error{cert_pem.error()};
  auto key_pem = read_file(key_file_);
  if (!key_pem) return Error{key_pem.error()};
  return install(std::move(*cert_pem), std::move(*key_pem));
}

Result<bool> TlsStore::install(std::string cert_pem, std::string key_pem) {
  auto pair = parse_pair(cert_file_, cert_pem, key_file_, key_pem);
  if (!pair) return Error{pair.error()};
  std::lock_guard lock(mu_);
  pair_ = *pair;
  cert_pem_ = std::move(cert_pem);
  key_pem_ = std::move(key_pem);
  ++generation_;
  return true;
}

Result<bool> TlsStore::reload_if_changed() {
  auto cert_pem = read_file(cert_file_);
  auto key_pem = read_file(key_file_);
  if (!cert_pem || !key_pem) {
    // Kubernetes swaps Secret volumes through a symlink; a missing file is usually a
    // moment in that swap. Keep serving the pair we have.
    return Error{"certificate files not readable right now; keeping the loaded pair"};
  }
  {
    std::lock_guard lock(mu_);
    if (pair_ && *cert_pem == cert_pem_ && *key_pem == key_pem_) return false;
  }
  return install(std::move(*cert_pem), std::move(*key_pem));
}

bool TlsStore::loaded() const { return current() != nullptr; }

std::shared_ptr<const CertPair> TlsStore::current() const {
  std::lock_guard lock(mu_);
  return pair_;
}

int TlsStore::cert_callback(SSL* ssl, void* arg) {
  auto* self = static_cast<TlsStore*>(arg);
  auto pair = self->current();
  if (!pair) return 0;
  // SSL_use_cert_and_key takes its own references; override = 1 replaces anything set.
  return SSL_use_cert_and_key(ssl, pair->cert, pair->key, pair->chain, 1) == 1 ? 1 : 0;
}

bool TlsStore::configure(SSL_CTX& ctx) {
  if (SSL_CTX_set_min_proto_version(&ctx, min_version_) != 1 ||
      SSL_CTX_set_cipher_list(&ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set1_groups_list(&ctx, kTlsGroups) != 1) {
    ERR_clear_error();
    return false;
  }
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_cert_cb(&ctx, &TlsStore::cert_callback, this);
  // ALPN is not needed: kube-apiserver offers only http/1.1 to webhooks.
  return true;
}

void TlsStore::watch(std::chrono::seconds interval,
                     std::function<void(const Result<bool>&)> on_result) {
  watcher_.start(interval, base::PeriodicThread::FirstRound::kAfterPeriod,
                 [this, on_result = std::move(on_result)] {
                   auto r = reload_if_changed();
                   if (on_result) on_result(r);
                 });
}

void TlsStore::stop() { watcher_.stop(); }

}  // namespace gpushare::server
