// Source code -> preamble / function / class / code_block units (engine.md §1.7).
//
// Units are found by line rules, not by parsing the language: a unit starts at a line
// with no indentation that opens a definition; decorator, attribute and comment lines
// directly above it belong to it; it runs until the next unit start.
#include <cctype>
#include <map>
#include <set>

#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::internal {
namespace {

bool IsIdentChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
           (static_cast<unsigned char>(c) >= 0x80);
}

std::string_view Ident(std::string_view s) {
    std::size_t k = 0;
    while (k < s.size() && IsIdentChar(s[k])) ++k;
    return s.substr(0, k);
}

std::string_view SkipWs(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return s;
}

// Consumes `word` followed by whitespace (or end) at the start of `s`.
bool Word(std::string_view& s, std::string_view word) {
    if (!StartsWith(s, word)) return false;
    if (s.size() > word.size() && s[word.size()] != ' ' && s[word.size()] != '\t') return false;
    s = SkipWs(s.substr(word.size()));
    return true;
}

// Skips a balanced <...> or (...) group at the start of `s`.
std::string_view SkipGroup(std::string_view s, char open, char close) {
    if (s.empty() || s.front() != open) return s;
    int depth = 0;
    for (std::size_t k = 0; k < s.size(); ++k) {
        if (s[k] == open) ++depth;
        if (s[k] == close && --depth == 0) return SkipWs(s.substr(k + 1));
    }
    return {};
}

struct UnitStart {
    NodeType type = NodeType::kCodeBlock;
    std::string kind;
    std::string name;
};

bool CLike(const std::string& lang) {
    static const std::set<std::string> kCLike = {"c",     "cpp",   "java",  "csharp", "kotlin",
                                                 "swift", "scala", "php",   "unknown"};
    return kCLike.count(lang) > 0;
}

bool HashComments(const std::string& lang) {
    return lang == "python" || lang == "shell" || lang == "ruby" || lang == "unknown";
}

// A class-like name must be followed by something a declaration has, so that prose
// such as "class is cancelled" is not a definition.
bool DeclarationTail(std::string_view rest) {
    rest = SkipWs(rest);
    if (rest.empty()) return true;
    char c = rest.front();
    if (c == ':' || c == '(' || c == '{' || c == '<' || c == '[' || c == '=') return true;
    for (std::string_view w : {"extends", "implements", "where", "final", "for", "struct",
                               "interface", "sealed", "permits"}) {
        if (StartsWith(rest, w)) return true;
    }
    return false;
}

const std::set<std::string_view>& ControlWords() {
    static const std::set<std::string_view> kWords = {
        "if", "for", "while", "switch", "return", "catch", "sizeof", "else", "do", "case",
        "elif", "with", "foreach", "until", "typedef", "using", "throw", "new", "delete"};
    return kWords;
}

