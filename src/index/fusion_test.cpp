#include "index/fusion.hpp"

#include <gtest/gtest.h>

#include <map>

namespace contex::index {
namespace {

// Fuse's node-key accessor over a fixed ref -> key table.
std::function<std::string_view(uint64_t)> KeysOf(const std::map<uint64_t, std::string>& keys) {
    return [&keys](uint64_t ref) -> std::string_view { return keys.at(ref); };
}

// engine.md §3.3 worked example: tau 0.5, kappa 5.0, RRF_K 60.
// V = A (0.71), B (0.55), C (0.48), D (0.12); B = C (7.2), A (3.1), D (1.0).
TEST(Fusion, WorkedExampleFromSpec) {
    const std::map<uint64_t, std::string> keys = {{1, "A"}, {2, "B"}, {3, "C"}, {4, "D"}};
    std::vector<RankedEntry> v = {{1, 0.71}, {2, 0.55}, {3, 0.48}, {4, 0.12}};
    std::vector<RankedEntry> b = {{3, 7.2}, {1, 3.1}, {4, 1.0}};
    SearchParams p;
    p.k = 10;
    p.cosine_threshold = 0.5f;
    p.keyword_threshold = 5.0f;
    auto out = Fuse(v, b, [](uint64_t) -> float { return 0; }, KeysOf(keys), p);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].node_key, "A");
    EXPECT_NEAR(out[0].score, 1.0 / 61 + 1.0 / 62, 1e-12);
    EXPECT_NEAR(out[0].score, 0.03252, 5e-6);
    EXPECT_EQ(out[0].match_type, MatchType::kVector);
    EXPECT_FLOAT_EQ(out[0].similarity, 0.71f);
    EXPECT_FLOAT_EQ(out[0].keyword_score, 3.1f);
    EXPECT_EQ(out[1].node_key, "C");
    EXPECT_NEAR(out[1].score, 0.03227, 5e-6);
    EXPECT_EQ(out[1].match_type, MatchType::kKeyword);
    EXPECT_FLOAT_EQ(out[1].similarity, 0.48f);
    EXPECT_EQ(out[2].node_key, "B");
    EXPECT_NEAR(out[2].score, 0.01613, 5e-6);
    EXPECT_EQ(out[2].match_type, MatchType::kVector);
    EXPECT_FLOAT_EQ(out[2].similarity, 0.55f);
    EXPECT_FLOAT_EQ(out[2].keyword_score, 0.0f);
}

TEST(Fusion, ThresholdIsAppliedBeforeTopKCut) {
    // The best-ranked vector node is below tau: k = 1 must return the next eligible one.
    const std::map<uint64_t, std::string> keys = {{1, "low"}, {2, "ok"}};
    std::vector<RankedEntry> v = {{1, 0.40}, {2, 0.60}};
    SearchParams p;
    p.k = 1;
    p.cosine_threshold = 0.5f;
    auto out = Fuse(v, {}, [](uint64_t) -> float { return 0; }, KeysOf(keys), p);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].node_key, "ok");
}

TEST(Fusion, KeywordOnlyHitsGetExactCosineAndBothType) {
    const std::map<uint64_t, std::string> keys = {{1, "x"}, {2, "y"}};
    std::vector<RankedEntry> v = {{1, 0.9}};
    std::vector<RankedEntry> b = {{2, 9.0}, {1, 6.0}};
    SearchParams p;
    p.k = 5;
    std::map<uint64_t, float> cos = {{1, 0.9f}, {2, 0.33f}};
    auto out = Fuse(v, b, [&](uint64_t ref) { return cos.at(ref); }, KeysOf(keys), p);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].node_key, "x");
    EXPECT_EQ(out[0].match_type, MatchType::kBoth);
    EXPECT_EQ(out[1].node_key, "y");
    EXPECT_EQ(out[1].match_type, MatchType::kKeyword);
    EXPECT_FLOAT_EQ(out[1].similarity, 0.33f);
}

TEST(Fusion, TiesBreakByCosineThenNodeKey) {
    // Same rank in separate lists gives equal scores; cosine then key decide.
    const std::map<uint64_t, std::string> keys = {{1, "b"}, {2, "a"}};
    std::vector<RankedEntry> v = {{1, 0.8}};
    std::vector<RankedEntry> b = {{2, 6.0}};
    SearchParams p;
    p.k = 5;
    auto out = Fuse(v, b, [](uint64_t ref) -> float { return ref == 2 ? 0.8f : 0.0f; }, KeysOf(keys), p);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].node_key, "a");  // same score, same cosine: key asc
    EXPECT_EQ(out[1].node_key, "b");
    auto out2 = Fuse(v, b, [](uint64_t) -> float { return 0.1f; }, KeysOf(keys), p);
    EXPECT_EQ(out2[0].node_key, "b");  // higher cosine first
}

TEST(Fusion, VectorBoostAndRrfKAreConfigurable) {
    const std::map<uint64_t, std::string> keys = {{1, "v"}, {2, "k"}};
    std::vector<RankedEntry> v = {{1, 0.9}};
    std::vector<RankedEntry> b = {{2, 9.0}};
    SearchParams p;
    p.k = 5;
    p.rrf_k = 10;
    p.vector_boost = 2.0f;
    auto out = Fuse(v, b, [](uint64_t) -> float { return 0; }, KeysOf(keys), p);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].node_key, "v");
    EXPECT_NEAR(out[0].score, 2.0 / 11, 1e-12);
    EXPECT_NEAR(out[1].score, 1.0 / 11, 1e-12);
}

TEST(Fusion, ReadsNodeKeysOnlyForTiesAndReturnedEntries) {
    // 50 keyword-only candidates have 50 distinct ranks, so no fused score ties: with k = 10
    // the keys of the 10 returned entries are all that is read (the caller's key reads
    // are random memory accesses into a large index).
    std::map<uint64_t, std::string> keys;
    std::vector<RankedEntry> b;
    for (uint64_t ref = 0; ref < 50; ++ref) {
        keys[ref] = "n" + std::to_string(ref);
        b.push_back({ref, 100.0 - double(ref)});
    }
    std::map<uint64_t, int> reads;
    auto key_of = [&](uint64_t ref) -> std::string_view {
        ++reads[ref];
        return keys.at(ref);
    };
    SearchParams p;
    p.k = 10;
    p.keyword_threshold = 0.0f;
    auto out = Fuse({}, b, [](uint64_t) -> float { return 0; }, key_of, p);
    ASSERT_EQ(out.size(), 10u);
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].node_key, keys.at(i));
    EXPECT_EQ(reads.size(), 10u);
    for (const auto& [ref, n] : reads) EXPECT_LT(ref, 10u);
    // Equal fused scores and cosines: the key decides, so it is read.
    std::vector<RankedEntry> v = {{7, 0.9}};
    std::vector<RankedEntry> b2 = {{3, 9.0}};
    reads.clear();
    auto tied = Fuse(v, b2, [](uint64_t) -> float { return 0.9f; }, key_of, p);
    ASSERT_EQ(tied.size(), 2u);
    EXPECT_EQ(tied[0].node_key, "n3");
    EXPECT_EQ(tied[1].node_key, "n7");
}

}  // namespace
}  // namespace contex::index
