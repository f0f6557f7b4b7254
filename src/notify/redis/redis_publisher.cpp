#include "notify/redis/redis_publisher.hpp"

#include <algorithm>
#include <cmath>

#include "notify/redis/redis_connection.hpp"

namespace contex::notify {

namespace {

constexpr std::string_view kLogger = "contex.redis";
constexpr std::size_t kMaxBatch = 128;
// Repeated "Failed to connect to Redis" lines during one outage are spaced this far apart.
constexpr std::chrono::seconds kConnectErrorLogInterval{60};

double Seconds(Clock::MonoTime::duration d) { return std::chrono::duration<double>(d).count(); }

std::string_view KindOf(const Error& error) {
    return error.code == ErrorCode::kTimeout ? "timeout" : "unavailable";
}

// "key:value" lines of an INFO reply.
std::string InfoField(std::string_view info, std::string_view key) {
    std::string needle = std::string(key) + ":";
    std::size_t pos = 0;
    while (pos < info.size()) {
        auto end = info.find('\n', pos);
        if (end == std::string_view::npos) end = info.size();
        std::string_view line = info.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.substr(0, needle.size()) == needle) return std::string(line.substr(needle.size()));
        pos = end + 1;
    }
    return {};
}

}  // namespace

obs::ComponentHealth RedisNotConfiguredHealth() {
    obs::ComponentHealth health;
    health.message = "Redis not configured (in-process notification bus)";
    health.details["enabled"] = false;
    return health;
}

Result<std::unique_ptr<RedisPublisher>> RedisPublisher::Create(const RedisOptions& options,
                                                               obs::Logger& logger,
                                                               obs::MetricsRegistry& metrics,
                                                               const Clock& clock) {
    auto target = ResolveRedisTarget(options);
    if (!target) return std::move(target).error();
    if (options.queue_capacity == 0) return InvalidArgument("Redis queue capacity must be > 0");
    std::unique_ptr<RedisPublisher> publisher(new RedisPublisher(
        options, std::make_unique<RedisTarget>(*std::move(target)), logger, metrics, clock));
    publisher->worker_ = std::thread([p = publisher.get()] { p->Run(); });
    return publisher;
}

RedisPublisher::RedisPublisher(const RedisOptions& options, std::unique_ptr<RedisTarget> target,
                               obs::Logger& logger, obs::MetricsRegistry& metrics,
                               const Clock& clock)
    : options_(options),
      target_(std::move(target)),
      masked_url_(MaskRedisUrl(options.url)),
      logger_(logger),
      clock_(clock),
      notifications_(metrics.AddCounter("contex_notifications_total",
                                        "Messages handed to a transport.",
                                        {"transport", "type", "status"})),
      errors_unavailable_(
          metrics.AddCounter("contex_errors_total", "Internal failures.", {"component", "kind"})
              .WithLabels({"redis", "unavailable"})),
      errors_timeout_(
          metrics.AddCounter("contex_errors_total", "Internal failures.", {"component", "kind"})
              .WithLabels({"redis", "timeout"})),
      errors_exception_(
          metrics.AddCounter("contex_errors_total", "Internal failures.", {"component", "kind"})
              .WithLabels({"redis", "exception"})),
      retries_(metrics.AddCounter("contex_retries_total", "Retries.", {"operation"})
                   .WithLabels({"redis_publish"})),
      retries_exhausted_(metrics
                             .AddCounter("contex_retry_exhausted_total",
                                         "Operations that gave up after retrying.", {"operation"})
                             .WithLabels({"redis_publish"})),
      connections_(metrics.AddGauge("contex_redis_connections", "Open Redis connections.").Get()),
      publish_duration_(metrics
                            .AddHistogram("contex_redis_operation_duration_seconds",
                                          "Redis operation latency.", obs::buckets::kB3,
                                          {"operation"})
                            .WithLabels({"publish"})),
      ping_duration_(metrics
                         .AddHistogram("contex_redis_operation_duration_seconds",
                                       "Redis operation latency.", obs::buckets::kB3, {"operation"})
                         .WithLabels({"ping"})) {}

RedisPublisher::~RedisPublisher() { Shutdown(); }

