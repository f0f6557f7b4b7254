#include "index/needs_index.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "index/vector_kernels.hpp"

namespace contex::index {

struct NeedsIndex::Flat {
    std::vector<const NeedRef*> needs;          // by need position
    std::vector<std::vector<std::string>> terms;  // sorted distinct query terms per need
    int dim = 0;
    std::vector<std::size_t> with_vector;       // need positions that have a vector
    std::vector<float> matrix;                  // with_vector.size() x dim, row-major
    std::unordered_map<std::string, std::vector<uint32_t>> postings;  // term -> needs
};

NeedsIndex::NeedsIndex(AnalyzerOptions analyzer) : analyzer_(analyzer) {
    // Our GEMMs are small (new nodes × needs) and run on the caller's thread, inside a
    // bounded pool. OpenBLAS's own threads would busy-wait (sched_yield) after every call
    // and steal the cores the server needs: profiled as ~30% of a 2-core machine's time
    // during publish bursts. One thread, always.
    static std::once_flag once;
    std::call_once(once, [] { openblas_set_num_threads(1); });
}

void NeedsIndex::Upsert(std::string_view agent_id, std::vector<NeedRef> needs) {
    std::lock_guard lock(mutex_);
    flat_.reset();
    if (needs.empty()) {
        auto it = by_agent_.find(agent_id);
        if (it != by_agent_.end()) by_agent_.erase(it);
        return;
    }
    for (NeedRef& n : needs) n.agent_id = std::string(agent_id);
    std::stable_sort(needs.begin(), needs.end(),
                     [](const NeedRef& a, const NeedRef& b) { return a.need_index < b.need_index; });
    by_agent_[std::string(agent_id)] = std::move(needs);
}

void NeedsIndex::Remove(std::string_view agent_id) { Upsert(agent_id, {}); }

std::size_t NeedsIndex::size() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& [agent, needs] : by_agent_) n += needs.size();
    return n;
}

const NeedsIndex::Flat& NeedsIndex::Flatten() const {
    if (flat_) return *flat_;
    auto flat = std::make_shared<Flat>();
    for (const auto& [agent, needs] : by_agent_) {
        for (const NeedRef& n : needs) {
            flat->needs.push_back(&n);
            if (!n.vector.empty() && flat->dim == 0) flat->dim = static_cast<int>(n.vector.size());
        }
    }
    for (uint32_t i = 0; i < flat->needs.size(); ++i) {
        const NeedRef& n = *flat->needs[i];
        flat->terms.push_back(analyzer_.QueryTerms(n.text));
        for (const std::string& t : flat->terms.back()) flat->postings[t].push_back(i);
        if (!n.vector.empty() && static_cast<int>(n.vector.size()) == flat->dim) {
            flat->with_vector.push_back(i);
            flat->matrix.insert(flat->matrix.end(), n.vector.begin(), n.vector.end());
        }
    }
    flat_ = std::move(flat);
    return *flat_;
}

