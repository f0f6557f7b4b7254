// RedisPublisher against private redis-server child processes: outages at start and in
// the middle, reconnection, AUTH/db, sentinel, health, metrics, log lines, shutdown.
#include "notify/redis/redis_publisher.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "notify/redis/redis_connection.hpp"
#include "notify/testing/redis_server.hpp"

namespace contex::notify {
namespace {

using namespace std::chrono_literals;
using testing::RedisServerProcess;
using testing::RedisSubscriber;

// Polls `condition` until it holds or `timeout` (real time) passes.
template <typename Pred>
bool Eventually(Pred condition, std::chrono::milliseconds timeout = 15s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return condition();
}

Notification Message(const std::string& agent, std::int64_t sequence,
                     std::string type = "data_update") {
    Notification n;
    n.agent_id = agent;
    n.channel = "agent:" + agent + ":updates";
    n.sequence = sequence;
    n.type = type;
    n.json = R"({"type":")" + type + R"(","agent_id":")" + agent + R"(","sequence":")" +
             std::to_string(sequence) + R"("})";
    return n;
}

class RedisPublisherTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!testing::RedisServerAvailable()) {
            if (testing::ServicesRequired()) FAIL() << "redis-server is not installed";
            GTEST_SKIP() << "redis-server is not installed";
        }
        log_path_ = (std::filesystem::temp_directory_path() /
                     ("contex-notify-log-" + std::to_string(::getpid()) + "-" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                        .string();
        log_file_ = std::fopen(log_path_.c_str(), "w");
        ASSERT_NE(log_file_, nullptr);
        logger_ = std::make_unique<obs::Logger>(
            obs::LogOptions{obs::LogLevel::kDebug, true, log_file_}, system_clock_);
    }
    void TearDown() override {
        publisher_.reset();  // joins the thread before the logger goes
        logger_.reset();
        if (log_file_ != nullptr) std::fclose(log_file_);
        std::error_code ec;
        std::filesystem::remove(log_path_, ec);
    }

    RedisOptions Options(const std::string& url) {
        RedisOptions o;
        o.url = url;
        o.connect_timeout = 2s;
        o.socket_timeout = 2s;
        o.reconnect_max_backoff = 500ms;  // keeps the reconnect test short
        return o;
    }
    void Create(const RedisOptions& options, const Clock& clock) {
        auto p = RedisPublisher::Create(options, *logger_, metrics_, clock);
        ASSERT_TRUE(p.ok()) << p.error().message;
        publisher_ = *std::move(p);
    }
    void Create(const RedisOptions& options) { Create(options, system_clock_); }

    std::string Log() {
        std::ifstream in(log_path_);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    std::size_t LogCount(std::string_view message) {
        std::string log = Log();
        std::string needle = "\"message\":\"" + std::string(message) + "\"";
        std::size_t count = 0;
        for (auto pos = log.find(needle); pos != std::string::npos;
             pos = log.find(needle, pos + 1)) {
            ++count;
        }
        return count;
    }
    double Counter(const std::string& name, const std::vector<std::string>& label_names,
                   const std::vector<std::string>& labels) {
        return metrics_.AddCounter(name, "", label_names).WithLabels(labels).value();
    }
    double Failures(const std::string& type = "data_update") {
        return Counter("contex_notifications_total", {"transport", "type", "status"},
                       {"redis", type, "failure"});
    }
    double Successes(const std::string& type = "data_update") {
        return Counter("contex_notifications_total", {"transport", "type", "status"},
                       {"redis", type, "success"});
    }
    double Unavailable() {
        return Counter("contex_errors_total", {"component", "kind"}, {"redis", "unavailable"});
    }
    double Connections() { return metrics_.AddGauge("contex_redis_connections", "").Get().value(); }

    SystemClock system_clock_;
    std::string log_path_;
    std::FILE* log_file_ = nullptr;
    std::unique_ptr<obs::Logger> logger_;
    obs::MetricsRegistry metrics_;
    std::unique_ptr<RedisPublisher> publisher_;
};

TEST_F(RedisPublisherTest, CreateRejectsInvalidOptions) {
    RedisOptions o = Options("http://nope");
    auto p = RedisPublisher::Create(o, *logger_, metrics_, system_clock_);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
    o = Options("redis://127.0.0.1:1");
    o.mode = "sentinel";  // no REDIS_SENTINEL_HOSTS
    p = RedisPublisher::Create(o, *logger_, metrics_, system_clock_);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(RedisPublisherTest, ServerDownAtStartNeverBlocksAndIsCounted) {
    int port = testing::FreeLoopbackPort();  // nothing listens there
    Create(Options("redis://:pw@127.0.0.1:" + std::to_string(port) + "/0"));
    // Until the first attempt fails messages are queued; then every Deliver is refused.
    ASSERT_TRUE(Eventually([&] { return !publisher_->Deliver(Message("a", 1)); }));
    EXPECT_FALSE(publisher_->connected());
    for (int i = 2; i < 100; ++i) EXPECT_FALSE(publisher_->Deliver(Message("a", i)));
    EXPECT_GE(Failures(), 99);
    EXPECT_GE(Unavailable(), 99);
    EXPECT_EQ(Successes(), 0);

    auto health = publisher_->CheckHealth();
    EXPECT_EQ(health.status, obs::HealthStatus::kDegraded);
    EXPECT_NE(health.message.find("Redis unreachable"), std::string::npos) << health.message;
    EXPECT_EQ(health.details.at("connected").as_bool(), false);

    EXPECT_GE(LogCount("Failed to connect to Redis"), 1u);
    EXPECT_EQ(LogCount("Redis publish failed"), 1u);  // rate limited to one per 10 s
    EXPECT_EQ(Log().find(":pw@"), std::string::npos) << "password leaked into logs";
    EXPECT_EQ(Connections(), 0);
}

TEST_F(RedisPublisherTest, ReconnectsAfterRestartAndDeliversAgain) {
    auto server = RedisServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.error().message;
    Create(Options((*server)->url()));
    auto subscriber = RedisSubscriber::Connect((*server)->url(), {"agent:a:updates"});
    ASSERT_TRUE(subscriber.ok()) << subscriber.error().message;
    ASSERT_TRUE(publisher_->Deliver(Message("a", 1)));
    auto got = (*subscriber)->Receive(1, 10s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, Message("a", 1).json);
    EXPECT_EQ(LogCount("Redis connection established successfully (pub/sub)"), 1u);
    EXPECT_TRUE(publisher_->connected());
    EXPECT_GE(Connections(), 1);

    (*server)->Kill();
    // The publisher notices on its next PUBLISH, fails to reconnect and refuses messages.
    ASSERT_TRUE(Eventually([&] { return !publisher_->Deliver(Message("a", 2)); }));
    EXPECT_EQ(publisher_->CheckHealth().status, obs::HealthStatus::kDegraded);
    EXPECT_GE(LogCount("Redis connection lost"), 1u);
    EXPECT_GE(LogCount("Failed to connect to Redis"), 1u);
    EXPECT_GE(Failures(), 1);
    EXPECT_GE(Unavailable(), 1);

    ASSERT_TRUE((*server)->Restart().ok());
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); }));
    EXPECT_EQ(LogCount("Redis reconnected"), 1u);
    auto health = publisher_->CheckHealth();
    EXPECT_EQ(
        health.status == obs::HealthStatus::kHealthy || health.message == "High Redis latency",
        true)
        << health.message;
    auto again = RedisSubscriber::Connect((*server)->url(), {"agent:a:updates"});
    ASSERT_TRUE(again.ok()) << again.error().message;
    ASSERT_TRUE(publisher_->Deliver(Message("a", 3)));
    got = (*again)->Receive(1, 10s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, Message("a", 3).json);
}

