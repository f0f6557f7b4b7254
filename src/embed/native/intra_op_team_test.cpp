#include "embed/native/intra_op_team.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace contex::embed::native {
namespace {

TEST(IntraOpTeam, EveryMemberRunsEachStepOnce) {
    for (const int helpers : {0, 1, 3}) {
        IntraOpTeam team(helpers);
        ASSERT_EQ(team.members(), helpers + 1);
        auto lease = team.TryAcquire();
        ASSERT_NE(lease, nullptr);
        std::vector<int> runs(static_cast<std::size_t>(team.members()), 0);
        std::vector<std::thread::id> ids(runs.size());
        for (int step = 0; step < 500; ++step) {
            lease->Run([&](int member) {
                ++runs[static_cast<std::size_t>(member)];
                ids[static_cast<std::size_t>(member)] = std::this_thread::get_id();
            });
            // Run returns only when every member has finished this step, exactly once.
            for (int c : runs) ASSERT_EQ(c, step + 1);
        }
        EXPECT_EQ(ids[0], std::this_thread::get_id()) << "member 0 is the caller";
        for (std::size_t m = 1; m < ids.size(); ++m) EXPECT_NE(ids[m], ids[0]);
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
                    std::atomic<int> members{0};
                    lease->Run([&](int) { members.fetch_add(1); });
                    if (members.load() == 2) leased.fetch_add(1);
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
