// Segment: an immutable block of indexed nodes (internal to the index module).
//
// Holds node keys, a contiguous float32 vector matrix, BM25 postings in CSR form
// (sorted by document) with per-term and per-block bounds, per-posting impacts and
// per-block membership filters for block-max MaxScore pruning, and optionally an HNSW
// graph over its rows. Built once, never modified after it is shared, so any number of
// readers use it without synchronisation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "index/analyzer.hpp"
#include "index/vector_kernels.hpp"

namespace contex::index {

class HnswGraph;

// A node ready to be put into a segment.
struct SegmentDoc {
    std::string node_key;
    std::string data_key;
    std::vector<float> vector;  // empty or `dim` floats
    TermCounts terms;
};

struct HnswParams {
    std::size_t m = 16;
    std::size_t ef_construction = 200;
    std::size_t threads = 1;
    uint64_t seed = 100;
};

class Segment {
public:
    struct Postings {
        uint32_t begin = 0;  // range in post_docs_/post_tfs_
        uint32_t end = 0;
        uint32_t max_tf = 0;          // largest term frequency in the list
        uint32_t min_length = 0;      // shortest document in the list
        uint32_t max_length = 0;      // longest document in the list
        // Pareto front of (tf, length) over the list, in skyline_: the BM25 contribution
        // grows with tf and shrinks with length, so its maximum over the list (for any
        // statistics) is attained at one of these points.
        uint32_t skyline_begin = 0;
        uint32_t skyline_end = 0;
        // First of the list's blocks (kBlockSize postings each, the last one possibly
        // shorter) in the block arrays; the list has ceil(size / kBlockSize) blocks.
        uint32_t block_begin = 0;
        // First of the list's block filters (one per block, kFilterWords words each), or
        // kNoFilter for lists shorter than kFilterMinPostings.
        uint32_t filter_begin = 0;
    };

    // Postings per block of the block-max metadata (block-max MaxScore).
    static constexpr uint32_t kBlockSize = 128;

    // Block membership filters: lists of at least kFilterMinPostings postings keep, per
    // block, kFilterWords * 64 bits with bit FilterBit(doc) set for each of the block's
    // documents. A clear bit proves `doc` absent from the block (no false negatives), with
    // one read of one cache line instead of the block's documents; with 128 postings in
    // 512 bits about 22 % of the bits are set. 0.5 byte per posting.
    static constexpr uint32_t kFilterWords = 8;
    static constexpr uint32_t kFilterMinPostings = kBlockSize;
    static constexpr uint32_t kNoFilter = 0xffffffffu;
    static uint32_t FilterBit(uint32_t doc) { return (doc * 0x9E3779B1u) >> 23; }  // 0..511

    // Builds a segment from `docs` (moved from). `dim` is the vector dimension (0 when
    // no document has a vector). With `hnsw` set, also builds the graph.
    // `half_prefilter`: also keep half-precision rows and row norms (for segments that are
    // scanned exactly and large enough to benefit), see Snapshot's exact scan.
    // Documents are stored in ascending byte order of their node keys (keys are unique
    // within a segment), so for two positions of one segment `a < b` exactly when
    // node_key(a) < node_key(b). With `source_rows` set, (*source_rows)[pos] is the index
    // in `docs` of the document stored at `pos`.
    static std::shared_ptr<Segment> Build(uint64_t id, std::vector<SegmentDoc> docs, int dim,
                                          const HnswParams* hnsw, bool half_prefilter = false,
                                          std::vector<uint32_t>* source_rows = nullptr);
    ~Segment();

    uint64_t id() const { return id_; }
    uint32_t size() const { return static_cast<uint32_t>(node_keys_.size()); }
    int dim() const { return dim_; }
    const std::string& node_key(uint32_t pos) const { return node_keys_[pos]; }
    const std::string& data_key(uint32_t pos) const { return data_keys_[pos]; }
    uint32_t length(uint32_t pos) const { return lengths_[pos]; }
    const uint32_t* lengths() const { return lengths_.data(); }
    bool has_vector(uint32_t pos) const { return has_vector_[pos] != 0; }
    const float* vector(uint32_t pos) const { return vectors_.data() + std::size_t(pos) * dim_; }
    const float* vectors() const { return vectors_.data(); }
    uint64_t total_length() const { return total_length_; }
    // Half-precision copy of the rows (empty when not kept) and the rows' L2 norms.
    bool has_half() const { return !half_.empty(); }
    const uint16_t* half(uint32_t pos) const { return half_.data() + std::size_t(pos) * dim_; }
    float norm(uint32_t pos) const { return norms_[pos]; }
    // Int8 copy of the rows for a first pass with a proven bound (instead of the half
    // copy on AVX-512 VNNI CPUs); count == 0 when not kept.
    bool has_int8() const { return int8_.count > 0; }
    const Int8Panels& int8() const { return int8_; }
    std::size_t vector_count() const { return vector_count_; }

