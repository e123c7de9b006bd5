// The serving certificate and key, reloaded when their files change, without failing a
// request: each TLS handshake takes the pair current at that moment (OpenSSL cert callback),
// so a rotation never leaves a window with a half-updated pair.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "base/periodic_thread.h"
#include "base/result.h"

namespace gpushare::server {

struct CertPair;  // X509 + chain + key, freed together

class TlsStore {
 public:
  TlsStore(std::string cert_file, std::string key_file);
  ~TlsStore();
  TlsStore(const TlsStore&) = delete;
  TlsStore& operator=(const TlsStore&) = delete;

  // Loads the pair; on error the previous pair (if any) stays in use.
  Result<bool> load();
  // Loads again when either file's modification time or size changed. Returns true when a
  // new pair was installed.
  Result<bool> reload_if_changed();
  bool loaded() const;
  std::uint64_t generation() const { return generation_.load(); }

  // Sets up a fresh SSL_CTX for the server: TLS 1.2 minimum, the cert callback.
  bool configure(SSL_CTX& ctx);

  // Polls the files every `interval` on a thread of its own until stop().
  void watch(std::chrono::seconds interval, std::function<void(const Result<bool>&)> on_result);
  void stop();

 private:
  static int cert_callback(SSL* ssl, void* arg);
  std::shared_ptr<const CertPair> current() const;

  std::string cert_file_;
  std::string key_file_;
  mutable std::mutex mu_;
  std::shared_ptr<const CertPair> pair_;
  std::filesystem::file_time_type cert_mtime_{}, key_mtime_{};
  std::uintmax_t cert_size_ = 0, key_size_ = 0;
  std::atomic<std::uint64_t> generation_{0};

  base::PeriodicThread watcher_;  // last: stopped before the members its rounds read go
};

}  // namespace gpushare::server
