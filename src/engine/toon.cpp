// TOON v3.0 subset of engine.md §4.3. The encoder appends to one string; the decoder
// splits the text into indented lines once and parses them by recursive descent, each
// construct consuming exactly the lines that belong to it.
#include "engine/toon.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "common/strings.hpp"

namespace contex::engine {
namespace {

constexpr int kIndentWidth = 2;
// The encoder's only delimiter; the decoder also honours tab and pipe headers.
constexpr char kComma = ',';

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsPrimitive(const json::value& v) { return !v.is_object() && !v.is_array(); }

// ^-?\d+(\.\d+)?([eE][+-]?\d+)?$ — the spec's "numeric-looking" test; it also covers
// leading-zero digit strings such as "05".
bool LooksNumeric(std::string_view s) {
    std::size_t i = 0;
    const std::size_t n = s.size();
    if (i < n && s[i] == '-') ++i;
    const std::size_t int_start = i;
    while (i < n && IsDigit(s[i])) ++i;
    if (i == int_start) return false;
    if (i < n && s[i] == '.') {
        const std::size_t frac_start = ++i;
        while (i < n && IsDigit(s[i])) ++i;
        if (i == frac_start) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
        const std::size_t exp_start = i;
        while (i < n && IsDigit(s[i])) ++i;
        if (i == exp_start) return false;
    }
    return i == n;
}

// ---------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------

constexpr char32_t kBadCodePoint = 0xFFFFFFFF;

// Code point of the UTF-8 sequence starting at s[i] (kBadCodePoint when ill-formed).
char32_t DecodeCodePoint(std::string_view s, std::size_t i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) return b;
    int len = 0;
    char32_t cp = 0;
    if ((b & 0xE0) == 0xC0) {
        len = 2;
        cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
        len = 3;
        cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
        len = 4;
        cp = b & 0x07;
    } else {
        return kBadCodePoint;
    }
    if (i + static_cast<std::size_t>(len) > s.size()) return kBadCodePoint;
    for (int k = 1; k < len; ++k) {
        const auto c = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
        if ((c & 0xC0) != 0x80) return kBadCodePoint;
        cp = (cp << 6) | (c & 0x3F);
    }
    return cp;
}

// Whitespace for the "leading/trailing whitespace" quoting rule: the union of what
// Python's str.strip() and JavaScript's trim() remove, so a decoder in either language
// that trims unquoted tokens cannot lose characters.
bool IsSpaceCodePoint(char32_t c) {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    switch (c) {
        case 0x85:
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
        case 0xFEFF:
            return true;
        default:
            return c >= 0x2000 && c <= 0x200A;
    }
}

bool HasOuterWhitespace(std::string_view s) {
    if (IsSpaceCodePoint(DecodeCodePoint(s, 0))) return true;
    std::size_t last = s.size() - 1;
    while (last > 0 && (static_cast<unsigned char>(s[last]) & 0xC0) == 0x80) --last;
    return IsSpaceCodePoint(DecodeCodePoint(s, last));
}

bool NeedsQuotes(std::string_view s) {
    if (s.empty()) return true;
    if (s == "true" || s == "false" || s == "null") return true;
    if (s.front() == '-' || LooksNumeric(s) || HasOuterWhitespace(s)) return true;
    for (char c : s) {
        switch (c) {
            case ':':
            case '"':
            case '\\':
            case '[':
            case ']':
            case '{':
            case '}':
            case '\n':
            case '\r':
            case '\t':
            case kComma:
                return true;
            default:
                break;
        }
    }
    return false;
}

void AppendQuoted(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                out += c;
        }
    }
    out += '"';
}

void AppendString(std::string& out, std::string_view s) {
    if (NeedsQuotes(s)) {
        AppendQuoted(out, s);
    } else {
        out += s;
    }
}

