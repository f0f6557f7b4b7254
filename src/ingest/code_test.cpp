// Code splitting per language over source fixtures (§1.7).
#include <gtest/gtest.h>

#include "ingest/test_support.hpp"

namespace contex::ingest {
namespace {

using testing::Fixture;
using testing::NodeAt;
using testing::ParseOk;

std::vector<std::string> Paths(const Document& doc) {
    std::vector<std::string> out;
    for (const auto& n : doc.nodes) out.push_back(n.path);
    return out;
}

struct CodeCase {
    const char* file;
    const char* hint;
    const char* language;
    std::vector<std::string> paths;
};

class CodeFixture : public ::testing::TestWithParam<CodeCase> {};

TEST_P(CodeFixture, SplitsIntoUnits) {
    const CodeCase& c = GetParam();
    Document doc = ParseOk("src", json::value(Fixture(std::string("code/") + c.file)), c.hint);
    EXPECT_EQ(doc.format, Format::kCode);
    EXPECT_EQ(doc.language, c.language);
    EXPECT_EQ(Paths(doc), c.paths);
    for (const auto& n : doc.nodes) {
        EXPECT_EQ(n.metadata.at("language").as_string(), c.language);
        EXPECT_LE(n.metadata.at("start_line").as_int64(), n.metadata.at("end_line").as_int64());
    }
}

INSTANTIATE_TEST_SUITE_P(
    Languages, CodeFixture,
    ::testing::Values(
        CodeCase{"inventory.py", "py", "python",
                 {"preamble", "class_Item", "function_load_items", "function_sync"}},
        CodeCase{"api.js", "js", "javascript",
                 {"preamble", "function_health", "function_listItems", "class_ItemStore",
                  "function_start"}},
        CodeCase{"types.ts", "ts", "typescript",
                 {"preamble", "class_Item", "class_ItemId", "function_parseItem",
                  "class_Inventory"}},
        CodeCase{"server.go", "go", "go",
                 {"preamble", "class_Server", "function_NewServer", "function_Start"}},
        CodeCase{"lib.rs", "rs", "rust",
                 {"preamble", "class_Stock", "class_Stock_2", "function_total", "class_Unit"}},
        CodeCase{"InventoryController.java", "java", "java",
                 {"preamble", "class_InventoryController"}},
        CodeCase{"stock.c", "c", "c",
                 {"preamble", "class_stock", "function_stock_add", "function_main"}},
        CodeCase{"cache.cpp", "c++", "cpp",
                 {"preamble", "code_block_0", "class_Cache", "function_Get"}},
        CodeCase{"deploy.sh", "bash", "shell", {"preamble", "function_log", "function_build"}},
        CodeCase{"schema.sql", "sql", "sql", {"code_block_0", "code_block_1", "code_block_2"}},
        CodeCase{"notes.rb", "rb", "ruby", {"preamble", "code_block_0", "function_restock"}}),
    [](const ::testing::TestParamInfo<CodeCase>& info) {
        return internal::SanitizeName(info.param.language);
    });

TEST(CodeUnits, PythonDecoratorsAndCommentsBelongToTheUnit) {
    Document doc = ParseOk("inv", json::value(Fixture("code/inventory.py")), "python");
    const Node& item = NodeAt(doc, "class_Item");
    EXPECT_TRUE(item.text.starts_with("inv | class Item | @dataclass\nclass Item:\n"));
    EXPECT_EQ(item.metadata.at("start_line").as_int64(), 8);
    EXPECT_EQ(item.metadata.at("end_line").as_int64(), 14);
    const Node& load = NodeAt(doc, "function_load_items");
    EXPECT_TRUE(load.text.starts_with(
        "inv | function load_items | # Loads items from a CSV export.\ndef load_items(path):"));
    EXPECT_EQ(NodeAt(doc, "function_sync").metadata.at("kind").as_string(), "function");
    EXPECT_EQ(NodeAt(doc, "preamble").metadata.at("kind").as_string(), "preamble");
}

TEST(CodeUnits, KindsAndNamesInTextAndMetadata) {
    Document rs = ParseOk("lib", json::value(Fixture("code/lib.rs")), "rust");
    EXPECT_TRUE(NodeAt(rs, "class_Stock").text.starts_with(
        "lib | struct Stock | /// Stock per SKU.\n#[derive(Debug, Default)]\npub struct Stock {"));
    EXPECT_EQ(NodeAt(rs, "class_Stock_2").metadata.at("kind").as_string(), "impl");
    Document go = ParseOk("srv", json::value(Fixture("code/server.go")), "go");
    EXPECT_EQ(NodeAt(go, "function_Start").metadata.at("name").as_string(), "Start");
    EXPECT_TRUE(NodeAt(go, "class_Server").text.starts_with("srv | struct Server | // Server"));
    Document ts = ParseOk("types", json::value(Fixture("code/types.ts")), "typescript");
    EXPECT_EQ(NodeAt(ts, "class_Item").metadata.at("kind").as_string(), "interface");
    EXPECT_EQ(NodeAt(ts, "class_ItemId").text, "types | type ItemId | export type ItemId = string;");
    Document sql = ParseOk("db", json::value(Fixture("code/schema.sql")), "sql");
    EXPECT_EQ(NodeAt(sql, "code_block_1").text,
              "db | CREATE INDEX items_quantity ON items (quantity);");
}

TEST(CodeUnits, LanguageDetectionByShebangAndCensus) {
    EXPECT_EQ(ParseOk("s", json::value(Fixture("code/deploy.sh")), "code").language, "shell");
    EXPECT_EQ(ParseOk("s", json::value(Fixture("code/server.go")), "code").language, "go");
    EXPECT_EQ(ParseOk("s", json::value(Fixture("code/types.ts")), "code").language, "typescript");
    EXPECT_EQ(ParseOk("s", json::value(Fixture("code/lib.rs")), "code").language, "rust");
    EXPECT_EQ(ParseOk("s", json::value(Fixture("code/api.js")), "code").language, "javascript");
    EXPECT_EQ(internal::DetectLanguage("x = 1\ny = 2"), "unknown");
    Document detected = ParseOk("s", json::value(Fixture("code/server.go")));
    EXPECT_EQ(detected.format, Format::kCode);
    EXPECT_EQ(detected.language, "go");
}

TEST(CodeUnits, DetectedCodeKeepsSourceLineNumbers) {
    Document doc = ParseOk("k", json::value("\n\n" + Fixture("code/server.go")));
    ASSERT_EQ(doc.format, Format::kCode);
    EXPECT_EQ(NodeAt(doc, "function_NewServer").metadata.at("start_line").as_int64(), 15);
}

TEST(CodeUnits, RepeatedNamesGetSuffixes) {
    Document doc = ParseOk("k", json::value("def f():\n    pass\n\ndef f():\n    pass\n\ndef f():\n    pass\n"), "python");
    EXPECT_EQ(Paths(doc), (std::vector<std::string>{"function_f", "function_f_2", "function_f_3"}));
}

TEST(CodeUnits, SuffixedNamesNeverCollide) {
    Document doc = ParseOk("k", json::value("def f():\n  pass\ndef f():\n  pass\ndef f_2():\n  pass\n"), "python");
    EXPECT_EQ(Paths(doc), (std::vector<std::string>{"function_f", "function_f_2", "function_f_2_2"}));
}

TEST(CodeUnits, NoUnitFallsBackToChunkedBlocks) {
    std::string text;
    for (int i = 0; i < 200; ++i) text += "x" + std::to_string(i) + " = compute(" + std::to_string(i) + ")\n";
    Document doc = ParseOk("k", json::value(text), "python");
    ASSERT_GT(doc.nodes.size(), 1u);
    for (std::size_t i = 0; i < doc.nodes.size(); ++i) {
        EXPECT_EQ(doc.nodes[i].path, "code_block_" + std::to_string(i));
        EXPECT_EQ(doc.nodes[i].metadata.at("kind").as_string(), "block");
    }
    EXPECT_EQ(doc.nodes[0].metadata.at("start_line").as_int64(), 1);
    EXPECT_EQ(doc.nodes.back().metadata.at("end_line").as_int64(), 200);
}

TEST(CodeUnits, LongFunctionSplitsIntoPartsAtLines) {
    std::string text = "def big():\n";
    for (int i = 0; i < 200; ++i) text += "    total += value_" + std::to_string(i) + "\n";
    Document doc = ParseOk("k", json::value(text), "python");
    ASSERT_GT(doc.nodes.size(), 1u);
    EXPECT_EQ(doc.nodes[0].path, "function_big.part_0");
    for (const auto& n : doc.nodes) {
        EXPECT_EQ(n.type, NodeType::kFunction);
        EXPECT_TRUE(n.text.starts_with("k | function big | "));
        EXPECT_EQ(n.metadata.at("name").as_string(), "big");
    }
}

TEST(CodeUnits, ProseIsNotCode) {
    EXPECT_FALSE(internal::LooksLikeCode("The class is cancelled today.\nSee you (maybe) later."));
    EXPECT_TRUE(internal::LooksLikeCode("int main(void) {\n  return 0;\n}"));
}

}  // namespace
}  // namespace contex::ingest
