// Errors from kube-apiserver as values. Callers of the API must tell a conflict (re-read and
// retry) from a 410 (relist) from a dropped connection (back off), so kube/ results carry an
// ApiError with a kind rather than only a message.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"

namespace gpushare::kube {

enum class ErrorKind {
  kTransport,        // no HTTP answer: connect, TLS, timeout, dropped connection
  kBadRequest,       // 400
  kUnauthorized,     // 401
  kForbidden,        // 403
  kNotFound,         // 404
  kConflict,         // 409 (resourceVersion precondition failed)
  kAlreadyExists,    // 409 with reason AlreadyExists (create of an existing name)
  kGone,             // 410, or a watch ERROR event with code 410: relist
  kInvalid,          // 422
  kTooManyRequests,  // 429
  kServerError,      // 5xx
  kDecode,           // the answer was not the JSON we expected
  kStopped,          // the caller's stop flag ended the call
  kOther,            // any other status
};

std::string_view to_string(ErrorKind kind);

struct ApiError {
  ErrorKind kind = ErrorKind::kOther;
  long status = 0;      // HTTP status, 0 when there was none
  std::string reason;   // Status.reason when the server sent one ("Conflict", "Expired")
  std::string message;  // "PUT /api/v1/...: 409 Conflict: <Status.message>"
};

// The kind for an HTTP status and a Status.reason (which may be empty).
ErrorKind kind_for_status(long status, std::string_view reason);

// What every API call returns: the value, or an ApiError (base/result.h).
template <typename T>
using ApiResult = Result<T, ApiError>;

}  // namespace gpushare::kube