TEST_F(RedisPublisherTest, StaleConnectionIsRetriedOnceAfterRestart) {
    auto server = RedisServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.error().message;
    auto options = Options((*server)->url());
    options.health_check_interval = 0s;  // nothing notices the restart until the PUBLISH
    Create(options);
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); }));
    (*server)->Kill();
    ASSERT_TRUE((*server)->Restart().ok());
    auto subscriber = RedisSubscriber::Connect((*server)->url(), {"agent:a:updates"});
    ASSERT_TRUE(subscriber.ok()) << subscriber.error().message;
    ASSERT_TRUE(publisher_->Deliver(Message("a", 1)));
    auto got = (*subscriber)->Receive(1, 10s);
    ASSERT_EQ(got.size(), 1u) << Log();
    EXPECT_EQ(got[0].payload, Message("a", 1).json);
    EXPECT_EQ(Counter("contex_retries_total", {"operation"}, {"redis_publish"}), 1);
    EXPECT_EQ(LogCount("Redis connection lost"), 1u);
    EXPECT_EQ(LogCount("Redis reconnected"), 1u);
}

TEST_F(RedisPublisherTest, IdlePingNoticesALostServerAndEmptyChannelMeansDefault) {
    auto server = RedisServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.error().message;
    auto options = Options((*server)->url());
    options.health_check_interval = 1s;
    Create(options);
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); }));
    (*server)->Kill();
    // Nothing is published: only the idle PING can notice.
    ASSERT_TRUE(Eventually([&] { return !publisher_->connected(); }));
    EXPECT_GE(LogCount("Redis connection lost"), 1u);
    ASSERT_TRUE((*server)->Restart().ok());
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); }));
    auto subscriber = RedisSubscriber::Connect((*server)->url(), {"agent:d:updates"});
    ASSERT_TRUE(subscriber.ok()) << subscriber.error().message;
    auto message = Message("d", 1);
    message.channel.clear();
    ASSERT_TRUE(publisher_->Deliver(message));
    auto got = (*subscriber)->Receive(1, 10s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].channel, "agent:d:updates");
}

