#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "index/project_index.hpp"
#include "index/test_support.hpp"
#include "index/vector_kernels.hpp"

namespace contex::index {
namespace {

using testing::Entry;
using testing::RandomUnit;

TEST(VectorKernels, DotMatchesScalarAndIsSymmetric) {
    std::mt19937 rng(1);
    for (int dim : {1, 7, 16, 33, 384, 1000}) {
        auto a = RandomUnit(rng, dim);
        auto b = RandomUnit(rng, dim);
        double expected = 0;
        for (int i = 0; i < dim; ++i) expected += double(a[i]) * b[i];
        EXPECT_NEAR(Dot(a.data(), b.data(), a.size()), expected, 1e-5) << dim;
        EXPECT_EQ(Dot(a.data(), b.data(), a.size()), Dot(b.data(), a.data(), a.size()));
    }
    EXPECT_FALSE(DotKernelName().empty());
}

TEST(VectorKernels, HalfRowsStayWithinTheErrorBound) {
    if (!HalfKernelsAvailable()) GTEST_SKIP() << "no F16C";
    std::mt19937 rng(2);
    for (int dim : {5, 16, 40, 384}) {
        std::vector<float> rows;
        for (int r = 0; r < 20; ++r) {
            auto v = RandomUnit(rng, dim);
            rows.insert(rows.end(), v.begin(), v.end());
        }
        std::vector<uint16_t> half(rows.size());
        FloatToHalf(rows.data(), half.data(), rows.size());
        auto q = RandomUnit(rng, dim);
        std::vector<float> approx(20);
        DotRowsHalf(q.data(), half.data(), 20, dim, approx.data());
        for (int r = 0; r < 20; ++r) {
            const float exact = Dot(q.data(), rows.data() + r * dim, dim);
            EXPECT_LE(std::fabs(exact - approx[r]), HalfDotErrorBound(1.0f, 1.0f, dim)) << dim;
            EXPECT_NE(exact, approx[r]) << "half rounding should be visible at dim " << dim;
        }
    }
}

// The int8 first pass of reverse matching must return every pair whose float32 product
// reaches the threshold, also pairs right at it (the threshold is set to exact products),
// and the packed float32 kernel every pair whose (differently summed) product does.
TEST(VectorKernels, Int8CandidatesIncludeEveryPairAtOrAboveThreshold) {
    if (!Int8MatMulAvailable()) GTEST_SKIP() << "no AVX-512 VNNI";
    std::mt19937 rng(5);
    for (int dim : {7, 32, 384}) {
        const int rows = 13, count = 37;  // neither a multiple of 8 rows nor of 32 columns
        std::vector<float> a, b;
        const auto center = RandomUnit(rng, dim);
        for (int i = 0; i < rows; ++i) {
            auto v = testing::Near(rng, center, 0.6f);
            a.insert(a.end(), v.begin(), v.end());
        }
        for (int j = 0; j < count; ++j) {
            auto v = testing::Near(rng, center, 0.6f);
            b.insert(b.end(), v.begin(), v.end());
        }
        std::vector<float> exact;
        for (int i = 0; i < rows; ++i) {
            for (int j = 0; j < count; ++j) exact.push_back(Dot(a.data() + i * dim, b.data() + j * dim, dim));
        }
        const Int8Panels packed = PackInt8Panels(b.data(), count, dim);
        std::vector<float> thresholds = exact;
        std::sort(thresholds.begin(), thresholds.end());
        for (std::size_t t = 0; t < thresholds.size(); t += 7) {
            std::vector<std::pair<uint32_t, uint32_t>> found;
            Int8MatMulCandidates(a.data(), rows, packed, thresholds[t], &found);
            std::size_t expected = 0;
            for (int i = 0; i < rows; ++i) {
                for (int j = 0; j < count; ++j) {
                    if (exact[i * count + j] < thresholds[t]) continue;
                    ++expected;
                    EXPECT_TRUE(std::binary_search(found.begin(), found.end(),
                                                   std::make_pair(uint32_t(i), uint32_t(j))))
                        << "dim " << dim << " pair " << i << "," << j;
                }
            }
        }
        // A first pass, not a pass-through: at a high threshold it rejects most pairs.
        std::vector<std::pair<uint32_t, uint32_t>> found;
        Int8MatMulCandidates(a.data(), rows, packed, thresholds[thresholds.size() * 9 / 10], &found);
        EXPECT_LT(found.size(), thresholds.size() / 2) << dim;
    }
}

struct Oracle {
    std::map<std::string, std::vector<float>> vectors;
    // Top n by cosine desc, key asc.
    std::vector<std::pair<float, std::string>> Top(const std::vector<float>& q, std::size_t n) const {
        std::vector<std::pair<float, std::string>> all;
        for (const auto& [key, v] : vectors) all.emplace_back(Dot(q.data(), v.data(), v.size()), key);
        std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        });
        if (all.size() > n) all.resize(n);
        return all;
    }
};

