#include "embed/native/tokenizer.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <utility>

#include "common/json.hpp"
#include "embed/native/file_util.hpp"

namespace contex::embed::native {
namespace {

constexpr std::string_view kContinuationPrefix = "##";

bool IsControl(int32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_CC:
        case UTF8PROC_CATEGORY_CF:
        case UTF8PROC_CATEGORY_CO:
        case UTF8PROC_CATEGORY_CS:
            return true;
        default:
            return false;
    }
}

// Unicode White_Space as JavaScript's \s and Rust's char::is_whitespace see it (after
// control characters have been removed).
bool IsWhitespace(int32_t cp) {
    if (cp == ' ' || (cp >= '\t' && cp <= '\r')) return true;
    if (cp == 0x2028 || cp == 0x2029) return true;
    return utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS;
}

bool IsPunctuation(int32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
        (cp >= 123 && cp <= 126)) {
        return true;
    }
    const auto cat = utf8proc_category(cp);
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

// The CJK Unified Ideograph blocks BERT puts spaces around (not Hangul or kana).
bool IsCjk(int32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool IsLetter(int32_t cp) {
    const auto cat = utf8proc_category(cp);
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

void AppendUtf8(std::string& out, int32_t cp) {
    utf8proc_uint8_t buf[4];
    const auto n = utf8proc_encode_char(cp, buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

// Decodes UTF-8; ill-formed bytes come back as U+FFFD (which cleaning drops).
std::vector<int32_t> DecodeUtf8(std::string_view text) {
    std::vector<int32_t> cps;
    cps.reserve(text.size());
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
    utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {
            cp = 0xFFFD;
            n = 1;
        }
        cps.push_back(cp);
        p += n;
        left -= n;
    }
    return cps;
}

}  // namespace

Result<WordPieceTokenizer> WordPieceTokenizer::FromVocab(std::vector<std::string> vocab,
                                                         TokenizerOptions options) {
    WordPieceTokenizer t;
    t.options_ = options;
    t.vocab_ = std::move(vocab);
    // A piece listed twice maps to its last id, as in transformers' load_vocab.
    for (std::size_t i = 0; i < t.vocab_.size(); ++i) {
        const std::string& piece = t.vocab_[i];
        const auto id = static_cast<int32_t>(i);
        if (piece.size() > kContinuationPrefix.size() && piece.starts_with(kContinuationPrefix)) {
            t.continuations_.insert_or_assign(piece.substr(kContinuationPrefix.size()), id);
        } else {
            t.words_.insert_or_assign(piece, id);
        }
        t.max_piece_bytes_ = std::max(t.max_piece_bytes_, piece.size());
    }
    auto find = [&](std::string_view name) -> int32_t {
        auto it = t.words_.find(name);
        return it == t.words_.end() ? -1 : it->second;
    };
    t.cls_id_ = find("[CLS]");
    t.sep_id_ = find("[SEP]");
    t.unk_id_ = find("[UNK]");
    const int32_t pad = find("[PAD]");
    t.pad_id_ = pad < 0 ? 0 : pad;
    if (t.cls_id_ < 0 || t.sep_id_ < 0 || t.unk_id_ < 0) {
        return InvalidArgument("vocabulary lacks [CLS], [SEP] or [UNK]");
    }
    return t;
}

Result<WordPieceTokenizer> WordPieceTokenizer::Load(const std::filesystem::path& model_dir) {
    std::error_code ec;
    const auto tokenizer_json = model_dir / "tokenizer.json";
    if (std::filesystem::is_regular_file(tokenizer_json, ec)) {
        CONTEX_ASSIGN_OR_RETURN(json::value doc, internal::ReadJsonFile(tokenizer_json));
        const auto* root = doc.if_object();
        const auto* model = root ? root->if_contains("model") : nullptr;
        if (model == nullptr || !model->is_object()) {
            return InvalidArgument("tokenizer.json has no model object");
        }
        const auto& m = model->get_object();
        const auto* type = m.if_contains("type");
        if (type != nullptr && !(type->is_string() && type->get_string() == "WordPiece")) {
            return InvalidArgument("tokenizer.json model is not WordPiece");
        }
        const auto* vocab_obj = m.if_contains("vocab");
        if (vocab_obj == nullptr || !vocab_obj->is_object()) {
            return InvalidArgument("tokenizer.json has no WordPiece vocab");
        }
        std::vector<std::string> vocab(vocab_obj->get_object().size());
        for (const auto& kv : vocab_obj->get_object()) {
            if (!kv.value().is_int64() || kv.value().get_int64() < 0 ||
                static_cast<std::size_t>(kv.value().get_int64()) >= vocab.size()) {
                return InvalidArgument("tokenizer.json vocab ids are not 0..n-1");
            }
            vocab[static_cast<std::size_t>(kv.value().get_int64())] = std::string(kv.key());
        }
        TokenizerOptions options;
        if (const auto* mc = m.if_contains("max_input_chars_per_word"); mc && mc->is_int64()) {
            options.max_chars_per_word = static_cast<std::size_t>(std::max<int64_t>(1, mc->get_int64()));
        }
        const auto* norm = root->if_contains("normalizer");
        if (norm != nullptr && norm->is_object()) {
            const auto& n = norm->get_object();
            if (const auto* v = n.if_contains("lowercase"); v && v->is_bool()) {
                options.lower_case = v->get_bool();
            }
            options.strip_accents = options.lower_case;
            if (const auto* v = n.if_contains("strip_accents"); v && v->is_bool()) {
                options.strip_accents = v->get_bool();
            }
            if (const auto* v = n.if_contains("handle_chinese_chars"); v && v->is_bool()) {
                options.tokenize_chinese_chars = v->get_bool();
            }
        }
        return FromVocab(std::move(vocab), options);
    }

    CONTEX_ASSIGN_OR_RETURN(std::string text, internal::ReadFile(model_dir / "vocab.txt"));
    std::vector<std::string> vocab;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        vocab.emplace_back(line);
        pos = end + 1;
    }
    TokenizerOptions options;
    const auto config_path = model_dir / "tokenizer_config.json";
    if (std::filesystem::is_regular_file(config_path, ec)) {
        CONTEX_ASSIGN_OR_RETURN(json::value config, internal::ReadJsonFile(config_path));
        if (const auto* obj = config.if_object()) {
            if (const auto* v = obj->if_contains("do_lower_case"); v && v->is_bool()) {
                options.lower_case = v->get_bool();
            }
            options.strip_accents = options.lower_case;
            if (const auto* v = obj->if_contains("strip_accents"); v && v->is_bool()) {
                options.strip_accents = v->get_bool();
            }
            if (const auto* v = obj->if_contains("tokenize_chinese_chars"); v && v->is_bool()) {
                options.tokenize_chinese_chars = v->get_bool();
            }
        }
    }
    return FromVocab(std::move(vocab), options);
}

bool WordPieceTokenizer::EmitWord(std::string_view word, std::size_t chars,
                                  const std::function<bool(int32_t)>& emit) const {
    if (chars > options_.max_chars_per_word) return emit(unk_id_);
    // Byte offsets of code-point boundaries.
    std::vector<std::size_t> bounds;
    bounds.reserve(chars + 1);
    for (std::size_t i = 0; i < word.size(); ++i) {
        if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) bounds.push_back(i);
    }
    bounds.push_back(word.size());
    // Collect first so that an unknown word emits exactly one [UNK].
    int32_t local[128];
    std::vector<int32_t> overflow;  // only for words with more than 128 pieces
    std::size_t count = 0;
    std::size_t start = 0;  // index into bounds
    const std::size_t last = bounds.size() - 1;
    while (start < last) {
        const Map& map = start == 0 ? words_ : continuations_;
        int32_t found = -1;
        std::size_t end = last;
        for (; end > start; --end) {
            const std::size_t len = bounds[end] - bounds[start];
            if (len > max_piece_bytes_) continue;
            auto it = map.find(word.substr(bounds[start], len));
            if (it != map.end()) {
                found = it->second;
                break;
            }
        }
        if (found < 0) return emit(unk_id_);
        if (count < std::size(local)) {
            local[count++] = found;
        } else {
            overflow.push_back(found);
        }
        start = end;
    }
    for (std::size_t i = 0; i < count; ++i) {
        if (!emit(local[i])) return false;
    }
    for (int32_t id : overflow) {
        if (!emit(id)) return false;
    }
    return true;
}

void WordPieceTokenizer::ForEachPiece(std::string_view text,
                                      const std::function<bool(int32_t)>& emit) const {
    const std::vector<int32_t> cps = DecodeUtf8(text);
    std::string word;
    std::size_t word_chars = 0;
    auto flush = [&]() -> bool {
        if (word.empty()) return true;
        const bool go_on = EmitWord(word, word_chars, emit);
        word.clear();
        word_chars = 0;
        return go_on;
    };
    utf8proc_int32_t decomposed[8];
    for (std::size_t i = 0; i < cps.size(); ++i) {
        int32_t cp = cps[i];
        if (cp == 0 || cp == 0xFFFD || IsControl(cp)) continue;
        if (IsWhitespace(cp)) {
            if (!flush()) return;
            continue;
        }
        if (options_.tokenize_chinese_chars && IsCjk(cp)) {
            if (!flush()) return;
            AppendUtf8(word, cp);
            word_chars = 1;
            if (!flush()) return;
            continue;
        }
        if (options_.lower_case) {
            if (cp == 0x03A3) {  // Final_Sigma: Σ ending a word lowers to ς
                const bool after_letter = i > 0 && IsLetter(cps[i - 1]);
                const bool before_letter = i + 1 < cps.size() && IsLetter(cps[i + 1]);
                cp = after_letter && !before_letter ? 0x03C2 : 0x03C3;
            } else {
                cp = utf8proc_tolower(cp);
            }
        }
        int32_t pieces[8];
        std::size_t n_pieces = 1;
        pieces[0] = cp;
        if (options_.strip_accents) {
            const auto n = utf8proc_decompose_char(cp, decomposed, 8, UTF8PROC_DECOMPOSE, nullptr);
            if (n > 0 && n <= 8) {
                n_pieces = 0;
                for (utf8proc_ssize_t k = 0; k < n; ++k) {
                    if (utf8proc_category(decomposed[k]) == UTF8PROC_CATEGORY_MN) continue;
                    pieces[n_pieces++] = decomposed[k];
                }
            }
        }
        for (std::size_t k = 0; k < n_pieces; ++k) {
            const int32_t c = pieces[k];
            if (IsPunctuation(c)) {
                if (!flush()) return;
                AppendUtf8(word, c);
                word_chars = 1;
                if (!flush()) return;
            } else {
                AppendUtf8(word, c);
                ++word_chars;
            }
        }
    }
    flush();
}

std::vector<int32_t> WordPieceTokenizer::Encode(std::string_view text,
                                                std::size_t max_tokens) const {
    const std::size_t budget = std::max<std::size_t>(max_tokens, 2) - 2;
    std::vector<int32_t> ids;
    ids.reserve(std::min<std::size_t>(budget, text.size()) + 2);
    ids.push_back(cls_id_);
    if (budget > 0) {
        ForEachPiece(text, [&](int32_t id) {
            ids.push_back(id);
            return ids.size() - 1 < budget;
        });
    }
    ids.push_back(sep_id_);
    return ids;
}

std::size_t WordPieceTokenizer::CountTokens(std::string_view text) const {
    std::size_t count = 0;
    ForEachPiece(text, [&](int32_t) {
        ++count;
        return true;
    });
    return count;
}

std::vector<std::string> WordPieceTokenizer::Tokenize(std::string_view text) const {
    std::vector<std::string> out;
    std::vector<int32_t> ids;
    ForEachPiece(text, [&](int32_t id) {
        ids.push_back(id);
        return true;
    });
    out.reserve(ids.size());
    for (int32_t id : ids) out.push_back(vocab_[static_cast<std::size_t>(id)]);
    return out;
}

}  // namespace contex::embed::native
