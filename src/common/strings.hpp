// Small string and UTF-8 helpers used across modules. Pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace contex {

std::string_view TrimView(std::string_view s);  // ASCII whitespace
std::string ToLowerAscii(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
// Splits on every occurrence of `sep` (empty fields kept).
std::vector<std::string_view> Split(std::string_view s, char sep);

// Booleans as configuration and query parameters spell them:
// true/false/1/0/yes/no/on/off, case-insensitive. nullopt when none of these.
std::optional<bool> ParseBool(std::string_view s);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool IsValidUtf8(std::string_view s);
// Replaces every ill-formed sequence with U+FFFD.
std::string RepairUtf8(std::string_view s);
// Number of code points in well-formed UTF-8.
std::size_t Utf8Length(std::string_view s);
// Longest prefix of at most `max_chars` code points (never splits a code point).
std::string_view Utf8Prefix(std::string_view s, std::size_t max_chars);

// Percent-decodes a URL component ("%2F" -> "/"; '+' kept as is). nullopt on a bad escape.
std::optional<std::string> PercentDecode(std::string_view s);

}  // namespace contex