// Keys are bare when they match ^[A-Za-z_][A-Za-z0-9_.]*$.
void AppendKey(std::string& out, std::string_view key) {
    auto head = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    bool bare = !key.empty() && head(key.front());
    for (std::size_t i = 1; bare && i < key.size(); ++i) {
        bare = head(key[i]) || IsDigit(key[i]) || key[i] == '.';
    }
    if (bare) {
        out += key;
    } else {
        AppendQuoted(out, key);
    }
}

// Canonical decimal: the shortest round-trip digits, placed without an exponent.
void AppendCanonicalDouble(std::string& out, double d) {
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    if (d == 0) {  // also -0
        out += '0';
        return;
    }
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));  // "-1.2345e-07"
    if (s.front() == '-') {
        out += '-';
        s.remove_prefix(1);
    }
    const std::size_t e = s.find('e');
    std::string_view exp_text = s.substr(e + 1);
    if (exp_text.front() == '+') exp_text.remove_prefix(1);
    int exp = 0;
    std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp);
    char digits[32];
    std::size_t k = 0;
    for (char c : s.substr(0, e)) {
        if (c != '.') digits[k++] = c;
    }
    while (k > 1 && digits[k - 1] == '0') --k;
    const std::string_view ds(digits, k);
    const long point = static_cast<long>(exp) + 1;  // digits before the decimal point
    if (point <= 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-point), '0');
        out += ds;
    } else if (static_cast<std::size_t>(point) >= k) {
        out += ds;
        out.append(static_cast<std::size_t>(point) - k, '0');
    } else {
        out += ds.substr(0, static_cast<std::size_t>(point));
        out += '.';
        out += ds.substr(static_cast<std::size_t>(point));
    }
}

template <typename Int>
void AppendInt(std::string& out, Int v) {
    char buf[32];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, res.ptr);
}

void AppendPrimitive(std::string& out, const json::value& v) {
    switch (v.kind()) {
        case json::kind::null:
            out += "null";
            return;
        case json::kind::bool_:
            out += v.get_bool() ? "true" : "false";
            return;
        case json::kind::int64:
            AppendInt(out, v.get_int64());
            return;
        case json::kind::uint64:
            AppendInt(out, v.get_uint64());
            return;
        case json::kind::double_:
            AppendCanonicalDouble(out, v.get_double());
            return;
        case json::kind::string:
            AppendString(out, v.get_string());
            return;
        case json::kind::array:
        case json::kind::object:
            break;
    }
    CONTEX_ASSERT(false && "AppendPrimitive called with a container");
}

bool AllPrimitive(const json::array& a) {
    for (const auto& e : a) {
        if (!IsPrimitive(e)) return false;
    }
    return true;
}

// Tabular form: every element an object with the first (non-empty) object's key set and
// only primitive values.
bool IsTabular(const json::array& a) {
    if (a.empty()) return false;
    const json::object* first = a.front().if_object();
    if (first == nullptr || first->empty()) return false;
    for (const auto& e : a) {
        const json::object* o = e.if_object();
        if (o == nullptr || o->size() != first->size()) return false;
        for (const auto& kv : *o) {
            if (!IsPrimitive(kv.value()) || first->find(kv.key()) == first->end()) return false;
        }
    }
    return true;
}

class Encoder {
  public:
    explicit Encoder(std::string& out) : out_(out) {}

    void Root(const json::value& v) {
        if (const json::object* o = v.if_object()) {
            Fields(*o, 0);
        } else if (const json::array* a = v.if_array()) {
            Array(0, false, nullptr, *a, 1, true);
        } else {
            AppendPrimitive(out_, v);
        }
    }

  private:
    void StartLine(int depth) {
        if (started_) out_ += '\n';
        started_ = true;
        out_.append(static_cast<std::size_t>(depth * kIndentWidth), ' ');
    }

    void Fields(const json::object& o, int depth) {
        for (const auto& kv : o) Field(depth, false, kv.key(), kv.value(), depth + 1);
    }

