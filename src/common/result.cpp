#include "common/result.hpp"

namespace contex {

std::string_view ErrorCodeName(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument: return "invalid_argument";
        case ErrorCode::kNotFound: return "not_found";
        case ErrorCode::kConflict: return "conflict";
        case ErrorCode::kTooLarge: return "too_large";
        case ErrorCode::kUnavailable: return "unavailable";
        case ErrorCode::kTimeout: return "timeout";
        case ErrorCode::kUnauthenticated: return "unauthenticated";
        case ErrorCode::kPermissionDenied: return "permission_denied";
        case ErrorCode::kQuotaExceeded: return "quota_exceeded";
        case ErrorCode::kCancelled: return "cancelled";
        case ErrorCode::kInternal: return "internal";
    }
    return "unknown";
}

}  // namespace contex
