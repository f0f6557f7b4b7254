// Format detection (engine.md §1.2): conservative, first rule that holds.
#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::internal {
namespace {

bool BareKeyChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

// TOML value scanner state carried across lines (multi-line strings and arrays).
struct TomlState {
    std::string_view ml_delim;  // """ or ''' while inside a multi-line string
    int depth = 0;              // open [ / { of a multi-line array or inline table
};

// Scans the value part of a line; returns false on an obviously broken value.
bool ScanTomlValue(std::string_view s, TomlState& st) {
    std::size_t i = 0;
    while (i < s.size()) {
        if (!st.ml_delim.empty()) {
            std::size_t close = s.find(st.ml_delim, i);
            if (close == std::string_view::npos) return true;
            i = close + 3;
            st.ml_delim = {};
            continue;
        }
        char c = s[i];
        if (c == '#') return true;
        if (StartsWith(s.substr(i), "\"\"\"") || StartsWith(s.substr(i), "'''")) {
            st.ml_delim = s.substr(i, 3);
            i += 3;
            continue;
        }
        if (c == '"' || c == '\'') {
            std::size_t k = i + 1;
            while (k < s.size() && s[k] != c) {
                if (c == '"' && s[k] == '\\') ++k;
                ++k;
            }
            if (k >= s.size()) return false;  // single-line string not closed
            i = k + 1;
            continue;
        }
        if (c == '[' || c == '{') ++st.depth;
        if (c == ']' || c == '}') {
            if (--st.depth < 0) return false;
        }
        ++i;
    }
    return true;
}

// Parses `key = ` (bare, quoted or dotted keys) and returns the position after '='.
std::optional<std::size_t> TomlKeyValue(std::string_view t) {
    std::size_t i = 0;
    while (true) {
        while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
        if (i >= t.size()) return std::nullopt;
        if (t[i] == '"' || t[i] == '\'') {
            char q = t[i];
            std::size_t k = t.find(q, i + 1);
            if (k == std::string_view::npos) return std::nullopt;
            i = k + 1;
        } else {
            std::size_t k = i;
            while (k < t.size() && BareKeyChar(t[k])) ++k;
            if (k == i) return std::nullopt;
            i = k;
        }
        while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
        if (i < t.size() && t[i] == '.') {
            ++i;
            continue;
        }
        if (i < t.size() && t[i] == '=') return i + 1;
        return std::nullopt;
    }
}

bool TomlHeader(std::string_view t) {
    bool array = StartsWith(t, "[[");
    std::string_view close = array ? "]]" : "]";
    std::size_t end = t.find(close, array ? 2 : 1);
    if (end == std::string_view::npos) return false;
    std::string_view inner = TrimView(t.substr(array ? 2 : 1, end - (array ? 2 : 1)));
    if (inner.empty()) return false;
    for (char c : inner) {
        if (!BareKeyChar(c) && c != '.' && c != ' ' && c != '"' && c != '\'') {
            // Quoted keys may contain anything; accept when quotes are present.
            if (inner.find('"') == std::string_view::npos && inner.find('\'') == std::string_view::npos) {
                return false;
            }
        }
    }
    std::string_view rest = TrimView(t.substr(end + close.size()));
    return rest.empty() || rest.front() == '#';
}

std::size_t Utf8Chars(std::string_view s) { return Utf8Length(s); }

bool YamlKeyLine(std::string_view line) {
    if (line.front() == '"' || line.front() == '\'') {
        std::size_t k = line.find(line.front(), 1);
        if (k == std::string_view::npos) return false;
        std::string_view rest = line.substr(k + 1);
        return StartsWith(rest, ":") && (rest.size() == 1 || rest[1] == ' ' || rest[1] == '\t');
    }
    std::size_t colon = 0;
    while (true) {
        colon = line.find(':', colon);
        if (colon == std::string_view::npos || colon == 0) return false;
        if (colon + 1 == line.size() || line[colon + 1] == ' ' || line[colon + 1] == '\t') {
            return true;
        }
        ++colon;
    }
}

bool YamlStructure(const json::value& v) {
    if (v.is_object()) {
        const auto& obj = v.get_object();
        for (const auto& kv : obj) {
            std::string_view k = kv.key();
            if (Utf8Chars(k) > 64 || k.find(". ") != std::string_view::npos ||
                k.find("? ") != std::string_view::npos || k.find("! ") != std::string_view::npos) {
                return false;
            }
        }
        if (obj.size() >= 2) return true;
        if (obj.size() == 1) {
            const auto& only = obj.begin()->value();
            return only.is_object() || only.is_array();
        }
        return false;
    }
    if (v.is_array()) return v.get_array().size() >= 2;
    return false;
}

}  // namespace

