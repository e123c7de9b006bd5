// Read-modify-write of one object, the one 409 loop: GET, let the caller change the object, PUT
// it back with the resourceVersion that was read as precondition. On 409 Conflict someone wrote
// in between: back off (doubling, jittered, so two writers that collided do not collide again in
// lockstep) and run the change again on what is there now. Nobody's write is ever lost.
// The same backoff and attempt budget cover an API server that is briefly unavailable: a GET
// that got no answer, 429 or 5xx, and a PUT refused with 429 (nothing written), start the
// attempt again. A PUT that timed out or got a 5xx is not retried: it may have been written.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "base/result.h"
#include "kube/client.h"

namespace gpushare::kube {

struct RmwOptions {
  int max_attempts = 6;
  std::chrono::milliseconds backoff{100};  // doubled per conflict, with up to +100% jitter
};

// Changes `object` in place: true when it changed (then it is written), false when it already
// is as wanted (nothing is sent), an Error to give up (returned as kDecode).
using ObjectChange = std::function<Result<bool>(nlohmann::json& object)>;

struct Updated {
  nlohmann::json object;  // as written, or as read when nothing changed
  bool written = false;
};

// Errors: the GET's or the PUT's (NotFound included: nothing is created), kDecode from
// `change`, or the last 409 or transient error after max_attempts.
ApiResult<Updated> update_object(Client& client, const std::string& path,
                                 const ObjectChange& change, const RmwOptions& options = {});

}  // namespace gpushare::kube