std::optional<UnitStart> MatchUnit(std::string_view line, const std::string& lang,
                                   bool detection) {
    if (line.empty() || line.front() == ' ' || line.front() == '\t') return std::nullopt;
    std::string_view s = line;
    std::string_view trimmed = TrimView(line);
    if (StartsWith(s, "#") || StartsWith(s, "//") || StartsWith(s, "/*") ||
        StartsWith(s, "*") || StartsWith(s, "@") || StartsWith(s, "}")) {
        return std::nullopt;
    }
    // Shell: name() {   /   function name
    if (lang == "shell" || lang == "unknown") {
        std::string_view id = Ident(s);
        if (!id.empty()) {
            std::string_view rest = SkipWs(s.substr(id.size()));
            if (StartsWith(rest, "()") && EndsWith(trimmed, "{")) {
                return UnitStart{NodeType::kFunction, "function", std::string(id)};
            }
        }
    }
    bool exported = false;
    while (true) {
        if (Word(s, "export")) {
            exported = true;
            Word(s, "default");
            continue;
        }
        bool any = false;
        for (std::string_view m :
             {"public", "private", "protected", "internal", "static", "final", "abstract",
              "async", "pub", "pub(crate)", "pub(super)", "unsafe", "extern", "inline",
              "virtual", "sealed", "open", "override", "data", "partial", "declare"}) {
            if (Word(s, m)) any = true;
        }
        if (StartsWith(s, "pub(")) {  // pub(in path)
            s = SkipGroup(s.substr(3), '(', ')');
            any = true;
        }
        if (!any) break;
    }
    std::string_view rest = s;
    // Function keywords: def, function, fn, func, fun (need a parameter list).
    for (std::string_view kw : {"def", "function", "function*", "fn", "func", "fun"}) {
        std::string_view r = rest;
        if (!Word(r, kw)) continue;
        if (trimmed.find('(') == std::string_view::npos && kw != "function") break;
        if (!r.empty() && r.front() == '(' && kw == "func") r = SkipGroup(r, '(', ')');  // Go receiver
        if (!r.empty() && r.front() == '*') r = SkipWs(r.substr(1));
        std::string_view name = Ident(r);
        if (name.empty()) break;
        if (kw == "function" && trimmed.find('(') == std::string_view::npos) {
            // shell: `function name` (with or without braces)
            if (lang != "shell" && lang != "unknown") break;
        }
        return UnitStart{NodeType::kFunction, "function", std::string(name)};
    }
    // Class-like keywords.
    struct ClassKw {
        std::string_view word;
        const char* kind;
        NodeType type;
    };
    static const ClassKw kClassKws[] = {
        {"class", "class", NodeType::kClass},         {"struct", "struct", NodeType::kClass},
        {"interface", "interface", NodeType::kClass}, {"trait", "trait", NodeType::kClass},
        {"enum", "enum", NodeType::kClass},           {"protocol", "protocol", NodeType::kClass},
        {"object", "object", NodeType::kClass},       {"record", "record", NodeType::kClass},
        {"union", "union", NodeType::kClass},         {"namespace", "namespace", NodeType::kCodeBlock},
        {"mod", "mod", NodeType::kCodeBlock},         {"module", "module", NodeType::kCodeBlock},
    };
    for (const auto& ck : kClassKws) {
        std::string_view r = rest;
        if (!Word(r, ck.word)) continue;
        if (ck.word == "object" && lang != "scala" && lang != "kotlin") break;
        if (ck.word == "module" && lang != "ruby") break;
        if (EndsWith(trimmed, ";") && ck.word != "mod") break;  // forward declaration
        std::string_view name = Ident(r);
        if (name.empty()) {
            if (ck.word == "namespace" && EndsWith(trimmed, "{")) {
                return UnitStart{NodeType::kCodeBlock, "namespace", ""};
            }
            break;
        }
        if (!DeclarationTail(r.substr(name.size()))) break;
        return UnitStart{ck.type, ck.kind, std::string(name)};
    }
    // Rust impl blocks: impl<T> Trait for Type {
    {
        std::string_view r = rest;
        if (Word(r, "impl") || (StartsWith(r, "impl<") && (r = r.substr(4), true))) {
            r = SkipGroup(r, '<', '>');
            std::string name;
            while (!r.empty() && r.front() != '{') {
                std::string_view id = Ident(r);
                if (id.empty()) {
                    if (r.front() == '<') {
                        r = SkipGroup(r, '<', '>');
                    } else {
                        r = SkipWs(r.substr(1));
                    }
                    continue;
                }
                if (!name.empty()) name += '_';
                name.append(id);
                r = SkipWs(r.substr(id.size()));
            }
            if (!name.empty()) return UnitStart{NodeType::kClass, "impl", name};
        }
    }
    // TypeScript / Go: type X = ... ; type X struct {...}
    {
        std::string_view r = rest;
        if (Word(r, "type")) {
            std::string_view name = Ident(r);
            if (!name.empty()) {
                std::string_view tail = SkipWs(SkipGroup(SkipWs(r.substr(name.size())), '<', '>'));
                if (StartsWith(tail, "=") || StartsWith(tail, "struct") ||
                    StartsWith(tail, "interface") || StartsWith(tail, "func") ||
                    (lang == "go" && !tail.empty())) {
                    const char* kind = StartsWith(tail, "struct")      ? "struct"
                                       : StartsWith(tail, "interface") ? "interface"
                                                                       : "type";
                    return UnitStart{NodeType::kClass, kind, std::string(name)};
                }
            }
        }
    }
    // const X = (...) =>   /   export const X = ...
    {
        std::string_view r = rest;
        if (Word(r, "const") || Word(r, "let") || Word(r, "var")) {
            std::string_view name = Ident(r);
            if (!name.empty() && StartsWith(rest, "const")) {
                std::string_view tail = SkipWs(r.substr(name.size()));
                if (!tail.empty() && tail.front() == ':') {  // TS type annotation
                    std::size_t eq = tail.find('=');
                    tail = eq == std::string_view::npos ? std::string_view{} : tail.substr(eq);
                }
                if (StartsWith(tail, "=") && !StartsWith(tail, "==")) {
                    std::string_view value = SkipWs(tail.substr(1));
                    bool arrow = line.find("=>") != std::string_view::npos &&
                                 (StartsWith(value, "(") || StartsWith(value, "async") ||
                                  Ident(value).size() > 0);
                    if (arrow) return UnitStart{NodeType::kFunction, "function", std::string(name)};
                    if (exported) return UnitStart{NodeType::kCodeBlock, "const", std::string(name)};
                }
            }
        }
    }
    // C-like function definitions: a line containing '(' and ending in '{' or ')'.
    if (CLike(lang) && trimmed.find('(') != std::string_view::npos &&
        (EndsWith(trimmed, "{") || (!detection && EndsWith(trimmed, ")")))) {
        std::string_view before = trimmed.substr(0, trimmed.find('('));
        while (!before.empty() && (before.back() == ' ' || before.back() == '\t')) {
            before.remove_suffix(1);
        }
        std::size_t k = before.size();
        while (k > 0 && (IsIdentChar(before[k - 1]) || before[k - 1] == ':' ||
                         before[k - 1] == '~')) {
            --k;
        }
        std::string_view name = before.substr(k);
        if (name.find("::") != std::string_view::npos) {
            name = name.substr(name.rfind("::") + 2);
        }
        if (!name.empty() && !ControlWords().count(name) && name.find('=') == std::string_view::npos &&
            trimmed.find('=') == std::string_view::npos) {
            return UnitStart{NodeType::kFunction, "function", std::string(name)};
        }
    }
    return std::nullopt;
}

