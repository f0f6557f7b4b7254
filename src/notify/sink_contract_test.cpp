// The NotificationSink contract, run on every implementation (typed test): a receiver
// of the agent's messages gets exactly the JSON handed in, on the right channel, in order.
// Redis uses CONTEX_TEST_REDIS_URL (the shared server) when set, else a private
// redis-server child process.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.hpp"
#include "notify/in_process_bus.hpp"
#include "notify/redis/redis_publisher.hpp"
#include "notify/testing/redis_server.hpp"

namespace contex::notify {
namespace {

using namespace std::chrono_literals;
constexpr auto kReceiveTimeout = 10s;

// Messages received for one agent, as the transport delivered them.
class Receiver {
  public:
    virtual ~Receiver() = default;
    // Waits (bounded) for `n` messages; returns what arrived.
    virtual std::vector<std::string> Receive(std::size_t n) = 0;
};

class InProcessHarness {
  public:
    static constexpr std::string_view kTransport = "inprocess";
    Status SetUp() { return OkStatus(); }
    NotificationSink& sink() { return bus_; }

    std::unique_ptr<Receiver> Listen(const std::string& agent_id, const std::string& /*channel*/) {
        auto receiver = std::make_unique<BusReceiver>();
        receiver->subscription =
            bus_.Subscribe(agent_id, [r = receiver.get()](const Notification& n) {
                std::lock_guard lock(r->mutex);
                r->messages.push_back(n.json);
                r->cv.notify_all();
            });
        return receiver;
    }

  private:
    struct BusReceiver final : Receiver {
        std::mutex mutex;
        std::condition_variable cv;
        std::vector<std::string> messages;
        std::size_t taken = 0;
        std::unique_ptr<InProcessBus::Subscription> subscription;
        ~BusReceiver() override { subscription.reset(); }
        std::vector<std::string> Receive(std::size_t n) override {
            std::unique_lock lock(mutex);
            cv.wait_for(lock, kReceiveTimeout, [&] { return messages.size() - taken >= n; });
            std::size_t end = std::min(messages.size(), taken + n);
            std::vector<std::string> out(messages.begin() + static_cast<std::ptrdiff_t>(taken),
                                         messages.begin() + static_cast<std::ptrdiff_t>(end));
            taken = end;
            return out;
        }
    };
    InProcessBus bus_;
};

class RedisHarness {
  public:
    static constexpr std::string_view kTransport = "redis";
    Status SetUp() {
        std::string url;
        if (const char* shared = std::getenv("CONTEX_TEST_REDIS_URL"); shared && *shared) {
            url = shared;
        } else {
            if (!testing::RedisServerAvailable()) return Unavailable("redis-server not installed");
            auto server = testing::RedisServerProcess::Start();
            if (!server) return std::move(server).error();
            server_ = *std::move(server);
            url = server_->url();
        }
        url_ = url;
        RedisOptions options;
        options.url = url;
        CONTEX_ASSIGN_OR_RETURN(publisher_,
                                RedisPublisher::Create(options, logger_, metrics_, clock_));
        return OkStatus();
    }
    NotificationSink& sink() { return *publisher_; }

    std::unique_ptr<Receiver> Listen(const std::string& /*agent_id*/, const std::string& channel) {
        auto subscriber = testing::RedisSubscriber::Connect(url_, {channel});
        EXPECT_TRUE(subscriber.ok()) << subscriber.error().message;
        if (!subscriber) return nullptr;
        return std::make_unique<SubscriberReceiver>(*std::move(subscriber), channel);
    }

  private:
    struct SubscriberReceiver final : Receiver {
        SubscriberReceiver(std::unique_ptr<testing::RedisSubscriber> s, std::string c)
            : subscriber(std::move(s)), channel(std::move(c)) {}
        std::vector<std::string> Receive(std::size_t n) override {
            std::vector<std::string> out;
            for (auto& m : subscriber->Receive(n, kReceiveTimeout)) {
                EXPECT_EQ(m.channel, channel);
                out.push_back(std::move(m.payload));
            }
            return out;
        }
        std::unique_ptr<testing::RedisSubscriber> subscriber;
        std::string channel;
    };

    SystemClock clock_;
    obs::Logger logger_{obs::LogOptions{obs::LogLevel::kCritical, true, stderr}, clock_};
    obs::MetricsRegistry metrics_;
    std::unique_ptr<testing::RedisServerProcess> server_;
    std::string url_;
    std::unique_ptr<RedisPublisher> publisher_;
};

template <typename Harness>
class NotificationSinkContract : public ::testing::Test {
  protected:
    void SetUp() override {
        auto status = harness_.SetUp();
        if (!status.ok()) {
            if (testing::ServicesRequired()) FAIL() << status.error().message;
            GTEST_SKIP() << status.error().message;
        }
    }

