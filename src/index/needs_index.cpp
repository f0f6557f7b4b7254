#include "index/needs_index.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "index/vector_kernels.hpp"

namespace contex::index {

struct NeedsIndex::Flat {
    std::vector<const NeedRef*> needs;          // by need position
    std::vector<std::vector<std::string>> terms;  // sorted distinct query terms per need
    int dim = 0;
    std::vector<std::size_t> with_vector;       // need positions that have a vector
    std::vector<float> matrix;                  // with_vector.size() x dim, row-major
    std::vector<float> packed;                  // the same, PackPanels layout (AVX-512)
    Int8Panels quantized;                       // the same, int8 (AVX-512 VNNI)
    // Term ids in lexicographic order of the terms, so that a need's ids sorted
    // ascending list its terms in sorted order (the BM25 summation order).
    std::unordered_map<std::string, uint32_t> term_ids;
    std::vector<std::vector<uint32_t>> need_term_ids;  // per need, ascending
    // term id -> needs holding it, most terms first (see the keyword pruning in Match)
    std::vector<std::vector<uint32_t>> postings;
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
    std::vector<std::string> all_terms;
    for (uint32_t i = 0; i < flat->needs.size(); ++i) {
        const NeedRef& n = *flat->needs[i];
        flat->terms.push_back(analyzer_.QueryTerms(n.text));
        all_terms.insert(all_terms.end(), flat->terms.back().begin(), flat->terms.back().end());
        if (!n.vector.empty() && static_cast<int>(n.vector.size()) == flat->dim) {
            flat->with_vector.push_back(i);
            flat->matrix.insert(flat->matrix.end(), n.vector.begin(), n.vector.end());
        }
    }
    if (Int8MatMulAvailable() && !flat->with_vector.empty()) {
        flat->quantized = PackInt8Panels(flat->matrix.data(), flat->with_vector.size(),
                                         static_cast<std::size_t>(flat->dim));
    } else if (PackedMatMulAvailable() && !flat->with_vector.empty()) {
        flat->packed = PackPanels(flat->matrix.data(), flat->with_vector.size(),
                                  static_cast<std::size_t>(flat->dim));
    }
    std::sort(all_terms.begin(), all_terms.end());
    all_terms.erase(std::unique(all_terms.begin(), all_terms.end()), all_terms.end());
    for (uint32_t id = 0; id < all_terms.size(); ++id) flat->term_ids.emplace(all_terms[id], id);
    flat->postings.resize(all_terms.size());
    flat->need_term_ids.resize(flat->needs.size());
    for (uint32_t i = 0; i < flat->needs.size(); ++i) {
        for (const std::string& t : flat->terms[i]) {
            const uint32_t id = flat->term_ids.at(t);
            flat->need_term_ids[i].push_back(id);  // terms are sorted, so ids ascend
            flat->postings[id].push_back(i);
        }
    }
    for (auto& list : flat->postings) {
        std::stable_sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) {
            return flat->need_term_ids[a].size() > flat->need_term_ids[b].size();
        });
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
    // (GEMM row, need-with-vector position) pairs whose GEMM cosine is at least
    // cosine_threshold - kMargin, sorted. The GEMM sums in a different order than the
    // forward kernel, so these pairs are decided again with the forward kernel and both
    // directions agree.
    constexpr float kMargin = 1e-3f;
    std::vector<std::pair<uint32_t, uint32_t>> above;
    const std::size_t nv = flat.with_vector.size();
    if (!node_rows.empty() && nv > 0) {
        std::vector<float> a(node_rows.size() * static_cast<std::size_t>(dim));
        for (std::size_t r = 0; r < node_rows.size(); ++r) {
            const auto& v = new_nodes[node_rows[r]].vector;
            std::copy(v.begin(), v.end(), a.begin() + static_cast<std::ptrdiff_t>(r * dim));
        }
        if (flat.quantized.count > 0) {
            // Int8 first pass (4x the multiply rate of float32, a quarter of the bytes)
            // with a proven error bound: a superset of the passing pairs, all of which are
            // then decided with the forward kernel below.
            Int8MatMulCandidates(a.data(), node_rows.size(), flat.quantized,
                                 cosine_threshold - kMargin, &above);
        } else if (!flat.packed.empty()) {
            // Own AVX-512 kernel over needs packed once per Flatten, thresholded in
            // registers: OpenBLAS picks a slow generic kernel on some CPUs (and its
            // threads spin; see the constructor), and the full cosine matrix is not needed.
            MatMulPackedAbove(a.data(), node_rows.size(), flat.packed.data(), nv,
                              static_cast<std::size_t>(dim), cosine_threshold - kMargin, &above);
        } else {
            std::vector<float> cosines(node_rows.size() * nv);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(node_rows.size()),
                        static_cast<int>(nv), dim, 1.0f, a.data(), dim, flat.matrix.data(), dim,
                        0.0f, cosines.data(), static_cast<int>(nv));
            for (std::size_t r = 0; r < node_rows.size(); ++r) {
                for (std::size_t j = 0; j < nv; ++j) {
                    if (cosines[r * nv + j] >= cosine_threshold - kMargin) {
                        above.emplace_back(static_cast<uint32_t>(r), static_cast<uint32_t>(j));
                    }
                }
            }
        }
    }

    std::unordered_map<std::string, double> idf_cache;
    auto idf_of = [&](const std::string& term) {
        auto it = idf_cache.find(term);
        if (it == idf_cache.end()) it = idf_cache.emplace(term, after.Idf(term)).first;
        return it->second;
    };
    const Analyzer& analyzer = after.analyzer();
    const bool keywords = std::isfinite(keyword_threshold);
    const double kappa = keyword_threshold;
    std::vector<NeedMatch> out;
    std::vector<uint8_t> seen(needs, 0);  // need is in `found` for the current node
    std::vector<uint32_t> found;           // needs that may pass for the current node
    std::vector<std::pair<uint32_t, float>> exact_cosines;  // (need, cosine) computed
    // Per term id: its BM25 contribution in the current node, -1 when absent.
    std::vector<double> node_contribution(flat.postings.size(), -1.0);
    std::vector<uint32_t> touched_terms;
    std::size_t row = 0;
    std::size_t next_above = 0;
    for (std::size_t node = 0; node < new_nodes.size(); ++node) {
        const IndexEntry& entry = new_nodes[node];
        found.clear();
        exact_cosines.clear();
        auto add = [&](uint32_t need) {
            if (!seen[need]) {
                seen[need] = 1;
                found.push_back(need);
            }
        };
        const bool in_gemm = row < node_rows.size() && node_rows[row] == node;
        if (in_gemm) {
            for (; next_above < above.size() && above[next_above].first == row; ++next_above) {
                const uint32_t need = static_cast<uint32_t>(flat.with_vector[above[next_above].second]);
                const float exact = Dot(flat.needs[need]->vector.data(), entry.vector.data(),
                                        static_cast<std::size_t>(dim));
                exact_cosines.emplace_back(need, exact);
                if (exact >= cosine_threshold) add(need);
            }
            ++row;
        }
        // BM25 of a need against the node sums its terms' contributions in sorted term
        // order (the forward path's order). A need of m terms reaches kappa only if one
        // of its terms contributes at least kappa / m, so a node term only visits the
        // needs (sorted by term count, most first) for which it could be that term;
        // common terms with small contributions visit none. Candidates are then scored
        // exactly.
        const std::size_t first_keyword = found.size();
        touched_terms.clear();
        if (keywords) {
            const TermCounts doc = analyzer.Count(entry.text);
            for (const auto& [term, tf] : doc.terms) {
                auto it = flat.term_ids.find(term);
                if (it == flat.term_ids.end()) continue;
                const double c = after.Bm25Term(idf_of(term), tf, doc.length);
                node_contribution[it->second] = c;
                touched_terms.push_back(it->second);
                const double c_slack = c * (1.0 + 1e-9);
                for (uint32_t need : flat.postings[it->second]) {
                    if (kappa > 0 && c_slack * static_cast<double>(flat.need_term_ids[need].size()) < kappa) {
                        break;
                    }
                    add(need);
                }
            }
        }
        auto bm25_of = [&](uint32_t need) {
            double score = 0;
            for (uint32_t id : flat.need_term_ids[need]) {
                if (node_contribution[id] >= 0) score += node_contribution[id];
            }
            return score;
        };
        std::vector<std::pair<uint32_t, double>> passing;  // (need, bm25)
        for (std::size_t f = 0; f < found.size(); ++f) {
            const uint32_t need = found[f];
            seen[need] = 0;
            const double bm25 = bm25_of(need);
            if (f < first_keyword || bm25 >= kappa) passing.emplace_back(need, bm25);
        }
        for (uint32_t id : touched_terms) node_contribution[id] = -1.0;
        std::sort(passing.begin(), passing.end());
        std::sort(exact_cosines.begin(), exact_cosines.end());
        for (const auto& [need, bm25] : passing) {
            NeedMatch m;
            m.node_pos = node;
            m.agent_id = flat.needs[need]->agent_id;
            m.need_index = flat.needs[need]->need_index;
            const auto& need_vector = flat.needs[need]->vector;
            auto known = std::lower_bound(exact_cosines.begin(), exact_cosines.end(),
                                          std::make_pair(need, -std::numeric_limits<float>::infinity()));
            if (known != exact_cosines.end() && known->first == need) {
                m.similarity = known->second;
            } else if (in_gemm && !need_vector.empty()) {
                m.similarity = Dot(need_vector.data(), entry.vector.data(), need_vector.size());
            }
            m.keyword_score = static_cast<float>(bm25);
            out.push_back(std::move(m));
        }
    }
    return out;
}

}  // namespace contex::index
