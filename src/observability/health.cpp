#include "observability/health.hpp"

#include <cmath>
#include <future>

#include "common/time_format.hpp"

namespace contex::obs {

std::string_view HealthStatusName(HealthStatus status) {
    switch (status) {
        case HealthStatus::kHealthy: return "healthy";
        case HealthStatus::kDegraded: return "degraded";
        case HealthStatus::kUnhealthy: return "unhealthy";
    }
    return "unhealthy";
}

HealthRegistry::HealthRegistry(const Clock& clock, std::string version,
                               std::chrono::milliseconds check_timeout)
    : clock_(clock),
      version_(std::move(version)),
      check_timeout_(check_timeout),
      started_at_(clock.Monotonic()),
      pool_("health", 4, 64) {}

HealthRegistry::~HealthRegistry() = default;

void HealthRegistry::Register(std::string name, std::function<ComponentHealth()> check,
                              bool readiness) {
    std::lock_guard lock(mutex_);
    components_.push_back({std::move(name), std::move(check), readiness});
}

double HealthRegistry::uptime_seconds() const {
    return std::chrono::duration<double>(clock_.Monotonic() - started_at_).count();
}

std::vector<std::pair<std::string, ComponentHealth>> HealthRegistry::RunChecks(
    bool readiness_only) {
    std::vector<Component> components;
    {
        std::lock_guard lock(mutex_);
        components = components_;
    }
    std::vector<std::pair<std::string, std::future<ComponentHealth>>> pending;
    for (auto& c : components) {
        if (readiness_only && !c.readiness) continue;
        auto promise = std::make_shared<std::promise<ComponentHealth>>();
        auto future = promise->get_future();
        auto check = c.check;
        auto submitted = pool_.Submit([promise, check] {
            try {
                promise->set_value(check());
            } catch (const std::exception& e) {
                promise->set_value({HealthStatus::kUnhealthy, e.what(), {}});
            }
        });
        if (!submitted.ok()) {
            std::promise<ComponentHealth> failed;
            failed.set_value({HealthStatus::kUnhealthy, "check timed out", {}});
            future = failed.get_future();
        }
        pending.emplace_back(c.name, std::move(future));
    }
    auto deadline = std::chrono::steady_clock::now() + check_timeout_;
    std::vector<std::pair<std::string, ComponentHealth>> results;
    for (auto& [name, future] : pending) {
        if (future.wait_until(deadline) == std::future_status::ready) {
            results.emplace_back(name, future.get());
        } else {
            results.emplace_back(name,
                                 ComponentHealth{HealthStatus::kUnhealthy, "check timed out", {}});
        }
    }
    return results;
}

HealthRegistry::Report HealthRegistry::CheckAll() {
    auto results = RunChecks(false);
    std::string now = FormatIsoUtc(clock_.Now());
    ComponentHealth degradation;
    if (shutting_down()) {
        degradation = {HealthStatus::kUnhealthy, "Shutting down", {}};
        degradation.details["enabled"] = true;
        degradation.details["shutting_down"] = true;
    } else {
        degradation = {HealthStatus::kHealthy, "Graceful degradation not configured", {}};
        degradation.details["enabled"] = false;
    }
    results.emplace_back("graceful_degradation", std::move(degradation));

    Report report;
    json::object components;
    for (auto& [name, h] : results) {
        if (h.status > report.overall) report.overall = h.status;
        json::object c;
        c["status"] = HealthStatusName(h.status);
        c["timestamp"] = now;
        if (!h.message.empty()) c["message"] = h.message;
        if (!h.details.empty()) c["details"] = std::move(h.details);
        components[name] = std::move(c);
    }
    report.body["status"] = HealthStatusName(report.overall);
    report.body["timestamp"] = now;
    report.body["uptime_seconds"] = std::round(uptime_seconds() * 100) / 100;
    report.body["version"] = version_;
    report.body["components"] = std::move(components);
    return report;
}

HealthRegistry::Report HealthRegistry::CheckReady() {
    auto results = RunChecks(true);
    Report report;
    bool ready = started_.load() && !shutting_down();
    json::object checks;
    for (auto& [name, h] : results) {
        if (h.status == HealthStatus::kUnhealthy) ready = false;
        checks[name] = HealthStatusName(h.status);
    }
    report.overall = ready ? HealthStatus::kHealthy : HealthStatus::kUnhealthy;
    report.body["ready"] = ready;
    report.body["timestamp"] = FormatIsoUtc(clock_.Now());
    report.body["checks"] = std::move(checks);
    report.body["shutting_down"] = shutting_down();
    return report;
}

}  // namespace contex::obs
