// WordPiece tokenizer with the BERT basic-tokenizer rules (engine.md §2.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"

namespace contex::embed::native {

// Normalisation and WordPiece settings, as read from tokenizer.json or
// tokenizer_config.json.
struct TokenizerOptions {
    bool lower_case = true;           // do_lower_case / normalizer.lowercase
    bool strip_accents = true;        // NFD + drop Mn; defaults to lower_case when unset
    bool tokenize_chinese_chars = true;
    std::size_t max_chars_per_word = 100;  // longer words become [UNK]
};

// BERT tokenizer: control-character cleanup, CJK spacing, optional lower-casing and
// accent stripping, punctuation split, then greedy longest-match WordPiece with "##"
// continuations. Special tokens written in the input text ("[CLS]") are plain text.
// Immutable after Load; all methods are const and thread-safe.
class WordPieceTokenizer {
public:
    // Loads <model_dir>/tokenizer.json when present (WordPiece model + BertNormalizer),
    // otherwise <model_dir>/vocab.txt with <model_dir>/tokenizer_config.json (optional).
    // kNotFound: neither vocabulary file exists; kInvalidArgument: malformed files, a
    // non-WordPiece tokenizer.json, or a vocabulary without [CLS]/[SEP]/[UNK].
    static Result<WordPieceTokenizer> Load(const std::filesystem::path& model_dir);

    // Builds a tokenizer from an in-memory vocabulary (id = index). Same errors as Load.
    static Result<WordPieceTokenizer> FromVocab(std::vector<std::string> vocab,
                                                TokenizerOptions options);

    // [CLS] pieces... [SEP], truncated so that the result has at most max(max_tokens, 2)
    // ids. Invalid UTF-8 bytes are dropped like U+FFFD.
    std::vector<int32_t> Encode(std::string_view text, std::size_t max_tokens) const;

    // Number of word pieces in `text` (no special tokens, no truncation).
    std::size_t CountTokens(std::string_view text) const;

    // Word pieces as strings (continuations keep their "##"); for debugging and tests.
    std::vector<std::string> Tokenize(std::string_view text) const;

    int32_t cls_id() const { return cls_id_; }
    int32_t sep_id() const { return sep_id_; }
    int32_t unk_id() const { return unk_id_; }
    int32_t pad_id() const { return pad_id_; }
    std::size_t vocab_size() const { return vocab_.size(); }
    const TokenizerOptions& options() const { return options_; }

private:
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    using Map = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

    WordPieceTokenizer() = default;
    // Calls `emit(id)` for each piece until it returns false.
    void ForEachPiece(std::string_view text, const std::function<bool(int32_t)>& emit) const;
    // WordPiece of one pre-token; returns false when `emit` asked to stop.
    bool EmitWord(std::string_view word, std::size_t chars,
                  const std::function<bool(int32_t)>& emit) const;

    TokenizerOptions options_;
    std::vector<std::string> vocab_;
    Map words_;          // pieces that may start a word
    Map continuations_;  // "##x" pieces, stored without the prefix
    std::size_t max_piece_bytes_ = 0;
    int32_t cls_id_ = -1;
    int32_t sep_id_ = -1;
    int32_t unk_id_ = -1;
    int32_t pad_id_ = 0;
};

}  // namespace contex::embed::native
