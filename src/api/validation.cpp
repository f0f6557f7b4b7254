#include "api/validation.hpp"

#include <cmath>
#include <cstdlib>

#include "common/strings.hpp"

namespace contex::api {
namespace {

std::string FormatBound(double bound) {
    std::string out;
    if (bound == std::floor(bound) && std::fabs(bound) < 1e15) {
        out = std::to_string(static_cast<long long>(bound));
    } else {
        AppendDouble(out, bound);
    }
    return out;
}

json::value BoundValue(double bound) {
    if (bound == std::floor(bound) && std::fabs(bound) < 1e15) {
        return static_cast<std::int64_t>(bound);
    }
    return bound;
}

bool HasControlCharacter(std::string_view s) {
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) return true;
    }
    return false;
}

}  // namespace

void ValidationErrors::Add(std::string_view type, Loc loc, std::string_view msg,
                           json::value input, std::optional<json::object> ctx) {
    json::object item;
    item["type"] = type;
    item["loc"] = std::move(loc);
    item["msg"] = msg;
    item["input"] = std::move(input);
    if (ctx) item["ctx"] = std::move(*ctx);
    items_.push_back(std::move(item));
}

void ValidationErrors::Missing(Loc loc, json::value enclosing) {
    Add("missing", std::move(loc), "Field required", std::move(enclosing));
}
void ValidationErrors::StringType(Loc loc, json::value input) {
    Add("string_type", std::move(loc), "Input should be a valid string", std::move(input));
}
void ValidationErrors::IntType(Loc loc, json::value input) {
    Add("int_type", std::move(loc), "Input should be a valid integer", std::move(input));
}
void ValidationErrors::IntParsing(Loc loc, json::value input) {
    Add("int_parsing", std::move(loc),
        "Input should be a valid integer, unable to parse string as an integer", std::move(input));
}
void ValidationErrors::IntFromFloat(Loc loc, json::value input) {
    Add("int_from_float", std::move(loc),
        "Input should be a valid integer, got a number with a fractional part", std::move(input));
}
void ValidationErrors::FloatType(Loc loc, json::value input) {
    Add("float_type", std::move(loc), "Input should be a valid number", std::move(input));
}
void ValidationErrors::FloatParsing(Loc loc, json::value input) {
    Add("float_parsing", std::move(loc),
        "Input should be a valid number, unable to parse string as a number", std::move(input));
}
void ValidationErrors::BoolParsing(Loc loc, json::value input) {
    Add("bool_parsing", std::move(loc),
        "Input should be a valid boolean, unable to interpret input", std::move(input));
}
void ValidationErrors::ListType(Loc loc, json::value input) {
    Add("list_type", std::move(loc), "Input should be a valid list", std::move(input));
}
void ValidationErrors::DictType(Loc loc, json::value input) {
    Add("dict_type", std::move(loc), "Input should be a valid dictionary", std::move(input));
}
void ValidationErrors::ModelAttributesType(Loc loc, json::value input) {
    Add("model_attributes_type", std::move(loc),
        "Input should be a valid dictionary or object to extract fields from", std::move(input));
}
void ValidationErrors::ValueError(Loc loc, json::value input, std::string_view message) {
    json::object ctx;
    ctx["error"] = message;
    Add("value_error", std::move(loc), "Value error, " + std::string(message), std::move(input),
        std::move(ctx));
}
void ValidationErrors::Literal(Loc loc, json::value input, const std::vector<std::string>& allowed) {
    std::string expected;
    for (std::size_t i = 0; i < allowed.size(); ++i) {
        if (i > 0) expected += (i + 1 == allowed.size()) ? " or " : ", ";
        expected += "'" + allowed[i] + "'";
    }
    json::object ctx;
    ctx["expected"] = expected;
    Add("literal_error", std::move(loc), "Input should be " + expected, std::move(input),
        std::move(ctx));
}
void ValidationErrors::GreaterThanEqual(Loc loc, json::value input, double bound) {
    json::object ctx;
    ctx["ge"] = BoundValue(bound);
    Add("greater_than_equal", std::move(loc),
        "Input should be greater than or equal to " + FormatBound(bound), std::move(input),
        std::move(ctx));
}
void ValidationErrors::LessThanEqual(Loc loc, json::value input, double bound) {
    json::object ctx;
    ctx["le"] = BoundValue(bound);
    Add("less_than_equal", std::move(loc),
        "Input should be less than or equal to " + FormatBound(bound), std::move(input),
        std::move(ctx));
}
void ValidationErrors::StringTooShort(Loc loc, json::value input, std::size_t min) {
    json::object ctx;
    ctx["min_length"] = min;
    Add("string_too_short", std::move(loc),
        "String should have at least " + std::to_string(min) +
            (min == 1 ? " character" : " characters"),
        std::move(input), std::move(ctx));
}
void ValidationErrors::StringTooLong(Loc loc, json::value input, std::size_t max) {
    json::object ctx;
    ctx["max_length"] = max;
    Add("string_too_long", std::move(loc),
        "String should have at most " + std::to_string(max) +
            (max == 1 ? " character" : " characters"),
        std::move(input), std::move(ctx));
}
void ValidationErrors::TooLong(Loc loc, json::value input, std::size_t max, std::size_t actual) {
    json::object ctx;
    ctx["field_type"] = "List";
    ctx["max_length"] = max;
    ctx["actual_length"] = actual;
    Add("too_long", std::move(loc),
        "List should have at most " + std::to_string(max) + " items after validation, not " +
            std::to_string(actual),
        std::move(input), std::move(ctx));
}