TEST_F(RedisPublisherTest, AuthenticatesAndSelectsTheDbFromTheUrl) {
    auto server = RedisServerProcess::Start({.extra_args = {"--requirepass", "s3cret"}});
    ASSERT_TRUE(server.ok()) << server.error().message;
    Create(Options((*server)->url(5, "s3cret")));
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); }));
    auto subscriber = RedisSubscriber::Connect((*server)->url(0, "s3cret"), {"agent:a:updates"});
    ASSERT_TRUE(subscriber.ok()) << subscriber.error().message;
    ASSERT_TRUE(publisher_->Deliver(Message("a", 1, "initial_context")));
    auto got = (*subscriber)->Receive(1, 10s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, Message("a", 1, "initial_context").json);
    ASSERT_TRUE(publisher_->Flush(10s));
    EXPECT_EQ(Successes("initial_context"), 1);

    auto health = publisher_->CheckHealth();
    EXPECT_NE(health.status, obs::HealthStatus::kUnhealthy);
    ASSERT_TRUE(health.details.contains("connected_clients")) << health.message;
    EXPECT_GE(health.details.at("connected_clients").as_int64(),
              2);  // publisher, health, subscriber
    EXPECT_FALSE(health.details.at("used_memory_human").as_string().empty());
    EXPECT_TRUE(health.details.at("latency_ms").is_double());
    EXPECT_EQ(health.details.at("purpose").as_string(), "pub/sub");
    EXPECT_EQ(Connections(), 2);
    EXPECT_EQ(Log().find("s3cret"), std::string::npos) << "password leaked into logs";
}

TEST_F(RedisPublisherTest, WrongPasswordIsAFailedConnection) {
    auto server = RedisServerProcess::Start({.extra_args = {"--requirepass", "s3cret"}});
    ASSERT_TRUE(server.ok()) << server.error().message;
    Create(Options((*server)->url(0, "wrong")));
    ASSERT_TRUE(Eventually([&] { return !publisher_->Deliver(Message("a", 1)); }));
    EXPECT_EQ(publisher_->CheckHealth().status, obs::HealthStatus::kDegraded);
    std::string log = Log();
    EXPECT_NE(log.find("Failed to connect to Redis"), std::string::npos);
    EXPECT_NE(log.find("AUTH refused"), std::string::npos) << log;
}

TEST_F(RedisPublisherTest, SentinelModeAsksTheSentinelForTheMaster) {
    auto master = RedisServerProcess::Start({.extra_args = {"--requirepass", "mpw"}});
    ASSERT_TRUE(master.ok()) << master.error().message;
    auto sentinel = RedisServerProcess::Start({.extra_args = {},
                                               .sentinel_for_master_port = (*master)->port(),
                                               .sentinel_master = "contexmaster"});
    ASSERT_TRUE(sentinel.ok()) << sentinel.error().message;
    auto options = Options("redis://unused.invalid:1");
    options.mode = "sentinel";
    options.sentinel_hosts = {"127.0.0.1:" + std::to_string(testing::FreeLoopbackPort()),  // dead
                              "127.0.0.1:" + std::to_string((*sentinel)->port())};
    options.sentinel_master = "contexmaster";
    options.password = "mpw";
    Create(options);
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); })) << Log();
    auto subscriber = RedisSubscriber::Connect((*master)->url(0, "mpw"), {"agent:s:updates"});
    ASSERT_TRUE(subscriber.ok()) << subscriber.error().message;
    ASSERT_TRUE(publisher_->Deliver(Message("s", 4)));
    auto got = (*subscriber)->Receive(1, 10s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, Message("s", 4).json);
    EXPECT_NE(Log().find("\"mode\":\"sentinel\""), std::string::npos);
    EXPECT_EQ(publisher_->CheckHealth().details.at("mode").as_string(), "sentinel");
}

