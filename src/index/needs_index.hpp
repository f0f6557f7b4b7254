// Reverse matching for standing queries (engine.md §6.2): which agents' needs does a
// batch of new or changed nodes satisfy?
//
// One matrix product [new nodes x dim] . [dim x needs] gives every cosine: on AVX-512
// VNNI CPUs an int8 first pass over needs quantised once per change, whose proven error
// bound yields a superset of the passing pairs, each then decided with the forward
// kernel (else a float32 AVX-512 kernel, else BLAS). BM25 of every need against every new
// node uses an inverted map term -> needs and the statistics of the snapshot that
// already contains the new nodes; a node term only visits the needs it could lift to
// kappa (a need of m terms needs one term worth kappa / m). Cost O(|new| x needs),
// independent of project size and of agents that do not match.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"
#include "index/analyzer.hpp"
#include "index/project_index.hpp"

namespace contex::index {

// One need of one agent; `vector` is the unit-length need embedding (empty: BM25 only).
struct NeedRef {
    std::string agent_id;
    int need_index = 0;
    std::string text;
    std::vector<float> vector;
};

// A (new node, need) pair that passes: cosine >= tau or BM25 >= kappa.
struct NeedMatch {
    std::size_t node_pos = 0;  // index into the `new_nodes` argument of Match
    std::string agent_id;
    int need_index = 0;
    float similarity = 0;      // exact cosine (0 when the node or need has no vector)
    float keyword_score = 0;   // BM25 of the need text against the node
};

// The needs of all agents of one project. Thread-safe: calls are serialised by an
// internal mutex (registration and publish already serialise on the project lock).
class NeedsIndex {
public:
    explicit NeedsIndex(AnalyzerOptions analyzer = {});

    // Replaces all needs of `agent_id` (an empty list removes the agent).
    void Upsert(std::string_view agent_id, std::vector<NeedRef> needs);
    void Remove(std::string_view agent_id);
    std::size_t size() const;  // number of needs

    // Every (new node, need) pair with cosine >= cosine_threshold or BM25 >= 
    // keyword_threshold (pass +infinity to disable keyword matching, BM25_ENABLED=false).
    // BM25 uses `after`, the snapshot that already contains `new_nodes`; `after` must use
    // the same analyzer options as this index. Decisions and reported values equal the
    // forward path's (Snapshot::Search) bit for bit. Ordered by node_pos, then agent id,
    // then need index. Errors: kInvalidArgument when vector dimensions disagree.
    Result<std::vector<NeedMatch>> Match(const Snapshot& after,
                                         std::span<const IndexEntry> new_nodes,
                                         float cosine_threshold, float keyword_threshold) const;

private:
    struct Flat;  // needs flattened into a matrix + inverted term map, rebuilt lazily
    const Flat& Flatten() const;

    Analyzer analyzer_;
    mutable std::mutex mutex_;
    std::map<std::string, std::vector<NeedRef>, std::less<>> by_agent_;
    mutable std::shared_ptr<const Flat> flat_;  // null when stale
};

}  // namespace contex::index
