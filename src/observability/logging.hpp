// Structured logging (operations.md §9): one JSON object per line on stdout, or a
// text form for humans. Messages are fixed texts; values travel in fields.
// Thread-safe: each line is written with a single write under a mutex.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"

namespace contex::obs {

enum class LogLevel { kDebug, kInfo, kWarning, kError, kCritical };

std::string_view LogLevelName(LogLevel level);
// DEBUG, INFO, WARNING (or WARN), ERROR, CRITICAL; case-insensitive.
std::optional<LogLevel> ParseLogLevel(std::string_view text);

// One key/value of a log line. Accepts the value types call sites have at hand
// (std::string, string literals, numbers, bools, JSON values) without casts.
struct LogField {
    std::string key;
    json::value value;

    LogField(std::string k, json::value v) : key(std::move(k)), value(std::move(v)) {}
    LogField(std::string k, const std::string& v) : key(std::move(k)), value(json::string(v)) {}
    LogField(std::string k, std::string_view v) : key(std::move(k)), value(json::string(v)) {}
    LogField(std::string k, const char* v) : key(std::move(k)), value(json::string(v)) {}
    LogField(std::string k, bool v) : key(std::move(k)), value(v) {}
    LogField(std::string k, double v) : key(std::move(k)), value(v) {}
    LogField(std::string k, float v) : key(std::move(k)), value(static_cast<double>(v)) {}
    template <typename I>
        requires std::is_integral_v<I> && (!std::is_same_v<I, bool>)
    LogField(std::string k, I v) : key(std::move(k)), value(static_cast<std::int64_t>(v)) {}
    LogField(std::pair<std::string, json::value> kv)  // NOLINT(google-explicit-constructor)
        : key(std::move(kv.first)), value(std::move(kv.second)) {}
};
using LogFields = std::vector<LogField>;

struct LogOptions {
    LogLevel level = LogLevel::kInfo;
    bool json = true;
    std::FILE* out = stdout;  // not owned
};

class Logger {
public:
    Logger(LogOptions options, const Clock& clock) : options_(options), clock_(clock) {}

    void Log(LogLevel level, std::string_view logger, std::string_view message,
             LogFields fields = {}, std::source_location loc = std::source_location::current());
    bool Enabled(LogLevel level) const { return level >= options_.level; }

    void Debug(std::string_view logger, std::string_view message, LogFields fields = {},
               std::source_location loc = std::source_location::current()) {
        Log(LogLevel::kDebug, logger, message, std::move(fields), loc);
    }
    void Info(std::string_view logger, std::string_view message, LogFields fields = {},
              std::source_location loc = std::source_location::current()) {
        Log(LogLevel::kInfo, logger, message, std::move(fields), loc);
    }
    void Warning(std::string_view logger, std::string_view message, LogFields fields = {},
                 std::source_location loc = std::source_location::current()) {
        Log(LogLevel::kWarning, logger, message, std::move(fields), loc);
    }
    void Error(std::string_view logger, std::string_view message, LogFields fields = {},
               std::source_location loc = std::source_location::current()) {
        Log(LogLevel::kError, logger, message, std::move(fields), loc);
    }

    // Renders one line without writing it (used by Log and by tests).
    std::string Format(LogLevel level, std::string_view logger, std::string_view message,
                       const LogFields& fields, const std::source_location& loc) const;

private:
    LogOptions options_;
    const Clock& clock_;
    std::mutex write_mutex_;
};

}  // namespace contex::obs