bool RedisPublisher::Deliver(const Notification& notification) {
    std::unique_lock lock(mutex_);
    State state = state_.load();
    if (stopping_ || state == State::kStopped) {
        lock.unlock();
        CountFailure(notification, "unavailable", "Redis publisher is shut down");
        return false;
    }
    if (state == State::kDown) {
        std::string error = last_error_;
        lock.unlock();
        CountFailure(notification, "unavailable", error);
        return false;
    }
    if (queue_.size() >= options_.queue_capacity) {
        lock.unlock();
        CountFailure(notification, "unavailable", "Redis publish queue is full");
        return false;
    }
    queue_.push_back(Item{notification, 0});
    if (queue_.back().notification.channel.empty()) {
        queue_.back().notification.channel = "agent:" + notification.agent_id + ":updates";
    }
    lock.unlock();
    work_cv_.notify_one();
    return true;
}

std::size_t RedisPublisher::queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

bool RedisPublisher::Flush(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return drained_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && in_flight_ == 0; });
}

void RedisPublisher::Shutdown() {
    std::call_once(shutdown_once_, [&] {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        work_cv_.notify_all();
        if (worker_.joinable()) worker_.join();
        std::lock_guard health_lock(health_mutex_);
        health_connection_.reset();
    });
}

void RedisPublisher::Run() {
    bool ever_connected = false;
    auto backoff = options_.reconnect_initial_backoff;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) break;
        }
        if (!connection_) {
            if (!Connect(!ever_connected)) {
                WaitBackoff(backoff);
                backoff = std::min(backoff * 2, options_.reconnect_max_backoff);
                continue;
            }
            ever_connected = true;
            backoff = options_.reconnect_initial_backoff;
        }
        std::deque<Item> batch;
        {
            std::unique_lock lock(mutex_);
            auto has_work = [&] { return stopping_ || !queue_.empty(); };
            if (options_.health_check_interval.count() > 0) {
                if (!work_cv_.wait_for(lock, options_.health_check_interval, has_work)) {
                    lock.unlock();
                    IdlePing();
                    continue;
                }
            } else {
                work_cv_.wait(lock, has_work);
            }
            if (stopping_) break;
            std::size_t n = std::min(queue_.size(), kMaxBatch);
            batch.insert(batch.end(), std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
            queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
            in_flight_ = n;
        }
        PublishBatch(batch);
        {
            std::lock_guard lock(mutex_);
            in_flight_ = 0;
        }
        drained_cv_.notify_all();
    }

    // Shutdown: publish what is queued while the connection holds, drop the rest.
    std::deque<Item> rest;
    {
        std::lock_guard lock(mutex_);
        rest.swap(queue_);
        in_flight_ = rest.size();  // Flush waits for the drain
        state_.store(State::kStopped);
    }
    draining_ = true;  // no retries while shutting down
    while (!rest.empty() && connection_ && !connection_->broken()) {
        std::deque<Item> batch;
        std::size_t n = std::min(rest.size(), kMaxBatch);
        for (std::size_t i = 0; i < n; ++i) {
            batch.push_back(std::move(rest.front()));
            rest.pop_front();
        }
        PublishBatch(batch);
        std::lock_guard lock(mutex_);
        // A failed batch may have pushed items back for retry; they are dropped below.
        for (auto& item : queue_) rest.push_back(std::move(item));
        queue_.clear();
    }
    Drop(rest, "unavailable", "Redis publisher shut down");
    connection_.reset();
    {
        std::lock_guard lock(mutex_);
        in_flight_ = 0;
    }
    drained_cv_.notify_all();
}

bool RedisPublisher::Connect(bool first_ever) {
    RedisConnectSettings settings;
    settings.connect_timeout = options_.connect_timeout;
    settings.command_timeout = options_.socket_timeout;
    settings.keepalive = options_.socket_keepalive;
    auto connection = ConnectToMaster(*target_, settings, &connections_);
    if (!connection) {
        const Error& error = connection.error();
        (error.code == ErrorCode::kTimeout ? errors_timeout_ : errors_unavailable_).Inc();
        std::deque<Item> dropped;
        State previous;
        {
            std::lock_guard lock(mutex_);
            previous = state_.exchange(State::kDown);
            last_error_ = error.message;
            dropped.swap(queue_);
            in_flight_ += dropped.size();  // Flush waits until they are counted
        }
        std::size_t n = dropped.size();
        for (const auto& item : dropped) {
            if (item.attempts == 1) retries_exhausted_.Inc();  // its retry cannot happen
        }
        Drop(dropped, KindOf(error), error.message);
        {
            std::lock_guard lock(mutex_);
            in_flight_ -= n;
        }
        drained_cv_.notify_all();
        auto now = clock_.Monotonic();
        if (previous != State::kDown || now - last_connect_error_log_ >= kConnectErrorLogInterval) {
            last_connect_error_log_ = now;
            logger_.Error(
                kLogger, "Failed to connect to Redis",
                {{"error", error.message}, {"mode", options_.mode}, {"redis_url", masked_url_}});
        }
        return false;
    }
    connection_ = *std::move(connection);
    last_activity_ = clock_.Monotonic();
    {
        std::lock_guard lock(mutex_);
        state_.store(State::kConnected);
        last_error_.clear();
    }
    logger_.Info(
        kLogger,
        first_ever ? "Redis connection established successfully (pub/sub)" : "Redis reconnected",
        {{"mode", options_.mode},
         {"redis_url", masked_url_},
         {"host", connection_->endpoint().host},
         {"port", connection_->endpoint().port}});
    return true;
}

