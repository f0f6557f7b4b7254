#include "engine/toon.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/json.hpp"

namespace contex::engine {
namespace {

json::value J(std::string_view text) {
    auto parsed = ParseJson(text);
    EXPECT_TRUE(parsed.ok()) << text;
    return parsed.ok() ? std::move(parsed).value() : json::value();
}

// Structural equality with numbers compared as values (1 == 1.0) and key order checked.
bool SameJson(const json::value& a, const json::value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_double() || b.is_double()) {
            return a.to_number<double>() == b.to_number<double>();
        }
        return ToJson(a) == ToJson(b);
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case json::kind::array: {
            const auto& x = a.get_array();
            const auto& y = b.get_array();
            if (x.size() != y.size()) return false;
            for (std::size_t i = 0; i < x.size(); ++i) {
                if (!SameJson(x[i], y[i])) return false;
            }
            return true;
        }
        case json::kind::object: {
            const auto& x = a.get_object();
            const auto& y = b.get_object();
            if (x.size() != y.size()) return false;
            auto i = x.begin();
            auto j = y.begin();
            for (; i != x.end(); ++i, ++j) {
                if (i->key() != j->key() || !SameJson(i->value(), j->value())) return false;
            }
            return true;
        }
        default:
            return a == b;
    }
}

json::value Decode(std::string_view text) {
    auto r = ParseToon(text);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\n--- input ---\n" << text;
    return r.ok() ? std::move(r).value() : json::value();
}

void ExpectRoundTrip(const json::value& v) {
    const std::string text = ToToon(v);
    auto back = ParseToon(text);
    ASSERT_TRUE(back.ok()) << back.error().message << "\n--- json ---\n"
                           << ToJson(v) << "\n--- toon ---\n"
                           << text;
    EXPECT_TRUE(SameJson(v, *back))
        << "json:  " << ToJson(v) << "\nback:  " << ToJson(*back) << "\n--- toon ---\n"
        << text;
}

void ExpectInvalid(std::string_view text, std::string_view line_prefix) {
    auto r = ParseToon(text);
    ASSERT_FALSE(r.ok()) << "accepted:\n" << text << "\nas " << ToJson(*r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message.rfind(line_prefix, 0), 0u)
        << "message '" << r.error().message << "' does not start with '" << line_prefix << "'";
}

// ---- the spec's worked example ---------------------------------------------------

TEST(Toon, EncodesTheSpecWorkedExampleVerbatim) {
    const json::value v =
        J(R"({"query":"q","matches":[{"data_key":"k","similarity":0.61}],"total_matches":1})");
    EXPECT_EQ(ToToon(v),
              "query: q\n"
              "matches[1]{data_key,similarity}:\n"
              "  k,0.61\n"
              "total_matches: 1");
}

TEST(Toon, DecodesTheSpecWorkedExample) {
    const json::value v = Decode(
        "query: q\n"
        "matches[1]{data_key,similarity}:\n"
        "  k,0.61\n"
        "total_matches: 1");
    EXPECT_EQ(ToJson(v),
              R"({"query":"q","matches":[{"data_key":"k","similarity":0.61}],"total_matches":1})");
}

// ---- strings ------------------------------------------------------------------------

std::string FieldValue(std::string_view s) {
    json::object o;
    o["v"] = json::string(s);
    const std::string text = ToToon(o);
    EXPECT_EQ(text.rfind("v: ", 0), 0u) << text;
    return text.substr(3);
}

TEST(Toon, LeavesOrdinaryStringsBare) {
    EXPECT_EQ(FieldValue("hello"), "hello");
    EXPECT_EQ(FieldValue("hello world"), "hello world");
    EXPECT_EQ(FieldValue("caf\xC3\xA9 \xE2\x98\x95"), "caf\xC3\xA9 \xE2\x98\x95");
    EXPECT_EQ(FieldValue("a|b"), "a|b");  // not the active delimiter
    EXPECT_EQ(FieldValue("#x"), "#x");
    EXPECT_EQ(FieldValue("True"), "True");  // literals are case-sensitive
    EXPECT_EQ(FieldValue("x-y"), "x-y");    // only a leading hyphen matters
    EXPECT_EQ(FieldValue("1."), "1.");
    EXPECT_EQ(FieldValue(".5"), ".5");
    EXPECT_EQ(FieldValue("+1"), "+1");
    EXPECT_EQ(FieldValue("1e"), "1e");
    EXPECT_EQ(FieldValue("0x10"), "0x10");
    EXPECT_EQ(FieldValue("1.2.3"), "1.2.3");
}

TEST(Toon, QuotesEmptyAndPaddedStrings) {
    EXPECT_EQ(FieldValue(""), "\"\"");
    EXPECT_EQ(FieldValue(" a"), "\" a\"");
    EXPECT_EQ(FieldValue("a "), "\"a \"");
    EXPECT_EQ(FieldValue(" "), "\" \"");
    EXPECT_EQ(FieldValue("\xC2\xA0x"), "\"\xC2\xA0x\"");          // leading NBSP
    EXPECT_EQ(FieldValue("x\xE3\x80\x80"), "\"x\xE3\x80\x80\"");  // trailing ideographic space
}

