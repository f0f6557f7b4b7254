// Test-only helpers for the ingest tests (not compiled into the library).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "common/crypto.hpp"
#include "common/strings.hpp"
#include "common/json.hpp"
#include "ingest/ingest.hpp"
#include "ingest/internal.hpp"

namespace contex::ingest {
// Readable gtest output for the enums.
inline void PrintTo(Format f, std::ostream* os) { *os << FormatName(f); }
inline void PrintTo(NodeType t, std::ostream* os) { *os << NodeTypeName(t); }
}  // namespace contex::ingest

namespace contex::ingest::testing {

// Parses and fails the current test when Parse returns an error.
inline Document ParseOk(std::string_view key, const json::value& data,
                        std::optional<std::string_view> hint = std::nullopt,
                        const ParseOptions& options = ParseOptions{}) {
    auto r = Parse(key, data, hint, options);
    if (!r.ok()) {
        ADD_FAILURE() << "Parse failed: " << r.error().message;
        return Document{};
    }
    return std::move(r).value();
}

// The node at `path`; fails the test (and returns a static empty node) when absent.
inline const Node& NodeAt(const Document& doc, std::string_view path) {
    for (const auto& n : doc.nodes) {
        if (n.path == path) return n;
    }
    static const Node kMissing;
    std::string paths;
    for (const auto& n : doc.nodes) paths += " " + n.path;
    ADD_FAILURE() << "no node at path " << path << "; paths:" << paths;
    return kMissing;
}

inline bool HasNode(const Document& doc, std::string_view path) {
    for (const auto& n : doc.nodes) {
        if (n.path == path) return true;
    }
    return false;
}

// Reads tests/testdata/ingest/<name> (tests run with the repository root as cwd).
inline std::string Fixture(std::string_view name) {
    std::string path = std::string(CONTEX_SOURCE_DIR) + "/tests/testdata/ingest/" + std::string(name);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ADD_FAILURE() << "missing fixture " << path;
        return {};
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace contex::ingest::testing
