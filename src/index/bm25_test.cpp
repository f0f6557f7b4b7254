#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "index/project_index.hpp"
#include "index/segment.hpp"
#include "index/test_support.hpp"

namespace contex::index {
namespace {

using testing::Entry;

// Corpus: d1 "apple banana apple" (len 3), d2 "banana cherry" (len 2),
// d3 "cherry durian elderberry fig" (len 4). N = 3, avgdl = 3, k1 = 1.2, b = 0.75.
// idf(df=1) = ln(1 + 2.5/1.5) = 0.98083; idf(df=2) = ln(1 + 1.5/2.5) = 0.47000.
class Bm25Corpus : public ::testing::Test {
protected:
    void SetUp() override {
        std::vector<IndexEntry> e = {Entry("d1", "k1", "apple banana apple"),
                                     Entry("d2", "k2", "banana cherry"),
                                     Entry("d3", "k3", "cherry durian elderberry fig")};
        ASSERT_TRUE(index.Apply(e, {}, 1).ok());
    }
    std::map<std::string, double> Scores(std::string_view query) {
        std::map<std::string, double> out;
        for (const Hit& h : index.snapshot()->Search({}, query, testing::Wide(0.5f, 0.0f))) {
            out[h.node_key] = h.keyword_score;
        }
        return out;
    }
    ProjectIndex index;
};

// Keyword top-k of `snap` for every query and k must equal exhaustive BM25 scoring of
// `live` (node key -> text): the same keys in the same order (score descending, ties by
// node key) with the same scores — exactly, or within 4 ULPs with `exact_scores` false.
void ExpectExhaustiveTopK(const Snapshot& snap, const std::map<std::string, std::string>& live,
                          std::initializer_list<const char*> queries,
                          std::initializer_list<int> ks, const std::string& stage = "",
                          bool exact_scores = true) {
    for (const char* query : queries) {
        const auto terms = snap.analyzer().QueryTerms(query);
        std::vector<std::pair<double, std::string>> oracle;
        for (const auto& [key, t] : live) {
            const double s = snap.Bm25(terms, snap.analyzer().Count(t));
            if (s > 0) oracle.emplace_back(s, key);
        }
        std::sort(oracle.begin(), oracle.end(), [](const auto& x, const auto& y) {
            return x.first != y.first ? x.first > y.first : x.second < y.second;
        });
        for (int k : ks) {
            SearchParams p = testing::Wide(0.5f, 0.0f, k);
            p.min_candidates = k;  // a small candidate depth: the heap fills and pruning runs
            const auto hits = snap.Search({}, query, p);
            ASSERT_EQ(hits.size(), std::min<std::size_t>(k, oracle.size())) << stage << " " << query;
            for (std::size_t i = 0; i < hits.size(); ++i) {
                EXPECT_EQ(hits[i].node_key, oracle[i].second)
                    << stage << " " << query << " k=" << k << " i=" << i;
                const auto want = static_cast<float>(oracle[i].first);
                if (exact_scores) {
                    EXPECT_EQ(hits[i].keyword_score, want) << stage << " " << query << " k=" << k;
                } else {
                    EXPECT_FLOAT_EQ(hits[i].keyword_score, want) << stage << " " << query;
                }
            }
        }
    }
}

// Node key -> text of `entries` (what ExpectExhaustiveTopK scores exhaustively).
std::map<std::string, std::string> TextsByKey(const std::vector<IndexEntry>& entries) {
    std::map<std::string, std::string> texts;
    for (const IndexEntry& e : entries) texts[e.node_key] = e.text;
    return texts;
}

// ExpectExhaustiveTopK over an index rebuilt from `entries`.
void ExpectRebuiltTopKExhaustive(const std::vector<IndexEntry>& entries,
                                 std::initializer_list<const char*> queries,
                                 std::initializer_list<int> ks) {
    ProjectIndex index;
    ASSERT_TRUE(index.Rebuild(entries, 1).ok());
    ExpectExhaustiveTopK(*index.snapshot(), TextsByKey(entries), queries, ks);
}

TEST_F(Bm25Corpus, ScoresEqualHandComputedValues) {
    // apple in d1: 0.98083 * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3/3)) = 1.34864
    auto apple = Scores("apple");
    ASSERT_EQ(apple.size(), 1u);
    EXPECT_NEAR(apple["d1"], 1.3486402, 1e-5);
    // banana: d1 0.47000 * 2.2 / (1 + 1.2) = 0.47000; d2 0.47000 * 2.2 / (1 + 1.2 * 0.75) = 0.54421
    auto banana = Scores("banana");
    ASSERT_EQ(banana.size(), 2u);
    EXPECT_NEAR(banana["d1"], 0.4700036, 1e-5);
    EXPECT_NEAR(banana["d2"], 0.5442147, 1e-5);
    // "banana cherry" sums distinct terms: d2 = 2 * 0.54421 = 1.08843; d3 cherry = 0.41360
    auto both = Scores("Banana CHERRY banana");
    EXPECT_NEAR(both["d2"], 1.0884295, 1e-5);
    EXPECT_NEAR(both["d3"], 0.4136032, 1e-5);
    EXPECT_NEAR(both["d1"], 0.4700036, 1e-5);
}

TEST_F(Bm25Corpus, StatisticsFollowDeletes) {
    ASSERT_TRUE(index.Apply({}, std::vector<std::string>{"d3"}, 2).ok());
    // N = 2, avgdl = 2.5; banana df 2: idf = ln(1 + 0.5/2.5) = 0.18232;
    // d2: 0.18232 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2/2.5)) = 0.19857
    // cherry df 1: idf = ln(1 + 1.5/1.5) = 0.69315 -> d2 0.75491
    auto s = Scores("banana cherry");
    EXPECT_NEAR(s["d2"], 0.1985680 + 0.7549128, 1e-5);
    EXPECT_EQ(index.snapshot()->DocFreq("cherry"), 1u);
    EXPECT_EQ(index.snapshot()->sequence(), 2);
}

TEST_F(Bm25Corpus, KeywordThresholdFiltersHits) {
    auto hits = index.snapshot()->Search({}, "banana cherry", testing::Wide(0.5f, 1.0f));
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].node_key, "d2");
    EXPECT_EQ(hits[0].match_type, MatchType::kKeyword);
    EXPECT_FLOAT_EQ(hits[0].similarity, 0.0f);
}

