// PostgreSQL connection pool (operations.md §3): `size` persistent connections plus
// `overflow` temporary ones, FIFO checkout with a timeout, recycling by age, validation of
// idle connections, replacement of broken ones. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/result.hpp"
#include "storage/postgres/pg_connection.hpp"
#include "storage/storage.hpp"

namespace contex::obs {
class Counter;
class Gauge;
}  // namespace contex::obs

namespace contex::storage::pg {

class PgPool {
  public:
    PgPool(std::string uri, const StorageConfig& config, obs::Logger& logger,
           obs::MetricsRegistry& metrics, const Clock& clock);
    ~PgPool();
    PgPool(const PgPool&) = delete;
    PgPool& operator=(const PgPool&) = delete;

    // An exclusively held connection; returned to the pool on destruction (discarded when
    // it broke or Discard() was called).
    class Lease {
      public:
        Lease(PgPool* pool, std::unique_ptr<PgConnection> c) : pool_(pool), c_(std::move(c)) {}
        Lease(Lease&& o) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        ~Lease();
        PgConnection* operator->() { return c_.get(); }
        PgConnection& operator*() { return *c_; }
        void Discard() { discard_ = true; }

      private:
        PgPool* pool_;
        std::unique_ptr<PgConnection> c_;
        bool discard_ = false;
        std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
    };

    // Waits FIFO up to pool_timeout. kUnavailable "Database busy: connection pool exhausted"
    // on timeout (logged, counted), kUnavailable "Database unavailable: ..." when a new
    // connection cannot be opened.
    // `timeout` overrides pool_timeout (health checks use a short one).
    Result<Lease> Acquire(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

    // Called when a statement found the server gone: idle connections opened before now
    // are validated before their next use.
    void NoteServerFailure();

    // Connect options every connection uses (also for the LISTEN connection).
    const ConnectOptions& connect_options() const { return options_; }
    const std::string& uri() const { return uri_; }

    // {"size","checked_in","checked_out","overflow","max_overflow","waiters"}
    json::object Stats() const;
    int waiters() const;

  private:
    struct Idle {
        std::unique_ptr<PgConnection> conn;
        std::chrono::steady_clock::time_point since;
        uint64_t generation = 0;
    };
    void Release(std::unique_ptr<PgConnection> c, bool discard,
                 std::chrono::steady_clock::duration held);
    void UpdateGaugesLocked();
    Result<std::unique_ptr<PgConnection>> Open();

    std::string uri_;
    int size_;
    int overflow_;
    std::chrono::milliseconds timeout_;
    std::chrono::seconds recycle_;
    std::chrono::seconds validate_after_;
    std::chrono::seconds overflow_idle_close_;
    ConnectOptions options_;
    bool echo_;
    obs::Logger& logger_;
    const Clock& clock_;
    obs::Family<obs::Histogram>* query_duration_;
    obs::Gauge& active_gauge_;
    obs::Gauge& idle_gauge_;
    obs::Gauge& max_gauge_;
    obs::Gauge& waiters_gauge_;
    obs::Counter& exhausted_;
    obs::Counter& timeout_errors_;
    obs::Counter& unavailable_errors_;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Idle> idle_;         // guarded by mutex_; back = most recently returned
    std::deque<uint64_t> waiters_;  // guarded by mutex_; FIFO tickets
    uint64_t next_ticket_ = 0;      // guarded by mutex_
    int total_ = 0;                 // guarded by mutex_; open + opening connections
    uint64_t generation_ = 0;       // guarded by mutex_; bumped by NoteServerFailure
    std::chrono::steady_clock::time_point last_connect_error_log_{};  // guarded by mutex_
};

}  // namespace contex::storage::pg
