#include "kube/transport.h"

#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "codec/json.h"

namespace gpushare::kube {

using codec::string_member;
namespace {

constexpr std::size_t kMaxIdleHandles = 8;

void global_init() {
  // curl_global_init is not thread-safe and must precede any other libcurl call.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct BufferSink {
  std::string* out;
  std::size_t limit;
  bool overflow = false;
};

size_t buffer_write(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BufferSink*>(user);
  std::size_t n = size * count;
  if (sink->out->size() + n > sink->limit) {
    sink->overflow = true;
    return 0;  // makes libcurl fail the transfer with CURLE_WRITE_ERROR
  }
  sink->out->append(data, n);
  return n;
}

struct StreamContext {
  CURL* handle;
  StreamSink* sink;
  std::exception_ptr failure;
};

size_t stream_write(char* data, size_t size, size_t count, void* user) {
  auto* ctx = static_cast<StreamContext*>(user);
  long status = 0;
  curl_easy_getinfo(ctx->handle, CURLINFO_RESPONSE_CODE, &status);
  try {
    return ctx->sink->write(status, std::string_view(data, size * count)) ? size * count : 0;
  } catch (...) {
    // An exception must not unwind through libcurl's C frames.
    ctx->failure = std::current_exception();
    return 0;
  }
}

int stop_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* stop = static_cast<const std::atomic<bool>*>(user);
  return stop != nullptr && stop->load() ? 1 : 0;
}

void share_lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
  static_cast<std::array<std::mutex, CURL_LOCK_DATA_LAST>*>(user)->at(data).lock();
}

void share_unlock(CURL*, curl_lock_data data, void* user) {
  static_cast<std::array<std::mutex, CURL_LOCK_DATA_LAST>*>(user)->at(data).unlock();
}

void set_blob(CURL* handle, CURLoption option, const std::string& pem) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(handle, option, &blob);
}

bool is_stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }

}  // namespace

Transport::Transport(KubeConfig config, ClientOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      token_(config_.token, config_.token_file) {
  global_init();
  share_ = curl_share_init();
  curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(share_, CURLSHOPT_USERDATA, &share_locks_.locks);
  // DNS answers and TLS sessions (cheaper reconnects) are safe to share across threads;
  // connections are not (CURLSHOPT_SHARE documents CURL_LOCK_DATA_CONNECT as unsupported).
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

Transport::~Transport() {
  for (CURL* handle : idle_) curl_easy_cleanup(handle);
  curl_share_cleanup(share_);
}

CURL* Transport::acquire() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_.empty()) {
      CURL* handle = idle_.back();
      idle_.pop_back();
      return handle;  // perform() reset it before pooling; its live connections stay for reuse
    }
  }
  return curl_easy_init();
}

void Transport::release(CURL* handle) {
  std::lock_guard lock(pool_mu_);
  if (idle_.size() < kMaxIdleHandles) {
    idle_.push_back(handle);
  } else {
    curl_easy_cleanup(handle);
  }
}

curl_slist* Transport::configure(CURL* h, const std::string& path, std::string_view content_type,
                                 char* error_buffer) {
  std::string url = config_.server + path;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_SHARE, share_);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  // Threads plus signals do not mix; with NOSIGNAL the threaded resolver keeps timeouts working.
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  // Keepalive finds a half-open connection (apiserver gone without a FIN) on a quiet watch.
  long idle = static_cast<long>(options_.tcp_keepalive_idle.count());
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, idle);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, idle > 1 ? idle / 2 : 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
  // The apiserver gzips large lists when asked.
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");

  curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (config_.insecure_skip_tls_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!config_.ca_pem.empty()) {
    set_blob(h, CURLOPT_CAINFO_BLOB, config_.ca_pem);
  } else if (!config_.ca_file.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, config_.ca_file.c_str());
  }
  if (!config_.client_cert_pem.empty()) {
    set_blob(h, CURLOPT_SSLCERT_BLOB, config_.client_cert_pem);
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
  } else if (!config_.client_cert_file.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, config_.client_cert_file.c_str());
  }
  if (!config_.client_key_pem.empty()) {
    set_blob(h, CURLOPT_SSLKEY_BLOB, config_.client_key_pem);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!config_.client_key_file.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLKEY, config_.client_key_file.c_str());
  }

  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  // Without this, libcurl waits up to a second for "100 Continue" before sending a large body.
  headers = curl_slist_append(headers, "Expect:");
  if (!content_type.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + std::string(content_type)).c_str());
  }
  if (std::string bearer = token_.current(); !bearer.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + bearer).c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  return headers;
}

