#include "embed/native/intra_op_team.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace contex::embed::native {
namespace {

TEST(IntraOpTeam, EveryPartRunsOncePerStep) {
    for (const int helpers : {0, 1, 3}) {
        IntraOpTeam team(helpers);
        ASSERT_EQ(team.parts(), helpers + 1);
        auto lease = team.TryAcquire();
        ASSERT_NE(lease, nullptr);
        std::vector<std::atomic<int>> runs(static_cast<std::size_t>(team.parts()));
        for (int step = 0; step < 2000; ++step) {
            lease->Run([&](int part) { runs[static_cast<std::size_t>(part)].fetch_add(1); });
            // Run returns only when every part of this step has finished, each exactly once.
            for (const auto& c : runs) ASSERT_EQ(c.load(), step + 1);
        }
    }
}

TEST(IntraOpTeam, StepsMayHaveMorePartsThanThreads) {
    IntraOpTeam team(2);
    auto lease = team.TryAcquire();
    ASSERT_NE(lease, nullptr);
    std::vector<std::atomic<int>> runs(40);
    for (int step = 0; step < 2000; ++step) {
        // Part counts change from step to step, so a late claim on one step must not be
        // read against the next one's count.
        const int parts = 1 + step % 40;
        lease->Run(parts, [&](int part) { runs[static_cast<std::size_t>(part)].fetch_add(1); });
        for (int p = 0; p < 40; ++p) {
            ASSERT_EQ(runs[static_cast<std::size_t>(p)].exchange(0), p < parts ? 1 : 0)
                << "step " << step << " part " << p;
        }
    }
}

// Each part waits until every part has started: only threads running side by side get
// through, so this fails (times out) unless the helpers really take parts.
TEST(IntraOpTeam, PartsRunOnSeveralThreadsAtOnce) {
    IntraOpTeam team(2);
    auto lease = team.TryAcquire();
    ASSERT_NE(lease, nullptr);
    for (int step = 0; step < 20; ++step) {
        std::atomic<int> started{0};
        std::atomic<bool> timed_out{false};
        lease->Run([&](int) {
            started.fetch_add(1);
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            while (started.load() < 3) {
                if (std::chrono::steady_clock::now() > deadline) {
                    timed_out = true;
                    return;
                }
                std::this_thread::yield();
            }
        });
        ASSERT_FALSE(timed_out.load()) << "step " << step;
    }
}

TEST(IntraOpTeam, OneLeaseAtATime) {
    IntraOpTeam team(1);
    auto first = team.TryAcquire();
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(team.TryAcquire(), nullptr);
    first.reset();
    EXPECT_NE(team.TryAcquire(), nullptr) << "released with the lease";
}

TEST(IntraOpTeam, HelpersWakeAfterBlocking) {
    IntraOpTeam team(2);
    std::atomic<int> total{0};
    for (int round = 0; round < 5; ++round) {
        // Between leases the helpers block; each new lease must wake them.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        auto lease = team.TryAcquire();
        ASSERT_NE(lease, nullptr);
        lease->Run([&](int) { total.fetch_add(1); });
    }
    EXPECT_EQ(total.load(), 15);
}

TEST(IntraOpTeam, CallersTakeTurns) {
    IntraOpTeam team(1);
    std::atomic<int> leased{0}, alone{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
        callers.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                if (auto lease = team.TryAcquire()) {
                    std::atomic<int> parts{0};
                    lease->Run([&](int) { parts.fetch_add(1); });
                    if (parts.load() == 2) leased.fetch_add(1);
                } else {
                    alone.fetch_add(1);
                }
            }
        });
    }
    for (auto& c : callers) c.join();
    EXPECT_EQ(leased.load() + alone.load(), 800);
    EXPECT_GT(leased.load(), 0);
}

}  // namespace
}  // namespace contex::embed::native
