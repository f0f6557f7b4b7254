// Reciprocal rank fusion of a vector list and a keyword list (engine.md §3.3 steps 5-7).
// Pure function; safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "index/project_index.hpp"

namespace contex::index {

// One entry of a ranked retriever list; `ref` identifies the node to the caller.
struct RankedEntry {
    uint64_t ref = 0;
    double score = 0;  // cosine for the vector list, BM25 for the keyword list
};

struct FusedEntry {
    uint64_t ref = 0;
    std::string_view node_key;  // from `node_key_of` (see Fuse)
    float similarity = 0;
    float keyword_score = 0;
    double score = 0;
    MatchType match_type = MatchType::kVector;
};

// `vector_list` and `keyword_list` are ordered best first (rank 1 = index 0).
// `exact_cosine(ref)` returns a node's exact cosine (used for keyword-only hits).
// `node_key_of(ref)` returns a node's key (valid until the call returns); it is called only
// to break ties and for the entries returned, so callers need not read every candidate's
// key. Applies the thresholds before the top-k cut, scores
// VECTOR_BOOST/(RRF_K + rank_V) + 1/(RRF_K + rank_B), orders by score desc, cosine desc,
// node key asc, and keeps params.k.
std::vector<FusedEntry> Fuse(const std::vector<RankedEntry>& vector_list,
                             const std::vector<RankedEntry>& keyword_list,
                             const std::function<float(uint64_t)>& exact_cosine,
                             const std::function<std::string_view(uint64_t)>& node_key_of,
                             const SearchParams& params);

}  // namespace contex::index
