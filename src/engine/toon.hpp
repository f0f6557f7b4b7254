// TOON (Token-Oriented Object Notation) encoder and decoder: the `toon` response format
// (engine.md §4.3), TOON payloads for TOON agents (api.md §6.5), the `toon` field of
// project data and TOON export/import (api.md §3.12–3.13, engine.md §8).
//
// Both functions are pure and thread-safe; they hold no state between calls.
#pragma once

#include <string>
#include <string_view>

#include "common/json.hpp"
#include "common/result.hpp"

namespace contex::engine {

// Encodes `value` as TOON v3.0 with the fixed options of engine.md §4.3: comma delimiter,
// 2-space indentation, no key folding, LF line ends, no trailing newline or spaces.
// Root object -> fields at depth 0 (an empty object gives ""), root array -> `[N]…`
// header forms, root primitive -> the encoded primitive. Numbers are written in
// canonical decimal (no exponent, no trailing fractional zeros, -0 -> 0); NaN and
// infinities, which JSON cannot carry, are written as null. Never fails.
std::string ToToon(const json::value& value);

// Decodes a TOON document (strict mode of the TOON v3.0 spec) back to JSON. Accepts the
// output of ToToon and the spec's other forms: tab (`[N\t]`) and pipe (`[N|]`)
// delimiters, tabular arrays as the first field of list items, quoted keys, exponent
// numbers, a trailing newline and CRLF line ends. Empty text decodes to {}.
//
// Unquoted tokens become true/false/null, numbers (int64 when integral and in range,
// then uint64, else double; -0 -> 0) or strings; numbers with forbidden leading zeros
// ("05") stay strings, and so does a number too large for a double. Duplicate keys:
// the last wins, at the first one's position.
//
// Returns kInvalidArgument, with a message starting "line N: ", on malformed input:
// invalid UTF-8, bad indentation (not a multiple of 2 spaces, tabs), a missing colon,
// bad escapes or unterminated strings, array length or row width mismatches, blank lines
// inside an array, nesting deeper than kMaxJsonDepth, or lines that belong nowhere.
Result<json::value> ParseToon(std::string_view text);

}  // namespace contex::engine