void RedisPublisher::PublishBatch(std::deque<Item>& batch) {
    auto started = clock_.Monotonic();
    for (auto& item : batch) {
        if (item.attempts > 0) retries_.Inc();
        ++item.attempts;
        connection_->Append({"PUBLISH", item.notification.channel, item.notification.json});
    }
    std::size_t done = 0;
    std::optional<Error> failure;
    for (; done < batch.size(); ++done) {
        auto reply = connection_->ReadReply();
        if (!reply) {
            failure = std::move(reply).error();
            break;
        }
        publish_duration_.Observe(Seconds(clock_.Monotonic() - started));
        const Notification& n = batch[done].notification;
        if ((*reply)->type == REDIS_REPLY_ERROR) {
            CountFailure(n, "exception", ReplyText(**reply));
        } else {
            notifications_.WithLabels({"redis", n.type, "success"}).Inc();
        }
    }
    last_activity_ = clock_.Monotonic();
    if (!failure) return;

    ConnectionLost(*failure);
    std::deque<Item> retry;
    std::deque<Item> dropped;
    for (std::size_t i = done; i < batch.size(); ++i) {
        bool may_retry = !draining_ && batch[i].attempts < 2 &&
                         (failure->code != ErrorCode::kTimeout || options_.retry_on_timeout);
        (may_retry ? retry : dropped).push_back(std::move(batch[i]));
    }
    Drop(dropped, KindOf(*failure), failure->message);
    if (!retry.empty()) {
        std::lock_guard lock(mutex_);
        queue_.insert(queue_.begin(), std::make_move_iterator(retry.begin()),
                      std::make_move_iterator(retry.end()));
    }
}

void RedisPublisher::IdlePing() {
    if (!connection_) return;
    auto started = clock_.Monotonic();
    auto reply = connection_->Command({"PING"});
    if (!reply) {
        ConnectionLost(reply.error());
        return;
    }
    ping_duration_.Observe(Seconds(clock_.Monotonic() - started));
    last_activity_ = clock_.Monotonic();
}

void RedisPublisher::ConnectionLost(const Error& error) {
    (error.code == ErrorCode::kTimeout ? errors_timeout_ : errors_unavailable_).Inc();
    connection_.reset();
    {
        std::lock_guard lock(mutex_);
        // Still accepting: the worker reconnects at once and only a failed attempt
        // turns the publisher down.
        if (!draining_) state_.store(State::kConnecting);
        last_error_ = error.message;
    }
    logger_.Warning(
        kLogger, "Redis connection lost",
        {{"error", error.message}, {"mode", options_.mode}, {"redis_url", masked_url_}});
}

void RedisPublisher::Drop(std::deque<Item>& items, std::string_view kind, std::string_view error) {
    for (const auto& item : items) {
        if (item.attempts > 1) retries_exhausted_.Inc();
        CountFailure(item.notification, kind, error);
    }
    items.clear();
}

