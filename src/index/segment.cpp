#include "index/segment.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <new>
#include <numeric>
#include <thread>

#include "index/vector_kernels.hpp"

namespace contex::index {
namespace {

std::size_t StringBytes(const std::string& s) {
    return sizeof(std::string) + (s.capacity() > 15 ? s.capacity() + 1 : 0);
}

struct LengthClassTable {
    std::array<uint32_t, 256> floor{};
    LengthClassTable() {
        for (uint32_t c = 0; c < 256; ++c) {
            if (c <= Segment::kExactLengthClasses) {
                floor[c] = c;
                continue;
            }
            // 15 % steps: class 255 starts beyond 2^32, so every length has a class.
            const uint64_t grown = std::max<uint64_t>(uint64_t(floor[c - 1]) + 1, uint64_t(floor[c - 1]) * 115 / 100);
            floor[c] = static_cast<uint32_t>(std::min<uint64_t>(grown, std::numeric_limits<uint32_t>::max()));
        }
    }
};

const LengthClassTable& LengthClasses() {
    static const LengthClassTable table;  // immutable after first use
    return table;
}

}  // namespace

uint8_t Segment::LengthClass(uint32_t length) {
    const auto& f = LengthClasses().floor;
    return static_cast<uint8_t>(std::upper_bound(f.begin(), f.end(), length) - f.begin() - 1);
}

uint32_t Segment::LengthClassFloor(uint8_t length_class) { return LengthClasses().floor[length_class]; }

Segment::~Segment() = default;

namespace {
constexpr std::align_val_t kLineAlignment{64};
}  // namespace

void Segment::AlignedDelete::operator()(uint64_t* p) const {
    ::operator delete[](p, kLineAlignment);
}

std::shared_ptr<Segment> Segment::Build(uint64_t id, std::vector<SegmentDoc> docs, int dim,
                                        const HnswParams* hnsw, bool half_prefilter,
                                        std::vector<uint32_t>* source_rows) {
    std::shared_ptr<Segment> seg(new Segment());
    const std::size_t n = docs.size();
    // Positions follow the node keys' byte order, so that comparing two positions of this
    // segment compares their keys (score ties are broken by key without reading keys).
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return docs[a].node_key < docs[b].node_key; });
    seg->id_ = id;
    seg->dim_ = dim;
    seg->node_keys_.reserve(n);
    seg->data_keys_.reserve(n);
    seg->lengths_.reserve(n);
    seg->has_vector_.assign(n, 0);
    seg->vectors_.assign(n * static_cast<std::size_t>(dim), 0.0f);

    std::unordered_map<std::string, uint32_t> ids;
    std::vector<uint32_t> doc_offsets(n + 1, 0);
    std::vector<uint32_t> doc_terms;
    std::vector<uint32_t> doc_tfs;
    std::vector<uint32_t> df;
    for (std::size_t i = 0; i < n; ++i) {
        SegmentDoc& doc = docs[order[i]];
        if (!doc.vector.empty() && static_cast<int>(doc.vector.size()) == dim) {
            std::copy(doc.vector.begin(), doc.vector.end(), seg->vectors_.begin() + i * dim);
            seg->has_vector_[i] = 1;
            ++seg->vector_count_;
        }
        seg->lengths_.push_back(doc.terms.length);
        seg->total_length_ += doc.terms.length;
        for (auto& [term, tf] : doc.terms.terms) {
            auto [it, inserted] = ids.try_emplace(std::move(term), static_cast<uint32_t>(ids.size()));
            if (inserted) df.push_back(0);
            ++df[it->second];
            doc_terms.push_back(it->second);
            doc_tfs.push_back(tf);
        }
        doc_offsets[i + 1] = static_cast<uint32_t>(doc_terms.size());
        seg->node_keys_.push_back(std::move(doc.node_key));
        seg->data_keys_.push_back(std::move(doc.data_key));
        std::vector<float>().swap(doc.vector);
        doc.terms.terms.clear();
    }
    if (source_rows != nullptr) *source_rows = std::move(order);

    const std::size_t vocabulary = ids.size();
    seg->terms_.resize(vocabulary);
    for (auto& node_and_id : ids) seg->terms_[node_and_id.second] = node_and_id.first;
    ids.clear();
    seg->dictionary_.reserve(vocabulary);
    for (uint32_t t = 0; t < vocabulary; ++t) seg->dictionary_.emplace(seg->terms_[t], t);

    seg->postings_.resize(vocabulary);
    uint32_t offset = 0;
    for (uint32_t t = 0; t < vocabulary; ++t) {
        seg->postings_[t].begin = offset;
        seg->postings_[t].end = offset;
        seg->postings_[t].min_length = std::numeric_limits<uint32_t>::max();
        offset += df[t];
    }
    seg->post_docs_.resize(offset);
    seg->post_tfs_.resize(offset);
    seg->post_impacts_.resize(offset);
    std::vector<uint8_t> doc_class(n);
    for (std::size_t i = 0; i < n; ++i) doc_class[i] = LengthClass(seg->lengths_[i]);
    for (std::size_t i = 0; i < n; ++i) {
        for (uint32_t j = doc_offsets[i]; j < doc_offsets[i + 1]; ++j) {
            Postings& p = seg->postings_[doc_terms[j]];
            seg->post_docs_[p.end] = static_cast<uint32_t>(i);
            seg->post_tfs_[p.end] = doc_tfs[j];
            seg->post_impacts_[p.end] =
                static_cast<uint16_t>(std::min(doc_tfs[j], kImpactTfCap) << 8 | doc_class[i]);
            ++p.end;
            p.max_tf = std::max(p.max_tf, doc_tfs[j]);
            p.min_length = std::min(p.min_length, seg->lengths_[i]);
            p.max_length = std::max(p.max_length, seg->lengths_[i]);
        }
    }

    // Skylines: for each tf value (tf >= kCap share one bucket holding its largest tf),
    // the shortest document; then keep the points no other point dominates.
    constexpr uint32_t kCap = 64;
    std::vector<uint32_t> best(kCap + 1, std::numeric_limits<uint32_t>::max());
    for (uint32_t t = 0; t < vocabulary; ++t) {
        Postings& p = seg->postings_[t];
        uint32_t top_tf = 0;
        for (uint32_t j = p.begin; j < p.end; ++j) {
            const uint32_t tf = seg->post_tfs_[j];
            const uint32_t slot = std::min(tf, kCap);
            best[slot] = std::min(best[slot], seg->lengths_[seg->post_docs_[j]]);
            top_tf = std::max(top_tf, tf);
        }
        p.skyline_begin = static_cast<uint32_t>(seg->skyline_.size());
        uint32_t shortest = std::numeric_limits<uint32_t>::max();
        for (uint32_t slot = std::min(top_tf, kCap) + 1; slot-- > 1;) {
            if (best[slot] == std::numeric_limits<uint32_t>::max()) continue;
            if (best[slot] < shortest) {
                shortest = best[slot];
                seg->skyline_.emplace_back(slot == kCap ? top_tf : slot, best[slot]);
            }
            best[slot] = std::numeric_limits<uint32_t>::max();
        }
        p.skyline_end = static_cast<uint32_t>(seg->skyline_.size());
    }

    // Block-max metadata: per block of kBlockSize postings, its last document and the
    // Pareto front of (tf, length) (largest tf first, each with a shorter length).
    std::vector<std::pair<uint32_t, uint32_t>> block;
    block.reserve(kBlockSize);
    for (uint32_t t = 0; t < vocabulary; ++t) {
        Postings& p = seg->postings_[t];
        p.block_begin = static_cast<uint32_t>(seg->block_last_.size());
        for (uint32_t start = p.begin; start < p.end; start += kBlockSize) {
            const uint32_t stop = std::min(p.end, start + kBlockSize);
            block.clear();
            for (uint32_t j = start; j < stop; ++j) {
                block.emplace_back(seg->post_tfs_[j], seg->lengths_[seg->post_docs_[j]]);
            }
            std::sort(block.begin(), block.end(), [](const auto& a, const auto& b) {
                return a.first != b.first ? a.first > b.first : a.second < b.second;
            });
            seg->block_last_.push_back(seg->post_docs_[stop - 1]);
            seg->block_sky_begin_.push_back(static_cast<uint32_t>(seg->block_sky_.size()));
            uint32_t shortest = std::numeric_limits<uint32_t>::max();
            for (const auto& point : block) {
                if (point.second < shortest) {
                    shortest = point.second;
                    seg->block_sky_.push_back(point);
                }
            }
        }
    }
    seg->block_sky_begin_.push_back(static_cast<uint32_t>(seg->block_sky_.size()));

    // Block membership filters for lists long enough to be seeked into (rare terms' short
    // lists are essential, read in order, and cheaper to scan than a filter line).
    uint32_t filter_blocks = 0;
    for (Postings& p : seg->postings_) {
        if (p.end - p.begin < kFilterMinPostings) {
            p.filter_begin = kNoFilter;
            continue;
        }
        p.filter_begin = filter_blocks;
        filter_blocks += (p.end - p.begin + kBlockSize - 1) / kBlockSize;
    }
    seg->filter_words_ = std::size_t(filter_blocks) * kFilterWords;
    if (seg->filter_words_ > 0) {
        seg->filters_.reset(static_cast<uint64_t*>(
            ::operator new[](seg->filter_words_ * sizeof(uint64_t), kLineAlignment)));
        std::fill_n(seg->filters_.get(), seg->filter_words_, uint64_t(0));
        for (const Postings& p : seg->postings_) {
            if (p.filter_begin == kNoFilter) continue;
            uint64_t* words = seg->filters_.get() + std::size_t(p.filter_begin) * kFilterWords;
            for (uint32_t j = p.begin; j < p.end; ++j) {
                const uint32_t bit = FilterBit(seg->post_docs_[j]);
                uint64_t* block_words = words + (j - p.begin) / kBlockSize * kFilterWords;
                block_words[bit / 64] |= uint64_t(1) << (bit % 64);
            }
        }
    }

    if (hnsw != nullptr && dim > 0 && seg->vector_count_ > 0) {
        auto graph = HnswGraph::Build(seg->vectors_.data(), seg->has_vector_.data(), n,
                                      static_cast<std::size_t>(dim), *hnsw);
        if (graph.ok()) seg->hnsw_ = std::move(graph).value();
        // On failure the segment is scanned exactly, which is correct, only slower.
    }

    // Half-precision rows only pay off for large exactly-scanned segments.
    constexpr std::size_t kHalfMinRows = 2048;
    if (half_prefilter && seg->hnsw_ == nullptr && dim > 0 && n >= kHalfMinRows &&
        Int8MatMulAvailable()) {
        // A quarter of float32's bytes; the scan is memory-bound.
        seg->int8_ = PackInt8Panels(seg->vectors_.data(), n, static_cast<std::size_t>(dim));
        seg->norms_.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            const float* row = seg->vectors_.data() + i * dim;
            seg->norms_[i] = std::sqrt(Dot(row, row, static_cast<std::size_t>(dim)));
        }
    } else if (half_prefilter && seg->hnsw_ == nullptr && dim > 0 && n >= kHalfMinRows &&
               HalfKernelsAvailable()) {
        const auto& v = seg->vectors_;
        const bool in_range = std::all_of(v.begin(), v.end(), [](float x) { return std::fabs(x) <= 65504.0f; });
        if (in_range) {
            seg->half_.resize(v.size());
            FloatToHalf(v.data(), seg->half_.data(), v.size());
            seg->norms_.resize(n);
            for (std::size_t i = 0; i < n; ++i) {
                const float* row = seg->vectors_.data() + i * dim;
                seg->norms_[i] = std::sqrt(Dot(row, row, static_cast<std::size_t>(dim)));
            }
        }
    }

    std::size_t mem = sizeof(Segment);
    mem += seg->half_.capacity() * sizeof(uint16_t) + seg->norms_.capacity() * sizeof(float);
    mem += seg->int8_.codes.capacity() +
           (seg->int8_.scale.capacity() + seg->int8_.max_abs.capacity() +
            seg->int8_.err_l1.capacity() + seg->int8_.code_sum.capacity()) * sizeof(float);
    for (const auto& s : seg->node_keys_) mem += StringBytes(s);
    for (const auto& s : seg->data_keys_) mem += StringBytes(s);
    for (const auto& s : seg->terms_) mem += StringBytes(s);
    mem += seg->dictionary_.size() * (sizeof(std::string_view) + sizeof(uint32_t) + 2 * sizeof(void*));
    mem += seg->dictionary_.bucket_count() * sizeof(void*);
    mem += seg->lengths_.capacity() * sizeof(uint32_t) + seg->has_vector_.capacity();
    mem += seg->vectors_.capacity() * sizeof(float);
    mem += seg->postings_.capacity() * sizeof(Postings);
    mem += (seg->post_docs_.capacity() + seg->post_tfs_.capacity()) * sizeof(uint32_t);
    mem += seg->post_impacts_.capacity() * sizeof(uint16_t);
    mem += seg->skyline_.capacity() * sizeof(std::pair<uint32_t, uint32_t>);
    mem += (seg->block_last_.capacity() + seg->block_sky_begin_.capacity()) * sizeof(uint32_t);
    mem += seg->block_sky_.capacity() * sizeof(std::pair<uint32_t, uint32_t>);
    mem += seg->filter_words_ * sizeof(uint64_t);
    if (seg->hnsw_) mem += seg->hnsw_->memory_bytes();
    seg->memory_bytes_ = mem;
    return seg;
}