Exchange Transport::perform(std::string_view method, const std::string& path,
                            const std::string& body, std::string_view content_type,
                            const std::atomic<bool>* stop) {
  Exchange ex;
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* h = acquire();
  curl_slist* headers =
      configure(h, path, body.empty() ? std::string_view() : content_type, error_buffer);
  std::string verb(method);
  if (verb == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, verb.c_str());
    if (!body.empty() || verb == "POST" || verb == "PUT" || verb == "PATCH") {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  BufferSink sink{&ex.body, options_.max_body_bytes};
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buffer_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  if (stop != nullptr) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, stop_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(stop));
  }
  ex.code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ex.status);
  ex.curl_error = error_buffer;
  if (sink.overflow)
    ex.curl_error = "response larger than " + std::to_string(sink.limit) + " bytes";
  ex.stopped = ex.code == CURLE_ABORTED_BY_CALLBACK && is_stopped(stop);
  // The easy handle keeps pointers to our header list and stop flag; reset before pooling.
  curl_easy_reset(h);
  curl_slist_free_all(headers);
  release(h);
  return ex;
}

Exchange Transport::stream(const std::string& path, StreamSink& sink,
                           std::chrono::milliseconds timeout, const std::atomic<bool>* stop) {
  Exchange ex;
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* h = curl_easy_init();
  curl_slist* headers = configure(h, path, {}, error_buffer);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  StreamContext ctx{h, &sink, nullptr};
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);

  CURLM* multi = curl_multi_init();
  curl_multi_add_handle(multi, h);
  bool done = false;
  while (!done) {
    if (is_stopped(stop)) {
      ex.stopped = true;
      ex.code = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      ex.code = CURLE_FAILED_INIT;
      break;
    }
    if (running == 0) {
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
        if (msg->msg == CURLMSG_DONE) ex.code = msg->data.result;
      }
      done = true;
      break;
    }
    // Wakes on socket activity or after 100 ms, whichever comes first, to look at the flag.
    curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ex.status);
  ex.curl_error = error_buffer;
  curl_multi_remove_handle(multi, h);
  curl_multi_cleanup(multi);
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  if (ctx.failure) std::rethrow_exception(ctx.failure);
  return ex;
}

ApiError Transport::error_for(std::string_view method, const std::string& path,
                              const Exchange& ex) const {
  ApiError error;
  std::string what = std::string(method) + " " + path;
  if (ex.stopped) {
    error.kind = ErrorKind::kStopped;
    error.message = what + ": stopped";
    return error;
  }
  if (ex.code != CURLE_OK) {
    error.kind = ErrorKind::kTransport;
    error.status = ex.status;
    error.message = what + " (" + config_.server + "): " + curl_easy_strerror(ex.code);
    if (!ex.curl_error.empty()) error.message += ": " + ex.curl_error;
    return error;
  }
  error.status = ex.status;
  // The apiserver answers errors with a Status object; its reason and message say what to do.
  std::string detail;
  auto status = nlohmann::json::parse(ex.body, nullptr, false);
  if (string_member(status, "kind") == "Status") {
    error.reason = string_member(status, "reason");
    detail = string_member(status, "message");
  } else {
    detail = ex.body.substr(0, 200);
  }
  error.kind = kind_for_status(ex.status, error.reason);
  error.message = what + ": " + std::to_string(ex.status) + " " +
                  (error.reason.empty() ? std::string(to_string(error.kind)) : error.reason);
  if (!detail.empty()) error.message += ": " + detail;
  return error;
}

}  // namespace gpushare::kube