TEST_F(Bm25Corpus, DisabledBm25ReturnsNothingWithoutVectors) {
    SearchParams p = testing::Wide(0.5f, 0.0f);
    p.bm25_enabled = false;
    EXPECT_TRUE(index.snapshot()->Search({}, "apple", p).empty());
}

TEST_F(Bm25Corpus, Bm25OfArbitraryTextMatchesForwardScore) {
    auto snap = index.snapshot();
    auto terms = snap->analyzer().QueryTerms("banana cherry");
    TermCounts d2 = snap->analyzer().Count("banana cherry");
    EXPECT_NEAR(snap->Bm25(terms, d2), 1.0884294572, 1e-9);
}

// Max-score top-k must equal exhaustive scoring, across segments and tombstones.
TEST(Bm25Index, TopKEqualsExhaustiveScoring) {
    std::mt19937 rng(7);
    const std::vector<std::string> vocab = {"alpha", "beta", "gamma", "delta", "epsilon",
                                            "zeta", "eta", "theta", "iota", "kappa", "lambda",
                                            "mu", "nu", "xi", "omicron", "pi", "rho", "sigma"};
    auto text = [&](int words) {
        std::string t;
        for (int i = 0; i < words; ++i) {  // skewed vocabulary: low indexes are common
            std::size_t w = std::min<std::size_t>(vocab.size() - 1,
                                                  std::geometric_distribution<>(0.25)(rng));
            t += vocab[w] + " ";
        }
        return t;
    };
    IndexOptions options;
    options.merge_factor = 4;
    ProjectIndex index(options);
    std::map<std::string, std::string> live;  // node key -> text
    int64_t seq = 0;
    for (int batch = 0; batch < 30; ++batch) {
        std::vector<std::string> removed;  // from earlier batches
        for (int r = 0; r < 5 && !live.empty(); ++r) {
            auto it = std::next(live.begin(), static_cast<std::ptrdiff_t>(rng() % live.size()));
            removed.push_back(it->first);
            live.erase(it);
        }
        std::vector<IndexEntry> entries;
        for (int i = 0; i < 20; ++i) {
            std::string key = "n" + std::to_string(batch * 20 + i);
            entries.push_back(Entry(key, "k" + std::to_string(batch), text(3 + int(rng() % 20))));
            live[key] = entries.back().text;
        }
        ASSERT_TRUE(index.Apply(entries, removed, ++seq).ok());
    }
    auto snap = index.snapshot();
    ASSERT_EQ(snap->size(), live.size());
    EXPECT_GT(snap->segments().size(), 1u);
    EXPECT_GT(snap->stats().tombstones, 0u);
    ExpectExhaustiveTopK(*snap, live,
                         {"alpha", "theta rho", "sigma pi beta", "mu nu xi omicron",
                          "alpha beta gamma delta"},
                         {1, 5, 20}, "", /*exact_scores=*/false);
}


