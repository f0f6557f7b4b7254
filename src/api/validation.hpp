// Request validation with the exact 422 shapes of api.md §1.4 (pydantic-compatible
// `type`, `loc`, `msg`, `input`, `ctx`), shared by every handler.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "server/http.hpp"

namespace contex::api {

// loc element: a field name or an array index.
using Loc = json::array;

class ValidationErrors {
public:
    void Add(std::string_view type, Loc loc, std::string_view msg, json::value input,
             std::optional<json::object> ctx = std::nullopt);

    // The common cases, with the exact messages of §1.4.
    void Missing(Loc loc, json::value enclosing);
    void StringType(Loc loc, json::value input);
    void IntType(Loc loc, json::value input);
    void IntParsing(Loc loc, json::value input);
    void IntFromFloat(Loc loc, json::value input);
    void FloatType(Loc loc, json::value input);
    void FloatParsing(Loc loc, json::value input);
    void BoolParsing(Loc loc, json::value input);
    void ListType(Loc loc, json::value input);
    void DictType(Loc loc, json::value input);
    void ModelAttributesType(Loc loc, json::value input);
    void ValueError(Loc loc, json::value input, std::string_view message);
    void Literal(Loc loc, json::value input, const std::vector<std::string>& allowed);
    void GreaterThanEqual(Loc loc, json::value input, double bound);
    void LessThanEqual(Loc loc, json::value input, double bound);
    void StringTooShort(Loc loc, json::value input, std::size_t min);
    void StringTooLong(Loc loc, json::value input, std::size_t max);
    void TooLong(Loc loc, json::value input, std::size_t max, std::size_t actual);

    bool empty() const { return items_.empty(); }
    const json::array& items() const { return items_; }
    // 422 {"detail":[...]}
    server::Response ToResponse() const;

private:
    json::array items_;
};

// Body media type / presence / JSON syntax (§1.2). Returns the parsed value or nullopt
// after adding the matching error (model_attributes_type, missing, json_invalid).
std::optional<json::value> ParseJsonBody(const server::Request& request, ValidationErrors& errors);

// Identifier rule (§1.2): 1–255 Unicode characters, no control characters. Adds
// string_type / string_too_short / string_too_long / string_pattern_mismatch at `loc`.
// Returns the string when valid.
std::optional<std::string> ValidateIdentifier(const json::value* value, Loc loc,
                                              ValidationErrors& errors,
                                              const json::value& enclosing);

// Integer coercion (§1.2): 5, 5.0 and "5" are 5; 5.5 -> int_from_float; "x" -> int_parsing;
// other types -> int_type.
std::optional<long long> CoerceInt(const json::value& value, Loc loc, ValidationErrors& errors);
// Number coercion: ints, floats, numeric strings.
std::optional<double> CoerceNumber(const json::value& value, Loc loc, ValidationErrors& errors);
// Query-string integer: digits (optional sign) -> value; else int_parsing.
std::optional<long long> QueryInt(std::string_view text, Loc loc, ValidationErrors& errors);
// Query-string boolean: true/false/1/0/yes/no/on/off -> value; else bool_parsing.
std::optional<bool> QueryBool(std::string_view text, Loc loc, ValidationErrors& errors);

// Loc builders: LocOf("body", "data_key"), LocOf("body", 3, "data_key").
template <typename... Parts>
Loc LocOf(Parts&&... parts) {
    Loc loc;
    (loc.emplace_back(std::forward<Parts>(parts)), ...);
    return loc;
}

}  // namespace contex::api
