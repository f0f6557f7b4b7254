#include "api/error_mapping.hpp"

#include "common/json.hpp"

namespace contex::api {

int HttpStatusFor(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument: return 400;
        case ErrorCode::kNotFound: return 404;
        case ErrorCode::kConflict: return 409;
        case ErrorCode::kTooLarge: return 413;
        case ErrorCode::kUnauthenticated: return 401;
        case ErrorCode::kPermissionDenied: return 403;
        case ErrorCode::kQuotaExceeded: return 429;
        case ErrorCode::kUnavailable:
        case ErrorCode::kTimeout:
        case ErrorCode::kCancelled: return 503;
        case ErrorCode::kInternal: return 500;
    }
    return 500;
}

server::Response ErrorToResponse(const Error& error, const server::Request& request) {
    int status = HttpStatusFor(error.code);
    if (status == 500) {
        std::string body = "{\"detail\":\"Internal Server Error\",\"request_id\":";
        AppendJsonString(body, request.request_id);
        body += '}';
        return server::Response::Json(500, std::move(body));
    }
    std::string detail = error.message;
    if (error.code == ErrorCode::kCancelled) detail = "Shutting down";
    auto response = server::Response::Detail(status, detail);
    if (status == 503 || status == 429) response.headers.Set("Retry-After", "1");
    return response;
}

}  // namespace contex::api