TEST(Toon, QuotesLiteralLookalikes) {
    EXPECT_EQ(FieldValue("true"), "\"true\"");
    EXPECT_EQ(FieldValue("false"), "\"false\"");
    EXPECT_EQ(FieldValue("null"), "\"null\"");
}

TEST(Toon, QuotesNumericLookingStrings) {
    for (const char* s : {"42", "-3.14", "0", "0.5", "1e-6", "1E+9", "2e10", "-0", "05", "0001"}) {
        EXPECT_EQ(FieldValue(s), std::string("\"") + s + "\"") << s;
    }
}

TEST(Toon, QuotesStructuralCharactersAndDelimiter) {
    EXPECT_EQ(FieldValue("a:b"), "\"a:b\"");
    EXPECT_EQ(FieldValue("[x"), "\"[x\"");
    EXPECT_EQ(FieldValue("x]"), "\"x]\"");
    EXPECT_EQ(FieldValue("{x"), "\"{x\"");
    EXPECT_EQ(FieldValue("x}"), "\"x}\"");
    EXPECT_EQ(FieldValue("a,b"), "\"a,b\"");
    EXPECT_EQ(FieldValue("say \"hi\""), "\"say \\\"hi\\\"\"");
    EXPECT_EQ(FieldValue("C:\\dir"), "\"C:\\\\dir\"");
    EXPECT_EQ(FieldValue("back\\slash"), "\"back\\\\slash\"");
}

TEST(Toon, QuotesAndEscapesControlCharacters) {
    EXPECT_EQ(FieldValue("a\nb"), "\"a\\nb\"");
    EXPECT_EQ(FieldValue("a\rb"), "\"a\\rb\"");
    EXPECT_EQ(FieldValue("a\tb"), "\"a\\tb\"");
}

TEST(Toon, QuotesStringsStartingWithHyphen) {
    EXPECT_EQ(FieldValue("-"), "\"-\"");
    EXPECT_EQ(FieldValue("-x"), "\"-x\"");
    EXPECT_EQ(FieldValue("- item"), "\"- item\"");
}

TEST(Toon, QuotesCellsContainingTheDelimiter) {
    EXPECT_EQ(ToToon(J(R"({"t":["a,b","c","",true,"true"]})")),
              "t[5]: \"a,b\",c,\"\",true,\"true\"");
    EXPECT_EQ(ToToon(J(R"({"r":[{"a":"x,y","b":"-1"}]})")), "r[1]{a,b}:\n  \"x,y\",\"-1\"");
}

// ---- numbers ------------------------------------------------------------------------

std::string NumberText(const json::value& v) {
    json::object o;
    o["n"] = v;
    return ToToon(o).substr(3);
}

TEST(Toon, WritesNumbersInCanonicalDecimal) {
    EXPECT_EQ(NumberText(1.0), "1");
    EXPECT_EQ(NumberText(1.5), "1.5");
    EXPECT_EQ(NumberText(-0.0), "0");
    EXPECT_EQ(NumberText(0.0), "0");
    EXPECT_EQ(NumberText(100.0), "100");
    EXPECT_EQ(NumberText(1e6), "1000000");
    EXPECT_EQ(NumberText(1e20), "100000000000000000000");
    EXPECT_EQ(NumberText(1e-6), "0.000001");
    EXPECT_EQ(NumberText(1.5e-7), "0.00000015");
    EXPECT_EQ(NumberText(-1.5e-10), "-0.00000000015");
    EXPECT_EQ(NumberText(123456.789), "123456.789");
    EXPECT_EQ(NumberText(0.1 + 0.2), "0.30000000000000004");
    EXPECT_EQ(NumberText(-2.5), "-2.5");
    EXPECT_EQ(NumberText(1.7976931348623157e308), "17976931348623157" + std::string(292, '0'));
    EXPECT_EQ(NumberText(5e-324), "0." + std::string(323, '0') + "5");
}

