// Analyzer: turns node texts and queries into BM25 terms (engine.md §3.2).
//
// Pipeline per text: NFKC; split on every character that is not a letter, digit or
// combining mark and at lower->upper case boundaries (camelCase); case folding
// (utf8proc); drop one-character tokens except digits; drop the spec's stop words;
// optional Snowball English stemming. Identifiers (runs of letters/digits/'_') that
// split into several parts also yield the whole identifier as one extra token
// (`getUserName` -> get, user, name, getusername; `user_id` -> user, id, user_id) so an
// exact identifier query ranks its node first (issue 5). Invalid UTF-8 is repaired first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace contex::index {

struct AnalyzerOptions {
    bool stemming = false;              // Snowball English (libstemmer)
    bool keep_compound_tokens = true;   // emit the whole identifier besides its parts
};

// A text's terms with their frequencies, sorted by term (bytewise), plus the token
// count used as BM25 document length.
struct TermCounts {
    std::vector<std::pair<std::string, uint32_t>> terms;
    uint32_t length = 0;
};

// Stateless apart from its options; every method is safe to call concurrently.
class Analyzer {
public:
    explicit Analyzer(AnalyzerOptions options = {});

    // Tokens of `text` in order of appearance (duplicates kept).
    std::vector<std::string> Tokenize(std::string_view text) const;
    // Tokens aggregated into sorted distinct terms with frequencies.
    TermCounts Count(std::string_view text) const;
    // Sorted distinct terms of a query (frequencies dropped: BM25 sums over distinct
    // query terms).
    std::vector<std::string> QueryTerms(std::string_view text) const;

    const AnalyzerOptions& options() const { return options_; }

private:
    AnalyzerOptions options_;
};

// True for the spec's stop words (input already case folded).
bool IsStopWord(std::string_view term);

}  // namespace contex::index
