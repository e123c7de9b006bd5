// Client::watch: newline-delimited JSON events over one long GET, decoded by WatchEventLines
// (kube/watch_events.h) as libcurl hands the body over.
#include "kube/client.h"
#include "kube/client_impl.h"
#include "kube/watch_events.h"

namespace gpushare::kube {

ApiResult<WatchEnd> Client::watch(const std::string& path, std::string& resource_version,
                                  const WatchHandler& handler, const std::atomic<bool>* stop,
                                  WatchOptions options) {
  Transport& t = impl_->transport;
  std::string url = with_query(path, "watch", "1");
  if (options.bookmarks) url = with_query(url, "allowWatchBookmarks", "true");
  if (options.timeout_seconds > 0) {
    url = with_query(url, "timeoutSeconds", std::to_string(options.timeout_seconds));
  }
  if (!resource_version.empty()) url = with_query(url, "resourceVersion", resource_version);

  WatchEventLines lines(handler, resource_version, path, t.options().max_body_bytes);
  // The server ends the stream at timeoutSeconds; our own limit is a margin beyond it, for a
  // server that never does. 0 means no client limit.
  std::chrono::milliseconds limit{0};
  if (options.timeout_seconds > 0) limit = std::chrono::seconds(options.timeout_seconds + 30);
  Exchange ex = t.stream(url, lines, limit, stop);

  if (lines.error) return *lines.error;
  if (lines.handler_stopped) return WatchEnd::kHandlerStopped;
  if (ex.stopped) return WatchEnd::kStopped;
  if (ex.code != CURLE_OK) return t.error_for("WATCH", path, ex);
  if (ex.status != 200) {
    if (ex.status == 401) t.token().invalidate();
    ex.body = std::move(lines.error_body);
    return t.error_for("WATCH", path, ex);
  }
  lines.flush();
  if (lines.error) return *lines.error;
  if (lines.handler_stopped) return WatchEnd::kHandlerStopped;
  return WatchEnd::kClosed;
}

}  // namespace gpushare::kube
