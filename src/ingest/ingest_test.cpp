// The worked examples of engine.md §1.12, verbatim, plus format resolution (§1.2).
#include "ingest/ingest.hpp"

#include <gtest/gtest.h>

#include "ingest/test_support.hpp"

namespace contex::ingest {
namespace {

using testing::NodeAt;
using testing::ParseOk;

TEST(WorkedExamples, Example1FlatObjectIsOneRootNode) {
    Document doc = ParseOk("tech_stack",
                           ParseJson(R"({"frontend":"React","backend":"FastAPI","database":"PostgreSQL"})").value());
    EXPECT_EQ(doc.format, Format::kJson);
    ASSERT_EQ(doc.nodes.size(), 1u);
    const Node& n = doc.nodes[0];
    EXPECT_EQ(n.path, "root");
    EXPECT_EQ(n.node_key, "tech_stack.root");
    EXPECT_EQ(n.type, NodeType::kObject);
    EXPECT_EQ(n.text, "tech stack | frontend: React | backend: FastAPI | database: PostgreSQL");
    EXPECT_EQ(ToJson(n.data), R"({"frontend":"React","backend":"FastAPI","database":"PostgreSQL"})");
    EXPECT_EQ(n.index, 0);
}

TEST(WorkedExamples, Example2NestedObjectsKeepSimpleEntriesWithParent) {
    Document doc = ParseOk(
        "org",
        ParseJson(R"({"team":{"name":"core","people":[{"name":"Ann","role":"dev"},{"name":"Bo","role":"qa"}]},"version":2,"tags":["a","b"]})")
            .value());
    ASSERT_EQ(doc.nodes.size(), 4u);
    EXPECT_EQ(doc.nodes[0].path, "root");
    EXPECT_EQ(ToJson(doc.nodes[0].data), R"({"version":2,"tags":["a","b"]})");
    EXPECT_EQ(doc.nodes[0].text, "org | version: 2 | tags: a, b");
    EXPECT_EQ(doc.nodes[1].path, "team");
    EXPECT_EQ(ToJson(doc.nodes[1].data), R"({"name":"core"})");
    EXPECT_EQ(doc.nodes[1].text, "org | team | name: core");
    EXPECT_EQ(doc.nodes[2].path, "team.people[0]");
    EXPECT_EQ(doc.nodes[2].node_key, "org.team.people[0]");
    EXPECT_EQ(doc.nodes[2].text, "org | team people | name: Ann | role: dev");
    EXPECT_EQ(doc.nodes[3].path, "team.people[1]");
    EXPECT_EQ(doc.nodes[3].text, "org | team people | name: Bo | role: qa");
    for (int i = 0; i < 4; ++i) EXPECT_EQ(doc.nodes[i].index, i);
}

TEST(WorkedExamples, Example3DeepObjectsSplitPerLevel) {
    Document doc = ParseOk("cfg", ParseJson(R"({"services":{"api":{"port":80,"env":{"X":1}}}})").value());
    ASSERT_EQ(doc.nodes.size(), 2u);
    EXPECT_EQ(doc.nodes[0].path, "services.api");
    EXPECT_EQ(ToJson(doc.nodes[0].data), R"({"port":80})");
    EXPECT_EQ(doc.nodes[0].text, "cfg | services api | port: 80");
    EXPECT_EQ(doc.nodes[1].path, "services.api.env");
    EXPECT_EQ(doc.nodes[1].text, "cfg | services api env | X: 1");
}

TEST(WorkedExamples, Example4MixedArrayElementsBecomeSeparateNodes) {
    Document doc = ParseOk("k", ParseJson(R"({"list":[5,{"a":1},"x"]})").value());
    ASSERT_EQ(doc.nodes.size(), 3u);
    EXPECT_EQ(doc.nodes[0].path, "list[0]");
    EXPECT_EQ(doc.nodes[0].type, NodeType::kPrimitive);
    EXPECT_EQ(doc.nodes[0].text, "k | list | 5");
    EXPECT_EQ(doc.nodes[1].path, "list[1]");
    EXPECT_EQ(doc.nodes[1].type, NodeType::kObject);
    EXPECT_EQ(doc.nodes[1].text, "k | list | a: 1");
    EXPECT_EQ(doc.nodes[2].path, "list[2]");
    EXPECT_EQ(doc.nodes[2].type, NodeType::kPrimitive);
    EXPECT_EQ(doc.nodes[2].text, "k | list | x");
}

TEST(WorkedExamples, Example5TopLevelArrays) {
    Document doc = ParseOk("items", ParseJson(R"([{"a":1},{"b":2}])").value());
    ASSERT_EQ(doc.nodes.size(), 2u);
    EXPECT_EQ(doc.nodes[0].node_key, "items[0]");
    EXPECT_EQ(doc.nodes[0].text, "items | a: 1");
    EXPECT_EQ(doc.nodes[1].node_key, "items[1]");
    EXPECT_EQ(doc.nodes[1].text, "items | b: 2");

    Document scalars = ParseOk("items", ParseJson(R"(["x","y"])").value());
    ASSERT_EQ(scalars.nodes.size(), 1u);
    EXPECT_EQ(scalars.nodes[0].path, "root");
    EXPECT_EQ(scalars.nodes[0].type, NodeType::kArray);
    EXPECT_EQ(ToJson(scalars.nodes[0].data), R"({"value":["x","y"]})");
    EXPECT_EQ(scalars.nodes[0].text, "items | x, y");
}

TEST(WorkedExamples, Example6NumbersAsTextJsonHintAndNative) {
    Document text = ParseOk("n", json::value("123"));
    EXPECT_EQ(text.format, Format::kText);
    ASSERT_EQ(text.nodes.size(), 1u);
    EXPECT_EQ(text.nodes[0].path, "paragraph_0");
    EXPECT_EQ(text.nodes[0].text, "n | 123");

    Document hinted = ParseOk("n", json::value("123"), "json");
    EXPECT_EQ(hinted.format, Format::kJson);
    ASSERT_EQ(hinted.nodes.size(), 1u);
    EXPECT_EQ(hinted.nodes[0].path, "value");
    EXPECT_EQ(hinted.nodes[0].type, NodeType::kPrimitive);
    EXPECT_EQ(ToJson(hinted.nodes[0].data), R"({"value":123})");
    EXPECT_EQ(hinted.nodes[0].text, "n | 123");

    Document native = ParseOk("n", json::value(42));
    ASSERT_EQ(native.nodes.size(), 1u);
    EXPECT_EQ(native.nodes[0].path, "value");
    EXPECT_EQ(native.nodes[0].text, "n | 42");
}

TEST(WorkedExamples, Example7YamlDetected) {
    Document doc = ParseOk("cfg", json::value("database:\n  host: localhost\n  port: 5432"));
    EXPECT_EQ(doc.format, Format::kYaml);
    ASSERT_EQ(doc.nodes.size(), 1u);
    EXPECT_EQ(doc.nodes[0].path, "database");
    EXPECT_EQ(ToJson(doc.nodes[0].data), R"({"host":"localhost","port":5432})");
    EXPECT_EQ(doc.nodes[0].text, "cfg | database | host: localhost | port: 5432");
}

TEST(WorkedExamples, Example8IndentedYamlWithHint) {
    Document doc = ParseOk(
        "stack",
        json::value("\n        frontend: React\n        backend: FastAPI\n        database: PostgreSQL\n        "),
        "yaml");
    EXPECT_EQ(doc.format, Format::kYaml);
    ASSERT_EQ(doc.nodes.size(), 1u);
    EXPECT_EQ(doc.nodes[0].path, "root");
    EXPECT_EQ(doc.nodes[0].text, "stack | frontend: React | backend: FastAPI | database: PostgreSQL");
}

TEST(WorkedExamples, Example9CsvRows) {
    Document doc = ParseOk("people", json::value("name,age\nAnn,30\nBo,25"));
    EXPECT_EQ(doc.format, Format::kCsv);
    ASSERT_EQ(doc.nodes.size(), 2u);
    EXPECT_EQ(doc.nodes[0].path, "row_0");
    EXPECT_EQ(doc.nodes[0].type, NodeType::kRow);
    EXPECT_EQ(ToJson(doc.nodes[0].data), R"({"name":"Ann","age":"30"})");
    EXPECT_EQ(doc.nodes[0].text, "people | name: Ann | age: 30");
    EXPECT_EQ(doc.nodes[1].path, "row_1");
    EXPECT_EQ(doc.nodes[1].text, "people | name: Bo | age: 25");
}

TEST(WorkedExamples, Example10MarkdownSections) {
    Document doc = ParseOk(
        "readme",
        json::value("# Title\n\nIntro para.\n\n## Setup\n\n~~~bash\npip install x\n~~~\n\nRun it."));
    EXPECT_EQ(doc.format, Format::kMarkdown);
    ASSERT_EQ(doc.nodes.size(), 5u);
    EXPECT_EQ(doc.nodes[0].path, "heading_0");
    EXPECT_EQ(doc.nodes[0].type, NodeType::kHeading);
    EXPECT_EQ(doc.nodes[0].metadata.at("level").as_int64(), 1);
    EXPECT_EQ(doc.nodes[0].text, "readme | Title");
    EXPECT_EQ(doc.nodes[1].path, "paragraph_0");
    EXPECT_EQ(doc.nodes[1].text, "readme | Title | Intro para.");
    EXPECT_EQ(doc.nodes[2].path, "heading_1");
    EXPECT_EQ(doc.nodes[2].metadata.at("level").as_int64(), 2);
    EXPECT_EQ(doc.nodes[2].text, "readme | Title > Setup");
    EXPECT_EQ(doc.nodes[3].path, "code_block_0");
    EXPECT_EQ(doc.nodes[3].type, NodeType::kCodeBlock);
    EXPECT_EQ(doc.nodes[3].metadata.at("language").as_string(), "bash");
    EXPECT_EQ(doc.nodes[3].text, "readme | Title > Setup | pip install x");
    EXPECT_EQ(doc.nodes[4].path, "paragraph_1");
    EXPECT_EQ(doc.nodes[4].text, "readme | Title > Setup | Run it.");
}

TEST(WorkedExamples, Example11TextHintWinsOverMarkdown) {
    Document text = ParseOk("doc", json::value("# My Project\n\nThis is a test project."), "text");
    EXPECT_EQ(text.format, Format::kText);
    ASSERT_EQ(text.nodes.size(), 2u);
    EXPECT_EQ(text.nodes[0].path, "paragraph_0");
    EXPECT_EQ(text.nodes[0].text, "doc | # My Project");
    EXPECT_EQ(text.nodes[1].path, "paragraph_1");
    EXPECT_EQ(text.nodes[1].text, "doc | This is a test project.");

    Document md = ParseOk("doc", json::value("# My Project\n\nThis is a test project."));
    EXPECT_EQ(md.format, Format::kMarkdown);
    ASSERT_EQ(md.nodes.size(), 2u);
    EXPECT_EQ(md.nodes[0].path, "heading_0");
    EXPECT_EQ(md.nodes[1].path, "paragraph_0");
    EXPECT_EQ(md.nodes[1].text, "doc | My Project | This is a test project.");
}

TEST(WorkedExamples, Example12ConservativeDetectionKeepsProseAsText) {
    Document a = ParseOk("notes", json::value("Hello, world.\nSecond line."));
    EXPECT_EQ(a.format, Format::kText);
    ASSERT_EQ(a.nodes.size(), 1u);
    EXPECT_EQ(a.nodes[0].path, "paragraph_0");
    EXPECT_EQ(ParseOk("notes", json::value("Note: we use Redis")).format, Format::kText);
    EXPECT_EQ(ParseOk("notes", json::value("We use Python 3.11.")).format, Format::kText);
}

TEST(WorkedExamples, Example13Toml) {
    Document doc = ParseOk("svc", json::value("[server]\nport = 8080\nhost = \"0.0.0.0\"\n\n[[users]]\nname = \"ann\""));
    EXPECT_EQ(doc.format, Format::kToml);
    ASSERT_EQ(doc.nodes.size(), 2u);
    EXPECT_EQ(doc.nodes[0].path, "server");
    EXPECT_EQ(doc.nodes[0].text, "svc | server | port: 8080 | host: 0.0.0.0");
    EXPECT_EQ(doc.nodes[1].path, "users[0]");
    EXPECT_EQ(doc.nodes[1].text, "svc | users | name: ann");
}

TEST(WorkedExamples, Example14Xml) {
    const char* xml =
        R"(<config env="prod"><db host="x" port="5432"/><feature>a</feature><feature>b</feature></config>)";
    Document doc = ParseOk("settings", json::value(xml));
    EXPECT_EQ(doc.format, Format::kXml);
    ASSERT_EQ(doc.nodes.size(), 2u);
    EXPECT_EQ(doc.nodes[0].path, "config");
    EXPECT_EQ(doc.nodes[0].text, "settings | config | @env: prod | feature: a, b");
    EXPECT_EQ(doc.nodes[1].path, "config.db");
    EXPECT_EQ(doc.nodes[1].text, "settings | config db | @host: x | @port: 5432");
    auto model = internal::ParseXml(xml);
    ASSERT_TRUE(model.ok());
    EXPECT_EQ(ToJson(*model),
              R"({"config":{"@env":"prod","db":{"@host":"x","@port":"5432"},"feature":["a","b"]}})");
}

TEST(WorkedExamples, Example15PythonUnits) {
    Document doc = ParseOk(
        "store",
        json::value("import os\n\ndef load(path):\n    return open(path).read()\n\nclass Store:\n    pass\n"),
        "python");
    EXPECT_EQ(doc.format, Format::kCode);
    EXPECT_EQ(doc.language, "python");
    ASSERT_EQ(doc.nodes.size(), 3u);
    EXPECT_EQ(doc.nodes[0].path, "preamble");
    EXPECT_EQ(doc.nodes[0].type, NodeType::kCodeBlock);
    EXPECT_EQ(doc.nodes[0].text, "store | import os");
    EXPECT_EQ(doc.nodes[1].path, "function_load");
    EXPECT_EQ(doc.nodes[1].type, NodeType::kFunction);
    EXPECT_EQ(doc.nodes[1].text, "store | function load | def load(path):\n    return open(path).read()");
    EXPECT_EQ(doc.nodes[1].metadata.at("start_line").as_int64(), 3);
    EXPECT_EQ(doc.nodes[1].metadata.at("end_line").as_int64(), 4);
    EXPECT_EQ(doc.nodes[2].path, "class_Store");
    EXPECT_EQ(doc.nodes[2].type, NodeType::kClass);
    EXPECT_EQ(doc.nodes[2].text, "store | class Store | class Store:\n    pass");
}

TEST(WorkedExamples, Example16BadJsonFallsBackToTextWithWarning) {
    Document doc = ParseOk("x", json::value("{bad json"), "json");
    EXPECT_EQ(doc.format, Format::kText);
    ASSERT_EQ(doc.nodes.size(), 1u);
    EXPECT_EQ(doc.nodes[0].path, "paragraph_0");
    EXPECT_EQ(doc.nodes[0].text, "x | {bad json");
    ASSERT_EQ(doc.warnings.size(), 1u);
    EXPECT_TRUE(doc.warnings[0].starts_with("data_format 'json' could not be parsed ("));
    EXPECT_TRUE(doc.warnings[0].ends_with("); detected 'text'"));
}

TEST(WorkedExamples, Example17IdenticalRepublishHasSameHashAndNodeKeys) {
    json::value v1 = ParseJson(R"({"frontend":"React","backend":"FastAPI","database":"PostgreSQL"})").value();
    EXPECT_EQ(ParseOk("tech_stack", v1).content_hash, ParseOk("tech_stack", v1).content_hash);

    json::value org = ParseJson(R"({"team":{"name":"core","people":[{"name":"Ann","role":"dev"},{"name":"Bo","role":"qa"}]},"version":2,"tags":["a","b"]})").value();
    json::value shorter = ParseJson(R"({"team":{"name":"core","people":[{"name":"Ann","role":"dev"}]},"version":2,"tags":["a","b"]})").value();
    Document before = ParseOk("org", org);
    Document after = ParseOk("org", shorter);
    EXPECT_NE(before.content_hash, after.content_hash);
    ASSERT_EQ(after.nodes.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(after.nodes[i].node_key, before.nodes[i].node_key);
        EXPECT_EQ(TextHash(after.nodes[i].text), TextHash(before.nodes[i].text));
    }
    EXPECT_EQ(NodeAt(before, "team.people[1]").text, "org | team people | name: Bo | role: qa");
}

// ---- §1.2 format resolution ----------------------------------------------------------

TEST(FormatResolution, KnownHintsResolveCaseInsensitively) {
    EXPECT_EQ(ResolveHint(" YML ").value(), Format::kYaml);
    EXPECT_EQ(ResolveHint("Markdown").value(), Format::kMarkdown);
    EXPECT_EQ(ResolveHint("plaintext").value(), Format::kText);
    EXPECT_EQ(ResolveHintDetails("tsv").value().delimiter, '\t');
    EXPECT_EQ(ResolveHintDetails("py").value().language, "python");
    EXPECT_EQ(ResolveHintDetails("c++").value().language, "cpp");
    EXPECT_EQ(ResolveHintDetails("bash").value().language, "shell");
    EXPECT_EQ(ResolveHintDetails("cs").value().language, "csharp");
    EXPECT_EQ(ResolveHintDetails("code").value().language, "");
}

TEST(FormatResolution, UnknownHintIsInvalidArgumentForValidation) {
    auto r = ResolveHint("docx");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, "unknown data_format 'docx'");
}

TEST(FormatResolution, UnknownHintIsRejectedEvenWhenTheDataWouldBeDetected) {
    for (const json::value& data : {json::value("database:\n  host: localhost\n  port: 5432"),
                                    ParseJson(R"({"a":1})").value()}) {
        auto r = Parse("cfg", data, std::string("docx"), {});
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
        EXPECT_EQ(r.error().message, "unknown data_format 'docx'");
    }
}

TEST(FormatResolution, StructuredDataIgnoresAnyHint) {
    Document doc = ParseOk("k", ParseJson(R"({"a":1})").value(), "markdown");
    EXPECT_EQ(doc.format, Format::kJson);
    EXPECT_TRUE(doc.warnings.empty());
    Document scalar = ParseOk("k", json::value(true), "markdown");
    EXPECT_EQ(scalar.format, Format::kJson);
    EXPECT_TRUE(scalar.warnings.empty());
    EXPECT_EQ(scalar.nodes[0].text, "k | true");
}

TEST(FormatResolution, NullIsOnePrimitiveNode) {
    Document doc = ParseOk("k", json::value(nullptr));
    ASSERT_EQ(doc.nodes.size(), 1u);
    EXPECT_EQ(doc.nodes[0].path, "value");
    EXPECT_EQ(doc.nodes[0].text, "k | null");
}

TEST(FormatResolution, EmptyStringIsTextWithZeroNodes) {
    Document doc = ParseOk("k", json::value("   \n  "));
    EXPECT_EQ(doc.format, Format::kText);
    EXPECT_TRUE(doc.nodes.empty());
}

TEST(FormatResolution, FailedYamlHintWarnsWithReason) {
    Document doc = ParseOk("k", json::value("a: [1, 2\nb: {"), "yaml");
    ASSERT_EQ(doc.warnings.size(), 1u);
    EXPECT_TRUE(doc.warnings[0].starts_with("data_format 'yaml' could not be parsed ("));
    EXPECT_NE(doc.format, Format::kYaml);
}

TEST(FormatResolution, XmlWithDoctypeIsParseFailureAndFallsBack) {
    Document doc = ParseOk("k", json::value("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"), "xml");
    EXPECT_NE(doc.format, Format::kXml);
    ASSERT_EQ(doc.warnings.size(), 1u);
    EXPECT_EQ(doc.warnings[0],
              "data_format 'xml' could not be parsed (DOCTYPE declarations are not allowed); "
              "detected 'text'");
}

TEST(FormatResolution, DetectionIsConservative) {
    EXPECT_EQ(ParseOk("k", json::value("Version 2.0 is out. We ship 3.1 next.")).format, Format::kText);
    EXPECT_EQ(ParseOk("k", json::value("Apples, pears and plums.\nFigs too.")).format, Format::kText);
    EXPECT_EQ(ParseOk("k", json::value("# comment\nname: x\nport: 80")).format, Format::kYaml);
    EXPECT_EQ(ParseOk("k", json::value("1. first point\nand more prose")).format, Format::kText);
    EXPECT_EQ(ParseOk("k", json::value("- one\n- two\n\nSome prose here, not YAML.")).format,
              Format::kMarkdown);
    EXPECT_EQ(ParseOk("k", json::value("a\tb\n1\t2")).format, Format::kCsv);
    EXPECT_EQ(ParseOk("k", json::value("#!/bin/sh\necho hi")).format, Format::kCode);
    EXPECT_EQ(ParseOk("k", json::value("[1, 2, 3]")).format, Format::kJson);
}

TEST(ContentHash, IsSha256OfFormatNewlineCompactJson) {
    json::value v = ParseJson(R"({"b":1,"a":[1.5,true]})").value();
    EXPECT_EQ(ContentHash(Format::kJson, v), Sha256Hex("json\n{\"b\":1,\"a\":[1.5,true]}"));
    EXPECT_NE(ContentHash(Format::kJson, v), ContentHash(Format::kYaml, v));
    Document doc = ParseOk("k", v);
    EXPECT_EQ(doc.content_hash, ContentHash(Format::kJson, v));
    EXPECT_EQ(TextHash("abc"), Sha256Hex("abc"));
}

TEST(Humanize, FollowsTitleRules) {
    EXPECT_EQ(Humanize("tech_stack"), "tech stack");
    EXPECT_EQ(Humanize("apiSpecs"), "api Specs");
    EXPECT_EQ(Humanize("a--b..c//d"), "a b c d");
    EXPECT_EQ(Humanize("HTTPServer"), "HTTPServer");
    EXPECT_EQ(Humanize("  spaced   out "), "spaced out");
}

}  // namespace
}  // namespace contex::ingest
