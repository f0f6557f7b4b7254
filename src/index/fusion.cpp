#include "index/fusion.hpp"

#include <algorithm>
#include <unordered_map>

namespace contex::index {

std::vector<FusedEntry> Fuse(const std::vector<RankedEntry>& vector_list,
                             const std::vector<RankedEntry>& keyword_list,
                             const std::function<float(uint64_t)>& exact_cosine,
                             const std::function<std::string_view(uint64_t)>& node_key_of,
                             const SearchParams& params) {
    struct Acc {
        FusedEntry entry;
        bool vector_ok = false;
        bool keyword_ok = false;
        bool in_vector = false;
    };
    std::unordered_map<uint64_t, Acc> by_ref;
    const double rrf_k = params.rrf_k;
    for (std::size_t i = 0; i < vector_list.size(); ++i) {
        const RankedEntry& e = vector_list[i];
        Acc& acc = by_ref[e.ref];
        acc.entry.ref = e.ref;
        acc.entry.similarity = static_cast<float>(e.score);
        acc.entry.score += params.vector_boost / (rrf_k + static_cast<double>(i + 1));
        acc.in_vector = true;
        acc.vector_ok = e.score >= params.cosine_threshold;
    }
    for (std::size_t i = 0; i < keyword_list.size(); ++i) {
        const RankedEntry& e = keyword_list[i];
        Acc& acc = by_ref[e.ref];
        acc.entry.ref = e.ref;
        acc.entry.keyword_score = static_cast<float>(e.score);
        acc.entry.score += 1.0 / (rrf_k + static_cast<double>(i + 1));
        acc.keyword_ok = e.score >= params.keyword_threshold;
    }
    std::vector<FusedEntry> out;
    for (auto& [ref, acc] : by_ref) {
        if (!acc.vector_ok && !acc.keyword_ok) continue;
        if (!acc.in_vector) acc.entry.similarity = exact_cosine(ref);
        acc.entry.match_type = acc.vector_ok && acc.keyword_ok ? MatchType::kBoth
                               : acc.vector_ok                 ? MatchType::kVector
                                                               : MatchType::kKeyword;
        out.push_back(acc.entry);
    }
    std::sort(out.begin(), out.end(), [&](const FusedEntry& a, const FusedEntry& b) {
        if (a.score != b.score) return a.score > b.score;
        if (a.similarity != b.similarity) return a.similarity > b.similarity;
        return node_key_of(a.ref) < node_key_of(b.ref);
    });
    if (out.size() > static_cast<std::size_t>(std::max(params.k, 0))) {
        out.resize(static_cast<std::size_t>(std::max(params.k, 0)));
    }
    for (FusedEntry& e : out) e.node_key = node_key_of(e.ref);
    return out;
}

}  // namespace contex::index
