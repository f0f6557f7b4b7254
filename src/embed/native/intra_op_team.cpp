#include "embed/native/intra_op_team.hpp"

#include <immintrin.h>

namespace contex::embed::native {
namespace {

// Busy-wait budget before blocking: ~100 µs of pause instructions. Steps of one Encode
// call are microseconds apart, and a futex wake-up costs tens of microseconds.
constexpr int kSpinIterations = 2000;
// claim_ = step << 32 | parts of the step << 16 | next unclaimed part. A step sees at most
// parts + threads claims, so the part field never carries into the count.
constexpr int kPartBits = 16;
constexpr uint64_t kPartMask = (uint64_t{1} << kPartBits) - 1;

uint64_t StepWord(uint64_t step, int parts) {
    return step << 32 | static_cast<uint64_t>(parts) << kPartBits;
}

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
    for (int h = 0; h < helpers; ++h) helpers_.emplace_back([this] { HelperLoop(); });
}

IntraOpTeam::~IntraOpTeam() {
    stopping_.store(true, std::memory_order_release);
    // A new step number with no parts wakes the helpers, which then stop.
    const uint64_t step = (claim_.load(std::memory_order_relaxed) >> 32) + 1;
    claim_.store(StepWord(step, 0), std::memory_order_release);
    claim_.notify_all();
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

void IntraOpTeam::RunClaimedParts() {
    for (;;) {
        // A claim made after the caller started the next step is a part of that step:
        // task_ was published before that step's claim_ store, so it is the right one.
        const uint64_t claimed = claim_.fetch_add(1, std::memory_order_acq_rel);
        const auto part = static_cast<int>(claimed & kPartMask);
        // The count comes with the claim: task_ may already belong to a later step when
        // this claim is past the end of its own.
        const auto parts = static_cast<int>((claimed >> kPartBits) & kPartMask);
        if (part >= parts) return;
        task_.invoke(task_.fn, part);
        if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == parts) {
            finished_.notify_one();
        }
    }
}

void IntraOpTeam::Lease::RunTask(Task task) {
    IntraOpTeam& t = *team_;
    t.task_ = task;
    t.finished_.store(0, std::memory_order_relaxed);
    const uint64_t step = (t.claim_.load(std::memory_order_relaxed) >> 32) + 1;
    t.claim_.store(StepWord(step, task.parts), std::memory_order_release);
    if (!t.helpers_.empty()) t.claim_.notify_all();
    t.RunClaimedParts();
    // Parts a helper claimed may still be running.
    for (int done; (done = t.finished_.load(std::memory_order_acquire)) != task.parts;) {
        WaitChange(t.finished_, done, [] { return true; });
    }
}

void IntraOpTeam::HelperLoop() {
    uint64_t seen_step = 0;  // the value before any Run, even one that starts before this thread
    for (;;) {
        uint64_t c = claim_.load(std::memory_order_acquire);
        while ((c >> 32) == seen_step) {
            c = WaitChange(claim_, c, [this] { return leased_.load(std::memory_order_relaxed); });
        }
        seen_step = c >> 32;
        if (stopping_.load(std::memory_order_acquire)) return;
        RunClaimedParts();
    }
}

}  // namespace contex::embed::native
