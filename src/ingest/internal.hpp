// Internals of the ingest module shared by its translation units, its tests and the fuzz
// targets. Not part of the public API: the engine includes only ingest/ingest.hpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/result.hpp"
#include "ingest/ingest.hpp"

namespace contex::ingest::internal {

inline constexpr std::size_t kMaxDepth = 64;        // parse failure beyond (§1.3)
inline constexpr std::size_t kSplitDepth = 32;      // subtree becomes one leaf (§1.5)
inline constexpr std::size_t kMaxPathBytes = 1024;  // subtree becomes one leaf (§1.5)
inline constexpr std::size_t kMaxTextChars = 16384; // node text cap (§1.9)
// Words longer than this (code points) are cut when chunking, so a single huge "word"
// (a base64 blob, a minified line) still ends up split instead of silently capped.
inline constexpr std::size_t kMaxWordChars = 100;

// ---- text helpers (text_util.cpp) ----------------------------------------------------

// CRLF and lone CR become LF; a leading UTF-8 BOM is removed.
std::string NormalizeNewlines(std::string_view text);
// Lines without their '\n' (a trailing newline does not add an empty last line).
std::vector<std::string_view> SplitLines(std::string_view text);
bool IsBlank(std::string_view line);
// Removes the indentation common to all non-blank lines (spaces/tabs counted as bytes).
std::string Dedent(std::string_view text);
// Count of leading spaces (a tab counts as 4, as CommonMark's tab stop).
std::size_t Indentation(std::string_view line);
// r(v) of §1.9.
void AppendRendered(std::string& out, const json::value& v);
std::string Rendered(const json::value& v);
// join(" | ", non-empty parts), capped at kMaxTextChars code points.
std::string JoinNodeText(const std::vector<std::string>& parts);
// Keeps [A-Za-z0-9_], replaces every other byte run by '_' (trimmed of '_').
std::string SanitizeName(std::string_view name);

// ---- node emission (emitter.cpp) -----------------------------------------------------

// Collects nodes in document order. Past options.max_nodes it keeps counting but stops
// storing, so the error can report the true count with bounded memory.
class Emitter {
public:
    Emitter(std::string_view data_key, const ParseOptions& options);

    const std::string& title() const { return title_; }
    const ParseOptions& options() const { return options_; }
    std::size_t count() const { return count_; }
    bool over_limit() const { return count_ > options_.max_nodes; }

    void Add(std::string path, NodeType type, json::object data, std::string text,
             json::object metadata);

    enum class ChunkMode { kProse, kLines };
    // A text-like node (paragraph, list, table, code_block, function, class): `content`
    // (already trimmed) becomes one node, or `<path>.part_{j}` parts when it exceeds the
    // chunk limit L (§1.10). `prefix` = the parts before the content (title, heading
    // chain, "<kind> <name>"); empty parts are skipped.
    void AddText(const std::string& path, NodeType type, std::string_view content,
                 const std::vector<std::string>& prefix, const json::object& metadata,
                 ChunkMode mode);

    std::vector<Node> Take() { return std::move(nodes_); }

private:
    std::size_t Tokens(std::string_view text) const;

    std::string data_key_;
    std::string title_;
    const ParseOptions& options_;
    std::vector<Node> nodes_;
    std::size_t count_ = 0;
};

// Splits `content` into chunk texts of at most `limit` tokens (§1.10). Exposed for tests.
// A part also stays within `max_bytes`, so that a text the token estimate undercounts (one
// huge "word") is still split before the node-text cap would cut it.
std::vector<std::string_view> ChunkText(
    std::string_view content, std::size_t limit, Emitter::ChunkMode mode,
    const std::function<std::size_t(std::string_view)>& count_tokens,
    std::size_t max_bytes = kMaxTextChars / 2);

// ---- structured data (structured.cpp) ------------------------------------------------

// split(v) of §1.5 from the top level. `v` must be nested at most kMaxDepth levels.
void SplitStructured(const json::value& v, Emitter& emitter);
// Nesting depth of a value (a scalar is 0, [] and {} are 1); stops counting past `limit`.
std::size_t Depth(const json::value& v, std::size_t limit);
// True when every string and key in `v` is well-formed UTF-8.
bool ValidUtf8Strings(const json::value& v);

// ---- parsers of structured text (yaml.cpp, toml.cpp, xml.cpp) ------------------------
// Each returns the JSON data model (§1.3) or kInvalidArgument with a short reason.

Result<json::value> ParseYaml(std::string_view text, std::size_t max_values);
Result<json::value> ParseToml(std::string_view text);
Result<json::value> ParseXml(std::string_view text);

// ---- csv (csv.cpp) -------------------------------------------------------------------

// RFC 4180 records; blank lines skipped; an unterminated quote ends at end of input.
std::vector<std::vector<std::string>> ReadCsvRecords(std::string_view text, char delimiter);
// The first of ',' '\t' ';' '|' for which the text qualifies as CSV (§1.2 rule 6).
std::optional<char> QualifyingCsvDelimiter(std::string_view text);
void SplitCsv(std::string_view text, char delimiter, Emitter& emitter);

// ---- text formats (markdown.cpp, code.cpp, text.cpp) ---------------------------------

void SplitMarkdown(std::string_view text, Emitter& emitter, std::size_t max_yaml_values);
// Detection rule 5.
bool LooksLikeMarkdown(std::string_view text);
// Returns the language used ("python", ..., "unknown").
std::string SplitCode(std::string_view text, std::string language, Emitter& emitter);
std::string DetectLanguage(std::string_view text);
// Detection rule 7.
bool LooksLikeCode(std::string_view text);
void SplitPlainText(std::string_view text, Emitter& emitter);

// ---- detection (detect.cpp) ----------------------------------------------------------

struct Detection {
    Format format = Format::kText;
    json::value value;   // parsed data model for json/yaml/toml/xml
    char delimiter = 0;  // csv
};
// §1.2 detection on `text` (not yet trimmed). Never fails. `already_failed` names a
// structured format whose parser just failed on this text (a hinted attempt), so the
// rule is skipped instead of parsing the same bytes twice.
Detection Detect(std::string_view text, std::size_t max_yaml_values,
                 std::optional<Format> already_failed = std::nullopt);
// Line-shape pre-checks of rules 3 and 4 (cheap; run before the parsers).
bool TomlLineShape(std::string_view text);
bool YamlLineShape(std::string_view text);

}  // namespace contex::ingest::internal
