// A Kubernetes API client on libcurl: plain requests, paginated lists, watches, and the write
// verbs with the error kinds a controller acts on (Conflict, Gone, ...). Thread-safe: every
// method may be called from any thread at the same time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kube/api_error.h"
#include "kube/kubeconfig.h"

namespace gpushare::kube {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};  // each request; watches use their own
  std::chrono::seconds tcp_keepalive_idle{30};
  std::string user_agent = "gpushare/0.1";
  // Bound on one response body, and on one watch event line, so that a broken or hostile
  // server cannot make us allocate without limit.
  std::size_t max_body_bytes = std::size_t{512} << 20;
};

struct Response {
  long status = 0;
  std::string body;
};

struct ListResult {
  std::vector<nlohmann::json> items;
  std::string resource_version;  // of the list: where a watch starts
};

enum class PatchType { kMerge, kJson, kStrategic };

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED or BOOKMARK (ERROR never reaches a handler)
  nlohmann::json object;
};
// Called once per event, in order, on the calling thread. Return false to end the watch.
using WatchHandler = std::function<bool(const WatchEvent&)>;

struct WatchOptions {
  int timeout_seconds = 300;  // the server ends the stream after this; the caller re-watches
  bool bookmarks = true;      // allowWatchBookmarks: keeps resource_version fresh on quiet streams
};

enum class WatchEnd {
  kClosed,          // the server ended the stream cleanly (timeoutSeconds): watch again
  kStopped,         // the stop flag was set
  kHandlerStopped,  // the handler returned false
};

class Client {
 public:
  explicit Client(KubeConfig config, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One request to `path` (which starts with "/", and may carry a query). A 2xx answer is a
  // Response; anything else an ApiError carrying the Kubernetes Status reason and message.
  // A set stop flag aborts the transfer within about a second (kStopped).
  ApiResult<Response> request(std::string_view method, const std::string& path,
                              const std::string& body = {},
                              std::string_view content_type = "application/json",
                              const std::atomic<bool>* stop = nullptr);

  ApiResult<nlohmann::json> get(const std::string& path);
  // All items, following metadata.continue page by page (`limit` items a page). An expired
  // continue token (410 mid-way) restarts the list once without paging.
  ApiResult<ListResult> list(const std::string& path, int limit = 500,
                             const std::atomic<bool>* stop = nullptr);
  ApiResult<nlohmann::json> create(const std::string& path, const nlohmann::json& object);
  // Replaces the object. The precondition is the metadata.resourceVersion the body carries:
  // when the object changed since, the answer is ErrorKind::kConflict.
  ApiResult<nlohmann::json> put(const std::string& path, const nlohmann::json& object);
  ApiResult<nlohmann::json> patch(const std::string& path, const nlohmann::json& patch,
                                  PatchType type);
  ApiResult<nlohmann::json> remove(const std::string& path);

  // Streams `path`?watch=1 from resource_version, calling handler for each event.
  // resource_version is advanced past every delivered event and BOOKMARK, so after any
  // return the caller can watch again from it. An ERROR event with code 410 (or an HTTP 410)
  // is ErrorKind::kGone: relist. A dropped connection is ErrorKind::kTransport. A set stop
  // flag ends the watch within about 100 ms.
  ApiResult<WatchEnd> watch(const std::string& path, std::string& resource_version,
                            const WatchHandler& handler, const std::atomic<bool>* stop = nullptr,
                            WatchOptions options = {});

  const KubeConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `path` with `key=value` appended as a query parameter (value URL-encoded).
std::string with_query(const std::string& path, std::string_view key, std::string_view value);

}  // namespace gpushare::kube
