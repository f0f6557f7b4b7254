// JSON data model (Boost.JSON values, insertion-ordered objects) and the one
// serializer every module uses, so output matches the spec everywhere: compact,
// UTF-8 with non-ASCII unescaped, doubles in shortest round-trip form, never NaN/Inf.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace contex {

namespace json = boost::json;

// Maximum nesting accepted anywhere (api.md §1.2, engine.md §1.3).
inline constexpr std::size_t kMaxJsonDepth = 64;

struct JsonParseFailure {
    std::size_t offset = 0;  // byte offset where parsing stopped
    std::string reason;      // short English reason ("syntax error", "too deep", ...)
};

// Parses RFC 8259 JSON. Rejects invalid UTF-8, nesting deeper than max_depth and
// trailing garbage. Duplicate keys: the last wins. Integers beyond int64 become doubles.
// On failure returns kInvalidArgument and, when `failure` is given, fills it.
Result<json::value> ParseJson(std::string_view text, JsonParseFailure* failure = nullptr,
                              std::size_t max_depth = kMaxJsonDepth);

// Compact serialization: {"a":1,"b":[true,null]}.
std::string ToJson(const json::value& v);
void AppendJson(std::string& out, const json::value& v);
void AppendJsonString(std::string& out, std::string_view s);
// Python-style indented form (indent spaces, "key": value, no trailing newline).
std::string ToPrettyJson(const json::value& v, int indent = 2);
// Shortest round-trip decimal for a double; integral values keep a ".0" ("1.0").
// NaN and infinities, which JSON cannot carry, are written as null.
void AppendDouble(std::string& out, double d);

}  // namespace contex