const Segment::Postings* Segment::Find(std::string_view term) const {
    auto it = dictionary_.find(term);
    return it == dictionary_.end() ? nullptr : &postings_[it->second];
}

uint32_t Segment::TermFreq(const Postings& p, uint32_t pos) const {
    auto first = post_docs_.begin() + p.begin;
    auto last = post_docs_.begin() + p.end;
    auto it = std::lower_bound(first, last, pos);
    if (it == last || *it != pos) return 0;
    return post_tfs_[static_cast<std::size_t>(it - post_docs_.begin())];
}

std::vector<SegmentDoc> Segment::ExtractLive(const std::vector<uint64_t>* dead) const {
    const uint32_t n = size();
    auto is_dead = [&](uint32_t pos) { return dead && ((*dead)[pos >> 6] >> (pos & 63)) & 1u; };
    std::vector<int32_t> slot(n, -1);
    std::vector<SegmentDoc> out;
    for (uint32_t pos = 0; pos < n; ++pos) {
        if (is_dead(pos)) continue;
        slot[pos] = static_cast<int32_t>(out.size());
        SegmentDoc doc;
        doc.node_key = node_keys_[pos];
        doc.data_key = data_keys_[pos];
        if (has_vector_[pos]) doc.vector.assign(vector(pos), vector(pos) + dim_);
        doc.terms.length = lengths_[pos];
        out.push_back(std::move(doc));
    }
    // Visit terms in sorted order so that every document's term list comes out sorted.
    std::vector<uint32_t> order(terms_.size());
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return terms_[a] < terms_[b]; });
    for (uint32_t t : order) {
        const Postings& p = postings_[t];
        for (uint32_t j = p.begin; j < p.end; ++j) {
            int32_t s = slot[post_docs_[j]];
            if (s >= 0) out[static_cast<std::size_t>(s)].terms.terms.emplace_back(terms_[t], post_tfs_[j]);
        }
    }
    return out;
}

}  // namespace contex::index
