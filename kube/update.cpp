#include "kube/update.h"

#include <random>
#include <thread>
#include <utility>

#include "logging/log.h"

namespace gpushare::kube {

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
    if (!current.ok()) return current.error();
    nlohmann::json object = std::move(*current);
    auto changed = change(object);
    if (!changed) return ApiError{ErrorKind::kDecode, 0, "", path + ": " + changed.error()};
    if (!*changed) return Updated{std::move(object), false};
    auto written = client.put(path, object);
    if (written.ok()) return Updated{std::move(*written), true};
    if (!written.is(ErrorKind::kConflict)) return written.error();
    logging::info("object changed while it was written, re-reading",
                  {{"path", path}, {"attempt", std::to_string(attempt + 1)}});
    last = written.error();
  }
  return last;
}

}  // namespace gpushare::kube
