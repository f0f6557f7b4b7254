// Per-project search index (engine.md §3): exact / HNSW vector retrieval, BM25, and
// reciprocal rank fusion, served from immutable snapshots.
//
// The index is derived data: the engine feeds it from storage (Apply after each
// publish, Rebuild at start-up) and it knows nothing of storage, HTTP or embedding.
// Layout: a snapshot is a list of immutable segments (vectors, BM25 postings, optional
// HNSW graph) plus a copy-on-write tombstone bitset per segment; see README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/result.hpp"
#include "index/analyzer.hpp"

namespace contex::index {

class Segment;

// One node as the index sees it.
struct IndexEntry {
    std::string node_key;
    std::string data_key;
    std::string text;           // the node text (engine.md §1.9), BM25-indexed
    std::vector<float> vector;  // unit length; empty = not embedded (BM25 only)
};

struct IndexOptions {
    AnalyzerOptions analyzer;
    double bm25_k1 = 1.2;                // BM25_K1
    double bm25_b = 0.75;                // BM25_B
    std::size_t hnsw_threshold = 20000;  // HNSW_THRESHOLD: live nodes before a graph is built
    std::size_t hnsw_m = 16;             // HNSW_M
    std::size_t hnsw_ef_construction = 200;  // HNSW_EF_CONSTRUCTION
    std::size_t build_threads = 1;       // threads used to build an HNSW graph
    std::size_t merge_factor = 8;        // small segments of one size tier merged together
    std::size_t inline_merge_max_docs = 65536;  // larger merges wait for Maintain()
    uint64_t hnsw_seed = 100;
    // Rebuild builds the HNSW graph inline when the node count reaches hnsw_threshold.
    // false: Rebuild publishes an exact-scan index at once and leaves the graph to
    // Maintain() (exact scan until ready, engine.md §3.1).
    bool rebuild_builds_hnsw = true;
    // Large exactly-scanned segments keep a reduced-precision copy of their rows for a
    // first pass: int8 with per-row scales on AVX-512 VNNI CPUs (+25 % vector memory, a
    // quarter of the bytes), else half precision (+50 %, half the bytes). Results stay
    // exactly the float32 ones: a proven error bound decides which rows are re-scored.
    bool half_precision_prefilter = true;
};

// Parameters of one retrieval (engine.md §3.3 and §3.5).
struct SearchParams {
    int k = 5;                       // results kept (top_k or MAX_MATCHES)
    float cosine_threshold = 0.5f;   // tau (SIMILARITY_THRESHOLD or the request's threshold)
    float keyword_threshold = 5.0f;  // kappa (KEYWORD_THRESHOLD, raw BM25)
    int rrf_k = 60;                  // RRF_K
    float vector_boost = 1.0f;       // VECTOR_BOOST
    int min_candidates = 50;         // SEARCH_MIN_CANDIDATES
    bool bm25_enabled = true;        // BM25_ENABLED
    int ef_search = 128;             // HNSW_EF_SEARCH
};

enum class MatchType { kVector, kKeyword, kBoth };

std::string_view MatchTypeName(MatchType type);  // "vector", "keyword", "both"

struct Hit {
    std::string node_key;
    std::string data_key;
    float similarity = 0;     // exact cosine (0 when the node has no vector)
    float keyword_score = 0;  // BM25 (0 when not in the keyword list)
    double score = 0;         // fused RRF score
    MatchType match_type = MatchType::kVector;
};

// Sizes for health details and gauges.
struct SnapshotStats {
    std::size_t nodes = 0;           // live nodes
    std::size_t segments = 0;
    std::size_t hnsw_nodes = 0;      // live nodes served by an HNSW graph
    std::size_t exact_nodes = 0;     // live nodes served by exact scan
    std::size_t tombstones = 0;      // deleted rows not yet compacted away
    std::size_t memory_bytes = 0;
};

// One segment as seen by a snapshot: the shared immutable segment plus this snapshot's
// tombstones for it (copy-on-write: a publish that deletes rows copies only this bitset).
struct SegmentView {
    std::shared_ptr<const Segment> segment;
    std::shared_ptr<const std::vector<uint64_t>> dead;  // tombstones; null = none
    uint32_t dead_count = 0;
    bool IsDead(uint32_t pos) const { return dead && ((*dead)[pos >> 6] >> (pos & 63)) & 1u; }
};

// An immutable view of a project's index at one project sequence. Held by readers as
// shared_ptr<const Snapshot>; every method is const and safe to call from any number of
// threads concurrently with writers of the owning ProjectIndex.
class Snapshot {
public:
    // Built by ProjectIndex; `live_docs` / `live_length` are the BM25 statistics (N and the
    // sum of live document lengths) over `segments`.
    Snapshot(std::shared_ptr<const Analyzer> analyzer, double k1, double b,
             std::vector<SegmentView> segments, std::size_t live_docs, uint64_t live_length,
             int dim, int64_t sequence);

    // Retrieval for one need or query, exactly engine.md §3.3. `query_vector` is the
    // unit-length query embedding (empty: keyword retrieval only); `query_text` is
    // analysed for BM25. Returns at most params.k hits ordered by score desc, cosine
    // desc, node key asc. A query vector whose dimension differs from the index's is
    // ignored for vector retrieval (keyword results still apply).
    std::vector<Hit> Search(std::span<const float> query_vector, std::string_view query_text,
                            const SearchParams& params) const;

