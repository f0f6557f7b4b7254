#include "index/project_index.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <thread>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "index/fusion.hpp"
#include "index/segment.hpp"
#include "index/vector_kernels.hpp"

namespace contex::index {
namespace {

uint64_t MakeRef(uint32_t segment, uint32_t pos) { return (uint64_t(segment) << 32) | pos; }
uint32_t RefSegment(uint64_t ref) { return static_cast<uint32_t>(ref >> 32); }
uint32_t RefPos(uint64_t ref) { return static_cast<uint32_t>(ref & 0xffffffffu); }

// Bounded top-n selection ordered by score desc, then node key asc. The heap's front is
// the worst kept candidate.
template <typename Item, typename KeyOf>
class TopN {
public:
    TopN(std::size_t n, KeyOf key_of) : n_(n), key_of_(key_of) { heap_.reserve(n + 1); }

    bool full() const { return heap_.size() >= n_; }
    // Score below which nothing can enter (-inf while not full).
    double threshold() const {
        return full() && !heap_.empty() ? heap_.front().score
                                        : -std::numeric_limits<double>::infinity();
    }
    void Offer(const Item& item) {
        if (n_ == 0) return;
        if (!full()) {
            heap_.push_back(item);
            std::push_heap(heap_.begin(), heap_.end(), Better());
            return;
        }
        if (!Better()(item, heap_.front())) return;
        std::pop_heap(heap_.begin(), heap_.end(), Better());
        heap_.back() = item;
        std::push_heap(heap_.begin(), heap_.end(), Better());
    }
    std::vector<Item> Take() {
        std::sort(heap_.begin(), heap_.end(), Better());
        return std::move(heap_);
    }

private:
    auto Better() const {
        return [this](const Item& a, const Item& b) {
            if (a.score != b.score) return a.score > b.score;
            // A segment's positions are in node-key order (Segment::Build).
            if (a.segment == b.segment) return a.pos < b.pos;
            return key_of_(a) < key_of_(b);
        };
    }
    std::size_t n_;
    KeyOf key_of_;
    std::vector<Item> heap_;
};

std::shared_ptr<std::vector<uint64_t>> EmptyBits(uint32_t size) {
    return std::make_shared<std::vector<uint64_t>>((size + 63) / 64, 0);
}

void SetBit(std::vector<uint64_t>& bits, uint32_t pos) { bits[pos >> 6] |= uint64_t(1) << (pos & 63); }

}  // namespace

std::string_view MatchTypeName(MatchType type) {
    switch (type) {
        case MatchType::kVector: return "vector";
        case MatchType::kKeyword: return "keyword";
        case MatchType::kBoth: return "both";
    }
    return "vector";
}

// ---------------------------------------------------------------------------------------
// Snapshot

Snapshot::Snapshot(std::shared_ptr<const Analyzer> analyzer, double k1, double b,
                   std::vector<SegmentView> segments, std::size_t live_docs,
                   uint64_t live_length, int dim, int64_t sequence)
    : analyzer_(std::move(analyzer)),
      k1_(k1),
      b_(b),
      segments_(std::move(segments)),
      live_docs_(live_docs),
      live_length_(live_length),
      avgdl_(live_docs > 0 && live_length > 0
                 ? static_cast<double>(live_length) / static_cast<double>(live_docs)
                 : 1.0),
      length_scale_(b / avgdl_),
      dim_(dim),
      sequence_(sequence) {}

std::size_t Snapshot::DocFreq(std::string_view term) const {
    std::size_t df = 0;
    for (const SegmentView& view : segments_) {
        const Segment::Postings* p = view.segment->Find(term);
        if (p == nullptr) continue;
        if (view.dead_count == 0) {
            df += p->end - p->begin;
            continue;
        }
        for (uint32_t doc : view.segment->docs(*p)) df += view.IsDead(doc) ? 0 : 1;
    }
    return df;
}

double Snapshot::Idf(std::string_view term) const {
    const double n = static_cast<double>(live_docs_);
    const double df = static_cast<double>(DocFreq(term));
    return std::log(1.0 + (n - df + 0.5) / (df + 0.5));
}

double Snapshot::Bm25Term(double idf, uint32_t tf, uint32_t doc_length) const {
    return Bm25TermScore(idf, k1_ + 1.0, tf, LengthNorm(doc_length));
}

double Snapshot::Bm25(std::span<const std::string> query_terms, const TermCounts& document) const {
    double score = 0;
    std::size_t j = 0;
    for (const std::string& term : query_terms) {
        while (j < document.terms.size() && document.terms[j].first < term) ++j;
        if (j == document.terms.size()) break;
        if (document.terms[j].first == term) {
            score += Bm25Term(Idf(term), document.terms[j].second, document.length);
        }
    }
    return score;
}

std::size_t Snapshot::memory_bytes() const {
    std::size_t bytes = sizeof(Snapshot);
    for (const SegmentView& view : segments_) {
        bytes += view.segment->memory_bytes() + sizeof(SegmentView);
        if (view.dead) bytes += view.dead->capacity() * sizeof(uint64_t);
    }
    return bytes;
}

SnapshotStats Snapshot::stats() const {
    SnapshotStats s;
    s.nodes = live_docs_;
    s.segments = segments_.size();
    for (const SegmentView& view : segments_) {
        std::size_t live = view.segment->size() - view.dead_count;
        (view.segment->hnsw() ? s.hnsw_nodes : s.exact_nodes) += live;
        s.tombstones += view.dead_count;
    }
    s.memory_bytes = memory_bytes();
    return s;
}

const std::string& Snapshot::NodeKey(const Candidate& c) const {
    return segments_[c.segment].segment->node_key(c.pos);
}

std::vector<Snapshot::Candidate> Snapshot::VectorCandidates(std::span<const float> query,
                                                            std::size_t count,
                                                            int ef_search) const {
    if (dim_ == 0 || query.size() != static_cast<std::size_t>(dim_) || count == 0) return {};
    auto key_of = [this](const Candidate& c) -> const std::string& { return NodeKey(c); };
    TopN<Candidate, decltype(key_of)> top(count, key_of);
    const std::size_t dim = query.size();
    constexpr std::size_t kBlock = 256;
    float scores[kBlock];
    // Rows [start, start + block) of segment si have approximate scores in `scores`; each
    // is re-scored in float32 unless its score plus its proven error bound is below the
    // current k-th exact score, so the result is exactly the float32 top-k.
    auto rescore = [&](uint32_t si, uint32_t start, uint32_t block, auto error_bound) {
        const SegmentView& view = segments_[si];
        const Segment& seg = *view.segment;
        double threshold = top.threshold();
        for (uint32_t i = 0; i < block; ++i) {
            const uint32_t pos = start + i;
            if (scores[i] + error_bound(pos) < threshold) continue;
            if (!seg.has_vector(pos) || view.IsDead(pos)) continue;
            const float exact = Dot(query.data(), seg.vector(pos), dim);
            if (exact < threshold) continue;
            top.Offer({si, pos, exact});
            threshold = top.threshold();
        }
    };
    for (uint32_t si = 0; si < segments_.size(); ++si) {
        const SegmentView& view = segments_[si];
        const Segment& seg = *view.segment;
        if (seg.dim() != dim_ || seg.vector_count() == 0) continue;
        if (const HnswGraph* graph = seg.hnsw()) {
            std::size_t ef = std::max<std::size_t>(count, static_cast<std::size_t>(std::max(ef_search, 1)));
            for (const auto& [pos, distance] : graph->Search(query.data(), ef)) {
                (void)distance;
                if (view.IsDead(pos)) continue;
                // Exact re-scoring: the reported cosine never depends on the graph.
                top.Offer({si, pos, Dot(query.data(), seg.vector(pos), dim)});
            }
            continue;
        }
        const uint32_t n = seg.size();
        if (seg.has_int8()) {
            // First pass on int8 rows: proven upper bounds; the error term is only slack
            // for float rounding, scaled by the norms.
            const Int8Query q8 = PrepareInt8Query(query.data(), dim, seg.int8().groups);
            const float query_norm = std::sqrt(Dot(query.data(), query.data(), dim));
            for (uint32_t start = 0; start < n; start += kBlock) {
                const uint32_t block = std::min<uint32_t>(kBlock, n - start);
                Int8UpperBounds(q8, seg.int8(), start, block, scores);
                rescore(si, start, block, [&](uint32_t pos) {
                    return 1e-5f * (1.0f + query_norm * seg.norm(pos));
                });
            }
            continue;
        }
        if (seg.has_half()) {
            // First pass on half-precision rows, with the proven half-precision error bound.
            const float query_norm = std::sqrt(Dot(query.data(), query.data(), dim));
            const float bound = HalfDotErrorBound(query_norm, 1.0f, dim);
            for (uint32_t start = 0; start < n; start += kBlock) {
                const uint32_t block = std::min<uint32_t>(kBlock, n - start);
                DotRowsHalf(query.data(), seg.half(start), block, dim, scores);
                rescore(si, start, block, [&](uint32_t pos) { return bound * seg.norm(pos); });
            }
            continue;
        }
        for (uint32_t start = 0; start < n; start += kBlock) {
            const uint32_t block = std::min<uint32_t>(kBlock, n - start);
            DotRows(query.data(), seg.vector(start), block, dim, scores);
            double threshold = top.threshold();
            for (uint32_t i = 0; i < block; ++i) {
                const uint32_t pos = start + i;
                if (scores[i] < threshold || !seg.has_vector(pos) || view.IsDead(pos)) continue;
                top.Offer({si, pos, scores[i]});
                threshold = top.threshold();
            }
        }
    }
    return top.Take();
}

std::vector<Snapshot::Candidate> Snapshot::KeywordCandidates(std::string_view text,
                                                             std::size_t count) const {
    if (live_docs_ == 0 || count == 0) return {};
    const std::vector<std::string> terms = analyzer_->QueryTerms(text);
    if (terms.empty()) return {};
    std::vector<double> idf(terms.size(), 0.0);
    std::vector<bool> present(terms.size(), false);
    for (std::size_t t = 0; t < terms.size(); ++t) {
        if (DocFreq(terms[t]) == 0) continue;
        present[t] = true;
        idf[t] = Idf(terms[t]);
    }

    auto key_of = [this](const Candidate& c) -> const std::string& { return NodeKey(c); };
    TopN<Candidate, decltype(key_of)> top(count, key_of);
    const double k1_plus_1 = k1_ + 1.0;
    // Bounds are inflated and thresholds deflated by this much: it covers rounding (the
    // floating-point formula is not provably monotone in tf) and summation order.
    constexpr double kSlack = 1e-9;
    constexpr uint32_t kEnd = std::numeric_limits<uint32_t>::max();
    constexpr uint32_t kBlock = Segment::kBlockSize;
    // A proven lower bound on the count-th best score overall (see the priming below).
    double floor = -std::numeric_limits<double>::infinity();
    auto theta = [&] { return std::max(top.threshold(), floor) * (1.0 - kSlack); };

    // Bounds per impact value of one list, computed on first use: direct-mapped caches
    // (0 is no impact value, tf >= 1, so it marks an empty slot). With exact length
    // classes a long list has a few hundred distinct impacts: 128 slots and a
    // multiplicative hash keep recomputation (a division each) rare.
    struct BoundCache {
        std::array<uint16_t, 128> impact_tag{};
        std::array<double, 128> impact_bound{};
        std::array<uint16_t, 128> floor_tag{};
        std::array<double, 128> floor_value{};
        static std::size_t Slot(uint16_t impact) { return (uint32_t(impact) * 0x9E3779B1u) >> 25; }  // 0..127
    };
    struct List {
        const Segment::Postings* postings = nullptr;
        const uint32_t* docs = nullptr;
        const uint32_t* tfs = nullptr;
        const uint32_t* block_last = nullptr;
        uint32_t size = 0;
        uint32_t blocks = 0;
        uint32_t cur = 0;      // next posting
        uint32_t shallow = 0;  // block of the last seek (non-essential lists)
        uint32_t cached_block = kEnd;
        double cached_bound = 0;
        std::size_t term = 0;  // index into `terms`
        double idf = 0;
        double upper_bound = 0;  // over the whole list
        const uint16_t* impacts = nullptr;
        const uint64_t* filters = nullptr;  // per block, or null (Segment::filters)
        BoundCache* cache = nullptr;
        uint32_t doc() const { return cur < size ? docs[cur] : kEnd; }
    };

    for (uint32_t si = 0; si < segments_.size(); ++si) {
        const SegmentView& view = segments_[si];
        const Segment& seg = *view.segment;
        std::vector<List> lists;
        for (std::size_t t = 0; t < terms.size(); ++t) {
            if (!present[t]) continue;
            const Segment::Postings* p = seg.Find(terms[t]);
            if (p == nullptr || p->end == p->begin) continue;
            List list;
            list.postings = p;
            list.docs = seg.docs(*p).data();
            list.tfs = seg.tfs(*p).data();
            list.block_last = seg.block_last(*p);
            list.size = p->end - p->begin;
            list.blocks = (list.size + kBlock - 1) / kBlock;
            list.term = t;
            list.idf = idf[t];
            // Exact maximum over the list: the contribution grows with tf and shrinks
            // with length, so it peaks on the (tf, length) skyline.
            double bound = 0;
            for (const auto& [tf, len] : seg.skyline(*p)) {
                bound = std::max(bound, Bm25TermScore(idf[t], k1_plus_1, tf, LengthNorm(len)));
            }
            list.upper_bound = bound * (1.0 + kSlack);
            list.impacts = seg.impacts(*p);
            list.filters = seg.filters(*p);
            lists.push_back(list);
        }
        if (lists.empty()) continue;
        std::sort(lists.begin(), lists.end(),
                  [](const List& a, const List& b) { return a.upper_bound < b.upper_bound; });
        const std::size_t n_lists = lists.size();
        std::vector<BoundCache> caches(n_lists);
        for (std::size_t i = 0; i < n_lists; ++i) lists[i].cache = &caches[i];
        std::vector<double> prefix(n_lists);
        double acc = 0;
        for (std::size_t i = 0; i < n_lists; ++i) prefix[i] = acc += lists[i].upper_bound;
        // List positions in query-term order, for the canonical summation.
        std::vector<std::size_t> by_term(n_lists);
        for (std::size_t i = 0; i < n_lists; ++i) by_term[i] = i;
        std::sort(by_term.begin(), by_term.end(),
                  [&](std::size_t a, std::size_t b) { return lists[a].term < lists[b].term; });

        // Largest contribution of list `l` in its block `b` (exact maximum over the
        // block's (tf, length) front, inflated by the slack).
        auto block_bound = [&](List& l, uint32_t b) {
            if (b != l.cached_block) {
                double m = 0;
                for (const auto& [tf, len] : seg.block_skyline(*l.postings, b)) {
                    m = std::max(m, Bm25TermScore(l.idf, k1_plus_1, tf, LengthNorm(len)));
                }
                l.cached_block = b;
                l.cached_bound = m * (1.0 + kSlack);
            }
            return l.cached_bound;
        };

        // Bound on the contribution of posting `j` of `l` from its impact (tf and the
        // length class of its document, whose floor is a length no larger than the
        // document's); cached per impact value.
        auto impact_bound = [&](List& l, uint32_t j) {
            const uint16_t impact = l.impacts[j];
            BoundCache& c = *l.cache;
            const std::size_t slot = BoundCache::Slot(impact);
            if (c.impact_tag[slot] != impact) {
                const uint32_t tf = impact >> 8;
                const uint8_t length_class = impact & 0xff;
                c.impact_tag[slot] = impact;
                c.impact_bound[slot] =
                    tf == Segment::kImpactTfCap
                        ? l.upper_bound
                        : std::min(l.upper_bound,
                                   Bm25TermScore(l.idf, k1_plus_1, tf,
                                                 LengthNorm(Segment::LengthClassFloor(length_class))) *
                                       (1.0 + kSlack));
            }
            return c.impact_bound[slot];
        };
        // Lower bound on the same contribution: at the largest length of the class.
        auto impact_floor = [&](List& l, uint32_t j) {
            const uint16_t impact = l.impacts[j];
            BoundCache& c = *l.cache;
            const std::size_t slot = BoundCache::Slot(impact);
            if (c.floor_tag[slot] != impact) {
                const uint32_t tf = impact >> 8;  // the real tf is at least this
                const uint8_t length_class = impact & 0xff;
                const uint32_t longest = length_class == 255
                                             ? std::numeric_limits<uint32_t>::max()
                                             : Segment::LengthClassFloor(static_cast<uint8_t>(length_class + 1)) - 1;
                c.floor_tag[slot] = impact;
                c.floor_value[slot] = Bm25TermScore(l.idf, k1_plus_1, tf, LengthNorm(longest));
            }
            return c.floor_value[slot];
        };

        // Priming: a proven floor for the count-th best score, so that the max-score
        // partition starts close to where a scan would end up. A document's score is at
        // least any one of its terms' contributions, and without tombstones every
        // document is live, so the count-th largest of one list's contributions, or of
        // lower bounds on them, over distinct documents is such a floor. Two cheap
        // sources: a block's largest contribution (attained by a real document of that
        // block) over `count` or more blocks, and, for short lists, each posting's
        // contribution at the list's longest length (tf only: no length lookups).
        if (view.dead_count == 0) {
            std::vector<double> values;
            // Strongest lists first; a list cannot raise the floor above its own bound.
            for (std::size_t i = n_lists; i-- > 0;) {
                const List& l = lists[i];
                if (l.upper_bound <= floor) break;
                if (l.blocks >= count) {
                    values.clear();
                    const uint32_t blocks = std::min<uint32_t>(l.blocks, static_cast<uint32_t>(4 * count));
                    for (uint32_t b = 0; b < blocks; ++b) {
                        double m = 0;
                        for (const auto& [tf, len] : seg.block_skyline(*l.postings, b)) {
                            m = std::max(m, Bm25TermScore(l.idf, k1_plus_1, tf, LengthNorm(len)));
                        }
                        values.push_back(m);
                    }
                    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(count - 1),
                                     values.end(), std::greater<>());
                    floor = std::max(floor, values[count - 1]);
                } else if (i + 1 == n_lists && l.size >= count) {
                    // Lower bounds from tf and the length class's upper end (a length at
                    // least the document's): sequential reads only.
                    values.clear();
                    const uint32_t postings = std::min<uint32_t>(l.size, 2048);
                    for (uint32_t j = 0; j < postings; ++j) values.push_back(impact_floor(lists[i], j));
                    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(count - 1),
                                     values.end(), std::greater<>());
                    floor = std::max(floor, values[count - 1]);
                }
            }
        }