// Lines directly above a unit start that belong to it.
bool Attachable(std::string_view line, const std::string& lang) {
    if (line.empty() || line.front() == ' ' || line.front() == '\t') {
        // Indented comment continuation lines of a block comment (" * ...").
        std::string_view t = TrimView(line);
        return StartsWith(t, "*");
    }
    if (StartsWith(line, "@") || StartsWith(line, "#[") || StartsWith(line, "//") ||
        StartsWith(line, "/*") || StartsWith(line, "*") || StartsWith(line, "template")) {
        return true;
    }
    if (StartsWith(line, "#") && HashComments(lang) && !StartsWith(line, "#!")) return true;
    if (StartsWith(line, "--") && lang == "sql") return true;
    return false;
}

std::string ShebangLanguage(std::string_view first_line) {
    std::string_view s = SkipWs(first_line.substr(2));
    std::string_view prog = s.substr(0, s.find_first_of(" \t"));
    std::string_view base = prog.substr(prog.rfind('/') == std::string_view::npos
                                            ? 0
                                            : prog.rfind('/') + 1);
    if (base == "env") {
        std::string_view rest = SkipWs(s.substr(prog.size()));
        while (StartsWith(rest, "-")) {
            std::size_t sp = rest.find_first_of(" \t");
            rest = sp == std::string_view::npos ? std::string_view{} : SkipWs(rest.substr(sp));
        }
        base = rest.substr(0, rest.find_first_of(" \t"));
    }
    if (StartsWith(base, "python")) return "python";
    if (base == "node" || base == "nodejs" || base == "deno" || base == "bun") return "javascript";
    if (base == "ts-node") return "typescript";
    if (base == "bash" || base == "sh" || base == "zsh" || base == "ksh" || base == "dash") {
        return "shell";
    }
    if (base == "ruby") return "ruby";
    if (base == "php") return "php";
    return "unknown";
}

