// Minimal blocking HTTP client over libcurl, internal to the embed module (remote
// provider and model fetch). Thread-safe: every call uses its own curl handle.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace contex::embed::http {

using Headers = std::vector<std::pair<std::string, std::string>>;  // names lower-cased

struct Request {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;
    std::chrono::milliseconds timeout{30000};  // whole transfer; 0 = none
    // Abort when fewer than 1 byte/s arrives for this long; 0 = never (downloads).
    std::chrono::seconds stall_timeout{0};
    bool follow_redirects = false;
    // Streams the body (with the status of the response it belongs to) instead of
    // collecting it; return false to abort the transfer.
    std::function<bool(long status, std::string_view chunk)> on_body;
    // (bytes received, bytes expected or 0) of the final response body.
    std::function<void(std::uint64_t, std::uint64_t)> on_progress;
};

struct Response {
    long status = 0;
    std::string body;     // empty when Request::on_body was set
    Headers headers;      // of the final response
    Headers all_headers;  // of every response along the redirect chain, in order
    // First value of `name` (lower-case) in headers / all_headers.
    std::optional<std::string> Header(std::string_view name) const;
    std::optional<std::string> AnyHeader(std::string_view name) const;
};

// Performs one request. Any HTTP status is a successful Result; transport failures are
// kTimeout (deadline) or kUnavailable (connect, reset, truncated body, aborted by on_body).
Result<Response> Perform(const Request& request);

}  // namespace contex::embed::http