    // One `key…` field at `depth` (after "- " when `list_marker`); nested content goes
    // to `child_depth`.
    void Field(int depth, bool list_marker, std::string_view key, const json::value& v,
               int child_depth) {
        if (const json::array* a = v.if_array()) {
            Array(depth, list_marker, &key, *a, child_depth, true);
            return;
        }
        StartLine(depth);
        if (list_marker) out_ += "- ";
        AppendKey(out_, key);
        out_ += ':';
        if (const json::object* o = v.if_object()) {
            Fields(*o, child_depth);
        } else {
            out_ += ' ';
            AppendPrimitive(out_, v);
        }
    }

    void Array(int depth, bool list_marker, const std::string_view* key, const json::array& a,
               int child_depth, bool allow_tabular) {
        StartLine(depth);
        if (list_marker) out_ += "- ";
        if (key != nullptr) AppendKey(out_, *key);
        out_ += '[';
        AppendInt(out_, a.size());
        out_ += ']';
        if (AllPrimitive(a)) {
            out_ += ':';
            if (!a.empty()) out_ += ' ';
            Join(a);
            return;
        }
        if (allow_tabular && IsTabular(a)) {
            const json::object& first = a.front().get_object();
            out_ += '{';
            bool sep = false;
            for (const auto& kv : first) {
                if (sep) out_ += kComma;
                sep = true;
                AppendKey(out_, kv.key());
            }
            out_ += "}:";
            for (const auto& e : a) {
                const json::object& row = e.get_object();
                StartLine(child_depth);
                sep = false;
                for (const auto& kv : first) {
                    if (sep) out_ += kComma;
                    sep = true;
                    AppendPrimitive(out_, row.find(kv.key())->value());
                }
            }
            return;
        }
        out_ += ':';
        for (const auto& e : a) ListItem(e, child_depth);
    }

    void Join(const json::array& a) {
        bool sep = false;
        for (const auto& e : a) {
            if (sep) out_ += kComma;
            sep = true;
            AppendPrimitive(out_, e);
        }
    }

    void ListItem(const json::value& v, int depth) {
        if (const json::object* o = v.if_object()) {
            if (o->empty()) {
                StartLine(depth);
                out_ += '-';
                return;
            }
            // First field on the hyphen line, its content two levels deeper (so a
            // tabular first field's rows sit at depth + 2); the others at depth + 1.
            auto it = o->begin();
            Field(depth, true, it->key(), it->value(), depth + 2);
            for (++it; it != o->end(); ++it)
                Field(depth + 1, false, it->key(), it->value(), depth + 2);
        } else if (const json::array* a = v.if_array()) {
            // A keyless array item never uses the tabular header (later TOON versions
            // allow keyless field lists only at the root); list form decodes everywhere.
            Array(depth, true, nullptr, *a, depth + 1, false);
        } else {
            StartLine(depth);
            out_ += "- ";
            AppendPrimitive(out_, v);
        }
    }

    std::string& out_;
    bool started_ = false;
};

// ---------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------

struct Line {
    std::size_t number = 0;    // 1-based
    int depth = 0;             // indentation / 2
    std::string_view content;  // without indentation and trailing spaces
    bool blank = false;
};

struct Header {
    std::size_t length = 0;
    char delimiter = kComma;
    bool has_fields = false;
    std::vector<std::string> fields;
    std::size_t end = 0;  // index just past the header's ':'
};

Error LineError(std::size_t number, std::string_view message) {
    std::string m = "line ";
    m += std::to_string(number);
    m += ": ";
    m += message;
    return InvalidArgument(std::move(m));
}

Error LineError(const Line& line, std::string_view message) {
    return LineError(line.number, message);
}

std::string_view TrimSpaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::size_t SkipSpaces(std::string_view s, std::size_t i) {
    while (i < s.size() && s[i] == ' ') ++i;
    return i;
}

// Index of the first `ch` outside double-quoted strings, or npos.
std::size_t FindUnquoted(std::string_view s, char ch) {
    bool quoted = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quoted) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                quoted = false;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ch) {
            return i;
        }
    }
    return std::string_view::npos;
}

bool IsListItem(std::string_view content) {
    return content == "-" || (content.size() >= 2 && content[0] == '-' && content[1] == ' ');
}

