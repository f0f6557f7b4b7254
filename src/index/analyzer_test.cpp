#include "index/analyzer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace contex::index {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(Analyzer, SplitsCamelCaseAndKeepsWholeIdentifier) {
    Analyzer a;
    EXPECT_THAT(a.Tokenize("getUserName"), ElementsAre("get", "user", "name", "getusername"));
}

TEST(Analyzer, SplitsSnakeCaseAndKeepsWholeIdentifier) {
    Analyzer a;
    EXPECT_THAT(a.Tokenize("max_retry_count"),
                ElementsAre("max", "retry", "count", "max_retry_count"));
}

TEST(Analyzer, CompoundTokensCanBeDisabled) {
    Analyzer a(AnalyzerOptions{.stemming = false, .keep_compound_tokens = false});
    EXPECT_THAT(a.Tokenize("apiSpecs user_id"), ElementsAre("api", "specs", "user", "id"));
}

TEST(Analyzer, SplitsOnNonAlphanumericsAndLowercases) {
    Analyzer a;
    EXPECT_THAT(a.Tokenize("Hello, WORLD! foo-bar/baz.qux"),
                ElementsAre("hello", "world", "foo", "bar", "baz", "qux"));
}

TEST(Analyzer, UpperToLowerIsNotABoundary) {
    Analyzer a;  // only lower->upper splits (engine.md §3.2)
    EXPECT_THAT(a.Tokenize("HTTPServer"), ElementsAre("httpserver"));
}

TEST(Analyzer, DropsStopWordsAndSingleLettersButKeepsSingleDigits) {
    Analyzer a;
    EXPECT_THAT(a.Tokenize("What is the x of 7 and a Cat"), ElementsAre("7", "cat"));
}

TEST(Analyzer, StopWordsOnlyYieldsNothing) {
    Analyzer a;
    EXPECT_THAT(a.Tokenize("the and of to with"), IsEmpty());
}

TEST(Analyzer, AppliesNfkcAndCaseFolding) {
    Analyzer a;
    // U+FB01 ligature "fi", fullwidth "ＡＰＩ", German sharp s folds to "ss".
    EXPECT_THAT(a.Tokenize("\xEF\xAC\x81le \xEF\xBC\xA1\xEF\xBC\xB0\xEF\xBC\xA9 Stra\xC3\x9F" "e"),
                ElementsAre("file", "api", "strasse"));
}

TEST(Analyzer, KeepsNonLatinWords) {
    Analyzer a;
    EXPECT_THAT(a.Tokenize("Привет мир 数据"), ElementsAre("привет", "мир", "数据"));
}

TEST(Analyzer, RepairsInvalidUtf8) {
    Analyzer a;
    EXPECT_THAT(a.Tokenize("good\xff\xfe" "bad"), ElementsAre("good", "bad"));
}

TEST(Analyzer, StemsWhenEnabled) {
    Analyzer a(AnalyzerOptions{.stemming = true});
    EXPECT_THAT(a.Tokenize("running connections"), ElementsAre("run", "connect"));
    Analyzer plain;
    EXPECT_THAT(plain.Tokenize("running connections"), ElementsAre("running", "connections"));
}

TEST(Analyzer, CountsSortedTermsAndLength) {
    Analyzer a;
    TermCounts c = a.Count("beta alpha beta gamma");
    EXPECT_EQ(c.length, 4u);
    ASSERT_EQ(c.terms.size(), 3u);
    EXPECT_EQ(c.terms[0], (std::pair<std::string, uint32_t>{"alpha", 1}));
    EXPECT_EQ(c.terms[1], (std::pair<std::string, uint32_t>{"beta", 2}));
    EXPECT_EQ(c.terms[2], (std::pair<std::string, uint32_t>{"gamma", 1}));
}

TEST(Analyzer, QueryTermsAreDistinctAndSorted) {
    Analyzer a;
    EXPECT_THAT(a.QueryTerms("zeta alpha zeta"), ElementsAre("alpha", "zeta"));
}

}  // namespace
}  // namespace contex::index
