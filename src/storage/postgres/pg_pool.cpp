#include "storage/postgres/pg_pool.hpp"

#include <algorithm>

#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace contex::storage::pg {
namespace {
constexpr std::string_view kLog = "contex.db";
}  // namespace

PgPool::PgPool(std::string uri, const StorageConfig& config, obs::Logger& logger,
               obs::MetricsRegistry& metrics, const Clock& clock)
    : uri_(std::move(uri)),
      size_(std::max(1, config.pool_size)),
      overflow_(std::max(0, config.max_overflow)),
      timeout_(config.pool_timeout),
      recycle_(config.pool_recycle),
      validate_after_(config.idle_validate_after),
      overflow_idle_close_(config.overflow_idle_close),
      options_{config.application_name, config.connect_timeout, config.statement_timeout},
      echo_(config.echo),
      logger_(logger),
      clock_(clock),
      query_duration_(&metrics.AddHistogram("contex_db_query_duration_seconds",
                                            "Database statement latency", obs::buckets::kB3,
                                            {"operation"})),
      active_gauge_(
          metrics.AddGauge("contex_db_connections_active", "Checked-out database connections")
              .Get()),
      idle_gauge_(
          metrics.AddGauge("contex_db_connections_idle", "Idle pooled database connections").Get()),
      max_gauge_(
          metrics
              .AddGauge("contex_db_connections_max", "DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW")
              .Get()),
      waiters_gauge_(metrics.AddGauge("contex_db_pool_waiters", "Waiting checkouts").Get()),
      exhausted_(metrics.AddCounter("contex_db_pool_exhausted_total", "Checkout timeouts").Get()),
      timeout_errors_(metrics
                          .AddCounter("contex_errors_total", "Internal failures by component",
                                      {"component", "kind"})
                          .WithLabels({"db", "timeout"})),
      unavailable_errors_(metrics
                              .AddCounter("contex_errors_total", "Internal failures by component",
                                          {"component", "kind"})
                              .WithLabels({"db", "unavailable"})) {
    max_gauge_.Set(size_ + overflow_);
}

PgPool::~PgPool() {
    std::lock_guard lock(mutex_);
    idle_.clear();
    total_ = 0;
    UpdateGaugesLocked();
}

PgPool::Lease::~Lease() {
    if (pool_ && c_) {
        pool_->Release(std::move(c_), discard_, std::chrono::steady_clock::now() - since_);
    }
}

void PgPool::UpdateGaugesLocked() {
    idle_gauge_.Set(static_cast<double>(idle_.size()));
    active_gauge_.Set(static_cast<double>(total_ - static_cast<int>(idle_.size())));
    waiters_gauge_.Set(static_cast<double>(waiters_.size()));
}

Result<std::unique_ptr<PgConnection>> PgPool::Open() {
    auto c = PgConnection::Connect(uri_, options_);
    if (!c.ok()) {
        unavailable_errors_.Inc();
        bool log = false;
        {
            std::lock_guard lock(mutex_);
            auto now = std::chrono::steady_clock::now();
            if (now - last_connect_error_log_ > std::chrono::seconds(10)) {
                last_connect_error_log_ = now;
                log = true;
            }
        }
        if (log) {
            logger_.Log(obs::LogLevel::kError, kLog, "Failed to connect to PostgreSQL",
                        {{"error", json::value(c.error().message)}});
        }
        return std::move(c).error();
    }
    (*c)->set_histogram(query_duration_);
    if (echo_) (*c)->set_echo(&logger_);
    return std::move(c).value();
}

