#include <algorithm>
#include <cstdint>

#include "common/strings.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::internal {
namespace {

bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::size_t CountWords(std::string_view s) {
    std::size_t words = 0;
    bool in_word = false;
    for (char c : s) {
        if (IsSpace(c)) {
            in_word = false;
        } else if (!in_word) {
            in_word = true;
            ++words;
        }
    }
    return words;
}

std::size_t WordsToTokens(std::size_t words) { return (words * 4 + 2) / 3; }

struct Span {
    std::size_t begin;
    std::size_t end;
};

// Sentence spans: a boundary is [.!?] followed by whitespace.
std::vector<Span> Sentences(std::string_view s) {
    std::vector<Span> out;
    std::size_t i = 0;
    while (i < s.size() && IsSpace(s[i])) ++i;
    std::size_t start = i;
    for (; i < s.size(); ++i) {
        char c = s[i];
        if ((c == '.' || c == '!' || c == '?') && i + 1 < s.size() && IsSpace(s[i + 1])) {
            out.push_back({start, i + 1});
            std::size_t j = i + 1;
            while (j < s.size() && IsSpace(s[j])) ++j;
            start = j;
            i = j - 1;
        }
    }
    std::size_t end = s.size();
    while (end > start && IsSpace(s[end - 1])) --end;
    if (end > start) out.push_back({start, end});
    return out;
}

std::vector<Span> NonBlankLines(std::string_view s) {
    std::vector<Span> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t nl = s.find('\n', start);
        std::size_t end = nl == std::string_view::npos ? s.size() : nl;
        if (!IsBlank(s.substr(start, end - start))) out.push_back({start, end});
        if (nl == std::string_view::npos) break;
        start = nl + 1;
    }
    return out;
}

// Word spans inside [begin, end); words longer than kMaxWordChars code points are cut.
void Words(std::string_view s, Span range, std::vector<Span>& out) {
    std::size_t i = range.begin;
    while (i < range.end) {
        while (i < range.end && IsSpace(s[i])) ++i;
        if (i >= range.end) break;
        std::size_t j = i;
        while (j < range.end && !IsSpace(s[j])) ++j;
        // Cut [i, j) into pieces of at most kMaxWordChars code points.
        std::size_t piece_start = i;
        std::size_t chars = 0;
        for (std::size_t k = i; k < j; ++k) {
            bool lead = (static_cast<unsigned char>(s[k]) & 0xC0) != 0x80;
            if (lead) {
                if (chars == kMaxWordChars) {
                    out.push_back({piece_start, k});
                    piece_start = k;
                    chars = 0;
                }
                ++chars;
            }
        }
        out.push_back({piece_start, j});
        i = j;
    }
}

}  // namespace

std::vector<std::string_view> ChunkText(
    std::string_view content, std::size_t limit, Emitter::ChunkMode mode,
    const std::function<std::size_t(std::string_view)>& count_tokens, std::size_t max_bytes) {
    const bool custom = static_cast<bool>(count_tokens);
    // Weight is additive: words for the default estimate, tokens for a real tokenizer.
    auto weight = [&](std::string_view s) { return custom ? count_tokens(s) : CountWords(s); };
    auto tokens = [&](std::size_t w) { return custom ? w : WordsToTokens(w); };
    limit = std::max<std::size_t>(limit, 1);
    max_bytes = std::max<std::size_t>(max_bytes, kMaxWordChars * 4);
    auto fits = [&](std::size_t w, std::size_t b, std::size_t e) {
        return tokens(w) <= limit && e - b <= max_bytes;
    };

    std::vector<Span> units =
        mode == Emitter::ChunkMode::kProse ? Sentences(content) : NonBlankLines(content);
    std::vector<std::string_view> parts;
    auto emit = [&](std::size_t b, std::size_t e) {
        std::string_view part = TrimView(content.substr(b, e - b));
        if (!part.empty()) parts.push_back(part);
    };

    bool open = false;
    std::size_t cur_begin = 0, cur_end = 0, cur_weight = 0;
    std::vector<Span> words;
    for (const Span& u : units) {
        std::size_t w = weight(content.substr(u.begin, u.end - u.begin));
        if (open && fits(cur_weight + w, cur_begin, u.end)) {
            cur_end = u.end;
            cur_weight += w;
            continue;
        }
        if (open) {
            emit(cur_begin, cur_end);
            open = false;
        }
        if (fits(w, u.begin, u.end)) {
            open = true;
            cur_begin = u.begin;
            cur_end = u.end;
            cur_weight = w;
            continue;
        }
        // One unit longer than the limit: cut at word boundaries.
        words.clear();
        Words(content, u, words);
        for (const Span& word : words) {
            std::size_t ww = weight(content.substr(word.begin, word.end - word.begin));
            if (open && fits(cur_weight + ww, cur_begin, word.end)) {
                cur_end = word.end;
                cur_weight += ww;
                continue;
            }
            if (open) emit(cur_begin, cur_end);
            open = true;
            cur_begin = word.begin;
            cur_end = word.end;
            cur_weight = ww;
        }
        // The tail of a cut unit may share its part with the next unit.
    }
    if (open) emit(cur_begin, cur_end);
    return parts;
}

