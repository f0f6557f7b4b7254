// Periodic maintenance (operations.md §5): every MAINTENANCE_INTERVAL_SECONDS, delete
// agent notification rows past retention (engine.md §6.3: older than
// AGENT_NOTIFICATION_RETENTION_DAYS, or beyond AGENT_NOTIFICATION_MAX_PER_AGENT per agent;
// webhook rows that are not final are kept), counting contex_retention_deleted_total{table}.
// The deletion is idempotent, so replicas running it at the same time only repeat work.
// One thread; Stop() joins it. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "storage/storage.hpp"

namespace contex::app {

struct MaintenanceOptions {
    std::chrono::seconds interval{300};
    int notification_retention_days = 7;
    int notification_max_per_agent = 1000;
};

class Maintenance {
public:
    // Everything must outlive the object.
    Maintenance(MaintenanceOptions options, storage::Storage& storage, const Clock& clock,
                obs::Logger& logger, obs::MetricsRegistry& metrics);
    ~Maintenance();  // Stop()

    void Start();
    void Stop();
    // One pass on the calling thread; the number of rows deleted.
    Result<std::int64_t> RunOnce();

private:
    const MaintenanceOptions options_;
    storage::Storage& storage_;
    const Clock& clock_;
    obs::Logger& logger_;
    obs::Counter& notifications_deleted_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;  // guarded by mutex_
    std::thread thread_;
};

}  // namespace contex::app