// Block-max pruning (blocks of Segment::kBlockSize postings, bounds from length classes,
// a primed threshold) must return exactly the exhaustive top-k, ties (identical texts)
// broken by node key, on a large segment without tombstones (priming on) and after
// publishes add small segments and tombstones (priming off for those).
TEST(Bm25Index, BlockMaxTopKEqualsExhaustiveScoringWithTies) {
    std::mt19937 rng(11);
    const std::vector<std::string> vocab = {"common", "often", "usual", "sometimes", "rare",
                                            "odd", "unique", "alpha", "beta", "gamma",
                                            "delta", "omega", "sigma", "tau", "phi"};
    auto word = [&] {
        return vocab[std::min<std::size_t>(vocab.size() - 1, std::geometric_distribution<>(0.3)(rng))];
    };
    auto text = [&] {
        std::string t;
        const int words = 1 + static_cast<int>(rng() % 40);
        for (int i = 0; i < words; ++i) t += word() + " ";
        return t;
    };
    // Keys whose order differs from insertion order, so ties test the key order.
    auto key = [&](int i) { return "n" + std::to_string((i * 7919) % 100003); };
    std::map<std::string, std::string> live;
    std::vector<IndexEntry> all;
    std::vector<std::string> pool;  // repeated texts give exactly equal scores
    for (int i = 0; i < 20; ++i) pool.push_back(text());
    for (int i = 0; i < 3000; ++i) {
        std::string t = (rng() % 3 == 0) ? pool[rng() % pool.size()] : text();
        all.push_back(Entry(key(i), "k" + std::to_string(i / 5), t));
        live[all.back().node_key] = t;
    }
    ProjectIndex index;
    ASSERT_TRUE(index.Rebuild(all, 1).ok());

    auto check = [&](const char* stage) {
        auto snap = index.snapshot();
        ASSERT_EQ(snap->size(), live.size());
        ExpectExhaustiveTopK(*snap, live,
                             {"common", "rare", "common often", "usual rare odd",
                              "sometimes unique", "common often usual sometimes",
                              "beta gamma delta", "omega", "phi common", "tau sigma alpha"},
                             {1, 3, 10, 40}, stage);
    };
    check("rebuilt");
    int64_t seq = 1;
    for (int batch = 0; batch < 6; ++batch) {
        std::vector<std::string> removed;
        for (int r = 0; r < 40; ++r) {
            auto it = std::next(live.begin(), static_cast<std::ptrdiff_t>(rng() % live.size()));
            removed.push_back(it->first);
            live.erase(it);
        }
        std::vector<IndexEntry> entries;
        for (int i = 0; i < 50; ++i) {
            std::string t = (rng() % 3 == 0) ? pool[rng() % pool.size()] : text();
            entries.push_back(Entry("b" + std::to_string(batch) + "_" + std::to_string(i), "kb", t));
            live[entries.back().node_key] = t;
        }
        ASSERT_TRUE(index.Apply(entries, removed, ++seq).ok());
    }
    EXPECT_GT(index.snapshot()->segments().size(), 1u);
    EXPECT_GT(index.snapshot()->stats().tombstones, 0u);
    check("after publishes");
}


