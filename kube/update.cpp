#include "kube/update.h"

#include <random>
#include <thread>
#include <utility>

#include "logging/log.h"

namespace gpushare::kube {

namespace {

// Failures that left the object as it was and may pass: the GET of any kind of unavailability
// (no answer, 429, 5xx), the PUT only when the API server refused it before writing (429). A
// PUT that timed out or got a 5xx may have been written: it is not retried blindly, since the
// caller's change would then meet its own write and read it as someone else's.
bool transient_read(const ApiError& e) {
  return e.kind == ErrorKind::kTransport || e.kind == ErrorKind::kTooManyRequests ||
         e.kind == ErrorKind::kServerError;
}
bool transient_write(const ApiError& e) { return e.kind == ErrorKind::kTooManyRequests; }

}  // namespace

ApiResult<Updated> update_object(Client& client, const std::string& path,
                                 const ObjectChange& change, const RmwOptions& options) {
  std::mt19937 random(std::random_device{}());
  auto backoff = options.backoff;
  ApiError last{ErrorKind::kConflict, 409, "Conflict", "PUT " + path + ": no attempt made"};
  for (int attempt = 0; attempt < options.max_attempts; ++attempt) {
    if (attempt > 0) {
      std::uniform_int_distribution<long long> jitter(0, backoff.count());
      std::this_thread::sleep_for(backoff + std::chrono::milliseconds(jitter(random)));
      backoff *= 2;
    }
    auto current = client.get(path);
    if (!current.ok()) {
      if (!transient_read(current.error())) return current.error();
      logging::info("object could not be read, retrying", {{"path", path},
                                                           {"attempt", std::to_string(attempt + 1)},
                                                           {"error", current.error().message}});
      last = current.error();
      continue;
    }
    nlohmann::json object = std::move(*current);
    auto changed = change(object);
    if (!changed) return ApiError{ErrorKind::kDecode, 0, "", path + ": " + changed.error()};
    if (!*changed) return Updated{std::move(object), false};
    auto written = client.put(path, object);
    if (written.ok()) return Updated{std::move(*written), true};
    if (transient_write(written.error())) {
      logging::info("write refused for now (429), retrying",
                    {{"path", path}, {"attempt", std::to_string(attempt + 1)}});
      last = written.error();
      continue;
    }
    if (!written.is(ErrorKind::kConflict)) return written.error();
    logging::info("object changed while it was written, re-reading",
                  {{"path", path}, {"attempt", std::to_string(attempt + 1)}});
    last = written.error();
  }
  return last;
}

}  // namespace gpushare::kube
