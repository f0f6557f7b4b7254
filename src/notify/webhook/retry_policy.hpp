// How one attempt's outcome decides a delivery's fate, and when the next attempt runs
// (engine.md §6.4). Pure functions.
#pragma once

#include <chrono>
#include <optional>

#include "notify/webhook/sender.hpp"

namespace contex::notify {

enum class Verdict {
    kDelivered,  // 2xx
    kRetry,      // timeout, connection error, 408, 425, 429, 5xx
    kFail,       // any other status, or a refused destination: final, no retry
    kDisable,    // 410 Gone: final, and the agent's webhook is switched off
};

Verdict Classify(const SendOutcome& outcome);

struct RetryPolicy {
    int max_retries = 8;        // WEBHOOK_MAX_RETRIES: retries after the first attempt
    double base_seconds = 1;    // WEBHOOK_RETRY_BASE_SECONDS
    double max_seconds = 3600;  // WEBHOOK_RETRY_MAX_SECONDS
};

// The wait after failed attempt `attempt` (1-based):
// min(max, base × 4^(attempt−1)) × (0.75 + 0.5 × jitter), at least retry_after.
// `jitter` is uniform in [0, 1).
std::chrono::milliseconds RetryDelay(const RetryPolicy& policy, int attempt, double jitter,
                                     std::optional<std::chrono::seconds> retry_after);

// Whether a delivery that has made `attempts` attempts may make another.
inline bool MayRetry(const RetryPolicy& policy, int attempts) {
    return attempts <= policy.max_retries;
}

}  // namespace contex::notify
