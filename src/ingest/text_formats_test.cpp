// CSV, Markdown and plain text over fixtures, and chunking (§1.6–§1.10).
#include <gtest/gtest.h>

#include "ingest/test_support.hpp"

namespace contex::ingest {
namespace {

using testing::Fixture;
using testing::HasNode;
using testing::NodeAt;
using testing::ParseOk;

TEST(CsvFixture, QuotedNewlinesQuotesAndBlankLines) {
    Document doc = ParseOk("orders", json::value(Fixture("orders.csv")));
    EXPECT_EQ(doc.format, Format::kCsv);
    ASSERT_EQ(doc.nodes.size(), 3u);
    EXPECT_EQ(ToJson(doc.nodes[0].data),
              R"({"id":"1001","customer":"Lee, Ann","notes":"Leave at the door.\nRing twice.","total":"42.50"})");
    EXPECT_EQ(doc.nodes[0].text,
              "orders | id: 1001 | customer: Lee, Ann | notes: Leave at the door.\nRing twice. | "
              "total: 42.50");
    EXPECT_EQ(NodeAt(doc, "row_1").data.at("notes").as_string(), "He said \"fragile\"");
    EXPECT_EQ(NodeAt(doc, "row_2").text, "orders | id: 1003 | customer: Cy | notes:  | total: 19.99");
}

TEST(CsvRules, HeaderFixupsMissingAndSurplusFields) {
    Document doc = ParseOk("t", json::value("a,a,,b\n1,2,3,4,5,6\n7"), "csv");
    ASSERT_EQ(doc.nodes.size(), 2u);
    EXPECT_EQ(ToJson(doc.nodes[0].data),
              R"({"a":"1","a_2":"2","column_3":"3","b":"4","_extra":["5","6"]})");
    EXPECT_EQ(ToJson(doc.nodes[1].data), R"({"a":"7","a_2":null,"column_3":null,"b":null})");
    EXPECT_EQ(doc.nodes[1].text, "t | a: 7 | a_2: null | column_3: null | b: null");
}

TEST(CsvRules, TsvHintSemicolonSniffingAndHeaderOnly) {
    Document tsv = ParseOk("t", json::value("x\ty\n1\t2"), "tsv");
    EXPECT_EQ(ToJson(tsv.nodes.at(0).data), R"({"x":"1","y":"2"})");
    Document semi = ParseOk("t", json::value("x;y\n1;2\n3;4"));
    EXPECT_EQ(semi.format, Format::kCsv);
    EXPECT_EQ(ToJson(semi.nodes.at(1).data), R"({"x":"3","y":"4"})");
    Document header_only = ParseOk("t", json::value("x,y"), "csv");
    EXPECT_EQ(header_only.format, Format::kCsv);
    EXPECT_TRUE(header_only.nodes.empty());
}

TEST(CsvRules, UnterminatedQuoteEndsAtEndOfInput) {
    auto records = internal::ReadCsvRecords("a,b\n1,\"open\nstill", ',');
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[1][1], "open\nstill");
}

TEST(CsvRules, DetectionNeedsConsistentFieldCounts) {
    EXPECT_FALSE(internal::QualifyingCsvDelimiter("a,b\n1,2,3").has_value());
    EXPECT_FALSE(internal::QualifyingCsvDelimiter("a,a\n1,2").has_value());  // duplicate header
    EXPECT_EQ(internal::QualifyingCsvDelimiter("a|b\n1|2").value_or(0), '|');
}

TEST(MarkdownFixture, ReadmeBlocksHeadingsAndFrontMatter) {
    Document doc = ParseOk("readme", json::value(Fixture("README.md")));
    EXPECT_EQ(doc.format, Format::kMarkdown);
    std::vector<std::string> paths;
    for (const auto& n : doc.nodes) paths.push_back(n.path);
    EXPECT_EQ(paths, (std::vector<std::string>{"front_matter", "heading_0", "paragraph_0",
                                               "heading_1", "list_0", "code_block_0",
                                               "heading_2", "table_0", "paragraph_1",
                                               "heading_3", "list_1"}));
    EXPECT_EQ(NodeAt(doc, "front_matter").type, NodeType::kObject);
    EXPECT_EQ(ToJson(NodeAt(doc, "front_matter").data),
              R"({"title":"Inventory Service","tags":["java","spring"]})");
    EXPECT_EQ(NodeAt(doc, "paragraph_0").text,
              "readme | Inventory Service | Tracks stock levels across warehouses. It exposes a "
              "REST API\nand publishes change events.");
    EXPECT_EQ(NodeAt(doc, "list_0").text,
              "readme | Inventory Service > Getting started | 1. Install Java 17.\n2. Run the "
              "build:\n   `./mvnw package`\n3. Start the service.");
    const Node& code = NodeAt(doc, "code_block_0");
    EXPECT_EQ(code.metadata.at("language").as_string(), "bash");
    EXPECT_EQ(code.metadata.at("heading").as_string(), "Getting started");
    EXPECT_EQ(ToJson(code.metadata.at("headings")), R"(["Inventory Service","Getting started"])");
    EXPECT_EQ(NodeAt(doc, "table_0").type, NodeType::kTable);
    EXPECT_TRUE(NodeAt(doc, "table_0").text.starts_with(
        "readme | Inventory Service > Configuration | | Variable | Default | Meaning |\n|---"));
    EXPECT_EQ(NodeAt(doc, "paragraph_1").text,
              "readme | Inventory Service > Configuration | Note: the service needs PostgreSQL 14 "
              "or newer.");
    // Setext heading pops the level-2 "Configuration".
    EXPECT_EQ(NodeAt(doc, "heading_3").text, "readme | Inventory Service > Troubleshooting");
    EXPECT_EQ(NodeAt(doc, "heading_3").metadata.at("level").as_int64(), 2);
    EXPECT_EQ(NodeAt(doc, "list_1").text,
              "readme | Inventory Service > Troubleshooting | - Check the logs.\n- Ask in #inventory.");
}

TEST(MarkdownRules, BlocksBeforeAnyHeadingHaveNullHeading) {
    Document doc = ParseOk("k", json::value("Intro text.\n\n```\ncode\n```\n"), "md");
    ASSERT_EQ(doc.nodes.size(), 2u);
    EXPECT_TRUE(doc.nodes[0].metadata.at("heading").is_null());
    EXPECT_EQ(doc.nodes[0].text, "k | Intro text.");
    EXPECT_EQ(doc.nodes[1].metadata.at("language").as_string(), "text");
    EXPECT_EQ(doc.nodes[1].text, "k | code");
}

TEST(MarkdownRules, UnclosedFenceRunsToEndAndCrLfIsNormalised) {
    Document doc = ParseOk("k", json::value("# A\r\n\r\n```py\r\nx = 1\r\ny = 2\r\n"), "markdown");
    ASSERT_EQ(doc.nodes.size(), 2u);
    EXPECT_EQ(doc.nodes[1].text, "k | A | x = 1\ny = 2");
    EXPECT_EQ(doc.nodes[1].metadata.at("language").as_string(), "py");
}

TEST(MarkdownRules, HeadingChainPopsDeeperOrEqualLevels) {
    Document doc = ParseOk("k", json::value("# A\n### B\n## C\ntext\n# D\n"), "markdown");
    EXPECT_EQ(NodeAt(doc, "heading_1").text, "k | A > B");
    EXPECT_EQ(NodeAt(doc, "heading_2").text, "k | A > C");
    EXPECT_EQ(NodeAt(doc, "paragraph_0").text, "k | A > C | text");
    EXPECT_EQ(NodeAt(doc, "heading_3").text, "k | D");
}

TEST(TextFixture, NotesSplitIntoParagraphs) {
    Document doc = ParseOk("meeting_notes", json::value(Fixture("notes.txt")));
    EXPECT_EQ(doc.format, Format::kText);
    ASSERT_EQ(doc.nodes.size(), 3u);
    EXPECT_EQ(doc.nodes[0].text, "meeting notes | Weekly sync, 14 March.");
    EXPECT_TRUE(doc.nodes[1].text.starts_with("meeting notes | Attendees: Ann, Bo, Cy."));
    EXPECT_EQ(doc.nodes[2].text,
              "meeting notes | Action items: Bo prepares the dual-write patch; Cy writes the "
              "comparison job.");
    EXPECT_EQ(ToJson(doc.nodes[2].data),
              R"({"value":"Action items: Bo prepares the dual-write patch; Cy writes the comparison job."})");
}

TEST(Chunking, LongParagraphSplitsAtSentencesWithParts) {
    ParseOptions options;
    options.chunk_max_tokens = 20;  // L = 20 tokens = 15 words with the default estimate
    Document doc = ParseOk("meeting_notes", json::value(Fixture("notes.txt")), "text", options);
    EXPECT_FALSE(HasNode(doc, "paragraph_1"));
    const Node& p0 = NodeAt(doc, "paragraph_1.part_0");
    EXPECT_EQ(p0.type, NodeType::kParagraph);
    EXPECT_EQ(p0.text, "meeting notes | Attendees: Ann, Bo, Cy.");
    EXPECT_EQ(p0.metadata.at("part").as_int64(), 0);
    int parts = static_cast<int>(p0.metadata.at("parts").as_int64());
    EXPECT_GE(parts, 4);
    for (int j = 0; j < parts; ++j) {
        const Node& part = NodeAt(doc, "paragraph_1.part_" + std::to_string(j));
        EXPECT_TRUE(part.text.starts_with("meeting notes | "));
        EXPECT_EQ(part.metadata.at("parts").as_int64(), parts);
    }
    // Sentence boundaries: "...two weeks!" and "...for a month?" end parts.
    bool found_exclaim = false;
    for (const auto& n : doc.nodes) {
        if (n.data.at("value").as_string().ends_with("two weeks!")) found_exclaim = true;
    }
    EXPECT_TRUE(found_exclaim);
    // Short paragraphs are not split.
    EXPECT_TRUE(HasNode(doc, "paragraph_0"));
}

TEST(Chunking, NoContentIsLost) {
    std::string para;
    for (int i = 0; i < 300; ++i) para += "Sentence number " + std::to_string(i) + " is here. ";
    Document doc = ParseOk("k", json::value(para), "text");
    std::string joined;
    for (const auto& n : doc.nodes) {
        if (!joined.empty()) joined += ' ';
        joined += n.data.at("value").as_string();
    }
    EXPECT_EQ(joined, std::string(TrimView(para)));
    EXPECT_GT(doc.nodes.size(), 1u);
}

TEST(Chunking, UsesInjectedTokenCounterAndPrefixReducesLimit) {
    ParseOptions options;
    options.max_seq_tokens = 12;  // L = 12 - 2 - tokens("k") = 9 characters
    options.count_tokens = [](std::string_view s) {
        std::size_t n = 0;
        for (char c : s) n += c != ' ';
        return n;  // one token per non-space character
    };
    Document doc = ParseOk("k", json::value("aaaa bbbb. cccc ddddd."), "text", options);
    ASSERT_EQ(doc.nodes.size(), 3u);
    EXPECT_EQ(doc.nodes[0].data.at("value").as_string(), "aaaa bbbb.");  // 9 tokens
    EXPECT_EQ(doc.nodes[1].data.at("value").as_string(), "cccc");        // cut at words
    EXPECT_EQ(doc.nodes[2].data.at("value").as_string(), "ddddd.");
}

TEST(Chunking, SingleHugeWordIsCutNotTruncated) {
    std::string blob(50000, 'q');
    Document doc = ParseOk("k", json::value(blob), "text");
    std::size_t total = 0;
    for (const auto& n : doc.nodes) {
        total += n.data.at("value").as_string().size();
        EXPECT_LT(n.text.size(), 16384u);
    }
    EXPECT_EQ(total, blob.size());
}

TEST(Chunking, LinesModeForListsKeepsLinesWhole) {
    std::vector<std::string_view> parts = internal::ChunkText(
        "- one two three\n- four five six\n- seven eight nine", 11,
        internal::Emitter::ChunkMode::kLines, {});
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], "- one two three\n- four five six");
    EXPECT_EQ(parts[1], "- seven eight nine");
}

}  // namespace
}  // namespace contex::ingest
