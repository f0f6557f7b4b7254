// Markdown -> heading / paragraph / list / table / code_block nodes (engine.md §1.7).
//
// A line scanner rather than md4c: the spec defines blocks by their source lines (list
// and table texts keep their markers and pipes, headings build section paths, setext and
// front matter are line rules), and md4c's callbacks expose rendered spans, not the source
// ranges those texts need. The scanner is linear in the input and allocation-light.
#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::internal {
namespace {

std::size_t LeadingSpaces(std::string_view line) {
    std::size_t k = 0;
    while (k < line.size() && line[k] == ' ') ++k;
    return k;
}

bool IsWs(char c) { return c == ' ' || c == '\t'; }

// ATX heading `^ {0,3}#{1,6}\s+\S`.
bool AtxHeading(std::string_view line, int* level, std::string* title) {
    std::size_t k = LeadingSpaces(line);
    if (k > 3) return false;
    std::size_t hashes = 0;
    while (k + hashes < line.size() && line[k + hashes] == '#') ++hashes;
    if (hashes < 1 || hashes > 6) return false;
    std::size_t p = k + hashes;
    if (p >= line.size() || !IsWs(line[p])) return false;
    std::string_view rest = TrimView(line.substr(p));
    if (rest.empty()) return false;
    if (level) *level = static_cast<int>(hashes);
    if (title) {
        // Optional closing sequence: spaces then #'s at the end.
        std::size_t e = rest.size();
        while (e > 0 && rest[e - 1] == '#') --e;
        if (e < rest.size() && (e == 0 || IsWs(rest[e - 1]))) rest = TrimView(rest.substr(0, e));
        *title = std::string(rest);
    }
    return true;
}

struct Fence {
    char ch = 0;
    std::size_t count = 0;
    std::size_t indent = 0;
    std::string info;
};

bool FenceOpen(std::string_view line, Fence* fence) {
    std::size_t k = LeadingSpaces(line);
    if (k > 3 || k >= line.size()) return false;
    char ch = line[k];
    if (ch != '`' && ch != '~') return false;
    std::size_t count = 0;
    while (k + count < line.size() && line[k + count] == ch) ++count;
    if (count < 3) return false;
    std::string_view info = TrimView(line.substr(k + count));
    if (ch == '`' && info.find('`') != std::string_view::npos) return false;
    if (fence) {
        fence->ch = ch;
        fence->count = count;
        fence->indent = k;
        std::size_t sp = 0;
        while (sp < info.size() && !IsWs(info[sp])) ++sp;
        fence->info = std::string(info.substr(0, sp));
    }
    return true;
}

bool FenceClose(std::string_view line, const Fence& fence) {
    std::size_t k = LeadingSpaces(line);
    if (k > 3) return false;
    std::size_t count = 0;
    while (k + count < line.size() && line[k + count] == fence.ch) ++count;
    return count >= fence.count && TrimView(line.substr(k + count)).empty();
}

bool ThematicBreak(std::string_view line) {
    std::size_t k = LeadingSpaces(line);
    if (k > 3 || k >= line.size()) return false;
    char ch = line[k];
    if (ch != '-' && ch != '*' && ch != '_') return false;
    std::size_t count = 0;
    for (std::size_t i = k; i < line.size(); ++i) {
        if (line[i] == ch) {
            ++count;
        } else if (!IsWs(line[i])) {
            return false;
        }
    }
    return count >= 3;
}

// `-`, `*`, `+`, or digits followed by `.` or `)`, then a space and text.
bool ListItem(std::string_view line, std::size_t max_indent, bool* ordered_one = nullptr) {
    std::size_t k = Indentation(line);
    if (k > max_indent) return false;
    std::string_view t = line.substr(LeadingSpaces(line));
    while (!t.empty() && t.front() == '\t') t.remove_prefix(1);
    std::size_t m = 0;
    if (!t.empty() && (t[0] == '-' || t[0] == '*' || t[0] == '+')) {
        m = 1;
        if (ordered_one) *ordered_one = false;
    } else {
        std::size_t d = 0;
        while (d < t.size() && d < 9 && t[d] >= '0' && t[d] <= '9') ++d;
        if (d == 0 || d >= t.size() || (t[d] != '.' && t[d] != ')')) return false;
        if (ordered_one) *ordered_one = (d == 1 && t[0] == '1');
        m = d + 1;
    }
    if (m >= t.size() || !IsWs(t[m])) return false;
    return !TrimView(t.substr(m)).empty();
}

bool SetextUnderline(std::string_view line, int* level) {
    std::size_t k = LeadingSpaces(line);
    if (k > 3) return false;
    std::string_view t = TrimView(line);
    if (t.size() < 3) return false;
    char ch = t[0];
    if (ch != '=' && ch != '-') return false;
    for (char c : t) {
        if (c != ch) return false;
    }
    if (level) *level = ch == '=' ? 1 : 2;
    return true;
}

bool TableDelimiterRow(std::string_view line) {
    std::string_view t = TrimView(line);
    if (t.find('|') == std::string_view::npos || t.find('-') == std::string_view::npos) {
        return false;
    }
    if (!t.empty() && t.front() == '|') t.remove_prefix(1);
    if (!t.empty() && t.back() == '|') t.remove_suffix(1);
    for (auto cell : Split(t, '|')) {
        std::string_view c = TrimView(cell);
        if (c.empty()) return false;
        if (c.front() == ':') c.remove_prefix(1);
        if (!c.empty() && c.back() == ':') c.remove_suffix(1);
        if (c.empty()) return false;
        for (char ch : c) {
            if (ch != '-') return false;
        }
    }
    return true;
}

bool TableStart(const std::vector<std::string_view>& lines, std::size_t i) {
    return lines[i].find('|') != std::string_view::npos && i + 1 < lines.size() &&
           TableDelimiterRow(lines[i + 1]);
}

std::string_view StripBlockquote(std::string_view line) {
    while (true) {
        std::size_t k = LeadingSpaces(line);
        if (k > 3 || k >= line.size() || line[k] != '>') return line;
        line.remove_prefix(k + 1);
        if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    }
}

std::string JoinLines(const std::vector<std::string_view>& lines, std::size_t b, std::size_t e) {
    std::string out;
    for (std::size_t k = b; k < e; ++k) {
        if (k > b) out += '\n';
        out.append(lines[k]);
    }
    return std::string(TrimView(out));
}

class MarkdownSplitter {
public:
    MarkdownSplitter(Emitter& emitter, std::size_t max_yaml_values)
        : emitter_(emitter), max_yaml_values_(max_yaml_values) {}

