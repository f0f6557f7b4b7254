// The real webhook sender: one libcurl easy handle per attempt, POST only, no redirects,
// no proxies, http/https only, total timeout per request. The destination policy is
// applied to each address curl is about to connect to (after DNS resolution), so the
// connection goes exactly to an address that was checked. Blocking: call it from the
// dispatcher's delivery threads, never from an I/O thread. Thread-safe.
#pragma once

#include "notify/webhook/destination_policy.hpp"
#include "notify/webhook/sender.hpp"

namespace contex::notify {

class CurlWebhookSender final : public WebhookSender {
public:
    // The policy must outlive the sender. Initialises libcurl's globals once per process.
    explicit CurlWebhookSender(const DestinationPolicy& policy);
    SendOutcome Send(const WebhookRequest& request) override;

private:
    const DestinationPolicy& policy_;
};

// Parses a Retry-After value: delta-seconds, or an HTTP date (relative to `now_unix`).
// nullopt when unparseable; past dates give 0.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, std::int64_t now_unix);

}  // namespace contex::notify
