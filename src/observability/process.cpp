#include "observability/process.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace contex::obs {
namespace {

std::string ReadFile(const char* path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

double BootTimeSeconds() {
    std::ifstream in("/proc/stat");
    std::string key;
    while (in >> key) {
        if (key == "btime") {
            double v = 0;
            in >> v;
            return v;
        }
        std::string rest;
        std::getline(in, rest);
    }
    return 0;
}

}  // namespace

ProcessStats ReadProcessStats() {
    ProcessStats s;
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    {
        std::ifstream statm("/proc/self/statm");
        double size = 0, resident = 0;
        statm >> size >> resident;
        s.virtual_bytes = size * page;
        s.resident_bytes = resident * page;
    }
    {
        std::string stat = ReadFile("/proc/self/stat");
        auto close = stat.rfind(')');
        if (close != std::string::npos) {
            std::istringstream in(stat.substr(close + 2));
            std::string field;
            // Fields after the command: state(3) ... utime(14) stime(15) ... starttime(22).
            double utime = 0, stime = 0, starttime = 0;
            for (int i = 3; i <= 22 && in >> field; ++i) {
                if (i == 14) utime = std::stod(field);
                if (i == 15) stime = std::stod(field);
                if (i == 22) starttime = std::stod(field);
            }
            s.cpu_seconds = (utime + stime) / ticks;
            s.start_time_seconds = BootTimeSeconds() + starttime / ticks;
        }
    }
    if (DIR* dir = opendir("/proc/self/fd")) {
        int n = 0;
        while (readdir(dir)) ++n;
        closedir(dir);
        s.open_fds = std::max(0, n - 3);  // ".", ".." and the directory's own fd
    }
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) s.max_fds = static_cast<double>(rl.rlim_cur);
    return s;
}

double CgroupMemoryLimitBytes() {
    std::string v2 = ReadFile("/sys/fs/cgroup/memory.max");
    if (!v2.empty()) {
        if (v2.rfind("max", 0) == 0) return 0;
        return std::strtod(v2.c_str(), nullptr);
    }
    std::string v1 = ReadFile("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    if (!v1.empty()) {
        double v = std::strtod(v1.c_str(), nullptr);
        return v >= 9e18 ? 0 : v;  // "unlimited" is a huge number in v1
    }
    return 0;
}

double CgroupCpuLimitCores() {
    std::string v2 = ReadFile("/sys/fs/cgroup/cpu.max");
    if (!v2.empty()) {
        std::istringstream in(v2);
        std::string quota;
        double period = 0;
        in >> quota >> period;
        if (quota == "max" || period <= 0) return 0;
        return std::strtod(quota.c_str(), nullptr) / period;
    }
    double quota = std::strtod(ReadFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").c_str(), nullptr);
    double period = std::strtod(ReadFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us").c_str(), nullptr);
    if (quota <= 0 || period <= 0) return 0;
    return quota / period;
}

void RegisterProcessMetrics(MetricsRegistry& registry) {
    auto& rss = registry.AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.").Get();
    auto& vms = registry.AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").Get();
    auto& cpu = registry.AddCounter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.").Get();
    auto& fds = registry.AddGauge("process_open_fds", "Number of open file descriptors.").Get();
    auto& max_fds = registry.AddGauge("process_max_fds", "Maximum number of open file descriptors.").Get();
    auto& start = registry.AddGauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.").Get();
    auto& mem = registry.AddGauge("contex_memory_usage_bytes", "Resident memory of the Contex process in bytes.").Get();
    auto& mem_limit = registry.AddGauge("contex_memory_limit_bytes", "Container memory limit in bytes (0 when none).").Get();
    auto& cpu_limit = registry.AddGauge("contex_cpu_limit_cores", "Container CPU limit in cores (0 when none).").Get();
    registry.AddCollector([&] {
        ProcessStats s = ReadProcessStats();
        rss.Set(s.resident_bytes);
        vms.Set(s.virtual_bytes);
        cpu.Inc(s.cpu_seconds - cpu.value());
        fds.Set(s.open_fds);
        max_fds.Set(s.max_fds);
        start.Set(s.start_time_seconds);
        mem.Set(s.resident_bytes);
        mem_limit.Set(CgroupMemoryLimitBytes());
        cpu_limit.Set(CgroupCpuLimitCores());
    });
}

ComponentHealth SystemResourcesCheck::Check() {
    ProcessStats s = ReadProcessStats();
    double limit = CgroupMemoryLimitBytes();
    double cores = CgroupCpuLimitCores();
    if (cores <= 0) cores = std::max(1u, std::thread::hardware_concurrency());
    {
        std::lock_guard lock(mutex_);
        auto now = clock_.Monotonic();
        double elapsed = std::chrono::duration<double>(now - last_at_).count();
        if (last_cpu_ < 0) {
            last_cpu_ = s.cpu_seconds;
            last_at_ = now;
        } else if (elapsed >= 10) {
            cpu_percent_ = 100.0 * (s.cpu_seconds - last_cpu_) / elapsed / cores;
            last_cpu_ = s.cpu_seconds;
            last_at_ = now;
        }
    }
    double memory_mb = s.resident_bytes / (1024.0 * 1024.0);
    double limit_mb = limit > 0 ? limit / (1024.0 * 1024.0) : 2048.0;
    ComponentHealth h;
    h.details["memory_mb"] = std::round(memory_mb * 10) / 10;
    h.details["memory_limit_mb"] = limit_mb;
    h.details["cpu_percent"] = std::round(cpu_percent_ * 10) / 10;
    bool memory_high = limit > 0 ? memory_mb > 0.9 * limit_mb : memory_mb > 2048.0;
    if (memory_high || cpu_percent_ > 80.0) {
        h.status = HealthStatus::kDegraded;
        h.message = memory_high ? "High memory usage" : "High CPU usage";
    } else {
        h.message = "System resources are healthy";
    }
    return h;
}

}  // namespace contex::obs