// Exact scores take the term frequency from the posting's 2-byte impact, which caps it at
// Segment::kImpactTfCap; larger frequencies must still be scored with their true value.
TEST(Bm25Index, ScoresTermFrequenciesAboveTheImpactCap) {
    auto repeat = [](const std::string& word, int times) {
        std::string t;
        for (int i = 0; i < times; ++i) t += word + " ";
        return t;
    };
    std::vector<IndexEntry> entries = {
        testing::Entry("a", "ka", repeat("spam", 300) + "ham"),
        testing::Entry("b", "kb", repeat("spam", 256)),
        testing::Entry("c", "kc", repeat("spam", 254) + "ham eggs"),
        testing::Entry("d", "kd", "spam ham eggs toast")};
    for (int i = 0; i < 40; ++i) {
        entries.push_back(testing::Entry("f" + std::to_string(i), "kf", "toast filler " + std::to_string(i)));
    }
    ExpectRebuiltTopKExhaustive(entries, {"spam", "spam ham", "spam eggs toast"}, {3});
}


// Seeks into a long list whose documents are unevenly spread (dense runs and gaps), so
// that interpolated probes inside its blocks are often wrong by tens of postings and
// every branch of the seek (probe below or above the target, 16-wide scan, binary
// search) runs. The rare terms keep the common one non-essential; results must equal
// exhaustive scoring (fails if a probe skips one posting).
TEST(Bm25Index, SeeksIntoUnevenListsKeepExhaustiveResults) {
    std::mt19937 rng(5);
    std::vector<IndexEntry> entries;
    for (int i = 0; i < 24000; ++i) {
        const double phase = std::sin(i / 700.0) + 0.3 * std::sin(i / 53.0);
        std::string t = "w" + std::to_string(rng() % 50) + " w" + std::to_string(rng() % 50);
        // Rare terms always come with "the", so each of their seeks must land exactly on
        // their document: a seek that stops one posting off changes a score.
        const bool needle = rng() % 41 == 0, pin = rng() % 29 == 0;
        if (phase > 0.2 || rng() % 20 == 0 || needle || pin) t += " the";
        if (rng() % 3 == 0) t += " hay";
        if (needle) t += " needle";
        if (pin) t += " pin";
        entries.push_back(testing::Entry("n" + std::to_string(i), "k" + std::to_string(i / 100), t));
    }
    ExpectRebuiltTopKExhaustive(entries,
                                {"needle the", "pin the", "pin the hay", "needle pin the hay"},
                                {1, 10, 50, 200});
}


// Once one list is left essential, its postings whose bound cannot reach the threshold
// are passed over in a tight loop: that loop must stop at exactly the postings the full
// bound test would keep. A mid-frequency term over several blocks, a common term that
// turns non-essential, many exact ties; results must equal exhaustive scoring (fails if
// the loop passes over the posting it stops at, or leaves out the non-essential bound).
TEST(Bm25Index, OneEssentialListKeepsExhaustiveResults) {
    std::mt19937 rng(31);
    // Short texts (lengths below 33 have exact length classes, so bounds are tight) from a
    // small vocabulary: many documents score exactly alike, ties sit at the threshold.
    auto text = [&] {
        std::string t;
        const int words = 1 + static_cast<int>(rng() % 12);
        for (int i = 0; i < words; ++i) {
            const uint32_t r = rng() % 100;
            t += r < 35 ? "common " : r < 45 ? "mid " : r < 47 ? "rare " : "f" + std::to_string(rng() % 40) + " ";
        }
        return t;
    };
    std::vector<IndexEntry> entries;
    for (int i = 0; i < 8000; ++i) {
        entries.push_back(testing::Entry("d" + std::to_string((i * 7121) % 8009), "k", text()));
    }
    ExpectRebuiltTopKExhaustive(entries, {"mid common", "mid", "rare common", "rare mid common"},
                                {1, 7, 30, 120});
}


