#include "notify/webhook/dispatcher.hpp"

#include <memory>
#include <random>

#include "common/ids.hpp"
#include "common/json.hpp"
#include "notify/webhook/destination_policy.hpp"
#include "notify/webhook/signing.hpp"

namespace contex::notify {
namespace {

constexpr std::string_view kLogger = "contex.delivery";
constexpr std::chrono::seconds kLeaseMargin{30};
constexpr std::chrono::seconds kOutboxGaugeEvery{10};
constexpr std::chrono::seconds kStorageErrorLogEvery{10};

std::function<double()> DefaultJitter() {
    struct State {
        std::mutex mutex;
        std::mt19937_64 engine{std::random_device{}()};
        std::uniform_real_distribution<double> uniform{0.0, 1.0};
    };
    auto state = std::make_shared<State>();
    return [state] {
        std::lock_guard lock(state->mutex);
        return state->uniform(state->engine);
    };
}

std::string AttemptError(const SendOutcome& outcome) {
    if (outcome.status) return "HTTP " + std::to_string(*outcome.status);
    return outcome.error.empty() ? std::string("no response") : outcome.error;
}

std::int64_t UnixSeconds(Clock::WallTime t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

WebhookDispatcher::WebhookDispatcher(DispatcherOptions options, storage::Storage& storage,
                                     WebhookSender& sender, const Clock& clock,
                                     obs::Logger& logger, obs::MetricsRegistry& metrics,
                                     std::function<double()> jitter)
    : options_(std::move(options)),
      storage_(storage),
      sender_(sender),
      clock_(clock),
      logger_(logger),
      jitter_(jitter ? std::move(jitter) : DefaultJitter()),
      breakers_(options_.circuit_failures, options_.circuit_open, clock, metrics),
      sent_(metrics.AddCounter("contex_webhooks_sent_total", "Webhook attempts.", {"status"})),
      notifications_(metrics.AddCounter("contex_notifications_total",
                                        "Messages handed to a transport.",
                                        {"transport", "type", "status"})),
      attempt_duration_(metrics
                            .AddHistogram("contex_webhook_delivery_duration_seconds",
                                          "Duration of one webhook attempt.", obs::buckets::kB2)
                            .Get()),
      retries_(metrics.AddCounter("contex_webhook_retries_total", "Scheduled webhook retries.")
                   .Get()),
      retry_delay_(metrics
                       .AddHistogram("contex_webhook_retry_delay_seconds",
                                     "Delays of scheduled webhook retries.", obs::buckets::kB4)
                       .Get()),
      retries_generic_(metrics.AddCounter("contex_retries_total", "Retries.", {"operation"})
                           .WithLabels({"webhook"})),
      exhausted_(metrics
                     .AddCounter("contex_retry_exhausted_total",
                                 "Operations that gave up after retrying.", {"operation"})
                     .WithLabels({"webhook"})),
      errors_(metrics.AddCounter("contex_errors_total", "Internal failures.", {"component", "kind"})),
      outbox_pending_(metrics
                          .AddGauge("contex_webhook_outbox_pending",
                                    "Webhook deliveries due or scheduled.")
                          .Get()) {}

WebhookDispatcher::~WebhookDispatcher() { Stop(); }

void WebhookDispatcher::Start() {
    if (options_.sole_dispatcher) {
        auto released = storage_.ReleaseDeliveryLeases();
        if (released.ok() && *released > 0) {
            logger_.Info(kLogger, "Released webhook deliveries interrupted by a restart",
                         {{"count", *released}});
        }
    }
    std::lock_guard lock(mutex_);
    if (!threads_.empty() || stopping_) return;
    for (int i = 0; i < options_.workers; ++i) {
        threads_.emplace_back([this, i] { WorkerLoop(i); });
    }
}

void WebhookDispatcher::Wake() {
    {
        std::lock_guard lock(mutex_);
        ++wake_generation_;
    }
    wake_.notify_one();
}

void WebhookDispatcher::Stop() {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        threads.swap(threads_);
    }
    wake_.notify_all();
    for (auto& t : threads) t.join();
}

void WebhookDispatcher::WorkerLoop(int index) {
    // Worker 0 polls for rows that became due and refreshes the outbox gauge; the others
    // sleep until woken (by Wake, or by a worker that just claimed a row and so suspects
    // more are due).
    const bool poller = index == 0;
    auto next_gauge = clock_.Monotonic();
    std::uint64_t seen = 0;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            seen = wake_generation_;
        }
        if (poller && clock_.Monotonic() >= next_gauge) {
            RefreshOutboxGauge();
            next_gauge = clock_.Monotonic() + kOutboxGaugeEvery;
        }
        auto handled = DeliverOne();
        if (handled.ok() && *handled) continue;
        if (!handled.ok()) {
            errors_.WithLabels({"db", "unavailable"}).Inc();
            const auto now = UnixSeconds(clock_.Now());
            auto last = last_storage_error_log_.load();
            if (now - last >= kStorageErrorLogEvery.count() &&
                last_storage_error_log_.compare_exchange_strong(last, now)) {
                logger_.Error(kLogger, "Webhook outbox unavailable",
                              {{"error", handled.error().message}});
            }
        }
        std::unique_lock lock(mutex_);
        auto woken = [&] { return stopping_ || wake_generation_ != seen; };
        if (poller) {
            wake_.wait_for(lock, options_.idle_poll, woken);
        } else {
            wake_.wait(lock, woken);
        }
        if (stopping_) return;
    }
}