TEST_F(RedisPublisherTest, TlsUrlPublishesOverVerifiedTls) {
    auto server = RedisServerProcess::Start({.extra_args = {"--requirepass", "tpw"}, .tls = true});
    ASSERT_TRUE(server.ok()) << server.error().message;
    std::string url = "rediss://:tpw@127.0.0.1:" + std::to_string((*server)->tls_port()) +
                      "/0?ssl_ca_certs=" + (*server)->ca_file();
    Create(Options(url));
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); })) << Log();
    auto subscriber = RedisSubscriber::Connect((*server)->url(0, "tpw"), {"agent:t:updates"});
    ASSERT_TRUE(subscriber.ok()) << subscriber.error().message;
    std::string big(200000, 'y');  // several TLS records
    auto message = Message("t", 1);
    message.json = R"({"type":"data_update","big":")" + big + R"("})";
    ASSERT_TRUE(publisher_->Deliver(message));
    auto got = (*subscriber)->Receive(1, 10s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, message.json);
    auto health = publisher_->CheckHealth();
    EXPECT_TRUE(health.details.contains("connected_clients")) << health.message;
}

TEST_F(RedisPublisherTest, TlsRefusesAnUntrustedCertificateUnlessVerificationIsOff) {
    auto server = RedisServerProcess::Start({.extra_args = {}, .tls = true});
    ASSERT_TRUE(server.ok()) << server.error().message;
    std::string base = "rediss://127.0.0.1:" + std::to_string((*server)->tls_port()) + "/0";
    Create(Options(base));  // the system store does not know the self-signed certificate
    ASSERT_TRUE(Eventually([&] { return !publisher_->Deliver(Message("t", 1)); }));
    EXPECT_NE(Log().find("certificate verify failed"), std::string::npos) << Log();
    EXPECT_EQ(publisher_->CheckHealth().status, obs::HealthStatus::kDegraded);
    publisher_.reset();

    Create(Options(base + "?ssl_cert_reqs=none"));
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); })) << Log();
}

TEST_F(RedisPublisherTest, PublishFailureWarningAtMostOncePerInterval) {
    ManualClock clock;
    int port = testing::FreeLoopbackPort();
    Create(Options("redis://127.0.0.1:" + std::to_string(port)), clock);
    int first_calls = 0;  // every one of them fails: refused, or queued then dropped
    ASSERT_TRUE(Eventually([&] {
        ++first_calls;
        return !publisher_->Deliver(Message("a", 1));
    }));
    ASSERT_TRUE(publisher_->Flush(10s));  // queued ones have been dropped and counted
    for (int i = 0; i < 20; ++i) publisher_->Deliver(Message("a", 2));
    EXPECT_EQ(LogCount("Redis publish failed"), 1u);
    clock.Advance(9s);
    publisher_->Deliver(Message("a", 3));
    EXPECT_EQ(LogCount("Redis publish failed"), 1u);
    clock.Advance(1s);
    publisher_->Deliver(Message("a", 4));
    EXPECT_EQ(LogCount("Redis publish failed"), 2u);
    // The second warning reports the failures it stood for since the first.
    std::string suppressed = "\"suppressed\":" + std::to_string(first_calls - 1 + 20 + 1);
    EXPECT_NE(Log().find(suppressed), std::string::npos) << suppressed << "\n" << Log();
}

TEST_F(RedisPublisherTest, FullQueueRefusesInsteadOfBlocking) {
    auto server = RedisServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.error().message;
    auto options = Options((*server)->url());
    options.queue_capacity = 4;
    options.socket_timeout = 30s;
    Create(options);
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); }));
    // Stall the server so the first PUBLISH hangs in flight and the queue fills up.
    {
        RedisConnectSettings s = testing::TestConnectSettings(2s);
        auto c = RedisConnection::Open({"127.0.0.1", (*server)->port()}, s, nullptr);
        ASSERT_TRUE(c.ok());
        auto r = (*c)->Command({"CLIENT", "PAUSE", "1000", "ALL"});
        ASSERT_TRUE(r.ok());
    }
    int accepted = 0;
    int refused = 0;
    for (int i = 1; i <= 50; ++i) (publisher_->Deliver(Message("q", i)) ? accepted : refused)++;
    EXPECT_GT(refused, 0);
    EXPECT_LE(accepted, 4 + 128);  // queue plus at most one batch in flight
    EXPECT_EQ(Failures(), refused);
    ASSERT_TRUE(publisher_->Flush(20s));
    EXPECT_EQ(Successes(), accepted);
}

