// Ingestion: turns a published value (JSON value or text in one of eight formats) into
// the nodes that are embedded, BM25-indexed and handed to agents (engine.md §1).
//
// Everything here is a pure function of its arguments: no I/O, no global state, safe to
// call from any number of threads at once.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/result.hpp"

namespace contex::ingest {

enum class Format { kJson, kYaml, kToml, kCsv, kXml, kMarkdown, kCode, kText };

// "json", "yaml", "toml", "csv", "xml", "markdown", "code", "text".
std::string_view FormatName(Format format);

enum class NodeType {
    kObject,
    kArray,
    kPrimitive,
    kRow,
    kHeading,
    kParagraph,
    kCodeBlock,
    kList,
    kTable,
    kFunction,
    kClass,
};

// "object", "array", "primitive", "row", "heading", "paragraph", "code_block", "list",
// "table", "function", "class".
std::string_view NodeTypeName(NodeType type);

struct Node {
    std::string path;      // "root", "team.people[0]", "paragraph_2.part_1" (never empty)
    std::string node_key;  // data_key + "." + path, or data_key + path when path starts '['
    NodeType type = NodeType::kObject;
    json::object data;     // the object itself for object/row; {"value": ...} otherwise
    std::string text;      // exactly what is embedded and BM25-indexed (§1.9)
    json::object metadata; // format-specific (§1.4); stored, never indexed
    int index = 0;         // document order within the data key
};

struct ParseOptions {
    std::size_t max_nodes = 10000;           // MAX_NODES_PER_KEY
    std::size_t max_input_bytes = 10485760;  // MAX_REQUEST_BYTES
    std::size_t chunk_max_tokens = 200;      // CHUNK_MAX_TOKENS
    std::size_t max_seq_tokens = 256;        // the embedder's maximum sequence length
    // Token counter of the active embedder (word pieces, no special tokens). When empty,
    // ceil(words * 4 / 3) is used (§1.10). Must be thread-safe if Parse is called
    // concurrently with the same options.
    std::function<std::size_t(std::string_view)> count_tokens;
};

struct Document {
    Format format = Format::kText;
    std::string language;               // code only ("python", ..., "unknown"); else empty
    std::vector<Node> nodes;            // in document order; nodes[i].index == i
    std::vector<std::string> warnings;  // the exact warning texts of §1.2
    std::string content_hash;           // ContentHash(format, data)
};

// A known data_format hint, resolved (§1.2 hint table).
struct FormatHint {
    Format format = Format::kText;
    std::string language;  // code hints: normalised language ("python"); "" for `code`
    char delimiter = 0;    // csv: '\t' for `tsv`; 0 = sniff
};

// Resolves a data_format hint (trimmed, case-insensitive). Unknown hints return
// kInvalidArgument "unknown data_format '<hint>'" — note that Parse() does NOT fail on an
// unknown hint (it detects and warns); this is for callers that want to validate a hint.
Result<FormatHint> ResolveHintDetails(std::string_view hint);
// Same, returning only the format.
Result<Format> ResolveHint(std::string_view hint);

// Parses `data` published under `data_key` into a document (§1.2–§1.11).
// `hint` is the publish request's data_format (nullopt or blank = none). A known hint whose
// parser fails falls back to detection and adds a warning.
// Errors:
//   kInvalidArgument "unknown data_format '<hint>'" (issue 3 overrides §1.2; the API
//                    answers 422 value_error at ["body","data_format"])
//   kTooLarge        the serialised data exceeds options.max_input_bytes
//   kInvalidArgument "data produces N nodes; the limit is M" (engine maps to 422
//                    value_error at ["body","data"]); "data contains invalid UTF-8";
//                    "data is nested deeper than 64 levels" (native values only — strings
//                    nested too deep are a parse failure and fall back to detection)
//   kInternal        an unexpected exception (e.g. from options.count_tokens)
Result<Document> Parse(std::string_view data_key, const json::value& data,
                       std::optional<std::string_view> hint, const ParseOptions& options);

// Lower-hex SHA-256 of FormatName(format) + "\n" + compact JSON of data (§1.11).
std::string ContentHash(Format format, const json::value& data);

// Lower-hex SHA-256 of a node text (§1.11: vectors are reused by text_hash).
std::string TextHash(std::string_view node_text);

// The humanised form used for titles (§1.9): '_', '-', '.', '/' become spaces, a space is
// inserted at lower→upper case boundaries, whitespace runs collapse, ends trimmed, case
// kept. Humanize("apiSpecs") == "api Specs", Humanize("tech_stack") == "tech stack".
std::string Humanize(std::string_view s);

}  // namespace contex::ingest