TEST(Toon, WritesIntegersExactly) {
    EXPECT_EQ(NumberText(std::int64_t{0}), "0");
    EXPECT_EQ(NumberText(std::int64_t{-42}), "-42");
    EXPECT_EQ(NumberText(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
    EXPECT_EQ(NumberText(std::numeric_limits<std::int64_t>::max()), "9223372036854775807");
    EXPECT_EQ(NumberText(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
}

TEST(Toon, WritesNonFiniteNumbersAsNull) {
    EXPECT_EQ(NumberText(std::numeric_limits<double>::quiet_NaN()), "null");
    EXPECT_EQ(NumberText(std::numeric_limits<double>::infinity()), "null");
    EXPECT_EQ(NumberText(-std::numeric_limits<double>::infinity()), "null");
}

TEST(Toon, NeverWritesAnExponent) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int> exp(-320, 308);
    std::uniform_real_distribution<double> mant(1.0, 10.0);
    for (int i = 0; i < 2000; ++i) {
        const double d = (i % 2 ? -1 : 1) * mant(rng) * std::pow(10.0, exp(rng));
        if (!std::isfinite(d) || d == 0) continue;
        const std::string text = NumberText(d);
        ASSERT_EQ(text.find_first_of("eE"), std::string::npos) << text;
        if (text.find('.') != std::string::npos) {
            ASSERT_NE(text.back(), '0') << text;
        }
        auto back = ParseToon("n: " + text);
        ASSERT_TRUE(back.ok());
        ASSERT_EQ(back->at("n").to_number<double>(), d) << text;
    }
}

TEST(Toon, DecodesNumbers) {
    const json::value v = Decode(
        "a: 42\nb: -3.14\nc: 1e-6\nd: -1E+3\ne: 1.5000\nf: -0\ng: -0.0\nh: 0.5\ni: 0e1\n"
        "j: 9223372036854775807\nk: 18446744073709551615\nl: 100000000000000000000\n"
        "m: 0.000001");
    EXPECT_TRUE(v.at("a").is_int64());
    EXPECT_EQ(v.at("a").as_int64(), 42);
    EXPECT_EQ(v.at("b").as_double(), -3.14);
    EXPECT_EQ(v.at("c").as_double(), 1e-6);
    EXPECT_EQ(v.at("d").as_double(), -1000.0);
    EXPECT_EQ(v.at("e").as_double(), 1.5);
    EXPECT_TRUE(v.at("f").is_int64());
    EXPECT_EQ(v.at("f").as_int64(), 0);
    EXPECT_EQ(v.at("g").as_double(), 0.0);
    EXPECT_FALSE(std::signbit(v.at("g").as_double()));  // -0 -> 0
    EXPECT_EQ(v.at("h").as_double(), 0.5);
    EXPECT_EQ(v.at("i").as_double(), 0.0);
    EXPECT_EQ(v.at("j").as_int64(), std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(v.at("k").as_uint64(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(v.at("l").as_double(), 1e20);
    EXPECT_EQ(v.at("m").as_double(), 1e-6);
}

TEST(Toon, KeepsLeadingZeroTokensAndNonNumbersAsStrings) {
    const json::value v =
        Decode("a: 05\nb: -0001\nc: 1.\nd: .5\ne: +1\nf: 1e\ng: 0x1F\nh: 1e999\ni: 1e-999");
    EXPECT_EQ(v.at("a"), "05");
    EXPECT_EQ(v.at("b"), "-0001");
    EXPECT_EQ(v.at("c"), "1.");
    EXPECT_EQ(v.at("d"), ".5");
    EXPECT_EQ(v.at("e"), "+1");
    EXPECT_EQ(v.at("f"), "1e");
    EXPECT_EQ(v.at("g"), "0x1F");
    EXPECT_EQ(v.at("h"), "1e999");          // beyond double: kept losslessly as text
    EXPECT_EQ(v.at("i").as_double(), 0.0);  // underflow
}

// ---- keys ---------------------------------------------------------------------------

TEST(Toon, WritesIdentifierKeysBareAndOthersQuoted) {
    EXPECT_EQ(ToToon(J(R"({"a_b.c":1,"_x":2,"A1":3})")), "a_b.c: 1\n_x: 2\nA1: 3");
    EXPECT_EQ(ToToon(J(R"({"1a":1})")), "\"1a\": 1");
    EXPECT_EQ(ToToon(J(R"({"a-b":1})")), "\"a-b\": 1");
    EXPECT_EQ(ToToon(J(R"({"":1})")), "\"\": 1");
    EXPECT_EQ(ToToon(J(R"({"a b":1})")), "\"a b\": 1");
    EXPECT_EQ(ToToon(J(R"({"a:b":1})")), "\"a:b\": 1");
    EXPECT_EQ(ToToon(J(R"({"\u00e4":1})")), "\"\xC3\xA4\": 1");
    EXPECT_EQ(ToToon(J(R"({"q\"\n":1})")), "\"q\\\"\\n\": 1");
    EXPECT_EQ(ToToon(J(R"({"my-list":[1,2]})")), "\"my-list\"[2]: 1,2");
    EXPECT_EQ(ToToon(J(R"({"t":[{"a b":1,"c":2}]})")), "t[1]{\"a b\",c}:\n  1,2");
}

TEST(Toon, DecodesQuotedAndLiteralKeys) {
    const json::value v = Decode(
        "\"a b\": 1\n\"x:y\"[2]: 1,2\n\"\": e\nuser.name: Ada\nfoo[bar]: 3\n\"t\"[1]{\"k k\",z}:\n "
        " 1,2");
    EXPECT_EQ(
        ToJson(v),
        R"({"a b":1,"x:y":[1,2],"":"e","user.name":"Ada","foo[bar]":3,"t":[{"k k":1,"z":2}]})");
}

// ---- empty forms ----------------------------------------------------------------------

TEST(Toon, WritesEmptyObjectsAndArrays) {
    EXPECT_EQ(ToToon(J("{}")), "");
    EXPECT_EQ(ToToon(J("[]")), "[0]:");
    EXPECT_EQ(ToToon(J(R"({"a":{},"b":[],"c":1})")), "a:\nb[0]:\nc: 1");
    EXPECT_EQ(ToToon(J(R"({"o":{"e":{}}})")), "o:\n  e:");
    EXPECT_EQ(ToToon(J(R"({"items":[{},{}]})")), "items[2]:\n  -\n  -");
    EXPECT_EQ(ToToon(J(R"({"p":[[],[1]]})")), "p[2]:\n  - [0]:\n  - [1]: 1");
}

TEST(Toon, DecodesEmptyForms) {
    EXPECT_EQ(ToJson(Decode("")), "{}");
    EXPECT_EQ(ToJson(Decode("\n\n")), "{}");
    EXPECT_EQ(ToJson(Decode("[0]:")), "[]");
    EXPECT_EQ(ToJson(Decode("a:\nb[0]:\nc: 1")), R"({"a":{},"b":[],"c":1})");
    EXPECT_EQ(ToJson(Decode("t[0]{a,b}:")), R"({"t":[]})");
    EXPECT_EQ(ToJson(Decode("items[2]:\n  -\n  -")), R"({"items":[{},{}]})");
}

// ---- arrays ---------------------------------------------------------------------------

TEST(Toon, WritesPrimitiveArraysInline) {
    EXPECT_EQ(ToToon(J(R"({"tags":["a","b",1,null,false,2.5]})")), "tags[6]: a,b,1,null,false,2.5");
}

TEST(Toon, WritesUniformObjectArraysAsTables) {
    EXPECT_EQ(ToToon(J(R"({"users":[{"id":1,"name":"Alice","role":"admin"},)"
                       R"({"name":"Bob","role":"user","id":2}]})")),
              "users[2]{id,name,role}:\n  1,Alice,admin\n  2,Bob,user");
    EXPECT_EQ(ToToon(J(R"({"o":{"rows":[{"a":null,"b":true}]}})")),
              "o:\n  rows[1]{a,b}:\n    null,true");
}

TEST(Toon, WritesNonUniformObjectArraysAsLists) {
    EXPECT_EQ(
        ToToon(J(R"({"items":[{"id":1,"name":"First"},{"id":2,"name":"Second","extra":true}]})")),
        "items[2]:\n  - id: 1\n    name: First\n  - id: 2\n    name: Second\n    extra: true");
    // A nested value disqualifies the table.
    EXPECT_EQ(ToToon(J(R"({"items":[{"id":1,"data":"s"},{"id":2,"data":{"nested":true}}]})")),
              "items[2]:\n  - id: 1\n    data: s\n  - id: 2\n    data:\n      nested: true");
}

TEST(Toon, WritesMixedArraysAsHyphenItems) {
    EXPECT_EQ(ToToon(J(R"({"items":[1,{"a":1},"text"]})")), "items[3]:\n  - 1\n  - a: 1\n  - text");
    EXPECT_EQ(ToToon(J(R"({"pairs":[["a","b"],["c,d","e:f","true"]]})")),
              "pairs[2]:\n  - [2]: a,b\n  - [3]: \"c,d\",\"e:f\",\"true\"");
    EXPECT_EQ(ToToon(J(R"({"items":[{"a":1},[1,2]]})")), "items[2]:\n  - a: 1\n  - [2]: 1,2");
    EXPECT_EQ(ToToon(J(R"({"items":["-",{"a":1}]})")), "items[2]:\n  - \"-\"\n  - a: 1");
}

TEST(Toon, PutsAListItemObjectsFirstFieldOnTheHyphenLine) {
    EXPECT_EQ(ToToon(J(R"({"items":[{"nums":[1,2,3],"name":"Ada"}]})")),
              "items[1]:\n  - nums[3]: 1,2,3\n    name: Ada");
    EXPECT_EQ(ToToon(J(R"({"items":[{"a":{"x":1},"b":2}]})")),
              "items[1]:\n  - a:\n      x: 1\n    b: 2");
    EXPECT_EQ(ToToon(J(R"({"items":[{"a":{},"b":1}]})")), "items[1]:\n  - a:\n    b: 1");
    EXPECT_EQ(ToToon(J(R"({"items":[{"matrix":[[1,2],[3,4]],"name":"grid"}]})")),
              "items[1]:\n  - matrix[2]:\n      - [2]: 1,2\n      - [2]: 3,4\n    name: grid");
    EXPECT_EQ(ToToon(J(R"({"items":[{"name":"x","sub":{"k":[{"a":1},{"b":2}]}}]})")),
              "items[1]:\n  - name: x\n    sub:\n      k[2]:\n        - a: 1\n        - b: 2");
}

TEST(Toon, PutsTabularFirstFieldRowsTwoLevelsDeeper) {
    EXPECT_EQ(ToToon(J(R"({"items":[{"users":[{"id":1,"name":"Ada"},{"id":2,"name":"Bob"}],)"
                       R"("status":"active"}]})")),
              "items[1]:\n  - users[2]{id,name}:\n      1,Ada\n      2,Bob\n    status: active");
    const json::value v = Decode("items[1]:\n  - users[2]{id}:\n      1\n      2\n    note: x");
    EXPECT_EQ(ToJson(v), R"({"items":[{"users":[{"id":1},{"id":2}],"note":"x"}]})");
}

TEST(Toon, WritesNestedComplexArraysAsLists) {
    EXPECT_EQ(ToToon(J(R"({"a":[[{"x":1},{"x":2}]]})")), "a[1]:\n  - [2]:\n    - x: 1\n    - x: 2");
    EXPECT_EQ(ToToon(J("[[[1]]]")), "[1]:\n  - [1]:\n    - [1]: 1");
    EXPECT_EQ(ToToon(J(R"({"a":[[1,{"x":1}],2]})")), "a[2]:\n  - [2]:\n    - 1\n    - x: 1\n  - 2");
}

// ---- root forms -------------------------------------------------------------------------

TEST(Toon, EncodesRootForms) {
    EXPECT_EQ(ToToon(J(R"(["x","y","true",true,10])")), "[5]: x,y,\"true\",true,10");
    EXPECT_EQ(ToToon(J(R"([{"id":1},{"id":2}])")), "[2]{id}:\n  1\n  2");
    EXPECT_EQ(
        ToToon(J(R"(["summary",{"id":1,"name":"Ada"},[{"id":2},{"status":"draft"}]])")),
        "[3]:\n  - summary\n  - id: 1\n    name: Ada\n  - [2]:\n    - id: 2\n    - status: draft");
    EXPECT_EQ(ToToon(J(R"("hello")")), "hello");
    EXPECT_EQ(ToToon(J(R"("")")), "\"\"");
    EXPECT_EQ(ToToon(J(R"("a: b")")), "\"a: b\"");
    EXPECT_EQ(ToToon(J("42")), "42");
    EXPECT_EQ(ToToon(J("-0.0")), "0");
    EXPECT_EQ(ToToon(J("true")), "true");
    EXPECT_EQ(ToToon(J("null")), "null");
}

TEST(Toon, DecodesRootForms) {
    EXPECT_EQ(ToJson(Decode("hello world")), R"("hello world")");
    EXPECT_EQ(ToJson(Decode("42")), "42");
    EXPECT_EQ(ToJson(Decode("true")), "true");
    EXPECT_EQ(ToJson(Decode("null")), "null");
    EXPECT_EQ(ToJson(Decode("\"a: b\"")), R"("a: b")");
    EXPECT_EQ(ToJson(Decode("\"\"")), R"("")");
    EXPECT_EQ(ToJson(Decode("[3]: a,\"b,c\",3")), R"(["a","b,c",3])");
    EXPECT_EQ(ToJson(Decode("[2]{id}:\n  1\n  2")), R"([{"id":1},{"id":2}])");
    EXPECT_EQ(ToJson(Decode("[2]:\n  - a\n  - k: v")), R"(["a",{"k":"v"}])");
    EXPECT_EQ(ToJson(Decode("a: 1")), R"({"a":1})");
}

TEST(Toon, WritesNoTrailingNewlineOrSpaces) {
    const std::string text = ToToon(
        J(R"({"a":{},"b":[],"c":[{}],"d":[[]],"e":{"f":[{"g":1},{"h":[]}]},"i":[{"x":{}}]})"));
    EXPECT_NE(text.back(), '\n');
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        ASSERT_GT(end, start) << "empty line in\n" << text;
        EXPECT_NE(text[end - 1], ' ') << "trailing space in\n" << text;
        start = end + 1;
    }
}

// ---- decoder: delimiters and leniency -----------------------------------------------------

TEST(Toon, DecodesTabAndPipeDelimiters) {
    EXPECT_EQ(ToJson(Decode("tags[3\t]: a,b\tc\td")), R"({"tags":["a,b","c","d"]})");
    EXPECT_EQ(ToJson(Decode("tags[3|]: a,b|c|\"d|e\"")), R"({"tags":["a,b","c","d|e"]})");
    EXPECT_EQ(
        ToJson(Decode("items[2\t]{sku\tqty\tprice}:\n  A1\t2\t9.99\n  B,2\t1\t14.5")),
        R"({"items":[{"sku":"A1","qty":2,"price":9.99},{"sku":"B,2","qty":1,"price":14.5}]})");
    EXPECT_EQ(ToJson(Decode("items[2|]{a|b}:\n  x,y|1\n  z|\n")),
              R"({"items":[{"a":"x,y","b":1},{"a":"z","b":""}]})");
    // A nested header without a symbol is comma again.
    EXPECT_EQ(ToJson(Decode("o[1|]:\n  - k[2]: a,b\n    p[2|]: c|d")),
              R"({"o":[{"k":["a","b"],"p":["c","d"]}]})");
}

TEST(Toon, DecodesQuotedValuesAndEscapes) {
    const json::value v =
        Decode("a: \"x\\ny\\tz\\r\\\\\\\"\"\nb: \"true\"\nc: \"42\"\nd[3]: \"\", ,\" s \"");
    EXPECT_EQ(v.at("a"), "x\ny\tz\r\\\"");
    EXPECT_EQ(v.at("b"), "true");
    EXPECT_EQ(v.at("c"), "42");
    EXPECT_EQ(ToJson(v.at("d")), R"(["",""," s "])");
}

TEST(Toon, ToleratesTrailingNewlineCrlfBlankLinesAndExtraSpaces) {
    EXPECT_EQ(ToJson(Decode("a: 1\r\nb:\r\n  c: x  \r\n\r\n\nd[2]:  1 , 2 \n")),
              R"({"a":1,"b":{"c":"x"},"d":[1,2]})");
}

TEST(Toon, DecodesBareHyphenObjectForm) {
    EXPECT_EQ(ToJson(Decode("items[1]:\n  -\n    a: 1\n    b: 2")), R"({"items":[{"a":1,"b":2}]})");
}

TEST(Toon, DuplicateKeysKeepTheLastValue) {
    EXPECT_EQ(ToJson(Decode("a: 1\nb: 2\na: 3")), R"({"a":3,"b":2})");
}

// ---- decoder: errors -----------------------------------------------------------------------

TEST(Toon, RejectsLengthMismatches) {
    ExpectInvalid("a[3]: 1,2", "line 1: ");
    ExpectInvalid("x: 1\nt[2]{a,b}:\n  1,2", "line 2: ");
    ExpectInvalid("t[1]{a,b}:\n  1,2\n  3,4", "line 1: ");
    ExpectInvalid("l[2]:\n  - 1", "line 1: ");
    ExpectInvalid("l[1]:\n  - 1\n  - 2", "line 1: ");
    ExpectInvalid("t[1]{a,b}:\n  1,2,3", "line 2: ");
    ExpectInvalid("t[1]{a,b}:\n  1", "line 2: ");
}

TEST(Toon, RejectsMissingColons) {
    ExpectInvalid("a: 1\nb", "line 2: ");
    ExpectInvalid("a: 1\no:\n  just text", "line 3: ");
    ExpectInvalid("hello\nworld", "line 1: ");
    ExpectInvalid("x: 1\nt[2]{a,b} x", "line 2: ");
    // A single line that is neither a header nor a key-value line is a root string.
    EXPECT_EQ(ToJson(Decode("t[2]{a,b} x")), R"("t[2]{a,b} x")");
}

TEST(Toon, RejectsBadStrings) {
    ExpectInvalid("a: \"x\\u0041\"", "line 1: ");
    ExpectInvalid("a: 1\nb: \"open", "line 2: ");
    ExpectInvalid("a: \"x\" y", "line 1: ");
    ExpectInvalid("a[2]: \"x\"y,z", "line 1: ");
    ExpectInvalid("a: \xC3\x28", "line 1: ");
    ExpectInvalid("a: 1\n\"k\\q\": 2", "line 2: ");
}

TEST(Toon, RejectsBadIndentation) {
    ExpectInvalid("a:\n   b: 1", "line 2: ");
    ExpectInvalid("a:\n\tb: 1", "line 2: ");
    ExpectInvalid("a: 1\n  b: 2", "line 2: ");
    ExpectInvalid("  a: 1", "line 1: ");
    ExpectInvalid("a[1]:\n    - 1", "line 1: ");
}

TEST(Toon, RejectsBlankLinesInsideArrays) {
    ExpectInvalid("t[2]{a}:\n  1\n\n  2", "line 3: ");
    ExpectInvalid("l[2]:\n  - 1\n\n  - 2", "line 3: ");
    // Blank lines outside arrays are fine.
    EXPECT_EQ(ToJson(Decode("l[1]:\n  - 1\n\nb: 2")), R"({"l":[1],"b":2})");
}

TEST(Toon, RejectsStrayLinesAndMismatchedFieldDelimiters) {
    ExpectInvalid("- a\n- b", "line 1: ");
    ExpectInvalid("a: 1\n- b", "line 2: ");
    ExpectInvalid("[1]: a\nb: 1", "line 2: ");
    ExpectInvalid("t[1|]{a,b}:\n  1|2", "line 1: ");
    ExpectInvalid("t[1]{a,}:\n  1,2", "line 1: ");
    ExpectInvalid("t[1]{a}: 1", "line 1: ");
    ExpectInvalid("l[1]:\n  - \t", "line 2: ");
}

TEST(Toon, RejectsNestingDeeperThanTheJsonLimit) {
    std::string deep;
    for (std::size_t i = 0; i <= kMaxJsonDepth; ++i) {
        deep += std::string(i * 2, ' ') + "k:\n";
    }
    deep += std::string((kMaxJsonDepth + 1) * 2, ' ') + "x: 1";
    auto r = ParseToon(deep);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);

    std::string ok;
    for (std::size_t i = 0; i + 1 < kMaxJsonDepth; ++i) ok += std::string(i * 2, ' ') + "k:\n";
    ok += std::string((kMaxJsonDepth - 1) * 2, ' ') + "x: 1";
    EXPECT_TRUE(ParseToon(ok).ok());
}

// ---- round trips ---------------------------------------------------------------------------

TEST(Toon, RoundTripsHandwrittenDocuments) {
    const char* docs[] = {
        R"({"query":"q","matches":[{"data_key":"k","similarity":0.61}],"total_matches":1})",
        R"({"project_id":"proj_123","export_timestamp":1767700800.123456,"version":"1.1","data":{
            "events":[{"event_id":"1","sequence":"1","event_type":"tech_stack_updated",
              "data_key":"tech_stack","changed":true,"data":{"tech_stack":{"backend":"FastAPI"}},
              "created_at":"2026-01-06T12:00:00.123456+00:00"}],
            "embeddings":[{"key":"tech_stack.root","node_key":"tech_stack.root","data_key":"tech_stack",
              "node_path":"root","node_type":"object","description":"tech stack | backend: FastAPI",
              "data":{"backend":"FastAPI"},"data_format":"json","metadata":{}}],
            "agents":[{"agent_id":"coder","data":{"project_id":"proj_123","tenant_id":null,
              "needs":["tech stack"],"notification_method":"redis","response_format":"json",
              "notification_channel":"agent:coder:updates","webhook_url":null,
              "data_keys":["tech_stack"]},"last_seen":null,"last_sequence":"1"}]}})",
        R"({"a":[[],[[]],[{}],[[{"x":[1,{"y":[]}]}]]],"b":{"c":{"d":{}}}})",
        R"([{"a":1,"b":[{"c":1},{"c":2}],"d":{"e":[1,"2",{"f":"-"}]}},{},[],"",null])",
        R"({"weird keys":{"":"","a-b":"c:d","[x]":"{y}","\t":"\n","-":"-1"}})",
        R"({"nums":[0,-0.0,1e300,-1e-300,5e-324,1.7976931348623157e308,9007199254740993,
            18446744073709551615,-9223372036854775808,0.1,123.456e5]})",
        R"({"t":[{"a":"","b":" ","c":"true","d":"05","e":"a,b","f":"x\"y","g":"#","h":"\u00a0"}]})",
        R"([[1,2],[3]])",
        R"([{"k":[{"a":1},{"a":2}],"z":1},{"k":[{"a":3}]}])",
        R"("- looks like a list item")",
        R"("[3]: not an array")",
        R"("")",
        R"(-12.5)",
        R"({"a":"line1\nline2\r\n\ttabbed \\ \"quoted\""})",
    };
    for (const char* doc : docs) ExpectRoundTrip(J(doc));
}

