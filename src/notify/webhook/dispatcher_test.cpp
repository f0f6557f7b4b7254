// The outbox dispatcher over real SQLite storage, a scripted sender and a manual clock.
#include "notify/webhook/dispatcher.hpp"

#include <gtest/gtest.h>

#include <deque>

#include "common/ids.hpp"
#include "common/json.hpp"
#include "storage/storage_test_support.hpp"

namespace contex::notify {
namespace {

using namespace std::chrono_literals;
using storage::NotificationRecord;

class ScriptedSender final : public WebhookSender {
public:
    SendOutcome Send(const WebhookRequest& request) override {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
        if (script_.empty()) return Status(200);
        auto next = script_.front();
        script_.pop_front();
        return next;
    }
    void Then(SendOutcome o) {
        std::lock_guard lock(mutex_);
        script_.push_back(std::move(o));
    }
    std::vector<WebhookRequest> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    static SendOutcome Status(int status, std::optional<std::chrono::seconds> retry_after = {}) {
        SendOutcome o;
        o.status = status;
        o.retry_after = retry_after;
        return o;
    }

private:
    std::mutex mutex_;
    std::deque<SendOutcome> script_;
    std::vector<WebhookRequest> requests_;
};

std::string Header(const WebhookRequest& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
        if (k == name) return v;
    }
    return "<absent>";
}

class WebhookDispatcherTest : public ::testing::Test {
protected:
    void SetUp() override {
        storage::StorageConfig config;
        config.data_dir = dir_.path();
        auto opened = storage::OpenStorage(config, env_.logger, env_.metrics, env_.clock);
        ASSERT_TRUE(opened.ok()) << opened.error().message;
        storage_ = std::move(*opened);
        options_.retry = {3, 1, 3600};
        options_.circuit_failures = 100;
        AddAgent("a1", "https://hooks.example/a1", "s3cret");
    }

    void AddAgent(const std::string& id, const std::string& url,
                  std::optional<std::string> secret) {
        storage::AgentRecord a;
        a.agent_id = id;
        a.project_id = "p";
        a.needs = {"database"};
        a.notification_method = "webhook";
        a.notification_channel = "agent:" + id + ":updates";
        a.webhook_url = url;
        a.webhook_secret = std::move(secret);
        a.created_at = a.updated_at = env_.clock.Now();
        ASSERT_TRUE(storage_
                        ->WithProjectTransaction("p",
                                                 [&](storage::ProjectTransaction& tx) -> Status {
                                                     return tx.UpsertAgent(a);
                                                 })
                        .ok());
    }

    std::string Queue(const std::string& agent, int64_t sequence) {
        NotificationRecord n;
        n.message_id = "msg_" + RandomHex(32);
        n.agent_id = agent;
        n.project_id = "p";
        n.sequence = sequence;
        n.type = "data_update";
        n.payload = json::object{{"type", "data_update"}, {"sequence", std::to_string(sequence)}};
        n.created_at = env_.clock.Now();
        n.delivery_status = "pending";
        n.next_attempt_at = n.created_at;
        std::vector<NotificationRecord> rows{n};
        EXPECT_TRUE(storage_
                        ->WithProjectTransaction("p",
                                                 [&](storage::ProjectTransaction& tx) -> Status {
                                                     return tx.InsertNotifications(rows);
                                                 })
                        .ok());
        return n.message_id;
    }

    NotificationRecord Row(const std::string& agent, const std::string& message_id) {
        auto rows = storage_->ListNotifications(agent, 0, 1000);
        EXPECT_TRUE(rows.ok());
        for (auto& r : *rows) {
            if (r.message_id == message_id) return r;
        }
        ADD_FAILURE() << "no row " << message_id;
        return {};
    }

    std::unique_ptr<WebhookDispatcher> Make() {
        return std::make_unique<WebhookDispatcher>(options_, *storage_, sender_, env_.clock,
                                                   env_.logger, env_.metrics,
                                                   [] { return 0.5; });
    }

    bool DeliverOne(WebhookDispatcher& d) {
        auto r = d.DeliverOne();
        EXPECT_TRUE(r.ok()) << r.error().message;
        return r.ok() && *r;
    }