Result<std::vector<NeedMatch>> NeedsIndex::Match(const Snapshot& after,
                                                 std::span<const IndexEntry> new_nodes,
                                                 float cosine_threshold,
                                                 float keyword_threshold) const {
    std::lock_guard lock(mutex_);
    const Flat& flat = Flatten();
    const std::size_t needs = flat.needs.size();
    if (needs == 0 || new_nodes.empty()) return std::vector<NeedMatch>{};

    // Nodes with vectors of the needs' dimension go into the GEMM.
    const int dim = flat.dim;
    std::vector<std::size_t> node_rows;
    for (std::size_t i = 0; i < new_nodes.size(); ++i) {
        const auto& v = new_nodes[i].vector;
        if (v.empty()) continue;
        if (dim != 0 && static_cast<int>(v.size()) != dim) {
            return InvalidArgument("node and need vector dimensions differ");
        }
        if (dim != 0) node_rows.push_back(i);
    }
    std::vector<float> cosines;  // node_rows.size() x with_vector.size()
    const std::size_t nv = flat.with_vector.size();
    if (!node_rows.empty() && nv > 0) {
        std::vector<float> a(node_rows.size() * static_cast<std::size_t>(dim));
        for (std::size_t r = 0; r < node_rows.size(); ++r) {
            const auto& v = new_nodes[node_rows[r]].vector;
            std::copy(v.begin(), v.end(), a.begin() + static_cast<std::ptrdiff_t>(r * dim));
        }
        cosines.resize(node_rows.size() * nv);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(node_rows.size()),
                    static_cast<int>(nv), dim, 1.0f, a.data(), dim, flat.matrix.data(), dim, 0.0f,
                    cosines.data(), static_cast<int>(nv));
    }

    // The GEMM sums in a different order than the forward kernel; pairs near the
    // threshold are decided again with the forward kernel so both directions agree.
    constexpr float kMargin = 1e-3f;
    std::unordered_map<std::string, double> idf_cache;
    auto idf_of = [&](const std::string& term) {
        auto it = idf_cache.find(term);
        if (it == idf_cache.end()) it = idf_cache.emplace(term, after.Idf(term)).first;
        return it->second;
    };
    const Analyzer& analyzer = after.analyzer();
    std::vector<NeedMatch> out;
    std::vector<double> bm25(needs);
    std::vector<uint32_t> touched;
    std::vector<uint8_t> passes(needs);
    std::vector<float> similarity(needs);
    std::size_t row = 0;
    for (std::size_t node = 0; node < new_nodes.size(); ++node) {
        const IndexEntry& entry = new_nodes[node];
        std::fill(passes.begin(), passes.end(), 0);
        std::fill(similarity.begin(), similarity.end(), 0.0f);
        const bool in_gemm = row < node_rows.size() && node_rows[row] == node;
        if (in_gemm) {
            const float* c = cosines.data() + row * nv;
            for (std::size_t j = 0; j < nv; ++j) {
                if (c[j] < cosine_threshold - kMargin) continue;
                const std::size_t need = flat.with_vector[j];
                const float exact = Dot(flat.needs[need]->vector.data(), entry.vector.data(),
                                        static_cast<std::size_t>(dim));
                similarity[need] = exact;
                if (exact >= cosine_threshold) passes[need] = 1;
            }
            ++row;
        }
        // BM25: accumulate over the node's terms in sorted order, which is the sorted
        // order of each (need, node) intersection, i.e. the forward path's summation order.
        if (std::isfinite(keyword_threshold)) {
            const TermCounts doc = analyzer.Count(entry.text);
            touched.clear();
            for (const auto& [term, tf] : doc.terms) {
                auto it = flat.postings.find(term);
                if (it == flat.postings.end()) continue;
                const double contribution = after.Bm25Term(idf_of(term), tf, doc.length);
                for (uint32_t need : it->second) {
                    if (bm25[need] == 0.0) touched.push_back(need);
                    bm25[need] += contribution;
                }
            }
            for (uint32_t need : touched) {
                if (bm25[need] >= keyword_threshold) passes[need] = 1;
            }
        }
        for (uint32_t need = 0; need < needs; ++need) {
            if (!passes[need]) continue;
            NeedMatch m;
            m.node_pos = node;
            m.agent_id = flat.needs[need]->agent_id;
            m.need_index = flat.needs[need]->need_index;
            const auto& nv_vec = flat.needs[need]->vector;
            if (in_gemm && !nv_vec.empty() && similarity[need] == 0.0f) {
                similarity[need] = Dot(nv_vec.data(), entry.vector.data(), nv_vec.size());
            }
            m.similarity = similarity[need];
            m.keyword_score = static_cast<float>(bm25[need]);
            out.push_back(std::move(m));
        }
        for (uint32_t need : touched) bm25[need] = 0.0;
    }
    return out;
}

}  // namespace contex::index