        // Lists [0, first_essential) are non-essential: a document found only in them
        // cannot beat the threshold (max-score, Turtle & Flood).
        std::size_t first_essential = 0;
        auto update_partition = [&] {
            const double th = theta();
            while (first_essential < n_lists && prefix[first_essential] < th) {
                List& l = lists[first_essential];
                l.shallow = std::max(l.shallow, l.cur / kBlock);
                ++first_essential;
            }
        };
        // Where `doc` probably is in block `b` of `l` (the block that holds it if any):
        // interpolated between the previous block's last document and this one's, as
        // document positions are spread fairly evenly over a list.
        auto guess = [&](const List& l, uint32_t b, uint32_t doc) {
            const uint32_t start = b * kBlock;
            const uint32_t in_block = std::min(kBlock, l.size - start);
            const uint32_t low = b > 0 ? l.block_last[b - 1] + 1 : 0;  // <= doc
            const uint32_t span = l.block_last[b] - low + 1;
            return start + static_cast<uint32_t>(uint64_t(doc - low) * in_block / span);
        };
        // Moves a non-essential list's cursor to its first document >= `doc`, or leaves it
        // where it is when the block's membership filter proves `doc` absent: to the block
        // holding it by the blocks' last documents; the filter; entering a block (the
        // cursor is then below it), one probe near the interpolated position, which
        // usually leaves a few postings to scan (and is what makes seeks into long lists
        // cheap); then a short linear search, then binary search in the block.
        auto seek = [&](List& l, uint32_t doc) {
            while (l.shallow < l.blocks && l.block_last[l.shallow] < doc) ++l.shallow;
            if (l.shallow >= l.blocks) {
                l.cur = l.size;
                return;
            }
            // A clear filter bit proves `doc` absent from the only block that could hold
            // it (about 3 of 4 seeks end here, after one read of one line instead of the
            // block's documents). The cursor then stays where it is: below `doc`, or on a
            // larger document of this block, so l.doc() != doc, which is all the callers
            // test; the next seek starts from the block when the cursor lags behind it.
            if (l.filters != nullptr) {
                // Seeks run through a list's blocks in order (about five per block at 1M
                // nodes): the next block's filter line is fetched while this one is used.
                const uint64_t* block_filter = l.filters + l.shallow * Segment::kFilterWords;
                if (l.shallow + 1 < l.blocks) {
                    __builtin_prefetch(block_filter + Segment::kFilterWords);
                }
                const uint32_t bit = Segment::FilterBit(doc);
                if (((block_filter[bit / 64] >> (bit % 64)) & 1u) == 0) return;
            }
            uint32_t lo = std::max(l.cur, l.shallow * kBlock);
            uint32_t hi = std::min(l.size, (l.shallow + 1) * kBlock);
            if (lo == l.shallow * kBlock && hi - lo > 32) {
                // A little below the estimate, so that the probe is usually below `doc`
                // and the scan continues right after it.
                uint32_t g = guess(l, l.shallow, doc);
                g = g >= lo + 4 ? g - 4 : lo;
                if (l.docs[g] < doc) {
                    lo = g + 1;
                } else {
                    hi = g + 1;  // docs[g] >= doc: the answer is at most g
                }
            }
#if defined(__SSE2__)
            // Sixteen documents per step without a data-dependent branch per document
            // (that exit branch was the seek's main cost): they are sorted, so the number
            // below `doc` is the distance to the first >= doc. SSE2 compares signed, so
            // both sides are offset by 2^31.
            const __m128i bias = _mm_set1_epi32(std::numeric_limits<int32_t>::min());
            const __m128i target = _mm_xor_si128(_mm_set1_epi32(static_cast<int32_t>(doc)), bias);
            auto below = [&](const uint32_t* p) {
                const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), bias);
                return _mm_movemask_ps(_mm_castsi128_ps(_mm_cmplt_epi32(v, target)));
            };
            while (lo + 16 <= hi) {
                const unsigned mask = static_cast<unsigned>(
                    below(l.docs + lo) | below(l.docs + lo + 4) << 4 | below(l.docs + lo + 8) << 8 |
                    below(l.docs + lo + 12) << 12);
                // Sorted documents: the lanes below `doc` are a prefix, so their count is
                // the number of trailing ones (no popcount instruction in baseline x86-64).
                const uint32_t count = static_cast<uint32_t>(__builtin_ctz(~mask));
                lo += count;
                if (count < 16) {
                    l.cur = lo;
                    return;
                }
            }
