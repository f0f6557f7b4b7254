// Process and container resource readings (Linux /proc and cgroup v1/v2) for the
// standard process_* metrics and the system_resources health component.
#pragma once

#include <mutex>

#include "observability/health.hpp"
#include "observability/metrics.hpp"

namespace contex::obs {

struct ProcessStats {
    double resident_bytes = 0;
    double virtual_bytes = 0;
    double cpu_seconds = 0;
    double open_fds = 0;
    double max_fds = 0;
    double start_time_seconds = 0;  // unix time
};

ProcessStats ReadProcessStats();
double CgroupMemoryLimitBytes();  // 0 when unlimited
double CgroupCpuLimitCores();     // 0 when unlimited

// Registers process_* and contex_memory_* / contex_cpu_limit_cores gauges, refreshed at
// every scrape.
void RegisterProcessMetrics(MetricsRegistry& registry);

// system_resources health: degraded when RSS > 90 % of the cgroup limit (else 2048 MB)
// or CPU > 80 % of the available cores since the previous check (≥ 10 s window).
class SystemResourcesCheck {
public:
    explicit SystemResourcesCheck(const Clock& clock) : clock_(clock) {}
    ComponentHealth Check();

private:
    const Clock& clock_;
    std::mutex mutex_;
    Clock::MonoTime last_at_{};
    double last_cpu_ = -1;
    double cpu_percent_ = 0;
};

}  // namespace contex::obs
