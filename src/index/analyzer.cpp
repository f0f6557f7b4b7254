#include "index/analyzer.hpp"

#include <libstemmer.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>

#include "common/strings.hpp"

namespace contex::index {
namespace {

constexpr std::array<std::string_view, 36> kStopWords = {
    "a",    "an",   "and",  "are",   "as",   "at",   "be",    "by",    "do",   "does",
    "for",  "from", "has",  "have",  "how",  "in",   "is",    "it",    "its",  "of",
    "on",   "or",   "that", "the",   "this", "to",   "was",   "were",  "what", "when",
    "where", "which", "who", "why",  "will", "with",
};

enum class CharClass { kSeparator, kJoiner, kLower, kUpper, kOtherWord, kDigit };

CharClass Classify(utf8proc_int32_t cp) {
    if (cp < 0x80) {
        if (cp >= 'a' && cp <= 'z') return CharClass::kLower;
        if (cp >= 'A' && cp <= 'Z') return CharClass::kUpper;
        if (cp >= '0' && cp <= '9') return CharClass::kDigit;
        if (cp == '_') return CharClass::kJoiner;
        return CharClass::kSeparator;
    }
    switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_LL: return CharClass::kLower;
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LT: return CharClass::kUpper;
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME: return CharClass::kOtherWord;
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO: return CharClass::kDigit;
        case UTF8PROC_CATEGORY_PC: return CharClass::kJoiner;  // connector punctuation
        default: return CharClass::kSeparator;
    }
}

bool IsAscii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// utf8proc_map with the given options; returns the input unchanged if mapping fails.
std::string Map(std::string_view s, int options) {
    utf8proc_uint8_t* out = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                      static_cast<utf8proc_ssize_t>(s.size()), &out,
                                      static_cast<utf8proc_option_t>(options));
    if (n < 0) return std::string(s);
    std::string result(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
    std::free(out);
    return result;
}

std::string Fold(std::string_view s) {
    if (IsAscii(s)) return ToLowerAscii(s);
    return Map(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
}

struct StemmerDeleter {
    void operator()(sb_stemmer* s) const { sb_stemmer_delete(s); }
};

// Collects tokens from one text; owns the per-call stemmer (libstemmer objects are not
// thread-safe, so each call gets its own).
class TokenSink {
public:
    TokenSink(const AnalyzerOptions& options, std::vector<std::string>& out) : out_(out) {
        if (options.stemming) stemmer_.reset(sb_stemmer_new("english", nullptr));
    }

    // `raw` is one NFKC token (not yet folded); `single_digit` tells whether a
    // one-code-point token is a digit.
    void Add(std::string_view raw, std::size_t code_points, bool is_digit) {
        if (code_points == 0) return;
        if (code_points == 1 && !is_digit) return;
        std::string folded = Fold(raw);
        if (IsStopWord(folded)) return;
        if (stemmer_) {
            const sb_symbol* stemmed = sb_stemmer_stem(
                stemmer_.get(), reinterpret_cast<const sb_symbol*>(folded.data()),
                static_cast<int>(folded.size()));
            if (stemmed != nullptr) {
                folded.assign(reinterpret_cast<const char*>(stemmed),
                              static_cast<std::size_t>(sb_stemmer_length(stemmer_.get())));
            }
        }
        if (!folded.empty()) out_.push_back(std::move(folded));
    }

private:
    std::vector<std::string>& out_;
    std::unique_ptr<sb_stemmer, StemmerDeleter> stemmer_;
};

}  // namespace

bool IsStopWord(std::string_view term) {
    if (term.empty() || term.size() > 5) return false;
    for (std::string_view w : kStopWords) {
        if (w == term) return true;
    }
    return false;
}

Analyzer::Analyzer(AnalyzerOptions options) : options_(options) {}

std::vector<std::string> Analyzer::Tokenize(std::string_view input) const {
    std::string repaired;
    if (!IsValidUtf8(input)) {
        repaired = RepairUtf8(input);
        input = repaired;
    }
    std::string normalized;
    std::string_view text = input;
    if (!IsAscii(input)) {
        normalized = Map(input, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
        text = normalized;
    }

    std::vector<std::string> tokens;
    TokenSink sink(options_, tokens);

    // State of the current identifier run and of the current part within it.
    std::size_t run_begin = 0, run_end = 0;  // bytes, run_end excludes trailing joiners
    bool in_run = false;
    int parts_in_run = 0;
    std::size_t part_begin = 0, part_cps = 0;
    bool part_is_digit = false;
    bool in_part = false;
    CharClass prev = CharClass::kSeparator;

    auto end_part = [&](std::size_t at) {
        if (!in_part) return;
        sink.Add(text.substr(part_begin, at - part_begin), part_cps, part_is_digit);
        ++parts_in_run;
        in_part = false;
    };
    auto end_run = [&](std::size_t at) {
        end_part(at);
        if (in_run && options_.keep_compound_tokens && parts_in_run > 1) {
            std::string_view whole = text.substr(run_begin, run_end - run_begin);
            sink.Add(whole, 2, false);  // multi-part, so never a one-character token
        }
        in_run = false;
        parts_in_run = 0;
    };

    std::size_t pos = 0;
    while (pos < text.size()) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t len = utf8proc_iterate(
            reinterpret_cast<const utf8proc_uint8_t*>(text.data() + pos),
            static_cast<utf8proc_ssize_t>(text.size() - pos), &cp);
        if (len <= 0) {  // cannot happen after repair; treat the byte as a separator
            end_run(pos);
            ++pos;
            prev = CharClass::kSeparator;
            continue;
        }
        CharClass cls = Classify(cp);
        if (cls == CharClass::kSeparator) {
            end_run(pos);
        } else if (cls == CharClass::kJoiner) {
            end_part(pos);
        } else {
            if (in_part && prev == CharClass::kLower && cls == CharClass::kUpper) end_part(pos);
            if (!in_run) {
                in_run = true;
                run_begin = pos;
            }
            if (!in_part) {
                in_part = true;
                part_begin = pos;
                part_cps = 0;
                part_is_digit = true;
            }
            ++part_cps;
            part_is_digit = part_is_digit && cls == CharClass::kDigit;
            run_end = pos + static_cast<std::size_t>(len);
        }
        prev = cls;
        pos += static_cast<std::size_t>(len);
    }
    end_run(text.size());
    return tokens;
}

TermCounts Analyzer::Count(std::string_view text) const {
    std::vector<std::string> tokens = Tokenize(text);
    TermCounts counts;
    counts.length = static_cast<uint32_t>(tokens.size());
    std::sort(tokens.begin(), tokens.end());
    for (std::size_t i = 0; i < tokens.size();) {
        std::size_t j = i + 1;
        while (j < tokens.size() && tokens[j] == tokens[i]) ++j;
        counts.terms.emplace_back(std::move(tokens[i]), static_cast<uint32_t>(j - i));
        i = j;
    }
    return counts;
}

std::vector<std::string> Analyzer::QueryTerms(std::string_view text) const {
    std::vector<std::string> tokens = Tokenize(text);
    std::sort(tokens.begin(), tokens.end());
    tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
    return tokens;
}

}  // namespace contex::index