// Deterministic generator of varied documents, biased towards the encoder's edge cases
// (tabular arrays, list items, tricky strings and keys, extreme numbers).
class DocGenerator {
  public:
    explicit DocGenerator(std::uint32_t seed) : rng_(seed) {}

    json::value Value(int depth) {
        const int pick = Int(0, depth >= 4 ? 5 : 9);
        if (pick <= 5) return Primitive();
        if (pick == 6) return Object(depth);
        if (pick == 7) return UniformObjects(depth);
        return Array(depth);
    }

    json::value Object(int depth) {
        json::object o;
        const int n = Int(0, 4);
        for (int i = 0; i < n; ++i) o[Key()] = Value(depth + 1);
        return o;
    }

  private:
    int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

    json::value Array(int depth) {
        json::array a;
        const int n = Int(0, 4);
        const bool primitives = Int(0, 2) == 0;
        for (int i = 0; i < n; ++i) a.push_back(primitives ? Primitive() : Value(depth + 1));
        return a;
    }

    json::value UniformObjects(int depth) {
        std::vector<std::string> keys;
        for (int i = Int(1, 3); i > 0; --i) keys.push_back(Key());
        json::array a;
        for (int n = Int(1, 3); n > 0; --n) {
            json::object o;
            for (const auto& k : keys) o[k] = Int(0, 6) == 0 ? Value(depth + 1) : Primitive();
            a.push_back(std::move(o));
        }
        return a;
    }

