#include "kube/api_error.h"

namespace gpushare::kube {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kTransport:
      return "Transport";
    case ErrorKind::kBadRequest:
      return "BadRequest";
    case ErrorKind::kUnauthorized:
      return "Unauthorized";
    case ErrorKind::kForbidden:
      return "Forbidden";
    case ErrorKind::kNotFound:
      return "NotFound";
    case ErrorKind::kConflict:
      return "Conflict";
    case ErrorKind::kAlreadyExists:
      return "AlreadyExists";
    case ErrorKind::kGone:
      return "Gone";
    case ErrorKind::kInvalid:
      return "Invalid";
    case ErrorKind::kTooManyRequests:
      return "TooManyRequests";
    case ErrorKind::kServerError:
      return "ServerError";
    case ErrorKind::kDecode:
      return "Decode";
    case ErrorKind::kStopped:
      return "Stopped";
    case ErrorKind::kOther:
      return "Other";
  }
  return "Other";
}

ErrorKind kind_for_status(long status, std::string_view reason) {
  switch (status) {
    case 400:
      return ErrorKind::kBadRequest;
    case 401:
      return ErrorKind::kUnauthorized;
    case 403:
      return ErrorKind::kForbidden;
    case 404:
      return ErrorKind::kNotFound;
    // Both a stale resourceVersion and a create of an existing name answer 409; only the
    // reason tells "re-read and retry" from "it is already there".
    case 409:
      return reason == "AlreadyExists" ? ErrorKind::kAlreadyExists : ErrorKind::kConflict;
    case 410:
      return ErrorKind::kGone;
    case 422:
      return ErrorKind::kInvalid;
    case 429:
      return ErrorKind::kTooManyRequests;
    default:
      break;
  }
  if (status >= 500 && status < 600) return ErrorKind::kServerError;
  return ErrorKind::kOther;
}

}  // namespace gpushare::kube
