// Internal helpers shared by the back ends: vector blobs, timestamps, JSON columns.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/result.hpp"
#include "storage/storage.hpp"

namespace contex::storage::internal {

// float32 little-endian, dim * 4 bytes (operations.md §2.1).
std::string EncodeVector(std::span<const float> v);
// kInternal when the blob length is not a multiple of 4.
Result<std::vector<float>> DecodeVector(std::string_view blob);

// ISO-8601 UTC with microseconds and +00:00.
std::string FormatTime(TimePoint t);
// Accepts FormatTime output and PostgreSQL's text form; kInternal when malformed.
Result<TimePoint> ParseTime(std::string_view text);

// JSON text (compact, shortest round-trip numbers).
std::string JsonText(const json::value& v);
Result<json::value> ParseJsonColumn(std::string_view text);
Result<json::object> ParseJsonObjectColumn(std::string_view text);
// ["a","b"] <-> vector
std::string StringArrayJson(const std::vector<std::string>& v);
Result<std::vector<std::string>> ParseStringArrayJson(std::string_view text);

// Fills an empty project_id with `project`; kInvalidArgument when it names another one.
Status CheckProject(std::string& record_project, const std::string& project);

// Retries of WithProjectTransaction on serialization failure / deadlock.
inline constexpr int kMaxTransactionAttempts = 5;

}  // namespace contex::storage::internal