#endif
            for (int step = 0; step < 16 && lo < hi && l.docs[lo] < doc; ++step) ++lo;
            if (lo < hi && l.docs[lo] < doc) {
                lo = static_cast<uint32_t>(std::lower_bound(l.docs + lo, l.docs + hi, doc) - l.docs);
            }
            l.cur = lo;
        };
        // Moves an essential list's cursor past `doc` (which is in its current block).
        auto skip_past = [&](List& l, uint32_t doc) {
            const uint32_t hi = std::min(l.size, (l.cur / kBlock + 1) * kBlock);
            l.cur = static_cast<uint32_t>(std::upper_bound(l.docs + l.cur, l.docs + hi, doc) - l.docs);
        };
        const uint32_t* lengths = seg.lengths();
        constexpr uint32_t kPrefetch = 16;
        update_partition();
        // Block-max window: every document up to window_end scores at most window_bound
        // (the essential lists' bounds over their current blocks plus the non-essential
        // lists' bounds).
        uint32_t window_end = 0;
        double window_bound = 0;
        bool window_valid = false;
        while (first_essential < n_lists) {
            uint32_t doc = kEnd;
            for (std::size_t i = first_essential; i < n_lists; ++i) doc = std::min(doc, lists[i].doc());
            if (doc == kEnd) break;
            const double th = theta();
            const double rest = first_essential > 0 ? prefix[first_essential - 1] : 0.0;

            if (!window_valid || doc > window_end) {
                window_end = kEnd;
                window_bound = rest;
                for (std::size_t i = first_essential; i < n_lists; ++i) {
                    List& l = lists[i];
                    if (l.cur >= l.size) continue;
                    const uint32_t b = l.cur / kBlock;
                    window_bound += block_bound(l, b);
                    window_end = std::min(window_end, l.block_last[b]);
                }
                window_valid = true;
            }
            if (window_bound < th) {
                // Nothing up to window_end can enter: skip it in every essential list.
                for (std::size_t i = first_essential; i < n_lists; ++i) {
                    List& l = lists[i];
                    if (l.doc() <= window_end) skip_past(l, window_end);
                }
                window_valid = false;
                continue;
            }
            if (first_essential + 1 == n_lists) {
                // One essential list: its postings that the bound test below would prune
                // before any seek (the same test against the same threshold, which only
                // changes when a document is scored) are passed over in a tight loop, up to
                // the end of its current block.
                List& e = lists[first_essential];
                const double block_max = block_bound(e, e.cur / kBlock);
                const uint32_t stop = std::min(e.size, (e.cur / kBlock + 1) * kBlock);
                while (e.cur < stop && std::min(impact_bound(e, e.cur), block_max) + rest < th) ++e.cur;
                if (e.cur == stop) continue;
                doc = e.docs[e.cur];
            }

            // Bounds first, from term frequencies and length classes only (no length
            // lookup, no division): the essential lists holding `doc`, then the
            // non-essential ones, strongest first (their cursors move to `doc`), while
            // they can still lift it over the threshold.
            bool pruned = view.IsDead(doc);
            if (!pruned) {
                double bound = 0;
                for (std::size_t i = first_essential; i < n_lists; ++i) {
                    List& l = lists[i];
                    if (l.doc() == doc) bound += std::min(impact_bound(l, l.cur), block_bound(l, l.cur / kBlock));
                }
                for (std::size_t i = first_essential; i-- > 0;) {
                    if (bound + prefix[i] < th) {
                        pruned = true;
                        break;
                    }
                    List& l = lists[i];
                    seek(l, doc);
                    if (l.doc() == doc) bound += impact_bound(l, l.cur);
                }
                pruned = pruned || bound < th;
            }
            if (!pruned) {
                // Exact score, summed in query-term order: the arithmetic of
                // Snapshot::Bm25 and of reverse matching, so all paths agree bit for bit.
                // An impact's length class is the length itself below
                // kExactLengthClasses: then no random read of the lengths array.
                uint32_t length_class = 255;
                for (std::size_t i = first_essential; i < n_lists; ++i) {
                    const List& l = lists[i];
                    if (l.doc() == doc) {
                        length_class = l.impacts[l.cur] & 0xffu;
                        break;
                    }
                }
                const double norm = LengthNorm(length_class < Segment::kExactLengthClasses ? length_class
                                                                                            : seg.length(doc));
                double score = 0;
                for (std::size_t i : by_term) {
                    const List& l = lists[i];
                    if (l.doc() != doc) continue;
                    // The impact holds the tf below its cap, and its line is already
                    // cached (the bounds read it); the tf array is a further miss.
                    const uint32_t capped = static_cast<uint32_t>(l.impacts[l.cur] >> 8);
                    const uint32_t tf = capped < Segment::kImpactTfCap ? capped : l.tfs[l.cur];
                    score += Bm25TermScore(l.idf, k1_plus_1, tf, norm);
                }
                top.Offer({si, doc, score});
            }
            for (std::size_t i = first_essential; i < n_lists; ++i) {
                List& l = lists[i];
                if (l.doc() != doc) continue;
                ++l.cur;
                // Essential lists are read in order; their documents' lengths are not
                // (needed only beyond the exact length classes).
                if (l.cur + kPrefetch < l.size &&
                    (l.impacts[l.cur + kPrefetch] & 0xffu) >= Segment::kExactLengthClasses) {
                    __builtin_prefetch(lengths + l.docs[l.cur + kPrefetch]);
                }
            }
            if (!pruned) {
                const std::size_t before = first_essential;
                update_partition();
                if (first_essential != before) window_valid = false;
            }
        }
    }
    return top.Take();
}