// Exact search over several segments with replacements and deletions equals brute force.
TEST(ExactSearch, EqualsBruteForceOracle) {
    std::mt19937 rng(42);
    const int dim = 24;
    IndexOptions options;
    options.merge_factor = 3;
    ProjectIndex index(options);
    Oracle oracle;
    int64_t seq = 0;
    for (int batch = 0; batch < 40; ++batch) {
        std::vector<IndexEntry> entries;
        for (int i = 0; i < 25; ++i) {
            // Keys repeat across batches, so later batches replace earlier nodes.
            std::string key = "n" + std::to_string(rng() % 600);
            entries.push_back(Entry(key, "k" + std::to_string(batch), "", RandomUnit(rng, dim)));
        }
        for (const auto& e : entries) oracle.vectors[e.node_key] = e.vector;
        std::vector<std::string> removed;
        for (int r = 0; r < 3; ++r) {
            std::string key = "n" + std::to_string(rng() % 600);
            if (std::any_of(entries.begin(), entries.end(),
                            [&](const IndexEntry& e) { return e.node_key == key; })) {
                continue;
            }
            removed.push_back(key);
            oracle.vectors.erase(key);
        }
        ASSERT_TRUE(index.Apply(entries, removed, ++seq).ok());
    }
    auto snap = index.snapshot();
    ASSERT_EQ(snap->size(), oracle.vectors.size());
    EXPECT_GT(snap->stats().tombstones, 0u);
    for (int q = 0; q < 20; ++q) {
        auto query = RandomUnit(rng, dim);
        for (int k : {1, 10, 50}) {
            SearchParams p = testing::Wide(-1.0f, 1e9f, k);
            p.min_candidates = k;
            auto hits = snap->Search(query, "", p);
            auto expected = oracle.Top(query, static_cast<std::size_t>(k));
            ASSERT_EQ(hits.size(), expected.size());
            for (std::size_t i = 0; i < hits.size(); ++i) {
                EXPECT_EQ(hits[i].node_key, expected[i].second) << "k=" << k << " i=" << i;
                EXPECT_EQ(hits[i].similarity, expected[i].first);
                EXPECT_EQ(hits[i].match_type, MatchType::kVector);
            }
        }
    }
}

TEST(ExactSearch, NodesWithoutVectorsAreOnlyKeywordMatches) {
    ProjectIndex index;
    std::vector<IndexEntry> e = {Entry("v", "k", "plain words", {1, 0}),
                                 Entry("t", "k", "special keyword keyword keyword")};
    ASSERT_TRUE(index.Apply(e, {}, 1).ok());
    std::vector<float> q = {1, 0};
    auto hits = index.snapshot()->Search(q, "special keyword", testing::Wide(0.5f, 0.1f));
    ASSERT_EQ(hits.size(), 2u);
    std::map<std::string, Hit> by_key;
    for (const auto& h : hits) by_key[h.node_key] = h;
    EXPECT_EQ(by_key["v"].match_type, MatchType::kVector);
    EXPECT_FLOAT_EQ(by_key["v"].similarity, 1.0f);
    EXPECT_EQ(by_key["t"].match_type, MatchType::kKeyword);
    EXPECT_FLOAT_EQ(by_key["t"].similarity, 0.0f);
}

TEST(ExactSearch, ThresholdExcludesDissimilarNodes) {
    ProjectIndex index;
    std::vector<IndexEntry> e = {Entry("near", "k", "", {1, 0}), Entry("far", "k", "", {0, 1})};
    ASSERT_TRUE(index.Apply(e, {}, 1).ok());
    std::vector<float> q = {1, 0};
    auto hits = index.snapshot()->Search(q, "", testing::Wide(0.5f, 5.0f));
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].node_key, "near");
    EXPECT_EQ(hits[0].data_key, "k");
}

TEST(ExactSearch, QueryOfOtherDimensionIsIgnoredForVectors) {
    ProjectIndex index;
    std::vector<IndexEntry> e = {Entry("a", "k", "alpha", {1, 0})};
    ASSERT_TRUE(index.Apply(e, {}, 1).ok());
    std::vector<float> q = {1, 0, 0};
    EXPECT_TRUE(index.snapshot()->Search(q, "", testing::Wide(0.0f, 5.0f)).empty());
}

