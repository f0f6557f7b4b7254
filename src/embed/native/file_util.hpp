// Internal helpers for reading model files (not part of the public API).
#pragma once

#include <filesystem>
#include <string>

#include "common/json.hpp"
#include "common/result.hpp"

namespace contex::embed::native::internal {

// Whole file as bytes. kNotFound when it does not exist, kUnavailable when unreadable.
Result<std::string> ReadFile(const std::filesystem::path& path);

// Parses a JSON file; kNotFound when missing, kInvalidArgument when malformed.
Result<json::value> ReadJsonFile(const std::filesystem::path& path);

}  // namespace contex::embed::native::internal
