// Helper threads that one Encode call at a time borrows to split its matrix products
// across cores (batch-1 latency; engine.md §2.2). Throughput comes from several workers,
// each with its own Workspace; the team only lends otherwise idle cores to a call that
// would run alone.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace contex::embed::native {

class IntraOpTeam {
    // A step without allocation: the callable lives on the caller's stack during Run.
    struct Task {
        void (*invoke)(const void* fn, int member) = nullptr;
        const void* fn = nullptr;
    };

public:
    // Starts `helpers` threads (0 is allowed: every lease then has one member, the caller).
    explicit IntraOpTeam(int helpers);
    ~IntraOpTeam();  // joins the helpers; no lease may be outstanding
    IntraOpTeam(const IntraOpTeam&) = delete;
    IntraOpTeam& operator=(const IntraOpTeam&) = delete;

    // Members of a lease: the calling thread plus the helpers.
    int members() const { return static_cast<int>(helpers_.size()) + 1; }

    // Exclusive use of the helpers by one thread. While a lease is held the helpers spin
    // briefly between Run calls (a call's steps follow each other within microseconds),
    // then block; releasing it lets them block at once.
    class Lease {
    public:
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

        int members() const { return team_->members(); }
        // Runs fn(member) for every member in [0, members()), member 0 on the calling
        // thread, and returns when all have finished. fn must not throw.
        template <typename Fn>
        void Run(const Fn& fn) {
            RunTask({[](const void* f, int member) { (*static_cast<const Fn*>(f))(member); }, &fn});
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
    void HelperLoop(int member);

    std::vector<std::thread> helpers_;
    std::atomic<bool> leased_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> generation_{0};  // bumped once per Run (and at shutdown)
    std::atomic<int> remaining_{0};        // helpers still running the current step
    Task task_;  // published by generation_
};

}  // namespace contex::embed::native