    storage::testing::TempDir dir_;
    storage::testing::TestEnv env_;
    std::unique_ptr<storage::Storage> storage_;
    DispatcherOptions options_;
    ScriptedSender sender_;
};

TEST_F(WebhookDispatcherTest, DeliversASignedMessageAndMarksItDelivered) {
    auto id = Queue("a1", 1);
    auto d = Make();
    d->RefreshOutboxGauge();
    EXPECT_NE(env_.metrics.Render().find("contex_webhook_outbox_pending 1"), std::string::npos);
    ASSERT_TRUE(DeliverOne(*d));
    EXPECT_FALSE(DeliverOne(*d));
    d->RefreshOutboxGauge();
    EXPECT_NE(env_.metrics.Render().find("contex_webhook_outbox_pending 0"), std::string::npos);

    auto requests = sender_.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].url, "https://hooks.example/a1");
    EXPECT_EQ(requests[0].body, R"({"type":"data_update","sequence":"1"})");
    EXPECT_EQ(Header(requests[0], "webhook-id"), id);
    EXPECT_EQ(Header(requests[0], "X-Contex-Event"), "data_update");
    EXPECT_EQ(Header(requests[0], "X-Contex-Signature").rfind("sha256=", 0), 0u);
    EXPECT_EQ(Header(requests[0], "webhook-signature").rfind("v1,", 0), 0u);

    auto row = Row("a1", id);
    EXPECT_EQ(row.delivery_status, std::optional<std::string>("delivered"));
    EXPECT_EQ(row.attempts, 1);
    EXPECT_EQ(row.last_status_code, std::optional<int>(200));
    EXPECT_FALSE(row.last_error.has_value());
    EXPECT_TRUE(row.delivered_at.has_value());
    EXPECT_NE(env_.metrics.Render().find("contex_webhooks_sent_total{status=\"success\"} 1"),
              std::string::npos);
}

TEST_F(WebhookDispatcherTest, RetriesOnTheBackoffScheduleUntilExhausted) {
    auto id = Queue("a1", 1);
    auto d = Make();
    for (int i = 0; i < 4; ++i) sender_.Then(ScriptedSender::Status(503));
    // Attempt 1 now; retries after 1 s, 4 s and 16 s (jitter fixed at the midpoint).
    const std::chrono::seconds waits[] = {1s, 4s, 16s};
    ASSERT_TRUE(DeliverOne(*d));
    for (auto wait : waits) {
        auto row = Row("a1", id);
        EXPECT_EQ(row.delivery_status, std::optional<std::string>("pending"));
        ASSERT_TRUE(row.next_attempt_at.has_value());
        EXPECT_EQ(*row.next_attempt_at - env_.clock.Now(), wait);
        env_.clock.Advance(wait - 1ms);
        EXPECT_FALSE(DeliverOne(*d)) << "not due yet";
        env_.clock.Advance(1ms);
        ASSERT_TRUE(DeliverOne(*d));
    }
    auto row = Row("a1", id);
    EXPECT_EQ(row.delivery_status, std::optional<std::string>("failed"));
    EXPECT_EQ(row.attempts, 4);
    EXPECT_EQ(row.last_error, std::optional<std::string>("HTTP 503"));
    // webhook-id stays the same across retries; the delivery id changes per attempt.
    auto requests = sender_.requests();
    ASSERT_EQ(requests.size(), 4u);
    for (const auto& r : requests) EXPECT_EQ(Header(r, "webhook-id"), id);
    EXPECT_NE(Header(requests[0], "X-Contex-Delivery-ID"), Header(requests[1], "X-Contex-Delivery-ID"));
    const std::string text = env_.metrics.Render();
    EXPECT_NE(text.find("contex_webhook_retries_total 3"), std::string::npos) << text;
    EXPECT_NE(text.find("contex_retry_exhausted_total{operation=\"webhook\"} 1"), std::string::npos);
    EXPECT_NE(text.find("contex_errors_total{component=\"webhook\",kind=\"5xx\"} 1"),
              std::string::npos);
}

TEST_F(WebhookDispatcherTest, HonoursRetryAfter) {
    auto id = Queue("a1", 1);
    auto d = Make();
    sender_.Then(ScriptedSender::Status(429, 120s));
    ASSERT_TRUE(DeliverOne(*d));
    EXPECT_EQ(*Row("a1", id).next_attempt_at - env_.clock.Now(), 120s);
    env_.clock.Advance(119s);
    EXPECT_FALSE(DeliverOne(*d));
    env_.clock.Advance(1s);
    ASSERT_TRUE(DeliverOne(*d));
    EXPECT_EQ(Row("a1", id).delivery_status, std::optional<std::string>("delivered"));
}

TEST_F(WebhookDispatcherTest, ClientErrorFailsWithoutRetry) {
    auto id = Queue("a1", 1);
    auto d = Make();
    sender_.Then(ScriptedSender::Status(400));
    ASSERT_TRUE(DeliverOne(*d));
    env_.clock.Advance(24h);
    EXPECT_FALSE(DeliverOne(*d));
    auto row = Row("a1", id);
    EXPECT_EQ(row.delivery_status, std::optional<std::string>("failed"));
    EXPECT_EQ(row.attempts, 1);
    EXPECT_EQ(sender_.requests().size(), 1u);
}