void WebhookDispatcher::RefreshOutboxGauge() {
    auto pending = storage_.CountPendingDeliveries();
    if (pending.ok()) outbox_pending_.Set(static_cast<double>(*pending));
}

Result<bool> WebhookDispatcher::DeliverOne() {
    const auto now = clock_.Now();
    CONTEX_ASSIGN_OR_RETURN(auto claimed,
                            storage_.ClaimDueDeliveries(now, 1, now + options_.timeout + kLeaseMargin));
    if (claimed.empty()) return false;
    Wake();  // one more worker looks for the next due row
    CONTEX_TRY(Attempt(std::move(claimed.front())));
    return true;
}

Status WebhookDispatcher::Finish(storage::NotificationRecord& row, std::string status,
                                 std::optional<std::string> error) {
    row.delivery_status = std::move(status);
    row.locked_until.reset();
    row.next_attempt_at.reset();
    row.last_error = std::move(error);
    return storage_.UpdateDelivery(row);
}

Status WebhookDispatcher::Attempt(storage::NotificationRecord row) {
    const auto now = clock_.Now();
    CONTEX_ASSIGN_OR_RETURN(auto agent, storage_.GetAgent(row.agent_id));
    if (!agent || agent->notification_method != "webhook" || !agent->webhook_url) {
        return Finish(row, "cancelled", "the agent no longer receives webhooks");
    }
    if (storage::WebhookDisabled(*agent)) {
        return Finish(row, "failed", "webhook disabled: the receiver answered 410 Gone");
    }
    if (now - row.created_at > options_.max_age) {
        exhausted_.Inc();
        return Finish(row, "failed", "expired before it could be delivered");
    }
    auto endpoint = ParseWebhookUrl(*agent->webhook_url);
    if (!endpoint.ok()) return Finish(row, "failed", endpoint.error().message);
    const std::string breaker = "webhook:" + endpoint->host + ":" + std::to_string(endpoint->port);

    auto admission = breakers_.Admit(breaker);
    if (!admission.allowed) {
        row.delivery_status = "pending";
        row.next_attempt_at = admission.retry_at;
        row.locked_until.reset();
        return storage_.UpdateDelivery(row);
    }

    WebhookRequest request;
    request.url = *agent->webhook_url;
    request.body = ToJson(row.payload);
    request.timeout = options_.timeout;
    const std::string delivery_id = NewUuid();
    WebhookHeaderInputs inputs;
    inputs.webhook_id = row.message_id;
    inputs.event = row.type;
    inputs.delivery_id = delivery_id;
    inputs.user_agent = options_.user_agent;
    inputs.unix_seconds = UnixSeconds(now);
    if (agent->webhook_secret) inputs.secret = *agent->webhook_secret;
    request.headers = WebhookHeaders(inputs, request.body);

    const auto started = clock_.Monotonic();
    const SendOutcome outcome = sender_.Send(request);
    attempt_duration_.Observe(std::chrono::duration<double>(clock_.Monotonic() - started).count());
    const Verdict verdict = Classify(outcome);
    if (outcome.blocked) {
        breakers_.Abandon(breaker);
    } else {
        breakers_.Record(breaker, verdict == Verdict::kRetry);
    }

    row.attempts += 1;
    row.locked_until.reset();
    row.last_status_code = outcome.status;
    const bool delivered = verdict == Verdict::kDelivered;
    sent_.WithLabels({delivered ? "success" : "failure"}).Inc();
    notifications_.WithLabels({"webhook", row.type, delivered ? "success" : "failure"}).Inc();
    obs::LogFields fields{{"agent_id", row.agent_id},
                          {"host", endpoint->host},
                          {"webhook_id", row.message_id},
                          {"attempt", row.attempts},
                          {"error", AttemptError(outcome)}};

    switch (verdict) {
        case Verdict::kDelivered:
            row.delivered_at = clock_.Now();
            return Finish(row, "delivered", std::nullopt);
        case Verdict::kDisable: {
            logger_.Warning(kLogger, "Webhook disabled by receiver", std::move(fields));
            CONTEX_TRY(DisableAgentWebhook(*agent));
            return Finish(row, "failed", "HTTP 410: webhook disabled");
        }
        case Verdict::kFail:
            logger_.Error(kLogger, "Webhook delivery failed", std::move(fields));
            return Finish(row, "failed", AttemptError(outcome));
        case Verdict::kRetry:
            break;
    }
    if (!MayRetry(options_.retry, row.attempts) || now - row.created_at > options_.max_age) {
        exhausted_.Inc();
        const std::string kind = outcome.timed_out                    ? "timeout"
                                 : outcome.status && *outcome.status >= 500 ? "5xx"
                                                                             : "unavailable";
        errors_.WithLabels({"webhook", kind}).Inc();
        logger_.Error(kLogger, "Webhook delivery failed", std::move(fields));
        return Finish(row, "failed", AttemptError(outcome));
    }
    const auto delay = RetryDelay(options_.retry, row.attempts, jitter_(), outcome.retry_after);
    retries_.Inc();
    retries_generic_.Inc();
    retry_delay_.Observe(std::chrono::duration<double>(delay).count());
    row.delivery_status = "pending";
    row.next_attempt_at = clock_.Now() + delay;
    row.last_error = AttemptError(outcome);
    return storage_.UpdateDelivery(row);
}

Status WebhookDispatcher::DisableAgentWebhook(const storage::AgentRecord& agent) {
    storage::AgentRecord record = agent;
    record.data[storage::kAgentWebhookDisabled] = true;
    record.updated_at = clock_.Now();
    std::int64_t sequence = 0;
    CONTEX_TRY(storage_.WithProjectTransaction(
        agent.project_id, [&](storage::ProjectTransaction& tx) -> Status {
            CONTEX_ASSIGN_OR_RETURN(sequence, tx.LockProject());
            CONTEX_TRY(tx.UpsertAgent(record));
            return tx.CancelPendingDeliveries(agent.agent_id);
        }));
    // Replicas reload the project's agents (the engine stops queueing deliveries for it).
    return storage_.Notify({agent.project_id, sequence, "", "register"});
}

}  // namespace contex::notify
