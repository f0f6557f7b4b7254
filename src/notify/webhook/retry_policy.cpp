#include "notify/webhook/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace contex::notify {

Verdict Classify(const SendOutcome& outcome) {
    if (outcome.blocked) return Verdict::kFail;
    if (!outcome.status) return Verdict::kRetry;  // timeout, refused, reset, TLS
    const int s = *outcome.status;
    if (s >= 200 && s < 300) return Verdict::kDelivered;
    if (s == 410) return Verdict::kDisable;
    if (s == 408 || s == 425 || s == 429 || s >= 500) return Verdict::kRetry;
    return Verdict::kFail;
}

std::chrono::milliseconds RetryDelay(const RetryPolicy& policy, int attempt, double jitter,
                                     std::optional<std::chrono::seconds> retry_after) {
    const double exponent = std::max(0, attempt - 1);
    const double backoff = std::min(policy.max_seconds, policy.base_seconds * std::pow(4.0, exponent));
    double seconds = backoff * (0.75 + 0.5 * std::clamp(jitter, 0.0, 1.0));
    if (retry_after) seconds = std::max(seconds, static_cast<double>(retry_after->count()));
    return std::chrono::milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
}

}  // namespace contex::notify