    void Run(std::string_view text) {
        std::string normalized = NormalizeNewlines(text);
        std::vector<std::string_view> lines = SplitLines(normalized);
        std::size_t i = FrontMatter(lines);
        const std::size_t n = lines.size();
        while (i < n) {
            std::string_view line = lines[i];
            int level = 0;
            std::string title;
            Fence fence;
            if (IsBlank(line)) {
                ++i;
            } else if (AtxHeading(line, &level, &title)) {
                Heading(level, title);
                ++i;
            } else if (FenceOpen(line, &fence)) {
                std::size_t j = i + 1;
                std::string code;
                bool first = true;
                while (j < n && !FenceClose(lines[j], fence)) {
                    std::string_view l = lines[j];
                    std::size_t strip = std::min(fence.indent, LeadingSpaces(l));
                    if (!first) code += '\n';
                    first = false;
                    code.append(l.substr(strip));
                    ++j;
                }
                json::object meta;
                meta["language"] = fence.info.empty() ? "text" : json::string(fence.info);
                Block("code_block", NodeType::kCodeBlock, TrimView(code), std::move(meta),
                      Emitter::ChunkMode::kLines);
                i = j < n ? j + 1 : n;
            } else if (TableStart(lines, i)) {
                std::size_t j = i + 2;
                while (j < n && !IsBlank(lines[j]) && lines[j].find('|') != std::string_view::npos) {
                    ++j;
                }
                Block("table", NodeType::kTable, JoinLines(lines, i, j), {},
                      Emitter::ChunkMode::kLines);
                i = j;
            } else if (ThematicBreak(line)) {
                ++i;
            } else if (ListItem(line, 3)) {
                std::size_t j = i + 1;
                while (j < n) {
                    if (IsBlank(lines[j])) {
                        std::size_t k = j;
                        while (k < n && IsBlank(lines[k])) ++k;
                        if (k < n && (ListItem(lines[k], 3) || Indentation(lines[k]) >= 2)) {
                            j = k;
                            continue;
                        }
                        break;
                    }
                    if (ListItem(lines[j], 64) || Indentation(lines[j]) >= 2) {
                        ++j;
                        continue;
                    }
                    if (StartsBlock(lines, j)) break;
                    ++j;  // lazy continuation of the last item
                }
                Block("list", NodeType::kList, JoinLines(lines, i, j), {},
                      Emitter::ChunkMode::kLines);
                i = j;
            } else {
                i = Paragraph(lines, i);
            }
        }
    }

private:
    bool StartsBlock(const std::vector<std::string_view>& lines, std::size_t j) const {
        std::string_view l = lines[j];
        return AtxHeading(l, nullptr, nullptr) || FenceOpen(l, nullptr) || ThematicBreak(l) ||
               TableStart(lines, j);
    }

