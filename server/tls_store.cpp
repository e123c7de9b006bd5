#include "server/tls_store.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

struct ClientCa {
  X509_STORE* store = nullptr;
  STACK_OF(X509_NAME) * names = nullptr;  // sent in the CertificateRequest
  ~ClientCa() {
    X509_STORE_free(store);
    sk_X509_NAME_pop_free(names, X509_NAME_free);
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

// Every certificate in the file must be a CA: a leaf there would be trusted as an issuer.
Result<std::shared_ptr<const ClientCa>> parse_client_ca(const std::string& file,
                                                        const std::string& pem) {
  auto ca = std::make_shared<ClientCa>();
  ca->store = X509_STORE_new();
  ca->names = sk_X509_NAME_new_null();
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    std::unique_ptr<X509, decltype(&X509_free)> owned(cert, X509_free);
    ++count;
    if (X509_check_ca(cert) == 0) {
      ERR_clear_error();
      return Error{file + ": certificate " + std::to_string(count) +
                   " is not a CA (tls.clientCAFile lists the CAs that sign client certificates)"};
    }
    if (X509_STORE_add_cert(ca->store, cert) != 1) {
      return Error{file + ": certificate " + std::to_string(count) + ": " + openssl_error()};
    }
    sk_X509_NAME_push(ca->names, X509_NAME_dup(X509_get_subject_name(cert)));
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (count == 0) return Error{file + ": no PEM certificate (tls.clientCAFile)"};
  return std::shared_ptr<const ClientCa>(ca);
}

}  // namespace

TlsStore::TlsStore(std::string cert_file, std::string key_file, int min_version,
                   std::string client_ca_file)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      min_version_(min_version),
      client_ca_file_(std::move(client_ca_file)) {}

TlsStore::~TlsStore() { stop(); }

Result<bool> TlsStore::load() {
  auto cert_pem = read_file(cert_file_);
  if (!cert_pem) return Error{cert_pem.error()};
  auto key_pem = read_file(key_file_);
  if (!key_pem) return Error{key_pem.error()};
  if (!client_ca_file_.empty()) {
    auto ca_pem = read_file(client_ca_file_);
    if (!ca_pem) return Error{ca_pem.error()};
    if (auto ca = install_client_ca(std::move(*ca_pem)); !ca) return Error{ca.error()};
  }
  return install(std::move(*cert_pem), std::move(*key_pem));
}

Result<bool> TlsStore::install_client_ca(std::string pem) {
  auto ca = parse_client_ca(client_ca_file_, pem);
  if (!ca) return Error{ca.error()};
  std::lock_guard lock(mu_);
  client_ca_ = *ca;
  client_ca_pem_ = std::move(pem);
  ++generation_;
  return true;
}

std::shared_ptr<const ClientCa> TlsStore::current_client_ca() const {
  std::lock_guard lock(mu_);
  return client_ca_;
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
  bool ca_changed = false;
  if (!client_ca_file_.empty()) {
    auto ca_pem = read_file(client_ca_file_);
    if (!ca_pem) return Error{"client CA file not readable right now; keeping the loaded CAs"};
    bool same = false;
    {
      std::lock_guard lock(mu_);
      same = client_ca_ && *ca_pem == client_ca_pem_;
    }
    if (!same) {
      // A bad CA file keeps the CAs in use (and the serving pair is still checked below).
      auto installed = install_client_ca(std::move(*ca_pem));
      if (!installed) return Error{installed.error()};
      ca_changed = true;
    }
  }
  {
    std::lock_guard lock(mu_);
    if (pair_ && *cert_pem == cert_pem_ && *key_pem == key_pem_) return ca_changed;
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
  if (self->requires_client_certificate()) {
    // The CAs current at this handshake: the client's certificate is verified against them
    // (after this callback), and their names go in the CertificateRequest.
    auto ca = self->current_client_ca();
    if (!ca) return 0;
    STACK_OF(X509_NAME)* names = SSL_dup_CA_list(ca->names);
    if (names == nullptr || SSL_set1_verify_cert_store(ssl, ca->store) != 1) {
      sk_X509_NAME_pop_free(names, X509_NAME_free);
      return 0;
    }
    SSL_set_client_CA_list(ssl, names);  // takes ownership
  }
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
  if (requires_client_certificate()) {
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    // No resumption: every connection shows a certificate verified against the CAs current
    // then, so a CA taken out of the file stops being accepted at once. kube-apiserver and
    // kube-scheduler keep their connections alive, so full handshakes stay rare.
    SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(&ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(&ctx, 0);
  }
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
