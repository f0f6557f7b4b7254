// Injectable time source. Production code takes a Clock& and never calls
// std::chrono::*::now() directly, so tests can drive time with ManualClock.
#pragma once

#include <atomic>
#include <chrono>

namespace contex {

class Clock {
public:
    using WallTime = std::chrono::system_clock::time_point;
    using MonoTime = std::chrono::steady_clock::time_point;
    virtual ~Clock() = default;
    // Wall-clock time (timestamps that leave the process).
    virtual WallTime Now() const = 0;
    // Monotonic time (durations, deadlines, backoff).
    virtual MonoTime Monotonic() const = 0;
};

class SystemClock final : public Clock {
public:
    WallTime Now() const override { return std::chrono::system_clock::now(); }
    MonoTime Monotonic() const override { return std::chrono::steady_clock::now(); }
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
public:
    explicit ManualClock(WallTime start = WallTime{std::chrono::seconds{1767225600}})
        : wall_ns_(start.time_since_epoch().count()) {}
    WallTime Now() const override { return WallTime{WallTime::duration{wall_ns_.load()}}; }
    MonoTime Monotonic() const override {
        return MonoTime{std::chrono::duration_cast<MonoTime::duration>(
            std::chrono::nanoseconds{mono_ns_.load()})};
    }
    void Advance(std::chrono::nanoseconds d) {
        wall_ns_ += std::chrono::duration_cast<WallTime::duration>(d).count();
        mono_ns_ += d.count();
    }

private:
    std::atomic<WallTime::rep> wall_ns_;
    std::atomic<long long> mono_ns_{0};
};

}  // namespace contex