// Exact scores take a document's length from a posting's length class while the class is
// exact (lengths below Segment::kExactLengthClasses) and from the lengths array above it:
// documents of every length from 100 to 200 words, all holding the query term, must score
// exactly as exhaustive scoring (fails if a wide class near the boundary is taken as exact).
TEST(Bm25Index, ScoresDocumentsAroundTheExactLengthClassBoundary) {
    std::vector<IndexEntry> entries;
    for (int length = 100; length <= 200; ++length) {
        std::string t = "target ";
        for (int i = 1; i < length; ++i) t += "w" + std::to_string(i % 37) + " ";
        entries.push_back(testing::Entry("n" + std::to_string(length), "k", t));
    }
    const std::map<std::string, std::string> texts = TextsByKey(entries);
    ProjectIndex index;
    ASSERT_TRUE(index.Rebuild(entries, 1).ok());
    auto snap = index.snapshot();
    auto terms = snap->analyzer().QueryTerms("target");
    std::map<std::string, float> expected;
    for (const auto& [key, t] : texts) {
        expected[key] = static_cast<float>(snap->Bm25(terms, snap->analyzer().Count(t)));
    }
    SearchParams p = testing::Wide(0.5f, 0.0f, 101);
    auto hits = snap->Search({}, "target", p);
    ASSERT_EQ(hits.size(), texts.size());
    for (const Hit& h : hits) EXPECT_EQ(h.keyword_score, expected.at(h.node_key)) << h.node_key;
    // Shorter documents score higher: the ranking follows the lengths.
    for (std::size_t i = 0; i + 1 < hits.size(); ++i) {
        EXPECT_GT(hits[i].keyword_score, hits[i + 1].keyword_score) << i;
    }
}


// Seeks into long lists answer "absent" from a per-block membership filter without
// reading the block's documents. A filter must hold every document of its block (or
// seeks would miss postings: SeeksIntoUnevenListsKeepExhaustiveResults then fails), and
// must reject most other documents (or it saves nothing); short lists have none.
TEST(Bm25Index, BlockFiltersHoldTheirBlocksDocumentsAndRejectMostOthers) {
    std::mt19937 rng(3);
    std::vector<IndexEntry> entries;
    for (int i = 0; i < 20000; ++i) {
        std::string t = "w" + std::to_string(rng() % 7);
        if (rng() % 5 == 0) t += " sparse";
        if (i % 400 == 0) t += " short";
        entries.push_back(testing::Entry("n" + std::to_string(i), "k", t));
    }
    ProjectIndex index;
    ASSERT_TRUE(index.Rebuild(entries, 1).ok());
    auto snap = index.snapshot();
    ASSERT_EQ(snap->segments().size(), 1u);
    const Segment& seg = *snap->segments()[0].segment;

    const Segment::Postings* short_list = seg.Find("short");
    ASSERT_NE(short_list, nullptr);
    ASSERT_LT(short_list->end - short_list->begin, Segment::kFilterMinPostings);
    EXPECT_EQ(seg.filters(*short_list), nullptr);

    const Segment::Postings* p = seg.Find("sparse");
    ASSERT_NE(p, nullptr);
    const uint64_t* filters = seg.filters(*p);
    ASSERT_NE(filters, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(filters) % 64, 0u);  // one cache line per block
    const auto docs = seg.docs(*p);
    const uint32_t* last = seg.block_last(*p);
    auto has = [&](uint32_t block, uint32_t doc) {
        const uint32_t bit = Segment::FilterBit(doc);
        return (filters[block * Segment::kFilterWords + bit / 64] >> (bit % 64)) & 1u;
    };
    const auto size = static_cast<uint32_t>(docs.size());
    const uint32_t blocks = (size + Segment::kBlockSize - 1) / Segment::kBlockSize;
    ASSERT_GT(blocks, 10u);
    std::size_t absent = 0, admitted = 0;
    for (uint32_t b = 0; b < blocks; ++b) {
        const uint32_t begin = b * Segment::kBlockSize;
        const uint32_t end = std::min(size, begin + Segment::kBlockSize);
        for (uint32_t j = begin; j < end; ++j) {
            EXPECT_TRUE(has(b, docs[j])) << "block " << b << " doc " << docs[j];
        }
        // Documents inside the block's range that the list does not hold.
        const uint32_t low = b > 0 ? last[b - 1] + 1 : 0;
        for (uint32_t doc = low; doc <= last[b]; ++doc) {
            if (std::binary_search(docs.begin() + begin, docs.begin() + end, doc)) continue;
            ++absent;
            admitted += has(b, doc);
        }
    }
    ASSERT_GT(absent, 1000u);
    EXPECT_LT(static_cast<double>(admitted) / static_cast<double>(absent), 0.35);
}

}  // namespace
}  // namespace contex::index