// Decimal exponent of the leading non-zero digit of a numeric token ("1234.5" -> 3,
// "0.01" -> -2, "5e400" -> 400), saturated; 0 for a zero value.
long LeadingExponent(std::string_view t) {
    std::size_t i = (!t.empty() && t[0] == '-') ? 1 : 0;
    long position = 0;  // exponent of the digit at i
    std::size_t int_digits = 0;
    while (i + int_digits < t.size() && IsDigit(t[i + int_digits])) ++int_digits;
    long lead = 0;
    bool found = false;
    for (std::size_t k = 0; k < int_digits && !found; ++k) {
        if (t[i + k] != '0') {
            lead = static_cast<long>(int_digits - 1 - k);
            found = true;
        }
    }
    i += int_digits;
    if (i < t.size() && t[i] == '.') {
        ++i;
        position = -1;
        for (; i < t.size() && IsDigit(t[i]); ++i, --position) {
            if (!found && t[i] != '0') {
                lead = position;
                found = true;
            }
        }
    }
    if (!found) return 0;
    long exp = 0;
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        bool negative = false;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
        for (; i < t.size(); ++i) {
            if (exp < 1000000000L) exp = exp * 10 + (t[i] - '0');
        }
        if (negative) exp = -exp;
    }
    return lead + exp;
}

// A number for an unquoted numeric token, or nullopt when the token stays a string.
std::optional<json::value> ParseNumber(std::string_view t) {
    if (!LooksNumeric(t)) return std::nullopt;
    const std::size_t sign = t.front() == '-' ? 1 : 0;
    std::size_t int_end = sign;
    while (int_end < t.size() && IsDigit(t[int_end])) ++int_end;
    if (t[sign] == '0' && int_end - sign > 1) return std::nullopt;  // "05", "-0001"
    const char* first = t.data();
    const char* last = t.data() + t.size();
    if (int_end == t.size()) {
        std::int64_t i = 0;
        auto r = std::from_chars(first, last, i);
        if (r.ec == std::errc() && r.ptr == last) return json::value(i);
        if (sign == 0) {
            std::uint64_t u = 0;
            r = std::from_chars(first, last, u);
            if (r.ec == std::errc() && r.ptr == last) return json::value(u);
        }
    }
    double d = 0;
    const auto r = std::from_chars(first, last, d);
    if (r.ec == std::errc::result_out_of_range) {
        if (LeadingExponent(t) > 0) return std::nullopt;  // beyond double: keep the text
        d = 0;                                            // underflow
    } else if (r.ec != std::errc() || r.ptr != last) {
        return std::nullopt;
    }
    if (d == 0) d = 0;  // -0 -> 0
    return json::value(d);
}

class Parser {
  public:
    explicit Parser(std::vector<Line> lines) : lines_(std::move(lines)) {}

    Result<json::value> Document() {
        const Line* first = Peek();
        if (first == nullptr) return json::value(json::object());
        if (first->depth != 0) return LineError(*first, "unexpected indentation");
        if (first->content.front() == '[') {
            CONTEX_ASSIGN_OR_RETURN(std::optional<Header> header,
                                    ParseHeader(first->content, 0, *first));
            if (header) {
                const Line& line = *first;
                ++pos_;
                CONTEX_ASSIGN_OR_RETURN(
                    json::value root,
                    ParseArray(*header, TrimSpaces(line.content.substr(header->end)), line, 1, 1));
                if (const Line* extra = Peek()) {
                    return LineError(*extra, "unexpected line after the root array");
                }
                return root;
            }
        }
        if (FindUnquoted(first->content, ':') == std::string_view::npos) {
            const Line& line = *first;
            ++pos_;
            if (const Line* extra = Peek()) {
                if (extra->depth != 0) return LineError(*extra, "unexpected indentation");
                return LineError(line, "missing ':' after key");
            }
            return ParsePrimitive(TrimSpaces(line.content), line);
        }
        json::object root;
        CONTEX_TRY(ParseObjectInto(0, 1, root));
        if (const Line* extra = Peek()) return LineError(*extra, "unexpected line");
        return json::value(std::move(root));
    }

