// Redis transport (api.md §6.6, operations.md §4): PUBLISH <channel> <message JSON> from
// one dedicated connection thread, fed by a bounded FIFO queue, so the order of messages
// handed in is the order they are published. Best effort: when Redis is down, Deliver
// returns false at once and the message is dropped and counted; it never blocks or fails
// the caller. The thread reconnects with backoff (0.1 s doubling to 5 s).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "notify/redis/redis_options.hpp"
#include "notify/sink.hpp"
#include "observability/health.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace contex::notify {

class RedisConnection;
struct RedisTarget;

class RedisPublisher final : public NotificationSink {
  public:
    // Validates the options and starts the connection thread; does not wait for Redis
    // (an unreachable Redis never blocks start). Logger, metrics and clock must outlive
    // the publisher. Errors: kInvalidArgument (bad URL or mode, sentinel without hosts).
    static Result<std::unique_ptr<RedisPublisher>> Create(const RedisOptions& options,
                                                          obs::Logger& logger,
                                                          obs::MetricsRegistry& metrics,
                                                          const Clock& clock);
    ~RedisPublisher() override;  // Shutdown()
    RedisPublisher(const RedisPublisher&) = delete;
    RedisPublisher& operator=(const RedisPublisher&) = delete;

    std::string_view transport() const override { return "redis"; }

    // Queues PUBLISH notification.channel notification.json (an empty channel means the
    // default `agent:{agent_id}:updates`). True when queued (before the
    // first connection attempt finishes, or while connected). False, counted and logged
    // (WARNING "Redis publish failed", at most once per 10 s) when Redis is down, the queue
    // is full or the publisher is shut down. Thread-safe; never waits for Redis.
    bool Deliver(const Notification& notification) override;

    // The `redis` health component (operations.md §6.1): PING on a separate connection,
    // latency, connected_clients and used_memory_human. Healthy when PING ≤ 100 ms;
    // degraded when slower or unreachable; never unhealthy. The whole check
    // (connects, PING, INFO) fits in `health_timeout` (1 s). Thread-safe (serialised).
    obs::ComponentHealth CheckHealth();

    // Publishes what is still queued if Redis is up (each command bounded by the socket
    // timeout), drops the rest with failure counts, closes the connections and stops the
    // thread. Later Deliver calls return false. Idempotent; thread-safe.
    void Shutdown();

    // Waits until every queued message has been published or dropped, or `timeout`
    // passed (real time). True when the queue drained. For shutdown paths and tests.
    bool Flush(std::chrono::milliseconds timeout);

    // True while the publishing connection is up.
    bool connected() const { return state_.load() == State::kConnected; }
    // Messages waiting in the queue (not counting a batch being published).
    std::size_t queued() const;

  private:
    enum class State { kConnecting, kConnected, kDown, kStopped };
    struct Item {
        Notification notification;
        int attempts = 0;
    };

    RedisPublisher(const RedisOptions& options, std::unique_ptr<RedisTarget> target,
                   obs::Logger& logger, obs::MetricsRegistry& metrics, const Clock& clock);

    void Run();
    bool Connect(bool first_ever);
    void PublishBatch(std::deque<Item>& batch);
    void IdlePing();
    void ConnectionLost(const Error& error);
    // Drops items (queue lock not held), counting failures of `kind`.
    void Drop(std::deque<Item>& items, std::string_view kind, std::string_view error);
    void CountFailure(const Notification& notification, std::string_view kind,
                      std::string_view error);
    void WaitBackoff(std::chrono::milliseconds delay);

    RedisOptions options_;
    std::unique_ptr<RedisTarget> target_;
    std::string masked_url_;
    obs::Logger& logger_;
    const Clock& clock_;

    obs::Family<obs::Counter>& notifications_;
    obs::Counter& errors_unavailable_;
    obs::Counter& errors_timeout_;
    obs::Counter& errors_exception_;
    obs::Counter& retries_;
    obs::Counter& retries_exhausted_;
    obs::Gauge& connections_;
    obs::Histogram& publish_duration_;
    obs::Histogram& ping_duration_;

    // Queue and state; state_ changes under mutex_ so Deliver's check and push are atomic
    // with respect to the worker dropping the queue.
    mutable std::mutex mutex_;
    std::condition_variable work_cv_;     // worker waits for items / stop
    std::condition_variable drained_cv_;  // Flush waits for the queue and batch to empty
    std::deque<Item> queue_;              // guarded by mutex_
    std::size_t in_flight_ = 0;           // guarded by mutex_
    bool stopping_ = false;               // guarded by mutex_
    std::atomic<State> state_{State::kConnecting};
    std::string last_error_;  // guarded by mutex_

    // Rate limit of "Redis publish failed".
    std::mutex warn_mutex_;
    Clock::MonoTime last_warning_{};         // guarded by warn_mutex_
    bool warned_once_ = false;               // guarded by warn_mutex_
    std::uint64_t suppressed_warnings_ = 0;  // guarded by warn_mutex_

    // Worker-thread only.
    std::unique_ptr<RedisConnection> connection_;
    Clock::MonoTime last_activity_{};
    Clock::MonoTime last_connect_error_log_{};
    bool draining_ = false;

    // Health connection, separate from the publishing one.
    std::mutex health_mutex_;
    std::unique_ptr<RedisConnection> health_connection_;  // guarded by health_mutex_

    std::thread worker_;
    std::once_flag shutdown_once_;
};

// The `redis` health component when REDIS_URL is not set (operations.md §6.1).
obs::ComponentHealth RedisNotConfiguredHealth();

}  // namespace contex::notify
