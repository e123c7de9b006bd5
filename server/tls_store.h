// The serving certificate and key, reloaded when their content changes, without failing a
// request: each TLS handshake takes the pair current at that moment (OpenSSL cert callback),
// so a rotation never leaves a window with a half-updated pair. The TLS policy is Mozilla's
// "intermediate" profile: TLS 1.2 with ECDHE and AEAD suites only, and TLS 1.3.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "base/periodic_thread.h"
#include "base/result.h"

namespace gpushare::server {

struct CertPair;  // X509 + chain + key, freed together
struct ClientCa;  // the CAs client certificates must chain to, and their names

// TLS 1.2 suites of Mozilla's intermediate profile (ssl-config.mozilla.org, v5.7), ECDHE only
// (gpushare's keys are ECDSA P-256 or RSA): forward secrecy and AEAD, no CBC, no static RSA.
// TLS 1.3 suites are all AEAD; OpenSSL's defaults are kept for them.
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kTlsGroups = "X25519:P-256:P-384";

class TlsStore {
 public:
  // `min_version`: TLS1_2_VERSION (the default) or TLS1_3_VERSION (tls.minVersion).
  // `client_ca_file` (tls.clientCAFile): when not empty, every handshake requires a client
  // certificate that chains to one of its CAs (mTLS).
  TlsStore(std::string cert_file, std::string key_file, int min_version = TLS1_2_VERSION,
           std::string client_ca_file = {});
  ~TlsStore();
  TlsStore(const TlsStore&) = delete;
  TlsStore& operator=(const TlsStore&) = delete;

  // Loads the pair (and the client CAs); on error what was loaded before stays in use.
  Result<bool> load();
  // Reads both files and loads them again when their content differs from the pair in use
  // (not their mtime or size: a same-size pair written with an old mtime, or a kubelet
  // `..data` symlink swap, is a change too). Returns true when a new pair was installed. A
  // half-written pair (a new certificate with the old key) is an error and the pair in use
  // stays; the next check tries again.
  Result<bool> reload_if_changed();
  bool loaded() const;
  bool requires_client_certificate() const { return !client_ca_file_.empty(); }
  std::uint64_t generation() const { return generation_.load(); }

  // Sets up a fresh SSL_CTX for the server: the minimum version, the intermediate suites and
  // groups, no compression or renegotiation, the cert callback.
  bool configure(SSL_CTX& ctx);

  // Polls the files every `interval` on a thread of its own until stop().
  void watch(std::chrono::seconds interval, std::function<void(const Result<bool>&)> on_result);
  void stop();

 private:
  static int cert_callback(SSL* ssl, void* arg);
  std::shared_ptr<const CertPair> current() const;
  // Parses and installs the pair read from the files; the texts are kept to compare.
  Result<bool> install(std::string cert_pem, std::string key_pem);
  // The same for the client CA file (nothing when there is none); true when installed.
  Result<bool> install_client_ca(std::string pem);
  std::shared_ptr<const ClientCa> current_client_ca() const;

  std::string cert_file_;
  std::string key_file_;
  int min_version_;
  mutable std::mutex mu_;
  std::shared_ptr<const CertPair> pair_;
  std::string cert_pem_, key_pem_;  // the files' content when pair_ was loaded
  std::string client_ca_file_;
  std::shared_ptr<const ClientCa> client_ca_;
  std::string client_ca_pem_;
  std::atomic<std::uint64_t> generation_{0};

  base::PeriodicThread watcher_;  // last: stopped before the members its rounds read go
};

}  // namespace gpushare::server