TEST_F(WebhookDispatcherTest, GoneDisablesTheAgentsWebhook) {
    auto first = Queue("a1", 1);
    auto second = Queue("a1", 2);
    auto d = Make();
    sender_.Then(ScriptedSender::Status(410));
    ASSERT_TRUE(DeliverOne(*d));
    EXPECT_FALSE(DeliverOne(*d));
    EXPECT_EQ(Row("a1", first).delivery_status, std::optional<std::string>("failed"));
    EXPECT_EQ(Row("a1", second).delivery_status, std::optional<std::string>("cancelled"));
    auto agent = storage_->GetAgent("a1").value();
    ASSERT_TRUE(agent.has_value());
    EXPECT_TRUE(agent->data.at(storage::kAgentWebhookDisabled).as_bool());
    // A row queued before the engine saw the change is failed without a request.
    auto late = Queue("a1", 3);
    ASSERT_TRUE(DeliverOne(*d));
    EXPECT_EQ(Row("a1", late).delivery_status, std::optional<std::string>("failed"));
    EXPECT_EQ(sender_.requests().size(), 1u);
}

TEST_F(WebhookDispatcherTest, OpenBreakerDefersDeliveriesWithoutCountingAttempts) {
    options_.circuit_failures = 2;
    options_.circuit_open = 60s;
    AddAgent("a2", "https://hooks.example/a2", std::nullopt);  // same destination
    auto a = Queue("a1", 1);
    auto b = Queue("a2", 1);
    auto c = Queue("a2", 2);
    auto d = Make();
    sender_.Then(ScriptedSender::Status(500));
    sender_.Then(ScriptedSender::Status(500));
    ASSERT_TRUE(DeliverOne(*d));  // a: failure 1
    ASSERT_TRUE(DeliverOne(*d));  // b: failure 2 → open
    EXPECT_EQ(d->breakers().state("webhook:hooks.example:443"), BreakerState::kOpen);
    ASSERT_TRUE(DeliverOne(*d));  // c: deferred, no request
    EXPECT_EQ(sender_.requests().size(), 2u);
    auto deferred = Row("a2", c);
    EXPECT_EQ(deferred.attempts, 0);
    EXPECT_EQ(deferred.delivery_status, std::optional<std::string>("pending"));
    EXPECT_EQ(*deferred.next_attempt_at, env_.clock.Now() + 60s);

    // After the cool-down the breaker lets one probe through; successes close it.
    env_.clock.Advance(60s);
    int handled = 0;
    while (DeliverOne(*d)) ++handled;
    EXPECT_EQ(handled, 3);
    EXPECT_EQ(d->breakers().state("webhook:hooks.example:443"), BreakerState::kClosed);
    for (auto [agent, id] : {std::pair{"a1", a}, {"a2", b}, {"a2", c}}) {
        EXPECT_EQ(Row(agent, id).delivery_status, std::optional<std::string>("delivered")) << id;
    }
}

TEST_F(WebhookDispatcherTest, CancelsRowsOfAgentsThatLeftWebhookMode) {
    AddAgent("a3", "https://hooks.example/a3", std::nullopt);
    auto id = Queue("a3", 1);
    storage::AgentRecord a = storage_->GetAgent("a3").value().value();
    a.notification_method = "redis";
    ASSERT_TRUE(storage_
                    ->WithProjectTransaction(
                        "p", [&](storage::ProjectTransaction& tx) { return tx.UpsertAgent(a); })
                    .ok());
    auto d = Make();
    ASSERT_TRUE(DeliverOne(*d));
    EXPECT_EQ(Row("a3", id).delivery_status, std::optional<std::string>("cancelled"));
    EXPECT_TRUE(sender_.requests().empty());
}

TEST_F(WebhookDispatcherTest, WorkerThreadsDeliverWhatIsQueuedAndResumeInterruptedClaims) {
    auto first = Queue("a1", 1);
    // A claim left by a crashed process (leased far into the future).
    ASSERT_EQ(storage_->ClaimDueDeliveries(env_.clock.Now(), 1, env_.clock.Now() + 1h)->size(), 1u);
    auto second = Queue("a1", 2);
    options_.workers = 3;
    options_.sole_dispatcher = true;
    options_.idle_poll = 10ms;
    auto d = Make();
    d->Start();
    d->Wake();
    for (int i = 0; i < 500 && sender_.requests().size() < 2; ++i) std::this_thread::sleep_for(10ms);
    d->Stop();
    EXPECT_EQ(Row("a1", first).delivery_status, std::optional<std::string>("delivered"));
    EXPECT_EQ(Row("a1", second).delivery_status, std::optional<std::string>("delivered"));
    EXPECT_EQ(sender_.requests().size(), 2u);
}

}  // namespace
}  // namespace contex::notify