std::size_t CountOccurrences(std::string_view text, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t pos = text.find(needle); pos != std::string_view::npos;
         pos = text.find(needle, pos + needle.size())) {
        ++n;
    }
    return n;
}

struct Unit {
    std::size_t begin;  // first line (attached lines included)
    UnitStart start;
};

class CodeSplitter {
public:
    CodeSplitter(Emitter& emitter, std::string language)
        : emitter_(emitter), language_(std::move(language)) {}

    void Run(std::string_view text) {
        std::string normalized = NormalizeNewlines(text);
        lines_ = SplitLines(normalized);
        std::vector<Unit> units = language_ == "sql" ? SqlUnits() : Units();
        if (units.empty()) {
            Fallback(normalized);
            return;
        }
        if (units.front().begin > 0) EmitRange(0, units.front().begin, nullptr);
        for (std::size_t u = 0; u < units.size(); ++u) {
            std::size_t end = u + 1 < units.size() ? units[u + 1].begin : lines_.size();
            EmitRange(units[u].begin, end, &units[u].start);
        }
    }

private:
    std::vector<Unit> Units() const {
        std::vector<Unit> units;
        std::size_t floor = 0;  // attached lines may not reach into the previous start line
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            auto start = MatchUnit(lines_[i], language_, false);
            if (!start) continue;
            std::size_t b = i;
            while (b > floor && Attachable(lines_[b - 1], language_) && !IsBlank(lines_[b - 1])) {
                --b;
            }
            units.push_back({b, std::move(*start)});
            floor = i + 1;
        }
        return units;
    }

    std::vector<Unit> SqlUnits() const {
        std::vector<Unit> units;
        bool in_statement = false;
        for (std::size_t i = 0; i < lines_.size(); ++i) {
            if (IsBlank(lines_[i])) continue;
            if (!in_statement) {
                units.push_back({i, UnitStart{NodeType::kCodeBlock, "statement", ""}});
                in_statement = true;
            }
            std::string_view t = TrimView(lines_[i]);
            std::size_t comment = t.find("--");
            if (comment != std::string_view::npos) t = TrimView(t.substr(0, comment));
            if (EndsWith(t, ";")) in_statement = false;
        }
        bool any_terminated = false;
        for (const auto& l : lines_) {
            if (EndsWith(TrimView(l), ";")) any_terminated = true;
        }
        if (!any_terminated) units.clear();
        return units;
    }

    json::object Metadata(const std::string& kind, const json::value& name, std::size_t first,
                          std::size_t last) const {
        json::object meta;
        meta["language"] = json::string(language_);
        meta["kind"] = json::string(kind);
        meta["name"] = name;
        meta["start_line"] = static_cast<std::int64_t>(first + 1);
        meta["end_line"] = static_cast<std::int64_t>(last + 1);
        return meta;
    }

    void EmitRange(std::size_t b, std::size_t e, const UnitStart* start) {
        while (b < e && IsBlank(lines_[b])) ++b;
        while (e > b && IsBlank(lines_[e - 1])) --e;
        if (b >= e) return;
        std::string body;
        for (std::size_t k = b; k < e; ++k) {
            if (k > b) body += '\n';
            body.append(lines_[k]);
        }
        std::string_view content = TrimView(body);
        if (start == nullptr) {
            emitter_.AddText("preamble", NodeType::kCodeBlock, content, {emitter_.title()},
                             Metadata("preamble", nullptr, b, e - 1), Emitter::ChunkMode::kLines);
            return;
        }
        std::string path;
        std::vector<std::string> prefix{emitter_.title()};
        if (start->type == NodeType::kCodeBlock) {
            path = "code_block_" + std::to_string(blocks_++);
        } else {
            std::string name = SanitizeName(start->name);
            if (name.empty()) name = "unnamed";
            path = (start->type == NodeType::kFunction ? "function_" : "class_") + name;
            int& seen = names_[path];
            std::string candidate = path;
            if (seen == 0) seen = 1;
            // Suffix until unique: `f`, `f`, `f_2` must not produce two `function_f_2`.
            while (used_.count(candidate)) candidate = path + "_" + std::to_string(++seen);
            path = std::move(candidate);
            used_.insert(path);
            prefix.push_back(start->kind + " " + start->name);
        }
        json::value name = start->name.empty() ? json::value(nullptr) : json::string(start->name);
        emitter_.AddText(path, start->type, content, prefix,
                         Metadata(start->kind, name, b, e - 1), Emitter::ChunkMode::kLines);
    }

    // No unit: the whole text is chunked, each chunk a code_block_{i}.
    void Fallback(std::string_view normalized) {
        std::string_view content = TrimView(normalized);
        if (content.empty()) return;
        std::vector<std::string_view> chunks = ChunkText(content, Limit(), Emitter::ChunkMode::kLines,
                                                         emitter_.options().count_tokens);
        // Line numbers are counted incrementally: chunks come in document order.
        std::size_t counted_to = 0, line = 0;
        for (std::string_view chunk : chunks) {
            std::size_t offset = static_cast<std::size_t>(chunk.data() - normalized.data());
            line += CountOccurrences(normalized.substr(counted_to, offset - counted_to), "\n");
            counted_to = offset;
            std::size_t first = line;
            std::size_t last = first + CountOccurrences(chunk, "\n");
            std::string path = "code_block_" + std::to_string(blocks_++);
            emitter_.AddText(path, NodeType::kCodeBlock, chunk, {emitter_.title()},
                             Metadata("block", nullptr, first, last), Emitter::ChunkMode::kLines);
        }
    }

    std::size_t Limit() const {
        const ParseOptions& o = emitter_.options();
        std::size_t title_tokens = o.count_tokens
                                       ? o.count_tokens(emitter_.title())
                                       : (CountOccurrences(emitter_.title(), " ") + 1) * 4 / 3 + 1;
        long long room = static_cast<long long>(o.max_seq_tokens) - 2 -
                         static_cast<long long>(title_tokens);
        return static_cast<std::size_t>(
            std::max<long long>(1, std::min<long long>(room, o.chunk_max_tokens)));
    }

    Emitter& emitter_;
    std::string language_;
    std::vector<std::string_view> lines_;
    std::size_t blocks_ = 0;
    std::map<std::string, int> names_;
    std::set<std::string> used_;
};

}  // namespace

