// The libcurl layer under Client: one configured easy handle per transfer (TLS trust, client
// certificate, bearer token, timeouts, keepalive), a small pool of idle handles so that
// keep-alive connections are reused, and a share of DNS and TLS sessions across threads.
// Connections themselves are not shared between threads: libcurl does not support that.
#pragma once

#include <curl/curl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kube/api_error.h"
#include "kube/bearer_token.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"

namespace gpushare::kube {

// What one transfer produced, before it is judged.
struct Exchange {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::string curl_error;  // libcurl's error buffer: the detail behind `code`
  bool stopped = false;    // ended by the caller's stop flag
};

// Receives a streamed body as it arrives, with the HTTP status of the answer. Returning false
// ends the transfer. Exceptions are carried across libcurl and rethrown by stream().
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool write(long status, std::string_view data) = 0;
};

class Transport {
 public:
  Transport(KubeConfig config, ClientOptions options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // One buffered request on a pooled handle. The stop flag is polled by libcurl's progress
  // callback (about once a second while idle).
  Exchange perform(std::string_view method, const std::string& path, const std::string& body,
                   std::string_view content_type, const std::atomic<bool>* stop);

  // One streaming GET whose body goes to sink (Exchange::body stays empty). It runs on its own
  // handle in a multi loop that checks the stop flag every 100 ms, so a quiet watch stops
  // promptly.
  Exchange stream(const std::string& path, StreamSink& sink, std::chrono::milliseconds timeout,
                  const std::atomic<bool>* stop);

  // The ApiError for a failed exchange ("GET /api/v1/nodes: 403 Forbidden: <message>").
  ApiError error_for(std::string_view method, const std::string& path, const Exchange& ex) const;

  const KubeConfig& config() const { return config_; }
  const ClientOptions& options() const { return options_; }
  BearerToken& token() { return token_; }

 private:
  struct ShareLocks {
    std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  };

  CURL* acquire();
  void release(CURL* handle);
  // Applies everything common to all transfers; returns the header list (caller frees it).
  curl_slist* configure(CURL* handle, const std::string& path, std::string_view content_type,
                        char* error_buffer);

  const KubeConfig config_;
  const ClientOptions options_;
  BearerToken token_;
  ShareLocks share_locks_;
  CURLSH* share_ = nullptr;
  std::mutex pool_mu_;
  std::vector<CURL*> idle_;
};

}  // namespace gpushare::kube
