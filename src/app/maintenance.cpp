#include "app/maintenance.hpp"

namespace contex::app {

Maintenance::Maintenance(MaintenanceOptions options, storage::Storage& storage, const Clock& clock,
                         obs::Logger& logger, obs::MetricsRegistry& metrics)
    : options_(options),
      storage_(storage),
      clock_(clock),
      logger_(logger),
      notifications_deleted_(metrics
                                 .AddCounter("contex_retention_deleted_total",
                                             "Rows deleted by maintenance.", {"table"})
                                 .WithLabels({"agent_notifications"})) {}

Maintenance::~Maintenance() { Stop(); }

void Maintenance::Start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable() || stopping_) return;
    thread_ = std::thread([this] {
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, options_.interval, [this] { return stopping_; })) {
            lock.unlock();
            auto deleted = RunOnce();
            if (!deleted.ok()) {
                logger_.Warning("contex.maintenance", "Maintenance task failed",
                                {{"error", deleted.error().message}});
            }
            lock.lock();
        }
    });
}

void Maintenance::Stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

Result<std::int64_t> Maintenance::RunOnce() {
    const auto cutoff = clock_.Now() - std::chrono::hours(24) * options_.notification_retention_days;
    CONTEX_ASSIGN_OR_RETURN(std::int64_t deleted,
                            storage_.PruneNotifications(cutoff, options_.notification_max_per_agent));
    notifications_deleted_.Inc(static_cast<double>(deleted));
    if (deleted > 0) {
        logger_.Info("contex.maintenance", "Notification rows past retention deleted",
                     {{"count", deleted}});
    }
    return deleted;
}

}  // namespace contex::app
