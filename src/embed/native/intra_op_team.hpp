// Helper threads that one Encode call at a time borrows to split its matrix products
// across cores (batch-1 latency; engine.md §2.2, decision 0005). Throughput comes from
// several workers, each with its own Workspace; the team only lends otherwise idle cores
// to a call that would run alone.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace contex::embed::native {

class IntraOpTeam {
    // A step without allocation: the callable lives on the caller's stack during Run.
    struct Task {
        void (*invoke)(const void* fn, int part) = nullptr;
        const void* fn = nullptr;
        int parts = 0;
    };

public:
    // Starts `helpers` threads (0 is allowed: a step then has one part, run by the caller).
    explicit IntraOpTeam(int helpers);
    ~IntraOpTeam();  // joins the helpers; no lease may be outstanding
    IntraOpTeam(const IntraOpTeam&) = delete;
    IntraOpTeam& operator=(const IntraOpTeam&) = delete;

    static constexpr int kMaxParts = 4096;

    // Threads of the team (the caller plus the helpers): the parts of a step by default.
    int parts() const { return static_cast<int>(helpers_.size()) + 1; }

    // Exclusive use of the helpers by one thread. While a lease is held the helpers spin
    // briefly between Run calls (a call's steps follow each other within microseconds),
    // then block; releasing it lets them block at once.
    class Lease {
    public:
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

        int parts() const { return team_->parts(); }
        // Runs fn(part) once for every part in [0, parts()) and returns when all have
        // finished. Parts are claimed, not assigned: the caller runs any part no helper has
        // started, so a descheduled helper costs parallelism, never a wait for it. Which
        // thread runs a part is therefore unspecified (part-indexed state stays correct).
        // fn must not throw.
        template <typename Fn>
        void Run(const Fn& fn) {
            Run(parts(), fn);
        }
        // The same with `parts` parts, 1 to kMaxParts: more parts than threads let a
        // faster thread take more of the work.
        template <typename Fn>
        void Run(int parts, const Fn& fn) {
            RunTask({[](const void* f, int part) { (*static_cast<const Fn*>(f))(part); }, &fn,
                     std::clamp(parts, 1, kMaxParts)});
        }

    private:
        friend class IntraOpTeam;
        explicit Lease(IntraOpTeam* team) : team_(team) {}
        void RunTask(Task task);
        IntraOpTeam* team_;
    };

    // A lease, or null when another thread holds one (the caller then runs alone).
    std::unique_ptr<Lease> TryAcquire();

private:
    void HelperLoop();
    // Claims and runs parts of the current step until none is left.
    void RunClaimedParts();

    std::vector<std::thread> helpers_;
    std::atomic<bool> leased_{false};
    std::atomic<bool> stopping_{false};
    // Step number (high 32 bits), the step's part count and its next unclaimed part (16
    // bits each); a step starts by storing (step, parts, 0), every claim is a fetch_add.
    std::atomic<uint64_t> claim_{0};
    std::atomic<int> finished_{0};  // parts of the current step that have finished
    Task task_;                     // published by the store that starts a step
};

}  // namespace contex::embed::native
