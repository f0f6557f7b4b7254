// Circuit breakers per webhook destination (`webhook:<host>:<port>`, engine.md §6.4):
// closed → open after `failure_threshold` consecutive retryable failures; open for
// `open_for`, then half-open: one attempt at a time; 2 consecutive successes close it,
// any failure reopens it. Metrics: contex_circuit_breaker_state (0 closed, 1 half-open,
// 2 open), contex_circuit_breaker_{failures,successes}_total,
// contex_circuit_breaker_transitions_total. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.hpp"
#include "observability/metrics.hpp"

namespace contex::notify {

enum class BreakerState { kClosed = 0, kHalfOpen = 1, kOpen = 2 };

std::string_view BreakerStateName(BreakerState state);

class CircuitBreakers {
public:
    // Clock and metrics must outlive the breakers.
    CircuitBreakers(int failure_threshold, std::chrono::seconds open_for, const Clock& clock,
                    obs::MetricsRegistry& metrics);

    struct Admission {
        bool allowed = true;
        Clock::WallTime retry_at{};  // when refused: when to try again
    };
    // Asks to make one attempt to `name`. Every allowed attempt must be followed by
    // exactly one Record call (or Abandon).
    Admission Admit(const std::string& name);
    // The attempt's result: `failed` for retryable failures (no response, 408/425/429/5xx);
    // any other response counts as a success (the destination is up).
    void Record(const std::string& name, bool failed);
    // An admitted attempt that was never made (frees a half-open probe slot).
    void Abandon(const std::string& name);

    BreakerState state(const std::string& name) const;

private:
    struct Breaker {
        BreakerState state = BreakerState::kClosed;
        int consecutive_failures = 0;
        int half_open_successes = 0;
        bool probe_in_flight = false;
        Clock::WallTime open_until{};
    };
    void Transition(const std::string& name, Breaker& b, BreakerState to);

    const int failure_threshold_;
    const std::chrono::seconds open_for_;
    const Clock& clock_;
    obs::Family<obs::Gauge>& state_gauge_;
    obs::Family<obs::Counter>& failures_;
    obs::Family<obs::Counter>& successes_;
    obs::Family<obs::Counter>& transitions_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Breaker> breakers_;
};

}  // namespace contex::notify