TEST_F(RedisPublisherTest, StalledServerReadsDegradedWithinTheHealthBudget) {
    auto server = RedisServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.error().message;
    auto options = Options((*server)->url());
    options.health_timeout = 200ms;
    Create(options);
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); }));
    ASSERT_EQ(publisher_->CheckHealth().message, "Redis is healthy (pub/sub)");
    auto admin = RedisConnection::Open({"127.0.0.1", (*server)->port()},
                                       testing::TestConnectSettings(2s), nullptr);
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE((*admin)->Command({"CLIENT", "PAUSE", "1500", "ALL"}).ok());
    auto health = publisher_->CheckHealth();
    EXPECT_EQ(health.status, obs::HealthStatus::kDegraded);
    EXPECT_NE(health.message.find("timed out"), std::string::npos) << health.message;
    // Afterwards the next check reconnects and reads healthy again.
    ASSERT_TRUE(Eventually(
        [&] { return publisher_->CheckHealth().status == obs::HealthStatus::kHealthy; }));
}

TEST_F(RedisPublisherTest, ShutdownPublishesWhatIsQueuedThenRefuses) {
    auto server = RedisServerProcess::Start();
    ASSERT_TRUE(server.ok()) << server.error().message;
    Create(Options((*server)->url()));
    auto subscriber = RedisSubscriber::Connect((*server)->url(), {"agent:z:updates"});
    ASSERT_TRUE(subscriber.ok());
    ASSERT_TRUE(Eventually([&] { return publisher_->connected(); }));
    for (int i = 1; i <= 200; ++i) ASSERT_TRUE(publisher_->Deliver(Message("z", i)));
    publisher_->Shutdown();
    auto got = (*subscriber)->Receive(200, 10s);
    ASSERT_EQ(got.size(), 200u);
    EXPECT_EQ(got.back().payload, Message("z", 200).json);
    EXPECT_FALSE(publisher_->Deliver(Message("z", 201)));
    EXPECT_EQ(publisher_->CheckHealth().status, obs::HealthStatus::kDegraded);
    EXPECT_EQ(Connections(), 0);
    publisher_->Shutdown();  // idempotent
}

TEST(RedisConnectionIo, WritingToAVanishedServerFailsWithoutSigpipe) {
    if (!testing::RedisServerAvailable()) GTEST_SKIP() << "redis-server is not installed";
    auto server = RedisServerProcess::Start({.extra_args = {}, .tls = true});
    ASSERT_TRUE(server.ok()) << server.error().message;
    auto plain = testing::TestConnectSettings(5s);
    auto tls = plain;
    tls.tls = true;
    tls.tls_ca_file = (*server)->ca_file();
    auto a = RedisConnection::Open({"127.0.0.1", (*server)->port()}, plain, nullptr);
    auto b = RedisConnection::Open({"127.0.0.1", (*server)->tls_port()}, tls, nullptr);
    ASSERT_TRUE(a.ok()) << a.error().message;
    ASSERT_TRUE(b.ok()) << b.error().message;
    ASSERT_TRUE((*b)->Command({"PING"}).ok());
    (*server)->Kill();
    // Far more than the socket buffers hold: the writes continue after the peer's reset,
    // which would raise SIGPIPE (and kill this process) without the guards.
    std::string payload(32 << 20, 'p');
    for (auto* connection : {a->get(), b->get()}) {
        connection->Append({"PUBLISH", "c", payload});
        auto reply = connection->ReadReply();
        ASSERT_FALSE(reply.ok());
        EXPECT_EQ(reply.error().code, ErrorCode::kUnavailable) << reply.error().message;
        EXPECT_TRUE(connection->broken());
    }
}

TEST(RedisHealth, NotConfiguredIsHealthy) {
    auto health = RedisNotConfiguredHealth();
    EXPECT_EQ(health.status, obs::HealthStatus::kHealthy);
    EXPECT_EQ(health.message, "Redis not configured (in-process notification bus)");
    EXPECT_EQ(health.details.at("enabled").as_bool(), false);
}

}  // namespace
}  // namespace contex::notify
