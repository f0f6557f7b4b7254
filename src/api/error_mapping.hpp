// The one place that maps domain errors to HTTP (STYLE.md): status, body and headers.
#pragma once

#include "common/result.hpp"
#include "server/http.hpp"

namespace contex::api {

// kInvalidArgument 400, kNotFound 404, kConflict 409, kTooLarge 413,
// kUnauthenticated 401, kPermissionDenied 403, kQuotaExceeded 429 (Retry-After),
// kUnavailable / kTimeout / kCancelled 503 (Retry-After: 1), kInternal 500 with the
// request id and never the internal message.
server::Response ErrorToResponse(const Error& error, const server::Request& request);
int HttpStatusFor(ErrorCode code);

}  // namespace contex::api