void RedisPublisher::CountFailure(const Notification& notification, std::string_view kind,
                                  std::string_view error) {
    notifications_.WithLabels({"redis", notification.type, "failure"}).Inc();
    if (kind == "timeout") {
        errors_timeout_.Inc();
    } else if (kind == "exception") {
        errors_exception_.Inc();
    } else {
        errors_unavailable_.Inc();
    }
    std::lock_guard lock(warn_mutex_);
    auto now = clock_.Monotonic();
    if (warned_once_ && now - last_warning_ < options_.publish_warning_interval) {
        ++suppressed_warnings_;
        return;
    }
    logger_.Warning(kLogger, "Redis publish failed",
                    {{"error", std::string(error)},
                     {"agent_id", notification.agent_id},
                     {"channel", notification.channel},
                     {"type", notification.type},
                     {"sequence", notification.sequence},
                     {"suppressed", suppressed_warnings_}});
    warned_once_ = true;
    last_warning_ = now;
    suppressed_warnings_ = 0;
}

void RedisPublisher::WaitBackoff(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex_);
    work_cv_.wait_for(lock, delay, [&] { return stopping_; });
}

obs::ComponentHealth RedisPublisher::CheckHealth() {
    obs::ComponentHealth health;
    health.details["purpose"] = "pub/sub";
    health.details["mode"] = options_.mode;
    auto degraded = [&](std::string message) {
        health.status = obs::HealthStatus::kDegraded;
        health.message = std::move(message);
        health.details["connected"] = false;
        return health;
    };
    State state = state_.load();
    if (state == State::kStopped) return degraded("Redis publisher stopped");
    if (state == State::kDown) {
        std::string error;
        {
            std::lock_guard lock(mutex_);
            error = last_error_;
        }
        return degraded("Redis unreachable: " + error);
    }

    std::lock_guard lock(health_mutex_);
    // One budget for the whole check (connects, PING, INFO), well inside the health
    // registry's 2 s bound: a check that times out there would read "unhealthy".
    auto deadline = std::chrono::steady_clock::now() + options_.health_timeout;
    auto remaining = [&] {
        return std::max(std::chrono::milliseconds(1),
                        std::chrono::ceil<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now()));
    };
    auto expired = [&] { return std::chrono::steady_clock::now() >= deadline; };
    Result<RedisReplyPtr> pong = Unavailable("not connected");
    double latency_s = 0;
    // A kept connection may have gone stale (server restart): one fresh attempt then.
    for (int attempt = 0; attempt < 2 && !expired(); ++attempt) {
        bool reused = health_connection_ && !health_connection_->broken();
        if (!reused) {
            health_connection_.reset();
            RedisConnectSettings settings;
            settings.connect_timeout = std::min(options_.connect_timeout, remaining());
            settings.command_timeout = std::min(options_.socket_timeout, remaining());
            settings.keepalive = options_.socket_keepalive;
            auto connection = ConnectToMaster(*target_, settings, &connections_);
            if (!connection) return degraded("Redis unreachable: " + connection.error().message);
            health_connection_ = *std::move(connection);
        }
        health_connection_->set_command_timeout(remaining());
        auto started = clock_.Monotonic();
        pong = health_connection_->Command({"PING"});
        latency_s = Seconds(clock_.Monotonic() - started);
        if (pong.ok() || !reused) break;
        health_connection_.reset();
    }
    if (!pong) {
        health_connection_.reset();
        return degraded("Redis unreachable: " + pong.error().message);
    }
    if ((*pong)->type == REDIS_REPLY_ERROR) {
        std::string text = ReplyText(**pong);
        health_connection_.reset();
        return degraded("Redis PING failed: " + text);
    }
    ping_duration_.Observe(latency_s);
    health.details["latency_ms"] = std::round(latency_s * 1000 * 100) / 100;
    health.details["connected"] = state_.load() == State::kConnected;
    Result<RedisReplyPtr> info = Timeout("no time left for INFO");
    if (!expired()) {
        health_connection_->set_command_timeout(remaining());
        info = health_connection_->Command({"INFO"});
    }
    if (info && ((*info)->type == REDIS_REPLY_STRING || (*info)->type == REDIS_REPLY_STATUS)) {
        std::string text = ReplyText(**info);
        std::string clients = InfoField(text, "connected_clients");
        if (!clients.empty()) health.details["connected_clients"] = std::atoll(clients.c_str());
        std::string memory = InfoField(text, "used_memory_human");
        if (!memory.empty()) health.details["used_memory_human"] = memory;
    } else if (!info && health_connection_->broken()) {
        health_connection_.reset();
    }
    if (latency_s * 1000 > 100) {
        health.status = obs::HealthStatus::kDegraded;
        health.message = "High Redis latency";
    } else {
        health.message = "Redis is healthy (pub/sub)";
    }
    return health;
}

}  // namespace contex::notify