TEST(ProjectIndexApply, RejectsVectorsOfAnotherDimension) {
    ProjectIndex index;
    std::vector<IndexEntry> e = {Entry("a", "k", "", {1, 0})};
    ASSERT_TRUE(index.Apply(e, {}, 1).ok());
    std::vector<IndexEntry> bad = {Entry("b", "k", "", {1, 0, 0})};
    Status s = index.Apply(bad, {}, 2);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(index.snapshot()->size(), 1u);
    EXPECT_EQ(index.snapshot()->sequence(), 1);
    std::vector<IndexEntry> mixed = {Entry("c", "k", "", {1, 0}), Entry("d", "k", "", {1})};
    Status m = index.Apply(mixed, {}, 3);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
}

// A small HNSW segment (threshold lowered) returns exactly re-scored cosines and finds
// nearly all true neighbours.
TEST(HnswSearch, SmallGraphHasHighRecallAndExactCosines) {
    std::mt19937 rng(3);
    const int dim = 32;
    IndexOptions options;
    options.hnsw_threshold = 500;
    ProjectIndex index(options);
    std::vector<IndexEntry> entries;
    Oracle oracle;
    for (int i = 0; i < 3000; ++i) {
        entries.push_back(Entry("n" + std::to_string(i), "k", "", RandomUnit(rng, dim)));
        oracle.vectors[entries.back().node_key] = entries.back().vector;
    }
    ASSERT_TRUE(index.Rebuild(entries, 5).ok());
    auto snap = index.snapshot();
    ASSERT_EQ(snap->stats().hnsw_nodes, 3000u);
    int found = 0, total = 0;
    for (int q = 0; q < 50; ++q) {
        auto query = RandomUnit(rng, dim);
        SearchParams p = testing::Wide(-1.0f, 1e9f, 10);
        auto hits = snap->Search(query, "", p);
        auto expected = oracle.Top(query, 10);
        ASSERT_EQ(hits.size(), 10u);
        for (const auto& h : hits) {
            EXPECT_EQ(h.similarity, Dot(query.data(), oracle.vectors[h.node_key].data(), dim));
            for (const auto& e : expected) found += e.second == h.node_key ? 1 : 0;
        }
        total += 10;
    }
    EXPECT_GE(double(found) / total, 0.95);
}

TEST(HnswSearch, DeletedNodesAreNeverReturned) {
    std::mt19937 rng(4);
    const int dim = 16;
    IndexOptions options;
    options.hnsw_threshold = 200;
    ProjectIndex index(options);
    std::vector<IndexEntry> entries;
    for (int i = 0; i < 400; ++i) {
        entries.push_back(Entry("n" + std::to_string(i), "k" + std::to_string(i % 10), "",
                                RandomUnit(rng, dim)));
    }
    ASSERT_TRUE(index.Rebuild(entries, 1).ok());
    index.RemoveDataKey("k3", 2);
    auto snap = index.snapshot();
    EXPECT_EQ(snap->size(), 360u);
    for (int q = 0; q < 20; ++q) {
        auto hits = snap->Search(RandomUnit(rng, dim), "", testing::Wide(-1.0f, 1e9f, 50));
        EXPECT_EQ(hits.size(), 50u);
        for (const auto& h : hits) EXPECT_NE(h.data_key, "k3");
    }
}

// Large exactly-scanned segments take a half-precision first pass; results must still be
// the float32 top-k, also when many scores are closer together than half precision.
// Int8 first pass on AVX-512 VNNI CPUs, half precision elsewhere.
TEST(ExactSearch, ReducedPrecisionFirstPassKeepsExactResults) {
    std::mt19937 rng(21);
    const int dim = 48;
    ProjectIndex index;  // threshold 20000: a 6000-row segment is scanned exactly
    std::vector<IndexEntry> entries;
    Oracle oracle;
    auto center = RandomUnit(rng, dim);
    for (int i = 0; i < 6000; ++i) {
        // Half of the rows are near-duplicates of one direction (scores differ by ~1e-4).
        auto v = i % 2 == 0 ? testing::Near(rng, center, 1e-4f) : RandomUnit(rng, dim);
        entries.push_back(Entry("n" + std::to_string(i), "k", "", v));
        oracle.vectors[entries.back().node_key] = v;
    }
    ASSERT_TRUE(index.Rebuild(entries, 1).ok());
    auto snap = index.snapshot();
    for (int q = 0; q < 10; ++q) {
        auto query = q % 2 == 0 ? testing::Near(rng, center, 0.01f) : RandomUnit(rng, dim);
        SearchParams p = testing::Wide(-1.0f, 1e9f, 10);
        auto hits = snap->Search(query, "", p);
        auto expected = oracle.Top(query, 10);
        ASSERT_EQ(hits.size(), expected.size());
        for (std::size_t i = 0; i < hits.size(); ++i) {
            EXPECT_EQ(hits[i].node_key, expected[i].second) << "q=" << q << " i=" << i;
            EXPECT_EQ(hits[i].similarity, expected[i].first);
        }
    }
}

}  // namespace
}  // namespace contex::index
