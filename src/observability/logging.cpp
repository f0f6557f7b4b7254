#include "observability/logging.hpp"

#include <unistd.h>

#include <array>
#include <cstring>

#include "common/strings.hpp"
#include "common/time_format.hpp"

namespace contex::obs {
namespace {

constexpr std::array<std::string_view, 9> kReservedKeys = {
    "timestamp", "level", "service", "logger", "message",
    "request_id", "trace_id", "span_id", "location"};

bool IsReserved(std::string_view key) {
    for (auto k : kReservedKeys) {
        if (k == key) return true;
    }
    return false;
}

// request_id, trace_id, span_id and exception are first-class keys of the line.
bool IsContextKey(std::string_view key) {
    return key == "request_id" || key == "trace_id" || key == "span_id" || key == "exception";
}

std::string_view BaseName(const char* path) {
    const char* slash = std::strrchr(path, '/');
    return slash ? slash + 1 : path;
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
    switch (level) {
        case LogLevel::kDebug: return "DEBUG";
        case LogLevel::kInfo: return "INFO";
        case LogLevel::kWarning: return "WARNING";
        case LogLevel::kError: return "ERROR";
        case LogLevel::kCritical: return "CRITICAL";
    }
    return "INFO";
}

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
    std::string v = ToLowerAscii(TrimView(text));
    if (v == "debug") return LogLevel::kDebug;
    if (v == "info") return LogLevel::kInfo;
    if (v == "warning" || v == "warn") return LogLevel::kWarning;
    if (v == "error") return LogLevel::kError;
    if (v == "critical" || v == "fatal") return LogLevel::kCritical;
    return std::nullopt;
}

std::string Logger::Format(LogLevel level, std::string_view logger, std::string_view message,
                           const LogFields& fields, const std::source_location& loc) const {
    std::string line;
    line.reserve(256);
    std::string ts = FormatIsoUtcZ(clock_.Now());
    if (options_.json) {
        line += "{\"timestamp\":";
        AppendJsonString(line, ts);
        line += ",\"level\":";
        AppendJsonString(line, LogLevelName(level));
        line += ",\"service\":\"contex\",\"logger\":";
        AppendJsonString(line, logger);
        line += ",\"message\":";
        AppendJsonString(line, message);
        for (const auto& [key, value] : fields) {
            if (!IsContextKey(key)) continue;
            line += ',';
            AppendJsonString(line, key);
            line += ':';
            AppendJson(line, value);
        }
        if (level >= LogLevel::kWarning) {
            line += ",\"location\":{\"file\":";
            AppendJsonString(line, BaseName(loc.file_name()));
            line += ",\"line\":";
            line += std::to_string(loc.line());
            line += ",\"function\":";
            AppendJsonString(line, loc.function_name());
            line += '}';
        }
        for (const auto& [key, value] : fields) {
            if (IsContextKey(key)) continue;
            line += ',';
            AppendJsonString(line, IsReserved(key) ? "field_" + key : key);
            line += ':';
            AppendJson(line, value);
        }
        line += "}\n";
    } else {
        line += ts;
        line += " - ";
        line += logger;
        line += " - ";
        line += LogLevelName(level);
        line += " - ";
        line += message;
        for (const auto& [key, value] : fields) {
            line += ' ';
            line += key;
            line += '=';
            if (value.is_string()) {
                line += value.get_string();
            } else {
                AppendJson(line, value);
            }
        }
        line += '\n';
    }
    return line;
}

void Logger::Log(LogLevel level, std::string_view logger, std::string_view message,
                 LogFields fields, std::source_location loc) {
    if (!Enabled(level)) return;
    std::string line = Format(level, logger, message, fields, loc);
    std::lock_guard lock(write_mutex_);
    std::fwrite(line.data(), 1, line.size(), options_.out);
    std::fflush(options_.out);
}

}  // namespace contex::obs