std::vector<Hit> Snapshot::Search(std::span<const float> query_vector,
                                  std::string_view query_text, const SearchParams& params) const {
    if (params.k <= 0) return {};
    const std::size_t candidates = static_cast<std::size_t>(
        std::max(4 * params.k, std::max(params.min_candidates, 1)));
    const bool vector_ok = dim_ > 0 && query_vector.size() == static_cast<std::size_t>(dim_);

    std::vector<RankedEntry> vector_list;
    if (vector_ok) {
        for (const Candidate& c : VectorCandidates(query_vector, candidates, params.ef_search)) {
            vector_list.push_back({MakeRef(c.segment, c.pos), c.score});
        }
    }
    std::vector<RankedEntry> keyword_list;
    if (params.bm25_enabled) {
        for (const Candidate& c : KeywordCandidates(query_text, candidates)) {
            keyword_list.push_back({MakeRef(c.segment, c.pos), c.score});
        }
    }
    auto exact_cosine = [&](uint64_t ref) -> float {
        const Segment& seg = *segments_[RefSegment(ref)].segment;
        const uint32_t pos = RefPos(ref);
        if (!vector_ok || seg.dim() != dim_ || !seg.has_vector(pos)) return 0.0f;
        return Dot(query_vector.data(), seg.vector(pos), query_vector.size());
    };
    auto node_key_of = [&](uint64_t ref) -> std::string_view {
        return segments_[RefSegment(ref)].segment->node_key(RefPos(ref));
    };
    std::vector<Hit> hits;
    for (const FusedEntry& e : Fuse(vector_list, keyword_list, exact_cosine, node_key_of, params)) {
        const Segment& seg = *segments_[RefSegment(e.ref)].segment;
        Hit hit;
        hit.node_key = std::string(e.node_key);
        hit.data_key = seg.data_key(RefPos(e.ref));
        hit.similarity = e.similarity;
        hit.keyword_score = e.keyword_score;
        hit.score = e.score;
        hit.match_type = e.match_type;
        hits.push_back(std::move(hit));
    }
    return hits;
}

