#include "notify/webhook/circuit_breaker.hpp"

namespace contex::notify {
namespace {
// While a half-open probe is in flight, other deliveries to the destination wait this long.
constexpr std::chrono::seconds kProbeWait{1};
constexpr int kSuccessesToClose = 2;
}  // namespace

std::string_view BreakerStateName(BreakerState state) {
    switch (state) {
        case BreakerState::kClosed: return "closed";
        case BreakerState::kHalfOpen: return "half_open";
        case BreakerState::kOpen: return "open";
    }
    return "closed";
}

CircuitBreakers::CircuitBreakers(int failure_threshold, std::chrono::seconds open_for,
                                 const Clock& clock, obs::MetricsRegistry& metrics)
    : failure_threshold_(failure_threshold),
      open_for_(open_for),
      clock_(clock),
      state_gauge_(metrics.AddGauge("contex_circuit_breaker_state",
                                    "Circuit breaker state (0 closed, 1 half-open, 2 open).",
                                    {"name"})),
      failures_(metrics.AddCounter("contex_circuit_breaker_failures_total",
                                   "Failures recorded by circuit breakers.", {"name"})),
      successes_(metrics.AddCounter("contex_circuit_breaker_successes_total",
                                    "Successes recorded by circuit breakers.", {"name"})),
      transitions_(metrics.AddCounter("contex_circuit_breaker_transitions_total",
                                      "Circuit breaker state changes.",
                                      {"name", "from_state", "to_state"})) {}

void CircuitBreakers::Transition(const std::string& name, Breaker& b, BreakerState to) {
    if (b.state == to) return;
    transitions_.WithLabels({name, std::string(BreakerStateName(b.state)),
                             std::string(BreakerStateName(to))})
        .Inc();
    b.state = to;
    b.half_open_successes = 0;
    b.probe_in_flight = false;
    if (to == BreakerState::kOpen) b.open_until = clock_.Now() + open_for_;
    if (to == BreakerState::kClosed) b.consecutive_failures = 0;
    state_gauge_.WithLabels({name}).Set(static_cast<double>(to));
}

CircuitBreakers::Admission CircuitBreakers::Admit(const std::string& name) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = breakers_.try_emplace(name);
    Breaker& b = it->second;
    if (inserted) state_gauge_.WithLabels({name}).Set(0);
    const auto now = clock_.Now();
    if (b.state == BreakerState::kOpen) {
        if (now < b.open_until) return {false, b.open_until};
        Transition(name, b, BreakerState::kHalfOpen);
    }
    if (b.state == BreakerState::kHalfOpen) {
        if (b.probe_in_flight) return {false, now + kProbeWait};
        b.probe_in_flight = true;
    }
    return {true, {}};
}

void CircuitBreakers::Record(const std::string& name, bool failed) {
    std::lock_guard lock(mutex_);
    Breaker& b = breakers_[name];
    (failed ? failures_ : successes_).WithLabels({name}).Inc();
    b.probe_in_flight = false;
    if (failed) {
        ++b.consecutive_failures;
        if (b.state == BreakerState::kHalfOpen ||
            (b.state == BreakerState::kClosed && b.consecutive_failures >= failure_threshold_)) {
            Transition(name, b, BreakerState::kOpen);
        }
        return;
    }
    b.consecutive_failures = 0;
    if (b.state == BreakerState::kHalfOpen && ++b.half_open_successes >= kSuccessesToClose) {
        Transition(name, b, BreakerState::kClosed);
    }
}

void CircuitBreakers::Abandon(const std::string& name) {
    std::lock_guard lock(mutex_);
    auto it = breakers_.find(name);
    if (it != breakers_.end()) it->second.probe_in_flight = false;
}

BreakerState CircuitBreakers::state(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = breakers_.find(name);
    return it == breakers_.end() ? BreakerState::kClosed : it->second.state;
}

}  // namespace contex::notify