    std::string Text(const std::vector<const char*>& pieces, int max_pieces) {
        std::string s;
        for (int n = Int(0, max_pieces); n > 0; --n)
            s += pieces[static_cast<std::size_t>(Int(0, static_cast<int>(pieces.size()) - 1))];
        return s;
    }

    std::string Key() {
        static const std::vector<const char*> kPieces = {
            "id", "name", "a", "_", ".", "1",  "-",  " ",        ":", "\"", "[",
            "]",  "{",    "}", ",", "|", "\t", "\n", "\xC3\xA9", "#", "\\"};
        return Text(kPieces, 3);
    }

    json::value Primitive() {
        static const std::vector<const char*> kPieces = {
            "a",    "b",  " ",  "-",   ":",  ",", "|",   "\t",       "\n",           "\r",
            "\"",   "\\", "[",  "]",   "{",  "}", "#",   "\xC3\xA9", "\xE2\x98\x95", "true",
            "null", "0",  "05", "1e3", "-1", ".", "x y", "\xC2\xA0", "\x01",         "- "};
        switch (Int(0, 9)) {
            case 0:
                return nullptr;
            case 1:
                return Int(0, 1) == 1;
            case 2:
                return static_cast<std::int64_t>(std::uniform_int_distribution<std::int64_t>(
                    std::numeric_limits<std::int64_t>::min(),
                    std::numeric_limits<std::int64_t>::max())(rng_));
            case 3:
                return static_cast<std::int64_t>(Int(-1000, 1000));
            case 4: {
                const double mant = std::uniform_real_distribution<double>(-10.0, 10.0)(rng_);
                return mant * std::pow(10.0, Int(-30, 30));
            }
            case 5: {
                static const double kSpecial[] = {
                    0.0,  -0.0,         1e300, -1e-300, 5e-324, 0.1, 2.5, 1.7976931348623157e308,
                    1e21, 123456789.125};
                return kSpecial[Int(0, 9)];
            }
            case 6:
                return std::uniform_int_distribution<std::uint64_t>(
                    1ULL << 63, std::numeric_limits<std::uint64_t>::max())(rng_);
            default:
                return json::string(Text(kPieces, 4));
        }
    }