// ---------------------------------------------------------------------------------------
// ProjectIndex

struct ProjectIndex::WriterState {
    std::unordered_map<std::string, Loc> nodes;
    std::unordered_map<std::string, std::unordered_set<std::string>> by_data_key;
    uint64_t next_segment_id = 1;
    uint64_t epoch = 0;  // bumped by Rebuild; invalidates an in-flight compaction
    bool compacting = false;
    uint64_t compaction_watermark = 0;  // segments <= this id belong to the compaction
    int dim = 0;
};

namespace {

// Analyses entries into segment documents (later duplicates of a node key win) and
// checks that all vectors share one dimension. Runs outside the writer lock.
Result<std::vector<SegmentDoc>> PrepareDocs(const Analyzer& analyzer,
                                            std::span<const IndexEntry> entries,
                                            std::size_t threads, int* dim) {
    std::unordered_map<std::string_view, std::size_t> last;
    last.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) last[entries[i].node_key] = i;
    std::vector<std::size_t> keep;
    keep.reserve(last.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (last[entries[i].node_key] == i) keep.push_back(i);
    }
    int d = 0;
    for (std::size_t i : keep) {
        const auto& v = entries[i].vector;
        if (v.empty()) continue;
        if (d == 0) d = static_cast<int>(v.size());
        if (static_cast<int>(v.size()) != d) {
            return InvalidArgument("index entries have vectors of different dimensions");
        }
    }
    *dim = d;
    std::vector<SegmentDoc> docs(keep.size());
    auto work = [&](std::size_t begin, std::size_t end) {
        for (std::size_t j = begin; j < end; ++j) {
            const IndexEntry& e = entries[keep[j]];
            docs[j].node_key = e.node_key;
            docs[j].data_key = e.data_key;
            docs[j].vector = e.vector;
            docs[j].terms = analyzer.Count(e.text);
        }
    };
    threads = std::max<std::size_t>(1, std::min(threads, docs.size() / 4096 + 1));
    if (threads == 1) {
        work(0, docs.size());
    } else {
        std::vector<std::thread> pool;
        const std::size_t chunk = (docs.size() + threads - 1) / threads;
        for (std::size_t t = 0; t < threads; ++t) {
            const std::size_t b = std::min(docs.size(), t * chunk);
            const std::size_t e = std::min(docs.size(), b + chunk);
            pool.emplace_back(work, b, e);
        }
        for (auto& th : pool) th.join();
    }
    return docs;
}

}  // namespace

