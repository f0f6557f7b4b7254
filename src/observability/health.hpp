// Health registry (operations.md §6): components register a check; the registry runs
// them concurrently with a per-check deadline and builds the documented JSON for
// /api/v1/health and /api/v1/health/ready. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/thread_pool.hpp"

namespace contex::obs {

enum class HealthStatus { kHealthy, kDegraded, kUnhealthy };
std::string_view HealthStatusName(HealthStatus status);

struct ComponentHealth {
    HealthStatus status = HealthStatus::kHealthy;
    std::string message;
    json::object details;
};

class HealthRegistry {
public:
    // `check_timeout` bounds each check (2 s in production).
    HealthRegistry(const Clock& clock, std::string version,
                   std::chrono::milliseconds check_timeout = std::chrono::seconds(2));
    ~HealthRegistry();

    // Adds a component. `readiness` marks components whose *unhealthy* state makes the
    // replica unready (storage, embedding model). Components appear in registration order.
    void Register(std::string name, std::function<ComponentHealth()> check, bool readiness);

    // Readiness flips to 503 and graceful_degradation reports "Shutting down".
    void SetShuttingDown() { shutting_down_.store(true); }
    bool shutting_down() const { return shutting_down_.load(); }
    // Marks start-up work (migrations) complete; unready until then.
    void SetStarted() { started_.store(true); }

    struct Report {
        HealthStatus overall = HealthStatus::kHealthy;
        json::object body;
    };
    // Full report for GET /api/v1/health. Blocks up to check_timeout; call it off I/O threads.
    Report CheckAll();
    // GET /api/v1/health/ready: {"ready","timestamp","checks","shutting_down"}.
    Report CheckReady();

    double uptime_seconds() const;

private:
    struct Component {
        std::string name;
        std::function<ComponentHealth()> check;
        bool readiness;
    };
    std::vector<std::pair<std::string, ComponentHealth>> RunChecks(bool readiness_only);

    const Clock& clock_;
    std::string version_;
    std::chrono::milliseconds check_timeout_;
    Clock::MonoTime started_at_;
    std::atomic<bool> shutting_down_{false};
    std::atomic<bool> started_{false};
    std::mutex mutex_;
    std::vector<Component> components_;  // guarded by mutex_
    BoundedThreadPool pool_;
};

}  // namespace contex::obs
