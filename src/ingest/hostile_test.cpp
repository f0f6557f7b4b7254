// Hostile inputs: each returns a specific error or a bounded result, never a crash.
#include <gtest/gtest.h>

#include <stdexcept>

#include "ingest/test_support.hpp"

namespace contex::ingest {
namespace {

using testing::ParseOk;

bool WarningContains(const Document& doc, std::string_view needle) {
    for (const auto& w : doc.warnings) {
        if (w.find(needle) != std::string::npos) return true;
    }
    return false;
}

TEST(Hostile, InvalidUtf8StringIsRejected) {
    auto r = Parse("k", json::value(std::string("caf\xC3 ok \xFF")), std::nullopt, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, "data contains invalid UTF-8");
}

TEST(Hostile, InvalidUtf8InNativeKeyIsRejected) {
    json::object obj;
    obj[std::string("k\xED\xA0\x80")] = 1;  // encoded surrogate
    auto r = Parse("k", json::value(obj), std::nullopt, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(Hostile, DeepNativeValueIsRejected) {
    json::value v = json::array();
    json::value* cur = &v;
    for (int i = 0; i < 10000; ++i) {
        cur->get_array().push_back(json::array());
        cur = &cur->get_array().back();
    }
    auto r = Parse("k", v, std::nullopt, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, "data is nested deeper than 64 levels");
    // Tear down iteratively so the test itself does not recurse 10,000 frames.
    while (!v.get_array().empty()) {
        json::value inner = std::move(v.get_array().back());
        v = std::move(inner);
    }
}

TEST(Hostile, DeepJsonTextFallsBackWithWarning) {
    std::string text = std::string(10000, '[') + std::string(10000, ']');
    Document doc = ParseOk("k", json::value(text), "json");
    EXPECT_EQ(doc.format, Format::kText);
    EXPECT_TRUE(WarningContains(doc, "nesting deeper than 64")) << doc.warnings.at(0);
    EXPECT_FALSE(doc.nodes.empty());
}

TEST(Hostile, DeepYamlTextIsParseFailure) {
    std::string flow = std::string(10000, '[') + std::string(10000, ']');
    Document doc = ParseOk("k", json::value(flow), "yaml");
    EXPECT_NE(doc.format, Format::kYaml);
    ASSERT_EQ(doc.warnings.size(), 1u);
    EXPECT_TRUE(doc.warnings[0].starts_with("data_format 'yaml' could not be parsed ("));

    std::string block;
    for (int i = 0; i < 100; ++i) block += std::string(i * 2, ' ') + "k" + std::to_string(i) + ":\n";
    Document deep = ParseOk("k", json::value(block), "yaml");
    EXPECT_NE(deep.format, Format::kYaml);
    EXPECT_TRUE(WarningContains(deep, "nesting deeper than 64"));
}

TEST(Hostile, DeepXmlAndTomlAreParseFailures) {
    std::string xml;
    for (int i = 0; i < 10000; ++i) xml += "<a>";
    for (int i = 0; i < 10000; ++i) xml += "</a>";
    Document x = ParseOk("k", json::value(xml), "xml");
    EXPECT_NE(x.format, Format::kXml);
    EXPECT_TRUE(WarningContains(x, "nesting deeper than 64"));

    std::string toml = "a = " + std::string(10000, '[') + std::string(10000, ']');
    Document t = ParseOk("k", json::value(toml), "toml");
    EXPECT_NE(t.format, Format::kToml);
    EXPECT_TRUE(WarningContains(t, "data_format 'toml' could not be parsed"));
}

TEST(Hostile, YamlAliasBombIsBounded) {
    std::string bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
    const char* names = "abcdefghij";
    for (int i = 1; i < 10; ++i) {
        bomb += std::string(1, names[i]) + ": &" + names[i] + " [";
        for (int k = 0; k < 9; ++k) bomb += std::string(k ? "," : "") + "*" + names[i - 1];
        bomb += "]\n";
    }
    Document doc = ParseOk("k", json::value(bomb), "yaml");
    EXPECT_NE(doc.format, Format::kYaml);
    EXPECT_TRUE(WarningContains(doc, "alias expansion exceeds 100000 values")) << doc.warnings.at(0);

    auto direct = internal::ParseYaml(bomb, 1000);
    ASSERT_FALSE(direct.ok());
    EXPECT_EQ(direct.error().message, "alias expansion exceeds 1000 values");
}

TEST(Hostile, YamlValueLimitCountsValuesNotKeys) {
    std::string flat;
    for (int i = 0; i < 600; ++i) flat += "k" + std::to_string(i) + ": v\n";
    EXPECT_TRUE(internal::ParseYaml(flat, 601).ok());  // 600 values + the mapping
    auto over = internal::ParseYaml(flat, 600);
    ASSERT_FALSE(over.ok());
    EXPECT_EQ(over.error().message, "document has more than 600 values");
}

TEST(Hostile, XmlEntityExpansionAndExternalEntitiesAreRejected) {
    std::string laughs =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
        " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
        "]>\n<lolz>&lol3;</lolz>";
    Document doc = ParseOk("k", json::value(laughs), "xml");
    EXPECT_NE(doc.format, Format::kXml);
    EXPECT_TRUE(WarningContains(doc, "DOCTYPE declarations are not allowed"));
    for (const auto& n : doc.nodes) EXPECT_EQ(n.text.find("lollol"), std::string::npos);

    std::string xxe = "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>";
    Document ext = ParseOk("k", json::value(xxe), "xml");
    EXPECT_NE(ext.format, Format::kXml);
    for (const auto& n : ext.nodes) EXPECT_EQ(n.text.find("root:"), std::string::npos);
    // Undeclared entity references are never resolved either.
    auto plain = internal::ParseXml("<r>&x;</r>");
    if (plain.ok()) {
        EXPECT_EQ(ToJson(*plain), R"({"r":"&x;"})");
    }
}

TEST(Hostile, HundredMegabyteSingleLineIsTooLarge) {
    json::string big;
    big.resize(100u * 1024 * 1024, 'a');
    auto r = Parse("k", json::value(std::move(big)), "text", {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
    EXPECT_EQ(r.error().message, "data is 104857600 bytes; the limit is 10485760");
}

TEST(Hostile, NativeValueOverByteLimitIsTooLarge) {
    ParseOptions options;
    options.max_input_bytes = 100;
    json::object obj;
    obj["k"] = std::string(200, 'x');
    auto r = Parse("k", json::value(obj), std::nullopt, options);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
}

TEST(Hostile, MultiMegabyteSingleLineWithinLimitIsChunked) {
    std::string line(3u * 1024 * 1024, 'a');
    Document doc = ParseOk("k", json::value(line));
    EXPECT_EQ(doc.format, Format::kText);
    ASSERT_GT(doc.nodes.size(), 1u);
    std::size_t total = 0;
    for (const auto& n : doc.nodes) total += n.data.at("value").as_string().size();
    EXPECT_EQ(total, line.size());
}

TEST(Hostile, EmptyInput) {
    Document text = ParseOk("k", json::value(""));
    EXPECT_EQ(text.format, Format::kText);
    EXPECT_TRUE(text.nodes.empty());
    Document hinted = ParseOk("k", json::value(""), "json");
    EXPECT_EQ(hinted.format, Format::kText);
    EXPECT_TRUE(hinted.nodes.empty());
    EXPECT_EQ(hinted.warnings.size(), 1u);
    for (const char* hint : {"yaml", "toml", "xml", "csv", "markdown", "code", "text"}) {
        auto r = Parse("k", json::value(""), hint, {});
        ASSERT_TRUE(r.ok()) << hint;
        EXPECT_LE(r->nodes.size(), 1u) << hint;
    }
}

TEST(Hostile, TooManyNodesReportsTheTrueCount) {
    json::array arr;
    for (int i = 0; i < 10001; ++i) arr.push_back(json::object{{"i", i}});
    auto r = Parse("k", json::value(arr), std::nullopt, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, "data produces 10001 nodes; the limit is 10000");

    arr.pop_back();
    auto ok = Parse("k", json::value(arr), std::nullopt, {});
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok->nodes.size(), 10000u);
}

TEST(Hostile, TooManyCsvRowsAndParagraphs) {
    ParseOptions options;
    options.max_nodes = 5;
    std::string csv = "a,b\n";
    for (int i = 0; i < 7; ++i) csv += "1,2\n";
    auto r = Parse("k", json::value(csv), "csv", options);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "data produces 7 nodes; the limit is 5");
    std::string paras;
    for (int i = 0; i < 9; ++i) paras += "para\n\n";
    auto t = Parse("k", json::value(paras), "text", options);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().message, "data produces 9 nodes; the limit is 5");
}

TEST(Hostile, YamlLoadAllLoopInputsFailInsteadOfHanging) {
    // yaml-cpp 0.7's LoadAll never returns on these (jbeder/yaml-cpp#1040).
    for (const char* text : {"\"\",", ",", "[a],"}) {
        auto r = internal::ParseYaml(text, 1000);
        EXPECT_FALSE(r.ok()) << text;
    }
    Document doc = ParseOk("k", json::value("\"\","), "yaml");
    EXPECT_EQ(doc.format, Format::kText);
}

TEST(Hostile, EscapesThatDecodeToInvalidUtf8AreRepaired) {
    // Found by fuzz_yaml: NULs made yaml-cpp decode the text as UTF-32 (invalid UTF-8 out).
    auto y = internal::ParseYaml(std::string_view("o\0\0\0penapi: 3.0\n", 15), 1000);
    ASSERT_FALSE(y.ok());
    EXPECT_EQ(y.error().message, "YAML cannot contain NUL characters");
    auto x = internal::ParseXml("<r a=\"&#xD800;\">&#xDFFF;</r>");
    if (x.ok()) {
        EXPECT_TRUE(IsValidUtf8(ToJson(*x)));
    }
}

TEST(Hostile, ThrowingTokenCounterDoesNotEscape) {
    ParseOptions options;
    options.count_tokens = [](std::string_view) -> std::size_t {
        throw std::runtime_error("tokenizer broke");
    };
    auto r = Parse("k", json::value("some text"), "text", options);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInternal);
    EXPECT_EQ(r.error().message, "ingest failed: tokenizer broke");
}

}  // namespace
}  // namespace contex::ingest