Result<PgPool::Lease> PgPool::Acquire(std::optional<std::chrono::milliseconds> timeout) {
    std::unique_ptr<PgConnection> conn;
    bool open_new = false;
    bool validate = false;
    {
        std::unique_lock lock(mutex_);
        uint64_t ticket = next_ticket_++;
        waiters_.push_back(ticket);
        UpdateGaugesLocked();
        auto wait = timeout.value_or(timeout_);
        auto deadline = std::chrono::steady_clock::now() + wait;
        while (true) {
            if (waiters_.front() == ticket) {
                if (!idle_.empty()) {
                    Idle idle = std::move(idle_.back());
                    idle_.pop_back();
                    auto now = std::chrono::steady_clock::now();
                    validate = idle.generation < generation_ || now - idle.since > validate_after_;
                    conn = std::move(idle.conn);
                    break;
                }
                if (total_ < size_ + overflow_) {
                    ++total_;
                    open_new = true;
                    break;
                }
            }
            if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
                std::chrono::steady_clock::now() >= deadline) {
                bool can_proceed =
                    waiters_.front() == ticket && (!idle_.empty() || total_ < size_ + overflow_);
                if (can_proceed) continue;
                waiters_.erase(std::find(waiters_.begin(), waiters_.end(), ticket));
                int in_use = total_ - static_cast<int>(idle_.size());
                int waiting = static_cast<int>(waiters_.size());
                UpdateGaugesLocked();
                lock.unlock();
                cv_.notify_all();
                exhausted_.Inc();
                timeout_errors_.Inc();
                logger_.Log(
                    obs::LogLevel::kError, kLog, "connection pool exhausted",
                    {{"pool_size", json::value(size_)},
                     {"max_overflow", json::value(overflow_)},
                     {"in_use", json::value(in_use)},
                     {"waiters", json::value(waiting)},
                     {"timeout_s", json::value(std::chrono::duration<double>(wait).count())}});
                return Unavailable("Database busy: connection pool exhausted");
            }
        }
        waiters_.pop_front();
        UpdateGaugesLocked();
    }
    cv_.notify_all();

    if (conn) {
        auto age = std::chrono::steady_clock::now() - conn->created_at();
        bool replace = age > recycle_ || conn->broken();
        if (!replace && validate) {
            auto r = conn->Exec("validate", "SELECT 1");
            replace = !r.ok();
        }
        if (replace) {
            conn.reset();
            open_new = true;  // keeps the slot counted in total_
        }
    }
    if (open_new) {
        auto c = Open();
        if (!c.ok()) {
            {
                std::lock_guard lock(mutex_);
                --total_;
                UpdateGaugesLocked();
            }
            cv_.notify_all();
            return std::move(c).error();
        }
        conn = std::move(c).value();
    }
    return Lease(this, std::move(conn));
}

void PgPool::Release(std::unique_ptr<PgConnection> c, bool discard,
                     std::chrono::steady_clock::duration held) {
    if (held > std::chrono::seconds(60)) {
        logger_.Log(obs::LogLevel::kWarning, kLog, "database connection held too long",
                    {{"held_s", json::value(std::chrono::duration<double>(held).count())}});
    }
    auto now = std::chrono::steady_clock::now();
    bool drop = discard || c->broken() || now - c->created_at() > recycle_;
    std::vector<std::unique_ptr<PgConnection>> to_close;
    {
        std::lock_guard lock(mutex_);
        if (drop) {
            to_close.push_back(std::move(c));
            --total_;
        } else {
            idle_.push_back({std::move(c), now, generation_});
        }
        // Overflow connections idle for too long are closed (oldest idle first).
        while (total_ > size_ && !idle_.empty() &&
               now - idle_.front().since > overflow_idle_close_) {
            to_close.push_back(std::move(idle_.front().conn));
            idle_.pop_front();
            --total_;
        }
        UpdateGaugesLocked();
    }
    cv_.notify_all();
    // to_close destroyed here, outside the lock (PQfinish may block briefly).
}

void PgPool::NoteServerFailure() {
    std::lock_guard lock(mutex_);
    ++generation_;
}

json::object PgPool::Stats() const {
    std::lock_guard lock(mutex_);
    json::object o;
    int idle = static_cast<int>(idle_.size());
    o["size"] = size_;
    o["checked_in"] = idle;
    o["checked_out"] = total_ - idle;
    o["overflow"] = std::max(0, total_ - size_);
    o["max_overflow"] = overflow_;
    o["waiters"] = static_cast<int64_t>(waiters_.size());
    return o;
}

int PgPool::waiters() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(waiters_.size());
}

}  // namespace contex::storage::pg
