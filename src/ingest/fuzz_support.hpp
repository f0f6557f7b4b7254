// Shared by the libFuzzer targets (fuzz/) and the corpus replay test: runs one input
// through Parse with a given hint and checks the invariants every Document must hold.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/strings.hpp"
#include "ingest/ingest.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest::fuzz {

// Returns "" when all invariants hold, else a description of the first violation.
inline std::string CheckDocument(std::string_view key, const Document& doc,
                                 const ParseOptions& options) {
    if (doc.nodes.size() > options.max_nodes) return "more nodes than max_nodes";
    if (doc.content_hash.size() != 64) return "content_hash is not SHA-256 hex";
    std::set<std::string> keys;
    for (std::size_t i = 0; i < doc.nodes.size(); ++i) {
        const Node& n = doc.nodes[i];
        if (n.index != static_cast<int>(i)) return "index out of order at " + n.path;
        if (n.path.empty()) return "empty path";
        std::string expected(key);
        if (n.path.front() != '[') expected += '.';
        expected += n.path;
        if (n.node_key != expected) return "node_key mismatch at " + n.path;
        if (!keys.insert(n.node_key).second) return "duplicate node_key " + n.node_key;
        if (!IsValidUtf8(n.text)) return "node text is not valid UTF-8 at " + n.path;
        if (Utf8Length(n.text) > internal::kMaxTextChars) return "node text over cap at " + n.path;
        if (n.type != NodeType::kObject && n.type != NodeType::kRow && !n.data.contains("value")) {
            return "data without value at " + n.path;
        }
    }
    if (doc.format != Format::kCode && !doc.language.empty()) return "language on non-code";
    return "";
}

// Parses `input` with `hint` ("detect" = no hint). Invalid UTF-8 is checked to be
// rejected, then repaired so the parsers see the rest of the input. Returns "" or the
// first invariant violation.
inline std::string RunOne(std::string_view hint_name, std::string_view input) {
    ParseOptions options;
    options.max_nodes = 2000;
    options.max_input_bytes = 1 << 20;
    std::optional<std::string_view> hint;
    if (hint_name != "detect") hint = hint_name;
    std::string text(input);
    if (!IsValidUtf8(text)) {
        auto r = Parse("k", json::value(text), hint, options);
        if (r.ok() || r.error().code != ErrorCode::kInvalidArgument) {
            return "invalid UTF-8 was not rejected";
        }
        text = RepairUtf8(text);
    }
    auto r = Parse("fuzz_key", json::value(text), hint, options);
    if (!r.ok()) {
        if (r.error().code == ErrorCode::kInvalidArgument &&
            r.error().message.starts_with("data produces ")) {
            return "";
        }
        if (r.error().code == ErrorCode::kTooLarge) return "";
        return "unexpected error: " + r.error().message;
    }
    return CheckDocument("fuzz_key", *r, options);
}

}  // namespace contex::ingest::fuzz