    // Postings of `term`, or null.
    const Postings* Find(std::string_view term) const;
    std::span<const uint32_t> docs(const Postings& p) const {
        return {post_docs_.data() + p.begin, p.end - p.begin};
    }
    std::span<const uint32_t> tfs(const Postings& p) const {
        return {post_tfs_.data() + p.begin, p.end - p.begin};
    }
    std::span<const std::pair<uint32_t, uint32_t>> skyline(const Postings& p) const {
        return {skyline_.data() + p.skyline_begin, p.skyline_end - p.skyline_begin};
    }
    // Largest document of each block of `p` (ascending), one entry per block.
    const uint32_t* block_last(const Postings& p) const { return block_last_.data() + p.block_begin; }
    // Pareto front of (tf, length) over block `block` of `p`: like skyline(), the block's
    // largest BM25 contribution (for any statistics) is attained at one of these points.
    std::span<const std::pair<uint32_t, uint32_t>> block_skyline(const Postings& p,
                                                                 uint32_t block) const {
        const uint32_t b = p.block_begin + block;
        return {block_sky_.data() + block_sky_begin_[b], block_sky_begin_[b + 1] - block_sky_begin_[b]};
    }

    // The filters of `p`'s blocks (block b at [b * kFilterWords, (b + 1) * kFilterWords),
    // each block's words in one 64-byte line), or null when the list has none.
    const uint64_t* filters(const Postings& p) const {
        if (p.filter_begin == kNoFilter) return nullptr;
        return filters_.get() + std::size_t(p.filter_begin) * kFilterWords;
    }

    // Per posting of `p`, its impact: min(tf, kImpactTfCap) << 8 | the length class of
    // its document (see LengthClass). Two bytes that bound the BM25 contribution from
    // both sides without the random length lookup.
    static constexpr uint32_t kImpactTfCap = 255;
    const uint16_t* impacts(const Postings& p) const { return post_impacts_.data() + p.begin; }
    // Length classes: class c holds the lengths in [LengthClassFloor(c),
    // LengthClassFloor(c + 1)). Classes below kExactLengthClasses hold exactly the length
    // c (node texts are chunked to at most 200 tokens, engine.md §1.10, so most documents
    // fall there and an impact gives their exact length), then about 15 % wide.
    static constexpr uint32_t kExactLengthClasses = 128;
    static uint8_t LengthClass(uint32_t length);
    static uint32_t LengthClassFloor(uint8_t length_class);

    // Term frequency of `term` (postings `p`) in document `pos`; 0 if absent.
    uint32_t TermFreq(const Postings& p, uint32_t pos) const;

    // The HNSW graph, or null (small segments are scanned exactly).
    const HnswGraph* hnsw() const { return hnsw_.get(); }

    // Reconstructs the documents not marked in `dead` (bitset, may be null), in order.
    std::vector<SegmentDoc> ExtractLive(const std::vector<uint64_t>* dead) const;

    std::size_t memory_bytes() const { return memory_bytes_; }

private:
    Segment() = default;

    uint64_t id_ = 0;
    int dim_ = 0;
    std::vector<std::string> node_keys_;
    std::vector<std::string> data_keys_;
    std::vector<uint32_t> lengths_;
    std::vector<uint8_t> has_vector_;
    std::vector<float> vectors_;
    std::vector<uint16_t> half_;
    std::vector<float> norms_;
    Int8Panels int8_;
    std::size_t vector_count_ = 0;
    uint64_t total_length_ = 0;
    std::vector<std::string> terms_;  // term id -> term (storage for the dictionary keys)
    std::unordered_map<std::string_view, uint32_t> dictionary_;
    std::vector<Postings> postings_;
    std::vector<uint32_t> post_docs_;
    std::vector<uint32_t> post_tfs_;
    std::vector<uint16_t> post_impacts_;
    std::vector<std::pair<uint32_t, uint32_t>> skyline_;  // (tf, min length) per term
    std::vector<uint32_t> block_last_;       // per block: its last document
    std::vector<uint32_t> block_sky_begin_;  // per block (+1 sentinel): range in block_sky_
    std::vector<std::pair<uint32_t, uint32_t>> block_sky_;  // (tf, length) fronts per block
    struct AlignedDelete {
        void operator()(uint64_t* p) const;
    };
    std::unique_ptr<uint64_t[], AlignedDelete> filters_;  // 64-byte aligned
    std::size_t filter_words_ = 0;
    std::unique_ptr<HnswGraph> hnsw_;
    std::size_t memory_bytes_ = 0;
};

// Approximate nearest-neighbour graph (hnswlib) over one segment's rows; labels are row
// positions. Immutable after construction; Search is safe from many threads.
class HnswGraph {
public:
    // Builds over every row of `vectors` (count x dim) for which has_vector[i] != 0.
    static Result<std::unique_ptr<HnswGraph>> Build(const float* vectors,
                                                    const uint8_t* has_vector,
                                                    std::size_t count, std::size_t dim,
                                                    const HnswParams& params);
    ~HnswGraph();
    // Up to `k` (row, 1 - cosine) pairs nearest to `query`, explored with ef = k.
    std::vector<std::pair<uint32_t, float>> Search(const float* query, std::size_t k) const;
    std::size_t memory_bytes() const;

private:
    struct Impl;
    explicit HnswGraph(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace contex::index
