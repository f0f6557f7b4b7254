#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "index/project_index.hpp"
#include "index/test_support.hpp"

namespace contex::index {
namespace {

using testing::Entry;
using testing::RandomUnit;

std::set<std::string> KeywordHits(const Snapshot& snap, std::string_view query) {
    std::set<std::string> keys;
    for (const Hit& h : snap.Search({}, query, testing::Wide(0.5f, 0.0f))) keys.insert(h.node_key);
    return keys;
}

TEST(ProjectIndex, StartsEmpty) {
    ProjectIndex index;
    auto snap = index.snapshot();
    ASSERT_NE(snap, nullptr);
    EXPECT_EQ(snap->size(), 0u);
    EXPECT_EQ(snap->sequence(), 0);
    EXPECT_TRUE(snap->Search(std::vector<float>{1, 0}, "anything", SearchParams{}).empty());
}

TEST(ProjectIndex, UpsertReplacesByNodeKey) {
    ProjectIndex index;
    std::vector<IndexEntry> v1 = {Entry("n1", "k", "old words")};
    ASSERT_TRUE(index.Apply(v1, {}, 1).ok());
    std::vector<IndexEntry> v2 = {Entry("n1", "k", "new words")};
    ASSERT_TRUE(index.Apply(v2, {}, 2).ok());
    auto snap = index.snapshot();
    EXPECT_EQ(snap->size(), 1u);
    EXPECT_TRUE(KeywordHits(*snap, "old").empty());
    EXPECT_EQ(KeywordHits(*snap, "new"), std::set<std::string>{"n1"});
}

TEST(ProjectIndex, LaterDuplicateInOneBatchWins) {
    ProjectIndex index;
    std::vector<IndexEntry> e = {Entry("n1", "k", "first"), Entry("n1", "k", "second")};
    ASSERT_TRUE(index.Apply(e, {}, 1).ok());
    EXPECT_EQ(index.snapshot()->size(), 1u);
    EXPECT_EQ(KeywordHits(*index.snapshot(), "second"), std::set<std::string>{"n1"});
    EXPECT_TRUE(KeywordHits(*index.snapshot(), "first").empty());
}

TEST(ProjectIndex, RemoveDataKeyRemovesOnlyItsNodes) {
    ProjectIndex index;
    std::vector<IndexEntry> e = {Entry("a1", "a", "shared alpha"), Entry("a2", "a", "shared"),
                                 Entry("b1", "b", "shared beta")};
    ASSERT_TRUE(index.Apply(e, {}, 1).ok());
    index.RemoveDataKey("a", 2);
    auto snap = index.snapshot();
    EXPECT_EQ(snap->size(), 1u);
    EXPECT_EQ(snap->sequence(), 2);
    EXPECT_EQ(KeywordHits(*snap, "shared"), std::set<std::string>{"b1"});
    index.RemoveDataKey("missing", 3);  // unknown keys are a no-op apart from the sequence
    EXPECT_EQ(index.snapshot()->size(), 1u);
    EXPECT_EQ(index.snapshot()->sequence(), 3);
}

TEST(ProjectIndex, OldSnapshotsAreUnchangedByLaterWrites) {
    ProjectIndex index;
    std::vector<IndexEntry> e = {Entry("n1", "k", "stable text", {1, 0})};
    ASSERT_TRUE(index.Apply(e, {}, 1).ok());
    auto before = index.snapshot();
    std::vector<std::string> removed = {"n1"};
    std::vector<IndexEntry> more = {Entry("n2", "k2", "other text", {0, 1})};
    ASSERT_TRUE(index.Apply(more, removed, 2).ok());
    EXPECT_EQ(before->size(), 1u);
    EXPECT_EQ(before->sequence(), 1);
    EXPECT_EQ(KeywordHits(*before, "stable"), std::set<std::string>{"n1"});
    EXPECT_TRUE(KeywordHits(*index.snapshot(), "stable").empty());
}

TEST(ProjectIndex, RebuildReplacesEverything) {
    ProjectIndex index;
    std::vector<IndexEntry> e = {Entry("old", "k", "old")};
    ASSERT_TRUE(index.Apply(e, {}, 1).ok());
    std::vector<IndexEntry> all = {Entry("x", "k1", "fresh"), Entry("y", "k2", "fresh")};
    ASSERT_TRUE(index.Rebuild(all, 9).ok());
    auto snap = index.snapshot();
    EXPECT_EQ(snap->size(), 2u);
    EXPECT_EQ(snap->sequence(), 9);
    EXPECT_TRUE(KeywordHits(*snap, "old").empty());
    index.RemoveDataKey("k1", 10);
    EXPECT_EQ(KeywordHits(*index.snapshot(), "fresh"), std::set<std::string>{"y"});
}

TEST(ProjectIndex, MemoryAccountingGrowsWithContent) {
    ProjectIndex index;
    const std::size_t empty = index.snapshot()->memory_bytes();
    std::mt19937 rng(5);
    std::vector<IndexEntry> e;
    for (int i = 0; i < 200; ++i) {
        e.push_back(Entry("n" + std::to_string(i), "k", "some text here", RandomUnit(rng, 64)));
    }
    ASSERT_TRUE(index.Apply(e, {}, 1).ok());
    const std::size_t full = index.snapshot()->memory_bytes();
    EXPECT_GE(full, empty + 200 * 64 * sizeof(float));
    EXPECT_EQ(index.snapshot()->stats().memory_bytes, full);
}

TEST(ProjectIndex, SmallSegmentsAreMergedInline) {
    IndexOptions options;
    options.merge_factor = 4;
    ProjectIndex index(options);
    for (int i = 0; i < 64; ++i) {
        std::vector<IndexEntry> e = {Entry("n" + std::to_string(i), "k" + std::to_string(i), "word")};
        ASSERT_TRUE(index.Apply(e, {}, i + 1).ok());
    }
    auto snap = index.snapshot();
    EXPECT_EQ(snap->size(), 64u);
    EXPECT_LE(snap->segments().size(), 4u);
    EXPECT_EQ(KeywordHits(*snap, "word").size(), 64u);
}

// Maintain builds the graph once the threshold is reached, while writes that happen
// during the build are reconciled into the result.
TEST(ProjectIndexMaintenance, BuildsHnswAndKeepsConcurrentWrites) {
    std::mt19937 rng(8);
    const int dim = 16;
    IndexOptions options;
    options.hnsw_threshold = 300;
    options.hnsw_ef_construction = 40;
    ProjectIndex index(options);
    std::map<std::string, std::vector<float>> live;
    int64_t seq = 0;
    for (int b = 0; b < 4; ++b) {
        std::vector<IndexEntry> e;
        for (int i = 0; i < 100; ++i) {
            std::string key = "n" + std::to_string(b * 100 + i);
            e.push_back(Entry(key, "k" + std::to_string(b), "tok" + key, RandomUnit(rng, dim)));
            live[key] = e.back().vector;
        }
        ASSERT_TRUE(index.Apply(e, {}, ++seq).ok());
    }
    EXPECT_TRUE(index.NeedsMaintenance());
    std::thread maintainer([&] { EXPECT_TRUE(index.Maintain()); });
    for (int i = 0; i < 50; ++i) {  // writes racing with the build
        std::string gone = "n" + std::to_string(i * 7);
        std::string added = "x" + std::to_string(i);
        std::vector<IndexEntry> e = {Entry(added, "kx", "tok" + added, RandomUnit(rng, dim))};
        live.erase(gone);
        live[added] = e[0].vector;
        ASSERT_TRUE(index.Apply(e, std::vector<std::string>{gone}, ++seq).ok());
    }
    maintainer.join();
    auto snap = index.snapshot();
    EXPECT_EQ(snap->sequence(), seq);
    ASSERT_EQ(snap->size(), live.size());
    EXPECT_GT(snap->stats().hnsw_nodes, 0u);
    for (const auto& [key, vec] : live) {
        ASSERT_EQ(KeywordHits(*snap, "tok" + key), std::set<std::string>{key}) << key;
    }
    for (int i = 0; i < 50; ++i) {
        EXPECT_TRUE(KeywordHits(*snap, "tokn" + std::to_string(i * 7)).empty());
    }
    // Every live node is its own nearest neighbour.
    int self = 0;
    for (const auto& [key, vec] : live) {
        auto hits = snap->Search(vec, "", testing::Wide(0.0f, 1e9f, 1));
        self += !hits.empty() && hits[0].node_key == key;
    }
    EXPECT_GE(self, static_cast<int>(live.size()) - 2);
    // Further writes keep working on the compacted layout.
    std::vector<std::string> removed = {"n399"};
    ASSERT_TRUE(index.Apply({}, removed, ++seq).ok());
    EXPECT_EQ(index.snapshot()->size(), live.size() - 1);
}

// Segments store rows in node-key order, so the merged segment's rows are not in the
// order they were extracted from the old segments; deletes made while Maintain runs must
// still tombstone the right merged rows, and later writes must find every node.
TEST(ProjectIndexMaintenance, DeletesDuringMaintainHitTheRightRowsOfTheKeyOrderedMerge) {
    std::mt19937 rng(12);
    IndexOptions options;
    options.hnsw_threshold = 400;
    options.hnsw_ef_construction = 60;
    ProjectIndex index(options);
    std::map<std::string, std::string> live;  // key -> its unique token
    std::map<std::string, std::string> token_of;
    int64_t seq = 0;
    // Batch b holds keys "k<i>_<b>": the batches interleave in byte order (k0_0, k0_1, ...),
    // so the extraction order (batch by batch) differs from the merged key order.
    for (int b = 0; b < 5; ++b) {
        std::vector<IndexEntry> e;
        for (int i = 0; i < 100; ++i) {
            std::string key = "k" + std::to_string(i) + "_" + std::to_string(b);
            std::string token = "tok" + std::to_string(b * 100 + i);
            e.push_back(Entry(key, "d" + std::to_string(b), token, RandomUnit(rng, 16)));
            live[key] = token;
            token_of[key] = token;
        }
        ASSERT_TRUE(index.Apply(e, {}, ++seq).ok());
    }
    ASSERT_TRUE(index.NeedsMaintenance());
    std::atomic<bool> done = false;
    std::thread maintainer([&] {
        EXPECT_TRUE(index.Maintain());
        done = true;
    });
    // Replace nodes (delete one, add one: the project stays above the threshold) until
    // Maintain has returned or half are replaced: the graph build takes far longer than
    // one write, so deletes land between its base snapshot and its publish.
    std::vector<std::string> order;
    for (const auto& [key, token] : live) order.push_back(key);
    std::shuffle(order.begin(), order.end(), rng);
    std::size_t next = 0;
    while (!done && next < order.size() / 2) {
        live.erase(order[next]);
        const std::string added = "x" + std::to_string(next);
        std::vector<IndexEntry> e = {Entry(added, "dx", "tokx" + std::to_string(next), RandomUnit(rng, 16))};
        live[added] = e[0].text;
        token_of[added] = e[0].text;
        ASSERT_TRUE(index.Apply(e, std::vector<std::string>{order[next]}, ++seq).ok());
        ++next;
    }
    maintainer.join();
    auto snap = index.snapshot();
    ASSERT_GT(next, 0u);
    ASSERT_EQ(snap->size(), live.size());
    EXPECT_GT(snap->stats().hnsw_nodes, 0u);
    for (const auto& [key, token] : live) {
        ASSERT_EQ(KeywordHits(*snap, token), std::set<std::string>{key}) << key;
    }
    for (std::size_t i = 0; i < next; ++i) {
        EXPECT_TRUE(KeywordHits(*snap, token_of.at(order[i])).empty()) << order[i];
    }
    // The writer's node map points at the merged rows: removing each live node by key
    // empties the index.
    std::vector<std::string> rest;
    for (const auto& [key, token] : live) rest.push_back(key);
    ASSERT_TRUE(index.Apply({}, rest, ++seq).ok());
    EXPECT_EQ(index.snapshot()->size(), 0u);
}

TEST(ProjectIndexMaintenance, DeferredGraphServesExactUntilMaintained) {
    std::mt19937 rng(9);
    IndexOptions options;
    options.hnsw_threshold = 300;
    options.hnsw_ef_construction = 40;
    options.rebuild_builds_hnsw = false;
    ProjectIndex index(options);
    std::vector<IndexEntry> e;
    for (int i = 0; i < 400; ++i) e.push_back(Entry("n" + std::to_string(i), "k", "", RandomUnit(rng, 8)));
    ASSERT_TRUE(index.Rebuild(e, 1).ok());
    EXPECT_EQ(index.snapshot()->stats().exact_nodes, 400u);
    EXPECT_EQ(index.snapshot()->stats().hnsw_nodes, 0u);
    ASSERT_TRUE(index.NeedsMaintenance());
    ASSERT_TRUE(index.Maintain());
    EXPECT_EQ(index.snapshot()->stats().hnsw_nodes, 400u);
    EXPECT_EQ(index.snapshot()->sequence(), 1);
    EXPECT_FALSE(index.NeedsMaintenance());
    EXPECT_FALSE(index.Maintain());
}

// Readers never see a half-applied publish: every data key shows all four nodes of one
// version. Run under TSan (build with -fsanitize=thread) to check for races.
TEST(ProjectIndexConcurrency, ReadersSeeConsistentSnapshotsWhileWritersPublish) {
    IndexOptions options;
    options.hnsw_threshold = 150;
    options.hnsw_ef_construction = 20;
    options.merge_factor = 3;
    ProjectIndex index(options);
    std::atomic<bool> stop{false};
    std::atomic<int64_t> seq{0};
    std::atomic<int> violations{0};
    constexpr int kKeys = 12;
    constexpr int kVersionsPerWriter = 120;

    auto writer = [&](int first_key) {
        std::mt19937 rng(static_cast<unsigned>(first_key));
        for (int v = 1; v <= kVersionsPerWriter; ++v) {
            const int key = first_key + 2 * int(rng() % (kKeys / 2));
            const std::string dk = "key" + std::to_string(key);
            std::vector<IndexEntry> e;
            for (int i = 0; i < 4; ++i) {
                e.push_back(Entry(dk + "/v" + std::to_string(v) + "/" + std::to_string(i), dk,
                                  "common " + dk, RandomUnit(rng, 8)));
            }
            index.RemoveDataKey(dk, seq.fetch_add(1) + 1);  // both steps are whole publishes
            if (!index.Apply(e, {}, seq.fetch_add(1) + 1).ok()) violations.fetch_add(1);
        }
    };
    auto reader = [&] {
        std::mt19937 rng(99);
        while (!stop.load()) {
            auto snap = index.snapshot();
            const std::string dk = "key" + std::to_string(rng() % kKeys);
            std::set<std::string> versions;
            int count = 0;
            for (const Hit& h : snap->Search({}, dk, testing::Wide(0.5f, 0.0f))) {
                if (h.data_key != dk) continue;
                ++count;
                versions.insert(h.node_key.substr(0, h.node_key.rfind('/')));
            }
            if (!(count == 0 || (count == 4 && versions.size() == 1))) violations.fetch_add(1);
            auto vec = RandomUnit(rng, 8);
            snap->Search(vec, "common", SearchParams{});
        }
    };
    auto maintainer = [&] {
        while (!stop.load()) {
            if (!index.Maintain()) std::this_thread::yield();
        }
    };
    std::vector<std::thread> readers;
    for (int i = 0; i < 2; ++i) readers.emplace_back(reader);
    std::thread maint(maintainer);
    std::thread w0(writer, 0), w1(writer, 1);
    w0.join();
    w1.join();
    stop.store(true);
    for (auto& r : readers) r.join();
    maint.join();
    EXPECT_EQ(violations.load(), 0);
    EXPECT_LE(index.snapshot()->size(), static_cast<std::size_t>(4 * kKeys));
}

}  // namespace
}  // namespace contex::index