    std::size_t FrontMatter(const std::vector<std::string_view>& lines) {
        if (lines.empty() || TrimView(lines[0]) != "---") return 0;
        for (std::size_t j = 1; j < lines.size(); ++j) {
            std::string_view t = TrimView(lines[j]);
            if (t != "---" && t != "...") continue;
            std::string yaml;
            for (std::size_t k = 1; k < j; ++k) {
                yaml.append(lines[k]);
                yaml += '\n';
            }
            auto parsed = ParseYaml(yaml, max_yaml_values_);
            if (parsed.ok() && parsed->is_object() && Depth(*parsed, kMaxDepth) <= kMaxDepth) {
                const json::object& obj = parsed->get_object();
                if (emitter_.over_limit()) {
                    emitter_.Add("front_matter", NodeType::kObject, {}, {}, {});
                } else {
                    std::vector<std::string> parts{emitter_.title()};
                    for (const auto& kv : obj) {
                        std::string part(kv.key());
                        part += ": ";
                        AppendRendered(part, kv.value());
                        parts.push_back(std::move(part));
                    }
                    emitter_.Add("front_matter", NodeType::kObject, obj, JoinNodeText(parts), {});
                }
            }
            return j + 1;
        }
        return 0;  // no closing marker: not front matter
    }

    std::size_t Paragraph(const std::vector<std::string_view>& lines, std::size_t i) {
        const std::size_t n = lines.size();
        std::size_t j = i;
        std::vector<std::string_view> body;
        while (j < n && !IsBlank(lines[j])) {
            int level = 0;
            if (j > i && SetextUnderline(lines[j], &level)) {
                std::string title;
                for (auto l : body) {
                    std::string_view t = TrimView(l);
                    if (t.empty()) continue;
                    if (!title.empty()) title += ' ';
                    title.append(t);
                }
                if (!title.empty()) Heading(level, title);
                return j + 1;
            }
            bool ordered_one = false;
            if (j > i && (StartsBlock(lines, j) ||
                          (ListItem(lines[j], 3, &ordered_one) &&
                           (ordered_one || !std::isdigit(static_cast<unsigned char>(
                                               TrimView(lines[j])[0])))))) {
                break;
            }
            body.push_back(StripBlockquote(lines[j]));
            ++j;
        }
        std::string text = JoinLines(body, 0, body.size());
        if (!text.empty()) {
            Block("paragraph", NodeType::kParagraph, text, {}, Emitter::ChunkMode::kProse);
        }
        return j;
    }

    std::string Chain() const {
        std::string out;
        for (const auto& h : headings_) {
            if (!out.empty()) out += " > ";
            out += h.second;
        }
        return out;
    }

    json::array HeadingTitles() const {
        json::array arr;
        for (const auto& h : headings_) arr.push_back(json::string(h.second));
        return arr;
    }

    void Heading(int level, const std::string& title) {
        while (!headings_.empty() && headings_.back().first >= level) headings_.pop_back();
        headings_.emplace_back(level, title);
        std::string path = "heading_" + std::to_string(heading_count_++);
        if (emitter_.over_limit()) {
            emitter_.Add(std::move(path), NodeType::kHeading, {}, {}, {});
            return;
        }
        json::object data;
        data["value"] = json::string(title);
        json::object meta;
        meta["level"] = level;
        meta["headings"] = HeadingTitles();
        emitter_.Add(std::move(path), NodeType::kHeading, std::move(data),
                     JoinNodeText({emitter_.title(), Chain()}), std::move(meta));
    }

    void Block(const char* kind, NodeType type, std::string_view content, json::object meta,
               Emitter::ChunkMode mode) {
        std::size_t& counter = counters_[static_cast<int>(type)];
        std::string path = std::string(kind) + "_" + std::to_string(counter++);
        if (headings_.empty()) {
            meta["heading"] = nullptr;
        } else {
            meta["heading"] = json::string(headings_.back().second);
        }
        meta["headings"] = HeadingTitles();
        emitter_.AddText(path, type, content, {emitter_.title(), Chain()}, meta, mode);
    }

    Emitter& emitter_;
    std::size_t max_yaml_values_;
    std::vector<std::pair<int, std::string>> headings_;
    std::size_t heading_count_ = 0;
    std::size_t counters_[16] = {};
};

}  // namespace

void SplitMarkdown(std::string_view text, Emitter& emitter, std::size_t max_yaml_values) {
    MarkdownSplitter(emitter, max_yaml_values).Run(text);
}

bool LooksLikeMarkdown(std::string_view text) {
    std::vector<std::string_view> lines = SplitLines(text);
    std::size_t list_items = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        std::string_view l = lines[i];
        if (AtxHeading(l, nullptr, nullptr) || FenceOpen(l, nullptr)) return true;
        if (i > 0 && SetextUnderline(l, nullptr) && !IsBlank(lines[i - 1]) &&
            !SetextUnderline(lines[i - 1], nullptr)) {
            return true;
        }
        if (TableDelimiterRow(l) && i > 0 && lines[i - 1].find('|') != std::string_view::npos) {
            return true;
        }
        if (ListItem(l, 64) && ++list_items >= 2) return true;
    }
    return false;
}

}  // namespace contex::ingest::internal