ProjectIndex::ProjectIndex(IndexOptions options)
    : options_(options),
      analyzer_(std::make_shared<const Analyzer>(options.analyzer)),
      state_(std::make_unique<WriterState>()) {
    current_ = std::make_shared<const Snapshot>(analyzer_, options_.bm25_k1, options_.bm25_b,
                                                std::vector<SegmentView>{}, 0, 0, 0, 0);
}

ProjectIndex::~ProjectIndex() = default;

std::shared_ptr<const Snapshot> ProjectIndex::snapshot() const {
    std::lock_guard lock(current_mutex_);
    return current_;
}

void ProjectIndex::Publish(std::shared_ptr<const Snapshot> next) {
    {
        std::lock_guard lock(current_mutex_);
        current_.swap(next);
    }
    // `next` now holds the previous snapshot; it is released outside the lock.
}

Status ProjectIndex::Apply(std::span<const IndexEntry> upserts,
                           std::span<const std::string> removed_node_keys, int64_t sequence) {
    int dim = 0;
    auto prepared = PrepareDocs(*analyzer_, upserts, 1, &dim);
    if (!prepared.ok()) return std::move(prepared).error();
    std::vector<SegmentDoc> docs = std::move(prepared).value();

    std::lock_guard lock(writer_mutex_);
    WriterState& state = *state_;
    if (dim != 0 && state.dim != 0 && dim != state.dim) {
        return InvalidArgument("vector dimension differs from the index's");
    }
    if (state.dim == 0) state.dim = dim;

    const std::shared_ptr<const Snapshot> current = snapshot();
    std::vector<SegmentView> views = current->segments();
    std::unordered_map<uint64_t, std::size_t> view_of;
    for (std::size_t i = 0; i < views.size(); ++i) view_of[views[i].segment->id()] = i;
    std::vector<std::shared_ptr<std::vector<uint64_t>>> copied(views.size());
    std::size_t live = current->size();
    uint64_t length = current->total_length();

    auto kill = [&](const std::string& key) {
        auto it = state.nodes.find(key);
        if (it == state.nodes.end()) return;
        const Loc loc = it->second;
        const std::size_t vi = view_of.at(loc.segment_id);
        SegmentView& view = views[vi];
        if (!copied[vi]) {
            copied[vi] = view.dead ? std::make_shared<std::vector<uint64_t>>(*view.dead)
                                   : EmptyBits(view.segment->size());
            view.dead = copied[vi];
        }
        SetBit(*copied[vi], loc.pos);
        ++view.dead_count;
        --live;
        length -= view.segment->length(loc.pos);
        auto dk = state.by_data_key.find(view.segment->data_key(loc.pos));
        if (dk != state.by_data_key.end()) {
            dk->second.erase(key);
            if (dk->second.empty()) state.by_data_key.erase(dk);
        }
        state.nodes.erase(it);
    };
    for (const std::string& key : removed_node_keys) kill(key);
    for (const SegmentDoc& doc : docs) kill(doc.node_key);

    if (!docs.empty()) {
        auto seg = Segment::Build(state.next_segment_id++, std::move(docs), state.dim, nullptr,
                                  options_.half_precision_prefilter);
        for (uint32_t pos = 0; pos < seg->size(); ++pos) {
            state.nodes[seg->node_key(pos)] = {seg->id(), pos};
            state.by_data_key[seg->data_key(pos)].insert(seg->node_key(pos));
            ++live;
            length += seg->length(pos);
        }
        views.push_back({std::move(seg), nullptr, 0});
    }
    std::erase_if(views, [](const SegmentView& v) { return v.dead_count == v.segment->size(); });
    MergeSmallSegments(views, state);
    Publish(std::make_shared<const Snapshot>(analyzer_, options_.bm25_k1, options_.bm25_b,
                                             std::move(views), live, length, state.dim, sequence));
    return OkStatus();
}

