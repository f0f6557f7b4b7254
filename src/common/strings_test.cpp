#include "common/strings.hpp"

#include <gtest/gtest.h>

namespace contex {
namespace {

TEST(Strings, ParseBoolAcceptsConfigSpellings) {
    for (auto s : {"true", "TRUE", "1", "yes", "On"}) EXPECT_EQ(ParseBool(s), true) << s;
    for (auto s : {"false", "0", "no", "OFF"}) EXPECT_EQ(ParseBool(s), false) << s;
    EXPECT_EQ(ParseBool("maybe"), std::nullopt);
    EXPECT_EQ(ParseBool(""), std::nullopt);
}

TEST(Strings, Utf8ValidationRejectsOverlongsAndSurrogates) {
    EXPECT_TRUE(IsValidUtf8("héllo ✓ 😀"));
    EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
    EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
    EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
    EXPECT_FALSE(IsValidUtf8("abc\xE2\x82"));       // truncated
    EXPECT_EQ(RepairUtf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
}

TEST(Strings, Utf8LengthAndPrefixCountCodePoints) {
    EXPECT_EQ(Utf8Length("héllo"), 5u);
    EXPECT_EQ(Utf8Prefix("héllo", 2), "hé");
    EXPECT_EQ(Utf8Prefix("ab", 5), "ab");
}

TEST(Strings, PercentDecodeHandlesSlashAndRejectsBadEscapes) {
    EXPECT_EQ(PercentDecode("a%2Fb%20c"), "a/b c");
    EXPECT_EQ(PercentDecode("%zz"), std::nullopt);
    EXPECT_EQ(PercentDecode("abc%"), std::nullopt);
    EXPECT_EQ(PercentDecode("abc%4"), std::nullopt);
}

TEST(Strings, SplitKeepsEmptyFields) {
    auto parts = Split("a,,b", ',');
    ASSERT_EQ(parts.size(), 3u);
    EXPECT_EQ(parts[1], "");
    EXPECT_EQ(TrimView("  x y \n"), "x y");
}

}  // namespace
}  // namespace contex