    // BM25 inverse document frequency of a (case-folded, analysed) term against this
    // snapshot's live nodes: ln(1 + (N - df + 0.5) / (df + 0.5)).
    double Idf(std::string_view term) const;
    // Live documents containing `term`.
    std::size_t DocFreq(std::string_view term) const;
    // BM25 of a query (sorted distinct terms, Analyzer::QueryTerms) against a document
    // given by its analysed terms (Analyzer::Count), with this snapshot's statistics.
    // Used by reverse matching; equals the forward score bit for bit.
    double Bm25(std::span<const std::string> query_terms, const TermCounts& document) const;
    // One term's BM25 contribution (the canonical formula every path uses).
    double Bm25Term(double idf, uint32_t tf, uint32_t doc_length) const;

    std::size_t size() const { return live_docs_; }
    uint64_t total_length() const { return live_length_; }  // sum of live document lengths
    double average_length() const { return avgdl_; }
    std::size_t memory_bytes() const;
    int64_t sequence() const { return sequence_; }
    int dim() const { return dim_; }  // vector dimension; 0 before the first vector
    const Analyzer& analyzer() const { return *analyzer_; }
    SnapshotStats stats() const;
    const std::vector<SegmentView>& segments() const { return segments_; }

private:
    struct Candidate {
        uint32_t segment;
        uint32_t pos;
        double score;
    };
    std::vector<Candidate> VectorCandidates(std::span<const float> query, std::size_t count,
                                            int ef_search) const;
    std::vector<Candidate> KeywordCandidates(std::string_view text, std::size_t count) const;
    const std::string& NodeKey(const Candidate& c) const;
    // The two halves of Bm25Term, so loops can share a document's length norm. Every
    // BM25 value in the module is computed through these, hence bit-identical.
    double LengthNorm(uint32_t doc_length) const {
        return k1_ * (1.0 - b_ + length_scale_ * static_cast<double>(doc_length));
    }
    static double Bm25TermScore(double idf, double k1_plus_1, uint32_t tf, double norm) {
        const double f = static_cast<double>(tf);
        return idf * (f * k1_plus_1) / (f + norm);
    }

    std::shared_ptr<const Analyzer> analyzer_;
    double k1_;
    double b_;
    std::vector<SegmentView> segments_;
    std::size_t live_docs_;
    uint64_t live_length_;
    double avgdl_;
    double length_scale_;  // b / avgdl, so that a length norm costs no division
    int dim_;
    int64_t sequence_;
};

// One project's index. Writers (Apply, RemoveDataKey, Rebuild, Maintain) are
// serialised by an internal mutex; readers take snapshot() and never wait for writers.
class ProjectIndex {
public:
    explicit ProjectIndex(IndexOptions options = {});
    ~ProjectIndex();
    ProjectIndex(const ProjectIndex&) = delete;
    ProjectIndex& operator=(const ProjectIndex&) = delete;

    // The current snapshot (never null). Lock-free for readers.
    std::shared_ptr<const Snapshot> snapshot() const;

    // Applies one data key's node diff: upserts replace by node key (a later duplicate in
    // `upserts` wins); removals apply to the state before the upserts (a key in both ends
    // up upserted) and unknown removed keys are ignored; records `sequence` and
    // publishes a new snapshot atomically. Errors: kInvalidArgument when a vector's
    // dimension differs from the index's (nothing is applied).
    [[nodiscard]] Status Apply(std::span<const IndexEntry> upserts,
                               std::span<const std::string> removed_node_keys, int64_t sequence);
    // Removes every node of `data_key`.
    void RemoveDataKey(std::string_view data_key, int64_t sequence);
    // Replaces the whole content (start-up bulk load). Builds the HNSW graph inline when
    // the node count reaches hnsw_threshold (unless options.rebuild_builds_hnsw is false).
    // Errors: kInvalidArgument on mixed dimensions.
    [[nodiscard]] Status Rebuild(std::vector<IndexEntry> all, int64_t sequence);

    // Background work: builds the HNSW graph once the project reaches hnsw_threshold,
    // folds exact-scanned segments into it, compacts tombstones (> 20 %). Expensive: call
    // from a worker pool. Readers keep using the previous snapshot meanwhile; writers run
    // concurrently and are reconciled at the end. Returns true if it published a change.
    bool Maintain();
    // True when Maintain() has work to do.
    bool NeedsMaintenance() const;

private:
    struct Loc {
        uint64_t segment_id;
        uint32_t pos;
    };
    struct WriterState;

    void Publish(std::shared_ptr<const Snapshot> next);
    bool CompactionWanted(const Snapshot& snap) const;
    void MergeSmallSegments(std::vector<SegmentView>& views, WriterState& state);

    IndexOptions options_;
    std::shared_ptr<const Analyzer> analyzer_;
    // The published snapshot. The lock is held only to copy or swap the pointer (a
    // refcount change), never while a writer works, so readers do not wait for writers.
    // (libstdc++ 12's std::atomic<shared_ptr> uses a lock bit TSan cannot see.)
    mutable std::mutex current_mutex_;
    std::shared_ptr<const Snapshot> current_;
    // Lock order: maintain_mutex_ -> writer_mutex_ -> current_mutex_.
    std::mutex writer_mutex_;            // serialises writers; guards state_
    std::unique_ptr<WriterState> state_;
    std::mutex maintain_mutex_;          // one Maintain() at a time
};

}  // namespace contex::index
