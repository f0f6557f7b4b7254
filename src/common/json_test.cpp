#include "common/json.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

namespace contex {
namespace {

TEST(Json, SerializesCompactWithNonAsciiUnescaped) {
    auto v = ParseJson(R"({"b":1,"a":[true,null,"héllo ✓"],"c":{"d":"x\ny"}})");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(ToJson(*v), "{\"b\":1,\"a\":[true,null,\"héllo ✓\"],\"c\":{\"d\":\"x\\ny\"}}");
}

TEST(Json, DoublesUseShortestRoundTripForm) {
    std::string out;
    AppendDouble(out, 0.1);
    out += ' ';
    AppendDouble(out, 1.0);
    out += ' ';
    AppendDouble(out, 0.6134);
    out += ' ';
    AppendDouble(out, 1e300);
    out += ' ';
    AppendDouble(out, std::nan(""));
    EXPECT_EQ(out, "0.1 1.0 0.6134 1e+300 null");
}

TEST(Json, IntegersBeyondInt64BecomeDoubles) {
    auto v = ParseJson(R"({"max":9223372036854775807,"big":[18446744073709551615],)"
                       R"("over":9223372036854775808,"min":-9223372036854775808,"id":"12345678901234567890"})")
                 .value();
    const auto& o = v.as_object();
    EXPECT_TRUE(o.at("max").is_int64());
    EXPECT_TRUE(o.at("min").is_int64());
    EXPECT_TRUE(o.at("over").is_double());
    EXPECT_DOUBLE_EQ(o.at("over").as_double(), 9223372036854775808.0);
    EXPECT_TRUE(o.at("big").as_array()[0].is_double());
    EXPECT_TRUE(o.at("id").is_string());
    EXPECT_EQ(ParseJson(ToJson(o.at("over"))).value().as_double(), 9223372036854775808.0);
}

TEST(Json, DuplicateKeysLastWins) {
    auto v = ParseJson(R"({"a":1,"b":2,"a":3})");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(ToJson(*v), R"({"a":3,"b":2})");
}

TEST(Json, RejectsNestingDeeperThanLimitWithOffset) {
    std::string deep(65, '[');
    deep += std::string(65, ']');
    JsonParseFailure failure;
    auto v = ParseJson(deep, &failure);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(failure.offset, 64u);
    std::string ok_depth(64, '[');
    ok_depth += std::string(64, ']');
    EXPECT_TRUE(ParseJson(ok_depth).ok());
}

TEST(Json, RejectsTrailingGarbageAndInvalidUtf8) {
    JsonParseFailure failure;
    EXPECT_FALSE(ParseJson("{} x", &failure).ok());
    EXPECT_FALSE(ParseJson("\"\xff\"").ok());
    EXPECT_FALSE(ParseJson("").ok());
}

TEST(Json, ControlCharactersAreEscaped) {
    json::value v = json::string("a\x01" "b\x7f");
    EXPECT_EQ(ToJson(v), "\"a\\u0001b\\u007f\"");
}

TEST(Json, PrettyPrintsLikePythonIndent2) {
    auto v = ParseJson(R"({"a":1,"b":[1,2],"c":{}})");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(ToPrettyJson(*v), "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ],\n  \"c\": {}\n}");
}

}  // namespace
}  // namespace contex