std::string DetectLanguage(std::string_view text) {
    std::string_view t = TrimView(text);
    if (StartsWith(t, "#!")) {
        std::string lang = ShebangLanguage(t.substr(0, t.find('\n')));
        if (lang != "unknown") return lang;
    }
    std::size_t python = CountOccurrences(t, "def ") + CountOccurrences(t, "import ") +
                         CountOccurrences(t, "elif ");
    std::size_t js = CountOccurrences(t, "function ") + CountOccurrences(t, "const ") +
                     CountOccurrences(t, "=>");
    std::size_t ts_markers = CountOccurrences(t, "interface ") + CountOccurrences(t, ": string");
    std::size_t go = CountOccurrences(t, "func ") + CountOccurrences(t, "package ");
    std::size_t rust = CountOccurrences(t, "fn ") + CountOccurrences(t, "impl ") +
                       CountOccurrences(t, "let mut ");
    std::size_t best = std::max({python, js, go, rust});
    if (best == 0) return "unknown";
    if (python == best) return "python";
    if (js == best) return ts_markers > 0 ? "typescript" : "javascript";
    if (go == best) return "go";
    return "rust";
}

std::string SplitCode(std::string_view text, std::string language, Emitter& emitter) {
    if (language.empty()) language = DetectLanguage(text);
    CodeSplitter(emitter, language).Run(text);
    return language;
}

bool LooksLikeCode(std::string_view text) {
    std::vector<std::string_view> lines = SplitLines(text);
    if (lines.empty()) return false;
    if (StartsWith(TrimView(lines[0]), "#!")) return true;
    std::size_t defs = 0, braces = 0;
    for (auto line : lines) {
        if (MatchUnit(line, "unknown", true)) {
            ++defs;
        } else {
            std::string_view t = TrimView(line);
            if (EndsWith(t, "{") || EndsWith(t, "}") || EndsWith(t, ";")) ++braces;
        }
        if (defs >= 2 || (defs >= 1 && braces >= 1)) return true;
    }
    return false;
}

}  // namespace contex::ingest::internal