    std::mt19937 rng_;
};

TEST(Toon, RoundTripsGeneratedDocuments) {
    DocGenerator gen(20261128);
    int tabular = 0, list_objects = 0, nested_lists = 0;
    for (int i = 0; i < 400; ++i) {
        const json::value a = gen.Value(0);
        const json::value b = gen.Object(0);
        ExpectRoundTrip(a);
        ExpectRoundTrip(b);
        if (HasFailure()) break;
        for (const std::string& text : {ToToon(a), ToToon(b)}) {
            tabular += text.find("}:\n") != std::string::npos;
            list_objects +=
                text.find("- ") != std::string::npos && text.find(": ") != std::string::npos;
            nested_lists += text.find("- [") != std::string::npos;
        }
    }
    // The generator must actually exercise the interesting forms.
    EXPECT_GT(tabular, 20);
    EXPECT_GT(list_objects, 20);
    EXPECT_GT(nested_lists, 20);
}

TEST(Toon, MalformedInputOnlyEverYieldsLineErrors) {
    // Mutations of valid documents: the decoder must either accept them or fail with
    // kInvalidArgument naming a line — never crash or report another code.
    DocGenerator gen(99);
    std::mt19937 rng(5);
    static const char kBytes[] = {' ', '\n', '-', ':', ',', '|', '\t', '"', '\\',
                                  '[', ']',  '{', '}', '0', '9', 'a',  '\r'};
    int rejected = 0;
    for (int i = 0; i < 1500; ++i) {
        std::string text = ToToon(gen.Object(0));
        if (text.empty()) continue;
        for (int m = std::uniform_int_distribution<int>(1, 3)(rng); m > 0; --m) {
            const std::size_t at =
                std::uniform_int_distribution<std::size_t>(0, text.size() - 1)(rng);
            const char c =
                kBytes[std::uniform_int_distribution<std::size_t>(0, sizeof kBytes - 1)(rng)];
            switch (std::uniform_int_distribution<int>(0, 2)(rng)) {
                case 0:
                    text[at] = c;
                    break;
                case 1:
                    text.insert(at, 1, c);
                    break;
                default:
                    text.erase(at, 1);
                    break;
            }
            if (text.empty()) text = "-";
        }
        auto r = ParseToon(text);
        if (r.ok()) continue;
        ++rejected;
        ASSERT_EQ(r.error().code, ErrorCode::kInvalidArgument) << text;
        ASSERT_EQ(r.error().message.rfind("line ", 0), 0u) << r.error().message;
    }
    EXPECT_GT(rejected, 100);
}

TEST(Toon, RoundTripsThroughJsonDocumentsWithNonAsciiText) {
    ExpectRoundTrip(
        J(R"({"\u65e5\u672c":"\u8a9e \ud83d\ude00","list":["\u00e9","\u2003x","x\u2003"]})"));
}

}  // namespace
}  // namespace contex::engine