void ProjectIndex::RemoveDataKey(std::string_view data_key, int64_t sequence) {
    std::vector<std::string> keys;
    {
        std::lock_guard lock(writer_mutex_);
        auto it = state_->by_data_key.find(std::string(data_key));
        if (it != state_->by_data_key.end()) keys.assign(it->second.begin(), it->second.end());
    }
    // No vectors are added, so Apply cannot fail.
    Status status = Apply({}, keys, sequence);
    CONTEX_ASSERT(status.ok());
}

Status ProjectIndex::Rebuild(std::vector<IndexEntry> all, int64_t sequence) {
    int dim = 0;
    auto prepared = PrepareDocs(*analyzer_, all, options_.build_threads, &dim);
    if (!prepared.ok()) return std::move(prepared).error();
    std::vector<SegmentDoc> docs = std::move(prepared).value();
    std::vector<IndexEntry>().swap(all);

    HnswParams hnsw{options_.hnsw_m, options_.hnsw_ef_construction, options_.build_threads,
                    options_.hnsw_seed};
    const bool with_hnsw = options_.rebuild_builds_hnsw && docs.size() >= options_.hnsw_threshold;

    std::lock_guard lock(writer_mutex_);
    WriterState& state = *state_;
    state.nodes.clear();
    state.by_data_key.clear();
    ++state.epoch;
    state.dim = dim;
    std::vector<SegmentView> views;
    std::size_t live = 0;
    uint64_t length = 0;
    if (!docs.empty()) {
        auto seg = Segment::Build(state.next_segment_id++, std::move(docs), dim,
                                  with_hnsw ? &hnsw : nullptr, options_.half_precision_prefilter);
        state.nodes.reserve(seg->size());
        for (uint32_t pos = 0; pos < seg->size(); ++pos) {
            state.nodes[seg->node_key(pos)] = {seg->id(), pos};
            state.by_data_key[seg->data_key(pos)].insert(seg->node_key(pos));
        }
        live = seg->size();
        length = seg->total_length();
        views.push_back({std::move(seg), nullptr, 0});
    }
    Publish(std::make_shared<const Snapshot>(analyzer_, options_.bm25_k1, options_.bm25_b,
                                             std::move(views), live, length, dim, sequence));
    return OkStatus();
}

