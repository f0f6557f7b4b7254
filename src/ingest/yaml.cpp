// YAML (yaml-cpp) -> JSON data model, YAML 1.2 core schema (engine.md §1.3).
//
// yaml-cpp keeps aliases as shared nodes, so an alias bomb parses cheaply; the expansion
// happens here, where every produced value is counted against `max_values`.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <cmath>

#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::internal {
namespace {

struct YamlFailure {
    std::string reason;
};

bool AllDigits(std::string_view s, int base) {
    if (s.empty()) return false;
    for (char c : s) {
        bool ok = (c >= '0' && c <= '9' && (base > 8 || c <= '7')) ||
                  (base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
        if (!ok) return false;
    }
    return true;
}

json::value IntegerOrDouble(std::string_view digits, int base, bool negative,
                            std::string_view original) {
    errno = 0;
    std::string s(digits);
    unsigned long long u = std::strtoull(s.c_str(), nullptr, base);
    if (errno == 0) {
        if (!negative && u <= static_cast<unsigned long long>(INT64_MAX)) {
            return json::value(static_cast<std::int64_t>(u));
        }
        if (negative && u <= static_cast<unsigned long long>(INT64_MAX) + 1ULL) {
            return json::value(static_cast<std::int64_t>(0 - u));
        }
    }
    if (base != 10) return json::value(json::string(original));
    std::string full(original);
    return json::value(std::strtod(full.c_str(), nullptr));
}

bool IsCoreFloat(std::string_view s) {
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    std::size_t i = 0;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t int_digits = 0, frac_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
    bool dot = false;
    if (i < s.size() && s[i] == '.') {
        dot = true;
        ++i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
    }
    if (int_digits == 0 && frac_digits == 0) return false;
    if (int_digits == 0 && !dot) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        std::size_t exp_digits = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
        if (exp_digits == 0) return false;
    }
    return i == s.size();
}

// Resolves a plain scalar with the YAML 1.2 core schema.
json::value ResolvePlain(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    std::string_view v = s;
    if (v == ".inf" || v == ".Inf" || v == ".INF" || v == "+.inf" || v == "+.Inf" ||
        v == "+.INF") {
        return json::string(".inf");
    }
    if (v == "-.inf" || v == "-.Inf" || v == "-.INF") return json::string("-.inf");
    if (v == ".nan" || v == ".NaN" || v == ".NAN") return json::string(".nan");
    if (StartsWith(v, "0o") && AllDigits(v.substr(2), 8)) {
        return IntegerOrDouble(v.substr(2), 8, false, v);
    }
    if (StartsWith(v, "0x") && AllDigits(v.substr(2), 16)) {
        return IntegerOrDouble(v.substr(2), 16, false, v);
    }
    {
        std::string_view d = v;
        bool negative = false;
        if (!d.empty() && (d[0] == '-' || d[0] == '+')) {
            negative = d[0] == '-';
            d.remove_prefix(1);
        }
        if (AllDigits(d, 10)) return IntegerOrDouble(d, 10, negative, v);
    }
    if (IsCoreFloat(v)) {
        double d = std::strtod(s.c_str(), nullptr);
        if (!std::isfinite(d)) return json::string(s);
        return d;
    }
    return json::string(s);
}

class Converter {
public:
    explicit Converter(std::size_t max_values) : max_values_(max_values) {}

    json::value Convert(const YAML::Node& node, std::size_t depth) {
        if (++values_ > max_values_) {
            throw YamlFailure{"alias expansion exceeds " + std::to_string(max_values_) +
                              " values"};
        }
        switch (node.Type()) {
            case YAML::NodeType::Undefined:
            case YAML::NodeType::Null: return nullptr;
            case YAML::NodeType::Scalar: return Scalar(node);
            case YAML::NodeType::Sequence: {
                CheckDepth(depth + 1);
                json::array arr;
                for (const auto& item : node) arr.push_back(Convert(item, depth + 1));
                return arr;
            }
            case YAML::NodeType::Map: {
                CheckDepth(depth + 1);
                json::object obj;
                for (const auto& kv : node) {
                    std::string key = KeyText(kv.first, depth + 1);
                    json::value value = Convert(kv.second, depth + 1);
                    obj[key] = std::move(value);  // last wins, first position kept
                }
                return obj;
            }
        }
        return nullptr;
    }

private:
    static void CheckDepth(std::size_t depth) {
        if (depth > kMaxDepth) {
            throw YamlFailure{"nesting deeper than " + std::to_string(kMaxDepth)};
        }
    }

    json::value Scalar(const YAML::Node& node) {
        const std::string& tag = node.Tag();
        const std::string& text = node.Scalar();
        if (tag == "?" || tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
            tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null") {
            return ResolvePlain(text);
        }
        return json::string(text);  // quoted ("!"), !!str or any other tag
    }

    std::string KeyText(const YAML::Node& key, std::size_t depth) {
        if (key.Type() == YAML::NodeType::Scalar) return key.Scalar();
        if (key.Type() == YAML::NodeType::Null || key.Type() == YAML::NodeType::Undefined) {
            return "null";
        }
        return ToJson(Convert(key, depth));
    }

    std::size_t max_values_;
    std::size_t values_ = 0;
};

}  // namespace

Result<json::value> ParseYaml(std::string_view text, std::size_t max_values) {
    try {
        std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
        Converter converter(max_values);
        if (docs.empty()) return json::value(nullptr);
        if (docs.size() == 1) return converter.Convert(docs[0], 0);
        json::array arr;
        for (const auto& d : docs) arr.push_back(converter.Convert(d, 1));
        return json::value(std::move(arr));
    } catch (const YamlFailure& f) {
        return InvalidArgument(f.reason);
    } catch (const YAML::Exception& e) {
        std::string reason = e.msg.empty() ? std::string("invalid YAML") : e.msg;
        if (e.mark.line >= 0) reason += " at line " + std::to_string(e.mark.line + 1);
        return InvalidArgument(reason);
    } catch (const std::exception& e) {
        return InvalidArgument(std::string("invalid YAML: ") + e.what());
    }
}

}  // namespace contex::ingest::internal
