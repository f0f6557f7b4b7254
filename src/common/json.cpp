#include "common/json.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>

namespace contex {
namespace {

void AppendIndent(std::string& out, int n) { out.append(static_cast<std::size_t>(n), ' '); }

void AppendPretty(std::string& out, const json::value& v, int indent, int level) {
    switch (v.kind()) {
        case json::kind::object: {
            const auto& o = v.get_object();
            if (o.empty()) {
                out += "{}";
                return;
            }
            out += "{\n";
            bool first = true;
            for (const auto& kv : o) {
                if (!first) out += ",\n";
                first = false;
                AppendIndent(out, indent * (level + 1));
                AppendJsonString(out, kv.key());
                out += ": ";
                AppendPretty(out, kv.value(), indent, level + 1);
            }
            out += "\n";
            AppendIndent(out, indent * level);
            out += "}";
            return;
        }
        case json::kind::array: {
            const auto& a = v.get_array();
            if (a.empty()) {
                out += "[]";
                return;
            }
            out += "[\n";
            bool first = true;
            for (const auto& e : a) {
                if (!first) out += ",\n";
                first = false;
                AppendIndent(out, indent * (level + 1));
                AppendPretty(out, e, indent, level + 1);
            }
            out += "\n";
            AppendIndent(out, indent * level);
            out += "]";
            return;
        }
        default:
            AppendJson(out, v);
    }
}

}  // namespace

namespace {

// engine.md §1.2: integers within int64 stay integers, other numbers are doubles. Boost.JSON
// keeps (2^63, 2^64) as uint64; such a number has at least 19 digits in a row.
bool MayHoldUint64(std::string_view text) {
    int run = 0;
    for (char c : text) {
        if (c >= '0' && c <= '9') {
            if (++run >= 19) return true;
        } else {
            run = 0;
        }
    }
    return false;
}

void Uint64ToDouble(json::value& v) {
    if (v.is_uint64()) {
        v = static_cast<double>(v.get_uint64());
    } else if (v.is_array()) {
        for (auto& item : v.get_array()) Uint64ToDouble(item);
    } else if (v.is_object()) {
        for (auto& entry : v.get_object()) Uint64ToDouble(entry.value());
    }
}

}  // namespace

Result<json::value> ParseJson(std::string_view text, JsonParseFailure* failure,
                              std::size_t max_depth) {
    json::parse_options opts;
    opts.max_depth = max_depth;
    opts.allow_invalid_utf8 = false;
    json::stream_parser parser(json::storage_ptr(), opts);
    boost::system::error_code ec;
    std::size_t consumed = parser.write_some(text.data(), text.size(), ec);
    if (!ec && consumed < text.size()) ec = json::error::extra_data;
    if (!ec) parser.finish(ec);
    if (ec) {
        std::string reason = ec.message();
        if (ec == json::error::too_deep) reason = "nesting deeper than " + std::to_string(max_depth);
        if (failure) {
            failure->offset = consumed;
            failure->reason = reason;
        }
        return InvalidArgument("invalid JSON at byte " + std::to_string(consumed) + ": " + reason);
    }
    // Boost.JSON already resolves duplicate keys as "last wins" (checked in json_test).
    json::value out = parser.release();
    if (MayHoldUint64(text)) Uint64ToDouble(out);  // depth bounded by max_depth
    return out;
}

void AppendDouble(std::string& out, double d) {
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d);
    std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));
    out += s;
    if (s.find_first_of(".eEn") == std::string_view::npos) out += ".0";
}

void AppendJsonString(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.reserve(out.size() + s.size() + 2);
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += "\\u00";
                    out += kHex[c >> 4];
                    out += kHex[c & 15];
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

void AppendJson(std::string& out, const json::value& v) {
    switch (v.kind()) {
        case json::kind::null: out += "null"; return;
        case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
        case json::kind::int64: {
            char buf[32];
            auto r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
            out.append(buf, r.ptr);
            return;
        }
        case json::kind::uint64: {
            char buf[32];
            auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
            out.append(buf, r.ptr);
            return;
        }
        case json::kind::double_: AppendDouble(out, v.get_double()); return;
        case json::kind::string: AppendJsonString(out, v.get_string()); return;
        case json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out += ',';
                first = false;
                AppendJson(out, e);
            }
            out += ']';
            return;
        }
        case json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) out += ',';
                first = false;
                AppendJsonString(out, kv.key());
                out += ':';
                AppendJson(out, kv.value());
            }
            out += '}';
            return;
        }
    }
}

std::string ToJson(const json::value& v) {
    std::string out;
    AppendJson(out, v);
    return out;
}

std::string ToPrettyJson(const json::value& v, int indent) {
    std::string out;
    AppendPretty(out, v, indent, 0);
    return out;
}

}  // namespace contex