void ProjectIndex::MergeSmallSegments(std::vector<SegmentView>& views, WriterState& state) {
    const double factor = static_cast<double>(std::max<std::size_t>(2, options_.merge_factor));
    for (;;) {
        std::unordered_map<int, std::vector<std::size_t>> tiers;
        for (std::size_t i = 0; i < views.size(); ++i) {
            const SegmentView& v = views[i];
            const std::size_t live = v.segment->size() - v.dead_count;
            if (v.segment->hnsw() != nullptr || live > options_.inline_merge_max_docs) continue;
            if (state.compacting && v.segment->id() <= state.compaction_watermark) continue;
            const int tier = live <= 1 ? 0 : static_cast<int>(std::log(double(live)) / std::log(factor));
            tiers[tier].push_back(i);
        }
        const std::vector<std::size_t>* group = nullptr;
        for (const auto& [tier, members] : tiers) {
            if (members.size() >= static_cast<std::size_t>(factor)) {
                group = &members;
                break;
            }
        }
        if (group == nullptr) return;
        std::vector<SegmentDoc> docs;
        for (std::size_t i : *group) {
            std::vector<SegmentDoc> part = views[i].segment->ExtractLive(views[i].dead.get());
            std::move(part.begin(), part.end(), std::back_inserter(docs));
        }
        auto seg = Segment::Build(state.next_segment_id++, std::move(docs), state.dim, nullptr,
                                  options_.half_precision_prefilter);
        for (uint32_t pos = 0; pos < seg->size(); ++pos) {
            state.nodes[seg->node_key(pos)] = {seg->id(), pos};
        }
        std::vector<SegmentView> rest;
        for (std::size_t i = 0; i < views.size(); ++i) {
            if (std::find(group->begin(), group->end(), i) == group->end()) rest.push_back(views[i]);
        }
        rest.push_back({std::move(seg), nullptr, 0});
        views = std::move(rest);
    }
}

bool ProjectIndex::CompactionWanted(const Snapshot& snap) const {
    std::size_t hnsw_live = 0, exact_live = 0, dead = 0, rows = 0;
    for (const SegmentView& v : snap.segments()) {
        const std::size_t live = v.segment->size() - v.dead_count;
        (v.segment->hnsw() ? hnsw_live : exact_live) += live;
        dead += v.dead_count;
        rows += v.segment->size();
    }
    const std::size_t threshold = std::max<std::size_t>(1, options_.hnsw_threshold);
    if (hnsw_live == 0 && snap.size() >= threshold && snap.dim() > 0) return true;
    if (hnsw_live > 0 && exact_live >= std::max(threshold / 4, hnsw_live / 8)) return true;
    if (rows >= 1024 && dead * 5 > rows) return true;  // > 20 % tombstones
    return snap.segments().size() > 64;
}

bool ProjectIndex::NeedsMaintenance() const { return CompactionWanted(*snapshot()); }

bool ProjectIndex::Maintain() {
    std::lock_guard maintain(maintain_mutex_);
    std::shared_ptr<const Snapshot> base;
    uint64_t epoch = 0, segment_id = 0;
    int dim = 0;
    {
        std::lock_guard lock(writer_mutex_);
        base = snapshot();
        if (!CompactionWanted(*base)) return false;
        WriterState& state = *state_;
        state.compacting = true;
        state.compaction_watermark = state.next_segment_id - 1;
        segment_id = state.next_segment_id++;
        epoch = state.epoch;
        dim = state.dim;
    }

    // The expensive part runs without the writer lock: publishes continue meanwhile.
    std::vector<SegmentDoc> docs;
    for (const SegmentView& v : base->segments()) {
        std::vector<SegmentDoc> part = v.segment->ExtractLive(v.dead.get());
        std::move(part.begin(), part.end(), std::back_inserter(docs));
    }
    HnswParams hnsw{options_.hnsw_m, options_.hnsw_ef_construction, options_.build_threads,
                    options_.hnsw_seed};
    const bool with_hnsw = docs.size() >= options_.hnsw_threshold && dim > 0;
    std::vector<uint32_t> source_rows;  // merged position -> index in `docs`
    auto merged = Segment::Build(segment_id, std::move(docs), dim, with_hnsw ? &hnsw : nullptr,
                                 options_.half_precision_prefilter, &source_rows);
    // The merged segment orders its rows by node key: where each extracted row went.
    std::vector<uint32_t> merged_pos(source_rows.size());
    for (uint32_t pos = 0; pos < source_rows.size(); ++pos) merged_pos[source_rows[pos]] = pos;

    std::lock_guard lock(writer_mutex_);
    WriterState& state = *state_;
    state.compacting = false;
    if (state.epoch != epoch) return false;  // a Rebuild replaced everything meanwhile
    const std::shared_ptr<const Snapshot> current = snapshot();
    std::unordered_map<uint64_t, const SegmentView*> now;
    for (const SegmentView& v : current->segments()) now[v.segment->id()] = &v;

    // Nodes deleted since `base` are tombstoned in the merged segment.
    auto dead = EmptyBits(merged->size());
    uint32_t dead_count = 0;
    uint32_t next = 0;  // index of the extracted row, in extraction order
    std::unordered_set<uint64_t> folded;
    for (const SegmentView& old : base->segments()) {
        folded.insert(old.segment->id());
        auto it = now.find(old.segment->id());
        const SegmentView* still = it == now.end() ? nullptr : it->second;
        for (uint32_t pos = 0; pos < old.segment->size(); ++pos) {
            if (old.IsDead(pos)) continue;
            const uint32_t new_pos = merged_pos[next++];
            if (still == nullptr || still->IsDead(pos)) {
                SetBit(*dead, new_pos);
                ++dead_count;
            } else {
                state.nodes[merged->node_key(new_pos)] = {merged->id(), new_pos};
            }
        }
    }
    std::vector<SegmentView> views;
    if (dead_count < merged->size()) {
        views.push_back({merged, dead_count > 0 ? dead : nullptr, dead_count});
    }
    for (const SegmentView& v : current->segments()) {
        if (!folded.contains(v.segment->id())) views.push_back(v);
    }
    Publish(std::make_shared<const Snapshot>(analyzer_, options_.bm25_k1, options_.bm25_b,
                                             std::move(views), current->size(),
                                             current->total_length(), current->dim(),
                                             current->sequence()));
    return true;
}

}  // namespace contex::index