Emitter::Emitter(std::string_view data_key, const ParseOptions& options)
    : data_key_(data_key), title_(Humanize(data_key)), options_(options) {}

std::size_t Emitter::Tokens(std::string_view text) const {
    if (options_.count_tokens) return options_.count_tokens(text);
    return WordsToTokens(CountWords(text));
}

void Emitter::Add(std::string path, NodeType type, json::object data, std::string text,
                  json::object metadata) {
    ++count_;
    if (over_limit()) {
        // Free what was collected: the publish fails anyway and only the count matters.
        if (!nodes_.empty()) std::vector<Node>().swap(nodes_);
        return;
    }
    Node node;
    node.node_key = data_key_;
    if (path.empty() || path.front() != '[') node.node_key += '.';
    node.node_key += path;
    node.path = std::move(path);
    node.type = type;
    node.data = std::move(data);
    node.text = std::move(text);
    node.metadata = std::move(metadata);
    node.index = static_cast<int>(count_ - 1);
    nodes_.push_back(std::move(node));
}

void Emitter::AddText(const std::string& path, NodeType type, std::string_view content,
                      const std::vector<std::string>& prefix, const json::object& metadata,
                      ChunkMode mode) {
    std::size_t prefix_tokens = 0;
    if (options_.count_tokens) {
        for (const auto& p : prefix) {
            if (!p.empty()) prefix_tokens += options_.count_tokens(p);
        }
    } else {
        std::size_t words = 0;
        for (const auto& p : prefix) words += CountWords(p);
        prefix_tokens = WordsToTokens(words);
    }
    long long room = static_cast<long long>(options_.max_seq_tokens) - 2 -
                     static_cast<long long>(prefix_tokens);
    std::size_t limit = std::min<long long>(
        static_cast<long long>(options_.chunk_max_tokens), std::max<long long>(room, 1));

    auto make_text = [&](std::string_view body) {
        std::vector<std::string> parts = prefix;
        parts.emplace_back(body);
        return JoinNodeText(parts);
    };
    auto value_data = [](std::string_view body) {
        json::object data;
        data["value"] = json::string(body);
        return data;
    };

    std::size_t prefix_bytes = 0;
    for (const auto& p : prefix) prefix_bytes += p.size() + 3;
    std::size_t max_bytes =
        kMaxTextChars > prefix_bytes + 1024 ? kMaxTextChars - prefix_bytes : 1024;
    if (content.size() <= max_bytes && Tokens(content) <= limit) {
        if (over_limit()) {
            Add(path, type, {}, {}, {});
            return;
        }
        Add(path, type, value_data(content), make_text(content), metadata);
        return;
    }
    std::vector<std::string_view> parts =
        ChunkText(content, limit, mode, options_.count_tokens, max_bytes);
    if (parts.size() <= 1) {
        Add(path, type, value_data(content), make_text(content), metadata);
        return;
    }
    for (std::size_t j = 0; j < parts.size(); ++j) {
        std::string part_path = path + ".part_" + std::to_string(j);
        if (over_limit()) {
            Add(std::move(part_path), type, {}, {}, {});
            continue;
        }
        json::object meta = metadata;
        meta["part"] = static_cast<std::int64_t>(j);
        meta["parts"] = static_cast<std::int64_t>(parts.size());
        Add(std::move(part_path), type, value_data(parts[j]), make_text(parts[j]),
            std::move(meta));
    }
}

}  // namespace contex::ingest::internal