    // Unique per test so a shared server never mixes tests.
    std::string NewAgent(std::string_view base) { return std::string(base) + "-" + RandomHex(6); }
    static Notification Message(const std::string& agent, std::int64_t sequence,
                                std::string type = "data_update", std::string extra = "") {
        Notification n;
        n.agent_id = agent;
        n.channel = "agent:" + agent + ":updates";
        n.sequence = sequence;
        n.type = type;
        n.json = R"({"type":")" + type + R"(","agent_id":")" + agent + R"(","sequence":")" +
                 std::to_string(sequence) + R"(")" + extra + "}";
        return n;
    }

    Harness harness_;
};

using Implementations = ::testing::Types<InProcessHarness, RedisHarness>;
TYPED_TEST_SUITE(NotificationSinkContract, Implementations);

TYPED_TEST(NotificationSinkContract, NamesItsTransport) {
    EXPECT_EQ(this->harness_.sink().transport(), TypeParam::kTransport);
}

TYPED_TEST(NotificationSinkContract, SubscriberReceivesExactJsonInOrder) {
    std::string agent = this->NewAgent("code-reviewer");
    auto receiver = this->harness_.Listen(agent, "agent:" + agent + ":updates");
    ASSERT_NE(receiver, nullptr);
    std::vector<std::string> sent;
    for (int i = 1; i <= 50; ++i) {
        auto n = this->Message(agent, i, i == 1 ? "initial_context" : "data_update");
        sent.push_back(n.json);
        EXPECT_TRUE(this->harness_.sink().Deliver(n));
    }
    EXPECT_EQ(receiver->Receive(sent.size()), sent);
}

TYPED_TEST(NotificationSinkContract, PayloadIsPassedByteForByte) {
    std::string agent = this->NewAgent("unicode");
    auto receiver = this->harness_.Listen(agent, "agent:" + agent + ":updates");
    ASSERT_NE(receiver, nullptr);
    // UTF-8, escapes, and a large body (well over one socket read).
    std::string big(300000, 'x');
    auto n =
        this->Message(agent, 7, "data_update",
                      R"(,"data":{"text":"héllo \u00e9 \"q\" 日本 🎉","big":")" + big + R"("})");
    ASSERT_TRUE(this->harness_.sink().Deliver(n));
    auto got = receiver->Receive(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], n.json);
}

TYPED_TEST(NotificationSinkContract, OnlyTheAddressedAgentReceives) {
    std::string a = this->NewAgent("a");
    std::string b = this->NewAgent("b");
    auto ra = this->harness_.Listen(a, "agent:" + a + ":updates");
    auto rb = this->harness_.Listen(b, "agent:" + b + ":updates");
    ASSERT_NE(ra, nullptr);
    ASSERT_NE(rb, nullptr);
    auto a1 = this->Message(a, 1), a2 = this->Message(a, 2), b1 = this->Message(b, 1);
    EXPECT_TRUE(this->harness_.sink().Deliver(a1));
    EXPECT_TRUE(this->harness_.sink().Deliver(b1));
    EXPECT_TRUE(this->harness_.sink().Deliver(a2));
    EXPECT_EQ(ra->Receive(2), (std::vector<std::string>{a1.json, a2.json}));
    EXPECT_EQ(rb->Receive(1), std::vector<std::string>{b1.json});
    // Order is preserved, so had b received any of a's messages they would come before b2.
    auto b2 = this->Message(b, 2);
    EXPECT_TRUE(this->harness_.sink().Deliver(b2));
    EXPECT_EQ(rb->Receive(1), std::vector<std::string>{b2.json});
}

TYPED_TEST(NotificationSinkContract, ConcurrentDeliverersKeepPerAgentOrder) {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 100;
    std::vector<std::string> agents;
    std::vector<std::unique_ptr<Receiver>> receivers;
    for (int t = 0; t < kThreads; ++t) {
        agents.push_back(this->NewAgent("agent" + std::to_string(t)));
        receivers.push_back(
            this->harness_.Listen(agents.back(), "agent:" + agents.back() + ":updates"));
        ASSERT_NE(receivers.back(), nullptr);
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 1; i <= kPerThread; ++i) {
                EXPECT_TRUE(this->harness_.sink().Deliver(this->Message(agents[t], i)));
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
        std::vector<std::string> expected;
        for (int i = 1; i <= kPerThread; ++i) expected.push_back(this->Message(agents[t], i).json);
        EXPECT_EQ(receivers[t]->Receive(kPerThread), expected) << agents[t];
    }
}

}  // namespace
}  // namespace contex::notify