server::Response ValidationErrors::ToResponse() const {
    std::string body = "{\"detail\":";
    AppendJson(body, items_);
    body += '}';
    return server::Response::Json(422, std::move(body));
}

std::optional<json::value> ParseJsonBody(const server::Request& request,
                                         ValidationErrors& errors) {
    if (auto type = request.Header("Content-Type")) {
        std::string media = ToLowerAscii(TrimView(type->substr(0, type->find(';'))));
        bool json_type = media.empty() || media == "application/json" ||
                         (StartsWith(media, "application/") && EndsWith(media, "+json"));
        if (!json_type) {
            errors.ModelAttributesType(LocOf("body"), json::string(RepairUtf8(request.body)));
            return std::nullopt;
        }
    }
    if (TrimView(request.body).empty()) {
        errors.Missing(LocOf("body"), nullptr);
        return std::nullopt;
    }
    JsonParseFailure failure;
    auto parsed = ParseJson(request.body, &failure);
    if (!parsed.ok()) {
        json::object ctx;
        ctx["error"] = failure.reason;
        errors.Add("json_invalid", LocOf("body", static_cast<std::int64_t>(failure.offset)),
                   "JSON decode error", json::object{}, std::move(ctx));
        return std::nullopt;
    }
    return std::move(parsed).value();
}

std::optional<std::string> ValidateIdentifier(const json::value* value, Loc loc,
                                              ValidationErrors& errors,
                                              const json::value& enclosing) {
    if (!value) {
        errors.Missing(std::move(loc), enclosing);
        return std::nullopt;
    }
    if (!value->is_string()) {
        errors.StringType(std::move(loc), *value);
        return std::nullopt;
    }
    std::string_view s = value->get_string();
    std::size_t length = Utf8Length(s);
    if (length < 1) {
        errors.StringTooShort(std::move(loc), *value, 1);
        return std::nullopt;
    }
    if (length > 255) {
        errors.StringTooLong(std::move(loc), *value, 255);
        return std::nullopt;
    }
    if (HasControlCharacter(s)) {
        json::object ctx;
        ctx["pattern"] = "^[^\\x00-\\x1F\\x7F]*$";
        errors.Add("string_pattern_mismatch", std::move(loc),
                   "String should match pattern '^[^\\x00-\\x1F\\x7F]*$'", *value,
                   std::move(ctx));
        return std::nullopt;
    }
    return std::string(s);
}

namespace {

std::optional<long long> ParseIntegerText(std::string_view text) {
    std::string t(TrimView(text));
    if (t.empty()) return std::nullopt;
    std::size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0;
    if (i == t.size()) return std::nullopt;
    for (std::size_t k = i; k < t.size(); ++k) {
        if (t[k] < '0' || t[k] > '9') return std::nullopt;
    }
    errno = 0;
    long long v = std::strtoll(t.c_str(), nullptr, 10);
    if (errno != 0) return std::nullopt;
    return v;
}

}  // namespace

std::optional<long long> CoerceInt(const json::value& value, Loc loc, ValidationErrors& errors) {
    if (value.is_int64()) return value.get_int64();
    if (value.is_uint64()) {
        if (value.get_uint64() > static_cast<std::uint64_t>(INT64_MAX)) {
            errors.IntParsing(std::move(loc), value);
            return std::nullopt;
        }
        return static_cast<long long>(value.get_uint64());
    }
    if (value.is_double()) {
        double d = value.get_double();
        if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.2e18) {
            errors.IntFromFloat(std::move(loc), value);
            return std::nullopt;
        }
        return static_cast<long long>(d);
    }
    if (value.is_string()) {
        if (auto v = ParseIntegerText(value.get_string())) return v;
        errors.IntParsing(std::move(loc), value);
        return std::nullopt;
    }
    errors.IntType(std::move(loc), value);
    return std::nullopt;
}

std::optional<double> CoerceNumber(const json::value& value, Loc loc, ValidationErrors& errors) {
    if (value.is_int64()) return static_cast<double>(value.get_int64());
    if (value.is_uint64()) return static_cast<double>(value.get_uint64());
    if (value.is_double()) return value.get_double();
    if (value.is_string()) {
        std::string t(TrimView(value.get_string()));
        char* end = nullptr;
        double d = std::strtod(t.c_str(), &end);
        if (!t.empty() && end && *end == '\0' && std::isfinite(d)) return d;
        errors.FloatParsing(std::move(loc), value);
        return std::nullopt;
    }
    errors.FloatType(std::move(loc), value);
    return std::nullopt;
}

std::optional<long long> QueryInt(std::string_view text, Loc loc, ValidationErrors& errors) {
    if (auto v = ParseIntegerText(text)) return v;
    errors.IntParsing(std::move(loc), json::string(text));
    return std::nullopt;
}

std::optional<bool> QueryBool(std::string_view text, Loc loc, ValidationErrors& errors) {
    if (auto v = ParseBool(text)) return v;
    errors.BoolParsing(std::move(loc), json::string(text));
    return std::nullopt;
}

}  // namespace contex::api
