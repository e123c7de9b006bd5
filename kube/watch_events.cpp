#include "kube/watch_events.h"

#include <utility>

#include "codec/json.h"

namespace gpushare::kube {

using codec::member;
using codec::string_member;

WatchEventLines::WatchEventLines(const WatchHandler& handler, std::string& resource_version,
                                 std::string path, std::size_t limit)
    : handler_(handler),
      resource_version_(resource_version),
      path_(std::move(path)),
      limit_(limit) {}

bool WatchEventLines::write(long status, std::string_view data) {
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

void WatchEventLines::flush() {
  if (!buffer_.empty() && !error && !handler_stopped) line(buffer_);
  buffer_.clear();
}

bool WatchEventLines::line(std::string_view text) {
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

void WatchEventLines::fail(ErrorKind kind, long status, std::string reason,
                           const std::string& what) {
  error = ApiError{kind, status, std::move(reason), "WATCH " + path_ + ": " + what};
}

}  // namespace gpushare::kube