bool TomlLineShape(std::string_view text) {
    TomlState st;
    bool any_key_value = false;
    for (std::string_view line : SplitLines(text)) {
        if (!st.ml_delim.empty() || st.depth > 0) {
            if (!ScanTomlValue(line, st)) return false;
            continue;
        }
        std::string_view t = TrimView(line);
        if (t.empty() || t.front() == '#') continue;
        if (t.front() == '[') {
            if (!TomlHeader(t)) return false;
            continue;
        }
        auto after = TomlKeyValue(t);
        if (!after) return false;
        std::string_view value = TrimView(t.substr(*after));
        if (value.empty()) return false;
        if (!ScanTomlValue(value, st)) return false;
        any_key_value = true;
    }
    return any_key_value;
}

bool YamlLineShape(std::string_view text) {
    bool any = false;
    for (std::string_view line : SplitLines(text)) {
        if (IsBlank(line)) continue;
        any = true;
        char c = line.front();
        if (c == ' ' || c == '\t' || c == '#') continue;
        if (StartsWith(line, "---") || StartsWith(line, "...")) {
            std::string_view rest = line.substr(3);
            if (rest.empty() || rest.front() == ' ' || rest.front() == '\t') continue;
            return false;
        }
        if (line == "-" || StartsWith(line, "- ") || StartsWith(line, "-\t")) continue;
        if (YamlKeyLine(line)) continue;
        return false;
    }
    return any;
}

Detection Detect(std::string_view text, std::size_t max_yaml_values,
                 std::optional<Format> already_failed) {
    auto skip = [&](Format f) { return already_failed && *already_failed == f; };
    Detection d;
    std::string normalized = NormalizeNewlines(text);
    std::string_view trimmed = TrimView(normalized);
    if (trimmed.empty()) return d;  // text, zero nodes

    // 1. JSON
    if ((trimmed.front() == '{' || trimmed.front() == '[') && !skip(Format::kJson)) {
        auto parsed = ParseJson(trimmed);
        if (parsed.ok()) {
            d.format = Format::kJson;
            d.value = std::move(*parsed);
            return d;
        }
    }
    // 2. XML
    if (trimmed.front() == '<' && trimmed.back() == '>' && !skip(Format::kXml)) {
        auto parsed = ParseXml(trimmed);
        if (parsed.ok()) {
            d.format = Format::kXml;
            d.value = std::move(*parsed);
            return d;
        }
    }
    // 3. TOML
    if (!skip(Format::kToml) && TomlLineShape(trimmed)) {
        auto parsed = ParseToml(trimmed);
        if (parsed.ok() && parsed->is_object() && !parsed->get_object().empty()) {
            d.format = Format::kToml;
            d.value = std::move(*parsed);
            return d;
        }
    }
    // 4. YAML
    if (!skip(Format::kYaml)) {
        std::string dedented = Dedent(normalized);
        std::string_view body = TrimView(dedented);
        if (YamlLineShape(body)) {
            auto parsed = ParseYaml(body, max_yaml_values);
            if (parsed.ok() && YamlStructure(*parsed)) {
                d.format = Format::kYaml;
                d.value = std::move(*parsed);
                return d;
            }
        }
    }
    // 5. Markdown
    if (LooksLikeMarkdown(trimmed)) {
        d.format = Format::kMarkdown;
        return d;
    }
    // 6. CSV
    {
        std::size_t non_blank = 0;
        for (auto line : SplitLines(trimmed)) {
            if (!IsBlank(line) && ++non_blank >= 2) break;
        }
        if (non_blank >= 2) {
            if (auto delim = QualifyingCsvDelimiter(trimmed)) {
                d.format = Format::kCsv;
                d.delimiter = *delim;
                return d;
            }
        }
    }
    // 7. Code
    if (LooksLikeCode(trimmed)) {
        d.format = Format::kCode;
        return d;
    }
    return d;  // 8. text
}

}  // namespace contex::ingest::internal
