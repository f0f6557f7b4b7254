// The agent webhook outbox dispatcher (engine.md §6.4, api.md §6.8). Notification rows of
// webhook agents are written `pending` by the engine in the transaction of the change
// that caused them; this dispatcher claims due rows (a lease of timeout + 30 s; crashed
// claims become due again when it expires), POSTs them signed, and records the outcome:
// 2xx delivered; timeouts, connection errors, 408/425/429/5xx retried with exponential
// backoff and jitter (at least Retry-After) until WEBHOOK_MAX_RETRIES or max_age; 410
// disables the agent's webhook (storage::kAgentWebhookDisabled); other responses fail at once. A circuit breaker per
// destination defers rows (without counting an attempt) while it is open.
//
// Threads: `workers` delivery threads each claim one row at a time and make blocking
// HTTP calls through the sender (never on an I/O thread). One of them also polls for
// rows that became due; Wake() (called after a commit that queued rows) starts work at
// once. At-least-once: a row is marked delivered only after a 2xx, so a crash between
// the POST and the update sends it again with the same webhook-id.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "notify/webhook/circuit_breaker.hpp"
#include "notify/webhook/retry_policy.hpp"
#include "notify/webhook/sender.hpp"
#include "observability/health.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "storage/storage.hpp"

namespace contex::notify {

struct DispatcherOptions {
    int workers = 8;                               // WEBHOOK_WORKERS
    std::chrono::milliseconds timeout{10000};      // WEBHOOK_TIMEOUT
    RetryPolicy retry;                             // WEBHOOK_MAX_RETRIES, _RETRY_*_SECONDS
    int circuit_failures = 5;                      // WEBHOOK_CIRCUIT_FAILURES
    std::chrono::seconds circuit_open{60};         // WEBHOOK_CIRCUIT_OPEN_SECONDS
    std::chrono::seconds max_age{24 * 3600};       // a message older than this is failed
    std::string user_agent = "Contex-Webhook";     // "Contex-Webhook/<version>"
    // True when this process is the only dispatcher (SQLite): leases left by a crash are
    // released at Start instead of waiting for them to expire.
    bool sole_dispatcher = false;
    std::chrono::milliseconds idle_poll{500};      // how often an idle dispatcher looks
};

class WebhookDispatcher {
public:
    // Everything must outlive the dispatcher. `jitter` returns uniform [0, 1) (default: a
    // seeded PRNG); tests pass a fixed one.
    WebhookDispatcher(DispatcherOptions options, storage::Storage& storage, WebhookSender& sender,
                      const Clock& clock, obs::Logger& logger, obs::MetricsRegistry& metrics,
                      std::function<double()> jitter = {});
    ~WebhookDispatcher();  // Stop()
    WebhookDispatcher(const WebhookDispatcher&) = delete;
    WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

    // Starts the delivery threads (releasing stale leases first when sole_dispatcher).
    void Start();
    // Work may be due now (rows were just queued). Cheap; thread-safe.
    void Wake();
    // Lets in-flight attempts finish (each bounded by the timeout) and joins the threads.
    // Idempotent.
    void Stop();

    // Claims one due row and makes its attempt on the calling thread. True when a row was
    // handled, false when none was due; an error when storage failed. The worker loop is
    // built on this; tests with a ManualClock call it directly.
    Result<bool> DeliverOne();

    // Refreshes contex_webhook_outbox_pending from storage.
    void RefreshOutboxGauge();

    const CircuitBreakers& breakers() const { return breakers_; }

private:
    void WorkerLoop(int index);
    Status Attempt(storage::NotificationRecord row);
    // Records a final state (delivered, failed, cancelled) of the row.
    Status Finish(storage::NotificationRecord& row, std::string status,
                  std::optional<std::string> error);
    Status DisableAgentWebhook(const storage::AgentRecord& agent);

    const DispatcherOptions options_;
    storage::Storage& storage_;
    WebhookSender& sender_;
    const Clock& clock_;
    obs::Logger& logger_;
    std::function<double()> jitter_;
    CircuitBreakers breakers_;

    obs::Family<obs::Counter>& sent_;
    obs::Family<obs::Counter>& notifications_;
    obs::Histogram& attempt_duration_;
    obs::Counter& retries_;
    obs::Histogram& retry_delay_;
    obs::Counter& retries_generic_;
    obs::Counter& exhausted_;
    obs::Family<obs::Counter>& errors_;
    obs::Gauge& outbox_pending_;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::uint64_t wake_generation_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
    std::atomic<std::int64_t> last_storage_error_log_{0};
};

}  // namespace contex::notify
