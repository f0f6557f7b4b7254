#include "common/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace contex {
namespace {

TEST(BoundedThreadPool, RunsEveryAcceptedTask) {
    std::atomic<int> count{0};
    {
        BoundedThreadPool pool("test", 2, 1000);
        for (int i = 0; i < 500; ++i) ASSERT_TRUE(pool.Submit([&] { ++count; }).ok());
    }
    EXPECT_EQ(count.load(), 500);
}

TEST(BoundedThreadPool, RejectsWhenQueueIsFull) {
    BoundedThreadPool pool("test", 1, 1);
    std::promise<void> release;
    auto gate = release.get_future().share();
    std::promise<void> started;
    ASSERT_TRUE(pool.Submit([&, gate] {
                        started.set_value();
                        gate.wait();
                    }).ok());
    started.get_future().wait();
    ASSERT_TRUE(pool.Submit([] {}).ok());  // fills the single queue slot
    auto rejected = pool.Submit([] {});
    ASSERT_FALSE(rejected.ok());
    EXPECT_EQ(rejected.error().code, ErrorCode::kUnavailable);
    release.set_value();
}

TEST(BoundedThreadPool, RejectsAfterShutdown) {
    BoundedThreadPool pool("test", 1, 10);
    pool.Shutdown();
    EXPECT_EQ(pool.Submit([] {}).error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace contex
