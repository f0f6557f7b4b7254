// One webhook HTTP attempt, behind an interface so the dispatcher can be tested with a
// scripted sender. CurlWebhookSender (curl_sender.hpp) is the real one.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "notify/webhook/signing.hpp"

namespace contex::notify {

struct WebhookRequest {
    std::string url;
    std::string body;
    HttpHeaders headers;
    std::chrono::milliseconds timeout{10000};  // total, connect included
};

// What came back. Exactly one of: a response (`status`), a refused destination
// (`blocked`), or a transport failure (`error`, with `timed_out` for timeouts).
struct SendOutcome {
    std::optional<int> status;
    std::optional<std::chrono::seconds> retry_after;  // from a Retry-After header
    bool blocked = false;
    bool timed_out = false;
    std::string error;
};

class WebhookSender {
public:
    virtual ~WebhookSender() = default;
    // Sends one POST and waits for the outcome (at most request.timeout). Thread-safe.
    virtual SendOutcome Send(const WebhookRequest& request) = 0;
};

}  // namespace contex::notify
