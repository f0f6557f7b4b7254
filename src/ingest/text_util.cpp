#include <cstdint>

#include "common/crypto.hpp"
#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest {

std::string Humanize(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    auto is_lower = [](char c) { return c >= 'a' && c <= 'z'; };
    auto is_upper = [](char c) { return c >= 'A' && c <= 'Z'; };
    auto is_space = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    };
    char prev = 0;
    for (char c : s) {
        if (c == '_' || c == '-' || c == '.' || c == '/' || is_space(c)) {
            if (!out.empty() && out.back() != ' ') out += ' ';
            prev = ' ';
            continue;
        }
        if (is_upper(c) && is_lower(prev) && !out.empty() && out.back() != ' ') out += ' ';
        out += c;
        prev = c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

std::string TextHash(std::string_view node_text) { return Sha256Hex(node_text); }

std::string ContentHash(Format format, const json::value& data) {
    std::string input(FormatName(format));
    input += '\n';
    AppendJson(input, data);
    return Sha256Hex(input);
}

}  // namespace contex::ingest

namespace contex::ingest::internal {

std::string NormalizeNewlines(std::string_view text) {
    if (StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
    if (text.find('\r') == std::string_view::npos) return std::string(text);
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\r') {
            out += '\n';
            if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        } else {
            out += c;
        }
    }
    return out;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) {
            lines.push_back(text.substr(start));
            break;
        }
        lines.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

bool IsBlank(std::string_view line) { return TrimView(line).empty(); }

std::size_t Indentation(std::string_view line) {
    std::size_t n = 0;
    for (char c : line) {
        if (c == ' ') {
            ++n;
        } else if (c == '\t') {
            n += 4 - n % 4;
        } else {
            break;
        }
    }
    return n;
}

std::string Dedent(std::string_view text) {
    std::vector<std::string_view> lines = SplitLines(text);
    std::size_t common = std::string_view::npos;
    for (auto line : lines) {
        if (IsBlank(line)) continue;
        std::size_t k = 0;
        while (k < line.size() && (line[k] == ' ' || line[k] == '\t')) ++k;
        common = std::min(common, k);
    }
    if (common == std::string_view::npos || common == 0) return std::string(text);
    std::string out;
    out.reserve(text.size());
    for (auto line : lines) {
        if (line.size() >= common && !IsBlank(line)) {
            out.append(line.substr(common));
        } else if (!IsBlank(line)) {
            out.append(line);
        }
        out += '\n';
    }
    return out;
}

void AppendRendered(std::string& out, const json::value& v) {
    switch (v.kind()) {
        case json::kind::string: {
            const auto& s = v.get_string();
            out.append(s.data(), s.size());
            return;
        }
        case json::kind::int64: out += std::to_string(v.get_int64()); return;
        case json::kind::uint64: out += std::to_string(v.get_uint64()); return;
        case json::kind::double_: AppendDouble(out, v.get_double()); return;
        case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
        case json::kind::null: out += "null"; return;
        case json::kind::array: {
            const auto& a = v.get_array();
            if (a.empty()) {
                out += "[]";
                return;
            }
            bool scalars = true;
            for (const auto& item : a) {
                if (item.is_array() || item.is_object()) scalars = false;
            }
            if (!scalars) {
                AppendJson(out, v);
                return;
            }
            bool first = true;
            for (const auto& item : a) {
                if (!first) out += ", ";
                first = false;
                AppendRendered(out, item);
            }
            return;
        }
        case json::kind::object:
            if (v.get_object().empty()) {
                out += "{}";
            } else {
                AppendJson(out, v);
            }
            return;
    }
}

std::string Rendered(const json::value& v) {
    std::string out;
    AppendRendered(out, v);
    return out;
}

std::string JoinNodeText(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) {
        if (p.empty()) continue;
        if (!out.empty()) out += " | ";
        out += p;
        if (out.size() > kMaxTextChars * 4) break;  // no need to build more than the cap
    }
    std::string_view capped = Utf8Prefix(out, kMaxTextChars);
    if (capped.size() != out.size()) out.resize(capped.size());
    return out;
}

std::string SanitizeName(std::string_view name) {
    std::string out;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_';
        if (ok) {
            out += c;
        } else if (!out.empty() && out.back() != '_') {
            out += '_';
        }
    }
    while (!out.empty() && out.back() == '_') out.pop_back();
    return out;
}

}  // namespace contex::ingest::internal
