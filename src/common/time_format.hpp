// Timestamp formatting shared by API bodies, storage rows and logs.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace contex {

// "2026-01-06T14:35:11.123456+00:00" (API JSON and SQLite rows).
std::string FormatIsoUtc(std::chrono::system_clock::time_point t);
// "2026-01-06T14:35:11.123456Z" (log lines).
std::string FormatIsoUtcZ(std::chrono::system_clock::time_point t);
// Parses the two forms above, plus "+00" / "+HH:MM" offsets and a space instead of
// 'T' (PostgreSQL text output). Returns nullopt when malformed.
std::optional<std::chrono::system_clock::time_point> ParseIsoUtc(std::string_view text);
// Seconds since the epoch as a double (export_timestamp, uptime).
double ToUnixSeconds(std::chrono::system_clock::time_point t);

}  // namespace contex
