#include "embed/embedding_cache.hpp"

#include <gtest/gtest.h>

#include "common/crypto.hpp"

namespace contex::embed {
namespace {

using namespace std::chrono_literals;

TEST(EmbeddingCache, KeyIsSha256OfModelNulPrefixText) {
    const std::string k = EmbeddingCache::Key("m", "query: ", "hello");
    EXPECT_EQ(k.size(), 32u);
    EXPECT_EQ(k, Sha256Raw(std::string("m\0query: hello", 14)));
    EXPECT_NE(k, EmbeddingCache::Key("n", "query: ", "hello"));
    EXPECT_NE(EmbeddingCache::Key("ab", "", "c"), EmbeddingCache::Key("a", "", "bc"));
}

TEST(EmbeddingCache, ReturnsWhatWasPut) {
    ManualClock clock;
    EmbeddingCache cache(4, 0s, clock);
    EXPECT_FALSE(cache.Get("a").has_value());
    cache.Put("a", {1.0f, 0.0f});
    ASSERT_TRUE(cache.Get("a").has_value());
    EXPECT_EQ(*cache.Get("a"), (Vector{1.0f, 0.0f}));
    EXPECT_EQ(cache.size(), 1u);
}

TEST(EmbeddingCache, EvictsLeastRecentlyUsed) {
    ManualClock clock;
    EmbeddingCache cache(2, 0s, clock);
    cache.Put("a", {1});
    cache.Put("b", {2});
    ASSERT_TRUE(cache.Get("a").has_value());  // a is now more recent than b
    cache.Put("c", {3});
    EXPECT_TRUE(cache.Get("a").has_value());
    EXPECT_FALSE(cache.Get("b").has_value());
    EXPECT_TRUE(cache.Get("c").has_value());
    EXPECT_EQ(cache.size(), 2u);
}

TEST(EmbeddingCache, ExpiresEntriesAfterTtl) {
    ManualClock clock;
    EmbeddingCache cache(10, 60s, clock);
    cache.Put("a", {1});
    clock.Advance(59s);
    EXPECT_TRUE(cache.Get("a").has_value());
    clock.Advance(1s);
    EXPECT_FALSE(cache.Get("a").has_value());
    EXPECT_EQ(cache.size(), 0u);
}

TEST(EmbeddingCache, ZeroTtlNeverExpires) {
    ManualClock clock;
    EmbeddingCache cache(10, 0s, clock);
    cache.Put("a", {1});
    clock.Advance(std::chrono::hours(24 * 365));
    EXPECT_TRUE(cache.Get("a").has_value());
}

TEST(EmbeddingCache, ZeroCapacityDisablesCache) {
    ManualClock clock;
    EmbeddingCache cache(0, 0s, clock);
    cache.Put("a", {1});
    EXPECT_FALSE(cache.Get("a").has_value());
    EXPECT_EQ(cache.size(), 0u);
}

TEST(EmbeddingCache, ClearDropsEverything) {
    ManualClock clock;
    EmbeddingCache cache(10, 0s, clock);
    cache.Put("a", {1});
    cache.Put("b", {2});
    cache.Clear();
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_FALSE(cache.Get("a").has_value());
}

}  // namespace
}  // namespace contex::embed
