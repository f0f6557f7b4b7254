#include "embed/native/intra_op_team.hpp"

#include <immintrin.h>

namespace contex::embed::native {
namespace {

// Busy-wait budget before blocking: ~100 µs of pause instructions. Steps of one Encode
// call are microseconds apart, and a futex wake-up costs tens of microseconds.
constexpr int kSpinIterations = 2000;

// Waits until `value` differs from `old`: spins while `keep_spinning()` allows, then blocks.
template <typename T, typename Pred>
T WaitChange(const std::atomic<T>& value, T old, Pred keep_spinning) {
    for (int i = 0; i < kSpinIterations && keep_spinning(); ++i) {
        const T v = value.load(std::memory_order_acquire);
        if (v != old) return v;
        _mm_pause();
    }
    for (;;) {
        value.wait(old, std::memory_order_acquire);
        const T v = value.load(std::memory_order_acquire);
        if (v != old) return v;
    }
}

}  // namespace

IntraOpTeam::IntraOpTeam(int helpers) {
    helpers_.reserve(static_cast<std::size_t>(std::max(0, helpers)));
    for (int m = 1; m <= helpers; ++m) helpers_.emplace_back([this, m] { HelperLoop(m); });
}

IntraOpTeam::~IntraOpTeam() {
    stopping_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& t : helpers_) t.join();
}

std::unique_ptr<IntraOpTeam::Lease> IntraOpTeam::TryAcquire() {
    bool expected = false;
    if (!leased_.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
        return nullptr;
    }
    return std::unique_ptr<Lease>(new Lease(this));
}

IntraOpTeam::Lease::~Lease() { team_->leased_.store(false, std::memory_order_release); }

void IntraOpTeam::Lease::RunTask(Task task) {
    IntraOpTeam& t = *team_;
    const int helpers = static_cast<int>(t.helpers_.size());
    if (helpers > 0) {
        t.task_ = task;
        t.remaining_.store(helpers, std::memory_order_relaxed);
        t.generation_.fetch_add(1, std::memory_order_release);
        t.generation_.notify_all();
    }
    task.invoke(task.fn, 0);
    for (int left; (left = t.remaining_.load(std::memory_order_acquire)) != 0;) {
        WaitChange(t.remaining_, left, [] { return true; });
    }
}

void IntraOpTeam::HelperLoop(int member) {
    uint64_t seen = 0;  // the value before any Run, even one that starts before this thread
    for (;;) {
        seen = WaitChange(generation_, seen,
                          [this] { return leased_.load(std::memory_order_relaxed); });
        if (stopping_.load(std::memory_order_acquire)) return;
        task_.invoke(task_.fn, member);
        if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) remaining_.notify_one();
    }
}

}  // namespace contex::embed::native
