// The watch stream decoder: newline-delimited JSON events from a body that libcurl hands over in
// arbitrary pieces (an event may arrive split across writes, or several in one). Its own file so
// that Client::watch and the fuzz target (test/fuzz) run the same code on untrusted bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "kube/api_error.h"
#include "kube/client.h"
#include "kube/transport.h"

namespace gpushare::kube {

class WatchEventLines : public StreamSink {
 public:
  // handler and resource_version must outlive this; path names the watch in errors; limit
  // bounds one event line.
  WatchEventLines(const WatchHandler& handler, std::string& resource_version, std::string path,
                  std::size_t limit);

  // One piece of the body. False ends the stream: error or handler_stopped says why.
  bool write(long status, std::string_view data) override;

  // After a clean end of stream: a last event without its newline.
  void flush();

  std::optional<ApiError> error;
  bool handler_stopped = false;
  std::string error_body;  // a non-200 answer's body (a Status), first 64 KiB

 private:
  bool line(std::string_view text);
  void fail(ErrorKind kind, long status, std::string reason, const std::string& what);

  const WatchHandler& handler_;
  std::string& resource_version_;
  const std::string path_;
  const std::size_t limit_;
  std::string buffer_;
};

}  // namespace gpushare::kube