  private:
    // Next non-blank line (pos_ moves past blank lines), or nullptr at the end.
    const Line* Peek() {
        while (pos_ < lines_.size() && lines_[pos_].blank) ++pos_;
        return pos_ < lines_.size() ? &lines_[pos_] : nullptr;
    }

    // After Peek(): whether a blank line separates the next line from the previous one.
    bool PrecededByBlank() const { return pos_ > 0 && lines_[pos_ - 1].blank; }

    static Error TooDeep(const Line& line) {
        return LineError(line, "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }

    // Fields at `depth` into `obj` (a container at nesting `level`) until a line at a
    // smaller depth or the end.
    Status ParseObjectInto(int depth, int level, json::object& obj) {
        while (const Line* line = Peek()) {
            if (line->depth < depth) break;
            if (static_cast<std::size_t>(level) > kMaxJsonDepth) return TooDeep(*line);
            if (line->depth > depth) return LineError(*line, "unexpected indentation");
            if (IsListItem(line->content)) return LineError(*line, "list item outside an array");
            ++pos_;
            CONTEX_TRY(ParseField(*line, line->content, depth + 1, level, obj));
        }
        return OkStatus();
    }

    // One `key: value`, `key:` or `key[N…]…:` field from `content` into `obj` (at
    // nesting `level`); nested lines are expected at `child_depth`.
    Status ParseField(const Line& line, std::string_view content, int child_depth, int level,
                      json::object& obj) {
        std::string key;
        std::size_t pos = 0;
        const bool quoted_key = content.front() == '"';
        if (quoted_key) {
            CONTEX_ASSIGN_OR_RETURN(auto parsed, ParseQuoted(content, 0, line));
            key = std::move(parsed.first);
            pos = SkipSpaces(content, parsed.second);
        } else {
            pos = content.find_first_of(":[");
            if (pos == std::string_view::npos) return LineError(line, "missing ':' after key");
            key = std::string(TrimSpaces(content.substr(0, pos)));
        }
        std::optional<Header> header;
        if (pos < content.size() && content[pos] == '[') {
            CONTEX_ASSIGN_OR_RETURN(header, ParseHeader(content, pos, line));
            if (!header) {
                // Not a valid bracket segment: the whole pre-colon text is a literal key.
                if (quoted_key) return LineError(line, "missing ':' after key");
                pos = FindUnquoted(content, ':');
                if (pos == std::string_view::npos) return LineError(line, "missing ':' after key");
                key = std::string(TrimSpaces(content.substr(0, pos)));
            }
        }
        if (!quoted_key && key.empty()) return LineError(line, "missing key before ':'");
        json::value value;
        if (header) {
            CONTEX_ASSIGN_OR_RETURN(
                value, ParseArray(*header, TrimSpaces(content.substr(header->end)), line,
                                  child_depth, level + 1));
        } else {
            if (pos >= content.size() || content[pos] != ':') {
                return LineError(line, "missing ':' after key");
            }
            const std::string_view rest = TrimSpaces(content.substr(pos + 1));
            if (rest.empty()) {
                if (static_cast<std::size_t>(level) + 1 > kMaxJsonDepth) return TooDeep(line);
                json::object child;
                CONTEX_TRY(ParseObjectInto(child_depth, level + 1, child));
                value = std::move(child);
            } else {
                CONTEX_ASSIGN_OR_RETURN(value, ParsePrimitive(rest, line));
            }
        }
        obj.insert_or_assign(key, std::move(value));
        return OkStatus();
    }

    // `[N<delim?>]{fields}:` starting at s[pos] == '['. nullopt when the bracket is not a
    // valid length segment (the caller then reads a literal key); errors for a header
    // whose bracket is valid but whose field list or colon is malformed.
    static Result<std::optional<Header>> ParseHeader(std::string_view s, std::size_t pos,
                                                     const Line& line) {
        std::size_t i = pos + 1;
        const std::size_t digits = i;
        while (i < s.size() && IsDigit(s[i])) ++i;
        if (i == digits) return std::optional<Header>();
        Header h;
        const auto r = std::from_chars(s.data() + digits, s.data() + i, h.length);
        if (r.ec != std::errc()) return LineError(line, "array length out of range");
        if (i < s.size() && (s[i] == '\t' || s[i] == '|')) h.delimiter = s[i++];
        if (i >= s.size() || s[i] != ']') return std::optional<Header>();
        i = SkipSpaces(s, i + 1);
        if (i < s.size() && s[i] == '{') {
            const std::size_t close = FindUnquoted(s.substr(i), '}');
            if (close == std::string_view::npos) return LineError(line, "unterminated field list");
            CONTEX_TRY(ParseFieldNames(s.substr(i + 1, close - 1), h, line));
            h.has_fields = true;
            i = SkipSpaces(s, i + close + 1);
            if (i >= s.size() || s[i] != ':') {
                return LineError(line, "missing ':' after array header");
            }
        } else if (i >= s.size() || s[i] != ':') {
            return std::optional<Header>();
        }
        h.end = i + 1;
        return std::optional<Header>(std::move(h));
    }

    static Status ParseFieldNames(std::string_view s, Header& h, const Line& line) {
        std::size_t i = 0;
        while (true) {
            const std::size_t next = FindUnquoted(s.substr(i), h.delimiter);
            const std::string_view token =
                TrimSpaces(next == std::string_view::npos ? s.substr(i) : s.substr(i, next));
            if (token.empty()) return LineError(line, "empty field name in array header");
            if (token.front() == '"') {
                CONTEX_ASSIGN_OR_RETURN(auto parsed, ParseQuoted(token, 0, line));
                if (parsed.second != token.size()) {
                    return LineError(line, "unexpected text after a quoted field name");
                }
                h.fields.push_back(std::move(parsed.first));
            } else {
                if (token.find_first_of(",|\t") != std::string_view::npos) {
                    return LineError(line, "field list delimiter does not match the header");
                }
                h.fields.emplace_back(token);
            }
            if (next == std::string_view::npos) break;
            i += next + 1;
        }
        return OkStatus();
    }

    // The array declared by `h` on `line`; `rest` is the text after the header's colon.
    // Rows or list items are expected at `child_depth`; the array is at nesting `level`.
    Result<json::value> ParseArray(const Header& h, std::string_view rest, const Line& line,
                                   int child_depth, int level) {
        if (static_cast<std::size_t>(level) > kMaxJsonDepth) return TooDeep(line);
        json::array arr;
        if (h.has_fields) {
            if (!rest.empty()) return LineError(line, "unexpected text after a tabular header");
            CONTEX_TRY(ParseRows(h, line, child_depth, level, arr));
        } else if (!rest.empty()) {
            CONTEX_TRY(SplitValues(rest, h.delimiter, line, arr));
            if (arr.size() != h.length) {
                return LineError(line, "array declares " + std::to_string(h.length) +
                                           " values but has " + std::to_string(arr.size()));
            }
        } else if (h.length > 0) {
            CONTEX_TRY(ParseListItems(h, line, child_depth, level, arr));
        }
        return json::value(std::move(arr));
    }

    static bool IsRow(std::string_view content, char delimiter) {
        const std::size_t colon = FindUnquoted(content, ':');
        if (colon == std::string_view::npos) return true;
        const std::size_t delim = FindUnquoted(content, delimiter);
        return delim != std::string_view::npos && delim < colon;
    }

    Status ParseRows(const Header& h, const Line& header_line, int depth, int level,
                     json::array& arr) {
        if (static_cast<std::size_t>(level) + 1 > kMaxJsonDepth) return TooDeep(header_line);
        for (std::size_t i = 0; i < h.length; ++i) {
            const Line* line = Peek();
            if (line == nullptr || line->depth != depth || !IsRow(line->content, h.delimiter)) {
                return LineError(header_line, "array declares " + std::to_string(h.length) +
                                                  " rows but has " + std::to_string(i));
            }
            if (i > 0 && PrecededByBlank())
                return LineError(lines_[pos_ - 1], "blank line inside an array");
            ++pos_;
            json::array cells;
            CONTEX_TRY(SplitValues(line->content, h.delimiter, *line, cells));
            if (cells.size() != h.fields.size()) {
                return LineError(*line, "row has " + std::to_string(cells.size()) +
                                            " values but the header declares " +
                                            std::to_string(h.fields.size()) + " fields");
            }
            json::object row;
            for (std::size_t k = 0; k < cells.size(); ++k) {
                row.insert_or_assign(h.fields[k], std::move(cells[k]));
            }
            arr.emplace_back(std::move(row));
        }
        if (const Line* line = Peek();
            line != nullptr && line->depth == depth && IsRow(line->content, h.delimiter)) {
            return LineError(header_line,
                             "array declares " + std::to_string(h.length) + " rows but has more");
        }
        return OkStatus();
    }

    Status ParseListItems(const Header& h, const Line& header_line, int depth, int level,
                          json::array& arr) {
        for (std::size_t i = 0; i < h.length; ++i) {
            const Line* line = Peek();
            if (line == nullptr || line->depth != depth || !IsListItem(line->content)) {
                return LineError(header_line, "array declares " + std::to_string(h.length) +
                                                  " items but has " + std::to_string(i));
            }
            if (i > 0 && PrecededByBlank())
                return LineError(lines_[pos_ - 1], "blank line inside an array");
            ++pos_;
            CONTEX_ASSIGN_OR_RETURN(json::value item, ParseListItem(*line, depth, level + 1));
            arr.emplace_back(std::move(item));
        }
        if (const Line* line = Peek();
            line != nullptr && line->depth == depth && IsListItem(line->content)) {
            return LineError(header_line,
                             "array declares " + std::to_string(h.length) + " items but has more");
        }
        return OkStatus();
    }

    // One `- …` item at `depth`; containers it opens are at nesting `level`.
    Result<json::value> ParseListItem(const Line& line, int depth, int level) {
        if (line.content == "-") {
            // Empty object; fields on the following lines (the v2.1 bare-hyphen form)
            // are accepted too.
            if (static_cast<std::size_t>(level) > kMaxJsonDepth) return TooDeep(line);
            json::object obj;
            CONTEX_TRY(ParseObjectInto(depth + 1, level, obj));
            return json::value(std::move(obj));
        }
        const std::string_view rest = TrimSpaces(line.content.substr(2));
        if (rest.empty()) return LineError(line, "empty list item");
        if (rest.front() == '[') {
            CONTEX_ASSIGN_OR_RETURN(std::optional<Header> header, ParseHeader(rest, 0, line));
            if (header) {
                return ParseArray(*header, TrimSpaces(rest.substr(header->end)), line, depth + 1,
                                  level);
            }
        }
        if (FindUnquoted(rest, ':') == std::string_view::npos) return ParsePrimitive(rest, line);
        if (static_cast<std::size_t>(level) > kMaxJsonDepth) return TooDeep(line);
        json::object obj;
        CONTEX_TRY(ParseField(line, rest, depth + 2, level, obj));
        CONTEX_TRY(ParseObjectInto(depth + 1, level, obj));
        return json::value(std::move(obj));
    }

    // Quoted string starting at s[pos] == '"': the unescaped text and the index just
    // past the closing quote.
    static Result<std::pair<std::string, std::size_t>> ParseQuoted(std::string_view s,
                                                                   std::size_t pos,
                                                                   const Line& line) {
        std::string text;
        for (std::size_t i = pos + 1; i < s.size(); ++i) {
            const char c = s[i];
            if (c == '"') return std::make_pair(std::move(text), i + 1);
            if (c != '\\') {
                text += c;
                continue;
            }
            if (++i >= s.size()) break;
            switch (s[i]) {
                case '\\':
                    text += '\\';
                    break;
                case '"':
                    text += '"';
                    break;
                case 'n':
                    text += '\n';
                    break;
                case 'r':
                    text += '\r';
                    break;
                case 't':
                    text += '\t';
                    break;
                default:
                    return LineError(line, std::string("invalid escape \\") + s[i]);
            }
        }
        return LineError(line, "unterminated string");
    }

    // A single value token (already trimmed): quoted string, literal or number, or an
    // unquoted string.
    static Result<json::value> ParsePrimitive(std::string_view token, const Line& line) {
        if (token.empty()) return json::value(json::string());
        if (token.front() == '"') {
            CONTEX_ASSIGN_OR_RETURN(auto parsed, ParseQuoted(token, 0, line));
            if (!TrimSpaces(token.substr(parsed.second)).empty()) {
                return LineError(line, "unexpected text after a quoted string");
            }
            return json::value(json::string(parsed.first));
        }
        if (token == "true") return json::value(true);
        if (token == "false") return json::value(false);
        if (token == "null") return json::value(nullptr);
        if (std::optional<json::value> number = ParseNumber(token)) return std::move(*number);
        return json::value(json::string(token));
    }

    // Splits an inline array or tabular row on `delimiter` outside quotes; every token
    // (empty ones included) becomes a primitive.
    static Status SplitValues(std::string_view s, char delimiter, const Line& line,
                              json::array& out) {
        std::size_t i = 0;
        while (true) {
            while (i < s.size() && (s[i] == ' ' || (s[i] == '\t' && delimiter != '\t'))) ++i;
            std::size_t next = 0;
            if (i < s.size() && s[i] == '"') {
                CONTEX_ASSIGN_OR_RETURN(auto parsed, ParseQuoted(s, i, line));
                next = parsed.second;
                while (next < s.size() &&
                       (s[next] == ' ' || (s[next] == '\t' && delimiter != '\t')))
                    ++next;
                if (next < s.size() && s[next] != delimiter) {
                    return LineError(line, "unexpected text after a quoted value");
                }
                out.emplace_back(json::string(parsed.first));
            } else {
                next = s.find(delimiter, i);
                const std::string_view token =
                    next == std::string_view::npos ? s.substr(i) : s.substr(i, next - i);
                CONTEX_ASSIGN_OR_RETURN(json::value v, ParsePrimitive(TrimSpaces(token), line));
                out.emplace_back(std::move(v));
            }
            if (next == std::string_view::npos || next >= s.size()) break;
            i = next + 1;
        }
        return OkStatus();
    }

    std::vector<Line> lines_;
    std::size_t pos_ = 0;
};

Result<std::vector<Line>> SplitLines(std::string_view text) {
    std::vector<Line> lines;
    std::size_t number = 0;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view raw = text.substr(start, end - start);
        start = end + 1;
        ++number;
        if (!IsValidUtf8(raw)) return LineError(number, "invalid UTF-8");
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        while (!raw.empty() && raw.back() == ' ') raw.remove_suffix(1);
        Line line;
        line.number = number;
        if (TrimSpaces(raw).empty()) {
            line.blank = true;
            lines.push_back(line);
            continue;
        }
        std::size_t indent = 0;
        while (raw[indent] == ' ') ++indent;
        if (raw[indent] == '\t') return LineError(number, "tab used for indentation");
        if (indent % kIndentWidth != 0) {
            return LineError(number, "indentation is not a multiple of 2 spaces");
        }
        line.depth = static_cast<int>(indent / kIndentWidth);
        line.content = raw.substr(indent);
        lines.push_back(line);
    }
    return lines;
}

}  // namespace

std::string ToToon(const json::value& value) {
    std::string out;
    Encoder(out).Root(value);
    return out;
}

Result<json::value> ParseToon(std::string_view text) {
    CONTEX_ASSIGN_OR_RETURN(std::vector<Line> lines, SplitLines(text));
    return Parser(std::move(lines)).Document();
}

}  // namespace contex::engine
