#include "embed/native/tokenizer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/crypto.hpp"
#include "common/json.hpp"
#include "embed/native/file_util.hpp"

namespace contex::embed::native {
namespace {

namespace fs = std::filesystem;

// The real all-MiniLM-L6-v2 tokenizer files, vendored from ../shared/models (see the
// README there) so that every clone runs the test.
fs::path RealModelDir() {
    return fs::path(CONTEX_SOURCE_DIR) / "src/embed/native/testdata/all-MiniLM-L6-v2";
}

// A scratch directory under the test's temp dir, removed at the end of the test.
class TempDir {
public:
    explicit TempDir(const std::string& name)
        : path_(fs::temp_directory_path() / ("contex_tok_" + name + "_" +
                                             std::to_string(::testing::UnitTest::GetInstance()
                                                                ->random_seed()))) {
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }
    void Write(const std::string& name, const std::string& text) const {
        std::ofstream(path_ / name, std::ios::binary) << text;
    }

private:
    fs::path path_;
};

std::vector<std::string> SmallVocab() {
    return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", ",", "!", "un", "##believ",
            "##able", "cafe", "##s", "a", "##a", "ω", "é", "中"};
}

WordPieceTokenizer Small(TokenizerOptions options = {}) {
    auto t = WordPieceTokenizer::FromVocab(SmallVocab(), options);
    EXPECT_TRUE(t.ok());
    return std::move(t).value();
}

TEST(WordPieceTokenizer, MatchesIndependentImplementationOnRealVocabulary) {
    std::ifstream vocab(RealModelDir() / "vocab.txt", std::ios::binary);
    const std::string vocab_bytes((std::istreambuf_iterator<char>(vocab)),
                                  std::istreambuf_iterator<char>());
    ASSERT_EQ(Sha256Hex(vocab_bytes),
              "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3")
        << "not the bert-base-uncased vocabulary of ../shared/models/all-MiniLM-L6-v2";
    auto tok = WordPieceTokenizer::Load(RealModelDir());
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    EXPECT_EQ(tok->vocab_size(), 30522u);
    EXPECT_EQ(tok->cls_id(), 101);
    EXPECT_EQ(tok->sep_id(), 102);
    auto expected = internal::ReadJsonFile(fs::path(CONTEX_SOURCE_DIR) /
                                           "src/embed/native/testdata/tokenizer_expected.json");
    ASSERT_TRUE(expected.ok()) << expected.error().message;
    const auto& cases = expected->as_array();
    ASSERT_GE(cases.size(), 30u);
    for (const auto& c : cases) {
        const auto& obj = c.as_object();
        const std::string text(obj.at("text").as_string());
        const auto max_tokens = static_cast<std::size_t>(obj.at("max_tokens").as_int64());
        std::vector<int32_t> want;
        for (const auto& id : obj.at("ids").as_array()) {
            want.push_back(static_cast<int32_t>(id.as_int64()));
        }
        EXPECT_EQ(tok->Encode(text, max_tokens), want) << "text: " << text;
        EXPECT_EQ(tok->CountTokens(text), static_cast<std::size_t>(obj.at("count").as_int64()))
            << "text: " << text;
    }
}

TEST(WordPieceTokenizer, SplitsWordsIntoLongestContinuationPieces) {
    auto t = Small();
    EXPECT_EQ(t.Tokenize("Unbelievable cafes"),
              (std::vector<std::string>{"un", "##believ", "##able", "cafe", "##s"}));
}

TEST(WordPieceTokenizer, UnknownWordBecomesOneUnk) {
    auto t = Small();
    // "unbelievablex": the tail has no piece, so the whole word is a single [UNK].
    EXPECT_EQ(t.Encode("hello unbelievablex world", 64),
              (std::vector<int32_t>{2, 4, 1, 5, 3}));
}

TEST(WordPieceTokenizer, WordsLongerThanMaxCharsAreUnknown) {
    auto t = Small();
    EXPECT_EQ(t.Tokenize(std::string(100, 'a')).size(), 100u);
    EXPECT_EQ(t.Tokenize(std::string(101, 'a')), (std::vector<std::string>{"[UNK]"}));
}

TEST(WordPieceTokenizer, SplitsPunctuationAndCjk) {
    auto t = Small();
    EXPECT_EQ(t.Tokenize("hello,world!中中"),
              (std::vector<std::string>{"hello", ",", "world", "!", "中", "中"}));
}

TEST(WordPieceTokenizer, StripsAccentsOnlyWhenConfigured) {
    EXPECT_EQ(Small().Tokenize("CAFÉ"), (std::vector<std::string>{"cafe"}));
    TokenizerOptions keep;
    keep.lower_case = true;
    keep.strip_accents = false;
    EXPECT_EQ(Small(keep).Tokenize("É"), (std::vector<std::string>{"é"}));
    TokenizerOptions cased;
    cased.lower_case = false;
    cased.strip_accents = false;
    EXPECT_EQ(Small(cased).Tokenize("Hello"), (std::vector<std::string>{"[UNK]"}));
}

TEST(WordPieceTokenizer, DropsControlCharactersAndInvalidUtf8) {
    auto t = Small();
    EXPECT_EQ(t.Tokenize(std::string("hel\x01lo\xff\xfe wor\xe2\x80\x8bld")),
              (std::vector<std::string>{"hello", "world"}));
}

TEST(WordPieceTokenizer, EncodeTruncatesToMaxTokensIncludingSpecials) {
    auto t = Small();
    const std::string text = "hello world hello world hello";
    EXPECT_EQ(t.CountTokens(text), 5u);
    EXPECT_EQ(t.Encode(text, 4), (std::vector<int32_t>{2, 4, 5, 3}));
    EXPECT_EQ(t.Encode(text, 2), (std::vector<int32_t>{2, 3}));
    EXPECT_EQ(t.Encode(text, 0), (std::vector<int32_t>{2, 3}));
    EXPECT_EQ(t.Encode("", 16), (std::vector<int32_t>{2, 3}));
    EXPECT_EQ(t.Encode(text, 100).size(), 7u);
}

TEST(WordPieceTokenizer, LoadsTokenizerJsonLikeVocabTxt) {
    TempDir dir("json");
    json::object vocab;
    const auto words = SmallVocab();
    for (std::size_t i = 0; i < words.size(); ++i) vocab[words[i]] = static_cast<int64_t>(i);
    json::object model{{"type", "WordPiece"}, {"unk_token", "[UNK]"},
                       {"max_input_chars_per_word", 5}, {"vocab", vocab}};
    json::object normalizer{{"type", "BertNormalizer"}, {"lowercase", true}};
    json::object root{{"normalizer", normalizer}, {"model", model}};
    dir.Write("tokenizer.json", ToJson(root));
    auto t = WordPieceTokenizer::Load(dir.path());
    ASSERT_TRUE(t.ok()) << t.error().message;
    // max_input_chars_per_word = 5 came from the file: 12-char "unbelievable" is [UNK].
    EXPECT_EQ(t->Tokenize("Hello unbelievable aaaaa aaaaaa"),
              (std::vector<std::string>{"hello", "[UNK]", "a", "##a", "##a", "##a", "##a",
                                        "[UNK]"}));
}

TEST(WordPieceTokenizer, LoadsVocabTxtWithConfig) {
    TempDir dir("txt");
    std::string text;
    for (const auto& w : SmallVocab()) text += w + "\r\n";
    dir.Write("vocab.txt", text);
    dir.Write("tokenizer_config.json", R"({"do_lower_case": false})");
    auto t = WordPieceTokenizer::Load(dir.path());
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_FALSE(t->options().lower_case);
    EXPECT_EQ(t->Tokenize("hello Hello"), (std::vector<std::string>{"hello", "[UNK]"}));
}

TEST(WordPieceTokenizer, LoadReportsMissingAndMalformedFiles) {
    TempDir dir("bad");
    auto missing = WordPieceTokenizer::Load(dir.path());
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

    dir.Write("vocab.txt", "a\nb\n");
    auto no_specials = WordPieceTokenizer::Load(dir.path());
    ASSERT_FALSE(no_specials.ok());
    EXPECT_EQ(no_specials.error().code, ErrorCode::kInvalidArgument);

    dir.Write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}}})");
    auto bpe = WordPieceTokenizer::Load(dir.path());
    ASSERT_FALSE(bpe.ok());
    EXPECT_EQ(bpe.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace contex::embed::native

namespace contex::embed::native {
namespace {

TEST(WordPieceTokenizer, DuplicatePieceMapsToItsLastId) {
    auto t = WordPieceTokenizer::FromVocab({"[UNK]", "[CLS]", "[SEP]", "a", "b", "a"}, {});
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->Encode("a b", 8), (std::vector<int32_t>{1, 5, 4, 2}));
}

}  // namespace
}  // namespace contex::embed::native
