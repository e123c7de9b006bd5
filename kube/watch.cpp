// Client::watch: newline-delimited JSON events over one long GET. libcurl hands us the body in
// arbitrary pieces, so an event may arrive split across writes or several in one; lines are
// reassembled here before parsing.
#include <optional>

#include "codec/json.h"
#include "kube/client.h"
#include "kube/client_impl.h"

namespace gpushare::kube {

using codec::member;
using codec::string_member;
namespace {

class EventLines : public StreamSink {
 public:
  EventLines(const WatchHandler& handler, std::string& resource_version, std::string path,
             std::size_t limit)
      : handler_(handler),
        resource_version_(resource_version),
        path_(std::move(path)),
        limit_(limit) {}

  bool write(long status, std::string_view data) override {
    if (status != 200) {
      // An error answer (403, 410, ...) is a Status object, not events: keep it for error_for.
      if (error_body.size() < std::size_t{64} * 1024) error_body.append(data);
      return true;
    }
    buffer_.append(data);
    std::size_t start = 0;
    for (std::size_t nl; (nl = buffer_.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (!line(std::string_view(buffer_).substr(start, nl - start))) {
        buffer_.clear();
        return false;
      }
    }
    buffer_.erase(0, start);
    if (buffer_.size() > limit_) {
      fail(ErrorKind::kDecode, 200, "",
           "one event is larger than " + std::to_string(limit_) + " bytes");
      return false;
    }
    return true;
  }

  // After a clean end of stream: a last event without its newline.
  void flush() {
    if (!buffer_.empty() && !error && !handler_stopped) line(buffer_);
    buffer_.clear();
  }

  std::optional<ApiError> error;
  bool handler_stopped = false;
  std::string error_body;

 private:
  bool line(std::string_view text) {
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) return true;
    auto event = nlohmann::json::parse(text, nullptr, false);
    if (!event.is_object()) {
      fail(ErrorKind::kDecode, 200, "", "an event is not a JSON object");
      return false;
    }
    std::string type = string_member(event, "type");
    const nlohmann::json& object = member(event, "object");
    if (type == "ERROR") {
      // The object is a Status; 410 means our resourceVersion is older than etcd's history.
      const nlohmann::json& code = member(object, "code");
      long status = code.is_number_integer() ? code.get<long>() : 500;
      std::string reason = string_member(object, "reason");
      ErrorKind kind = kind_for_status(status, reason);
      fail(kind, status, reason,
           "ERROR event " + std::to_string(status) + " " +
               (reason.empty() ? std::string(to_string(kind)) : reason) + ": " +
               string_member(object, "message"));
      return false;
    }
    if (type != "ADDED" && type != "MODIFIED" && type != "DELETED" && type != "BOOKMARK") {
      return true;  // a type this client does not know: skip it rather than end the watch
    }
    bool go_on = handler_(WatchEvent{type, object});
    // Advanced only after the handler saw the event, so that a re-watch never skips one.
    std::string rv = string_member(member(object, "metadata"), "resourceVersion");
    if (!rv.empty()) resource_version_ = rv;
    if (!go_on) handler_stopped = true;
    return go_on;
  }

  void fail(ErrorKind kind, long status, std::string reason, const std::string& what) {
    error = ApiError{kind, status, std::move(reason), "WATCH " + path_ + ": " + what};
  }

  const WatchHandler& handler_;
  std::string& resource_version_;
  const std::string path_;
  const std::size_t limit_;
  std::string buffer_;
};

}  // namespace

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

  EventLines lines(handler, resource_version, path, t.options().max_body_bytes);
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
