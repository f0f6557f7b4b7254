#include "notify/in_process_bus.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace contex::notify {
namespace {

Notification Message(std::string agent, std::int64_t sequence, std::string type = "data_update") {
    Notification n;
    n.agent_id = agent;
    n.channel = "agent:" + agent + ":updates";
    n.sequence = sequence;
    n.type = type;
    n.json = R"({"type":")" + type + R"(","agent_id":")" + agent + R"(","sequence":")" +
             std::to_string(sequence) + R"("})";
    return n;
}

TEST(InProcessBus, FansOutToEverySubscriberOfTheAgentOnly) {
    InProcessBus bus;
    std::vector<std::string> a1, a2, b;
    auto s1 = bus.Subscribe("a", [&](const Notification& n) { a1.push_back(n.json); });
    auto s2 = bus.Subscribe("a", [&](const Notification& n) { a2.push_back(n.json); });
    auto s3 = bus.Subscribe("b", [&](const Notification& n) { b.push_back(n.json); });
    EXPECT_EQ(bus.size(), 3u);
    EXPECT_EQ(bus.SubscriberCount("a"), 2u);
    EXPECT_TRUE(bus.Deliver(Message("a", 1)));
    EXPECT_TRUE(bus.Deliver(Message("a", 2)));
    ASSERT_EQ(a1.size(), 2u);
    EXPECT_EQ(a1, a2);
    EXPECT_EQ(a1[0], Message("a", 1).json);
    EXPECT_EQ(a1[1], Message("a", 2).json);
    EXPECT_TRUE(b.empty());
}

TEST(InProcessBus, DestroyingTheHandleUnsubscribes) {
    InProcessBus bus;
    int calls = 0;
    auto sub = bus.Subscribe("a", [&](const Notification&) { ++calls; });
    EXPECT_EQ(sub->agent_id(), "a");
    EXPECT_TRUE(bus.Deliver(Message("a", 1)));
    sub.reset();
    EXPECT_TRUE(bus.Deliver(Message("a", 2)));
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(bus.size(), 0u);
    EXPECT_EQ(bus.SubscriberCount("a"), 0u);
}

TEST(InProcessBus, ListsAgentsWithSubscriptions) {
    InProcessBus bus;
    auto a1 = bus.Subscribe("a", [](const Notification&) {});
    auto a2 = bus.Subscribe("a", [](const Notification&) {});
    auto b = bus.Subscribe("b", [](const Notification&) {});
    auto agents = bus.SubscribedAgents();
    std::sort(agents.begin(), agents.end());
    EXPECT_EQ(agents, (std::vector<std::string>{"a", "b"}));
    b.reset();
    a1.reset();
    EXPECT_EQ(bus.SubscribedAgents(), std::vector<std::string>{"a"}) << "a2 still open";
    a2.reset();
    EXPECT_TRUE(bus.SubscribedAgents().empty());
}

TEST(InProcessBus, DeliverWithoutSubscribersIsAcceptedAndDropped) {
    InProcessBus bus;
    EXPECT_TRUE(bus.Deliver(Message("nobody", 1)));
    EXPECT_EQ(bus.transport(), "inprocess");
}

TEST(InProcessBus, CallbackMayDestroyItsOwnHandle) {
    InProcessBus bus;
    std::unique_ptr<InProcessBus::Subscription> sub;
    int calls = 0;
    sub = bus.Subscribe("a", [&](const Notification&) {
        ++calls;
        sub.reset();
    });
    EXPECT_TRUE(bus.Deliver(Message("a", 1)));
    EXPECT_TRUE(bus.Deliver(Message("a", 2)));
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(bus.size(), 0u);
}

TEST(InProcessBus, HandleMayOutliveTheBus) {
    auto bus = std::make_unique<InProcessBus>();
    auto sub = bus->Subscribe("a", [](const Notification&) {});
    bus.reset();
    sub.reset();  // must not touch the dead bus
    SUCCEED();
}

TEST(InProcessBus, NoCallbackRunsAfterUnsubscribeReturns) {
    // A deliverer thread hammers the agent while the main thread unsubscribes; after the
    // handle is gone the callback's state is destroyed, and no call may touch it.
    InProcessBus bus;
    std::atomic<bool> stop{false};
    std::thread deliverer([&] {
        std::int64_t seq = 0;
        while (!stop.load()) bus.Deliver(Message("a", ++seq));
    });
    for (int round = 0; round < 200; ++round) {
        auto alive = std::make_shared<std::atomic<bool>>(true);
        std::atomic<int> after_death{0};
        auto sub = bus.Subscribe("a", [alive, &after_death](const Notification&) {
            if (!alive->load()) after_death.fetch_add(1);
        });
        std::this_thread::yield();
        sub.reset();
        alive->store(false);
        EXPECT_EQ(after_death.load(), 0);
    }
    stop.store(true);
    deliverer.join();
}

TEST(InProcessBus, CountsSseNotificationsPerSubscriberReached) {
    obs::MetricsRegistry metrics;
    InProcessBus bus(metrics);
    auto s1 = bus.Subscribe("a", [](const Notification&) {});
    auto s2 = bus.Subscribe("a", [](const Notification&) {});
    bus.Deliver(Message("a", 1, "initial_context"));
    bus.Deliver(Message("nobody", 1, "initial_context"));
    auto& family =
        metrics.AddCounter("contex_notifications_total", "", {"transport", "type", "status"});
    EXPECT_EQ(family.WithLabels({"sse", "initial_context", "success"}).value(), 2);
}

}  // namespace
}  // namespace contex::notify
