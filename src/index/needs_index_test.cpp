#include "index/needs_index.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "index/test_support.hpp"

namespace contex::index {
namespace {

using testing::Entry;
using testing::Near;
using testing::RandomUnit;

class ReverseMatching : public ::testing::Test {
protected:
    void SetUp() override {
        std::mt19937 rng(11);
        const int dim = 32;
        for (int c = 0; c < 8; ++c) centers.push_back(RandomUnit(rng, dim));
        const std::vector<std::string> vocab = {
            "invoice", "payment", "customer", "order",  "shipping", "refund", "tax",
            "account", "balance", "ledger",   "report", "quarter",  "budget", "forecast",
            "vendor",  "contract", "renewal", "region", "europe",   "asia",   "sales",
            "margin",  "discount", "pricing", "product", "catalog", "stock",  "warehouse"};
        auto text = [&](int words) {
            std::string t;
            for (int i = 0; i < words; ++i) t += vocab[rng() % vocab.size()] + " ";
            return t;
        };
        int64_t seq = 0;
        for (int batch = 0; batch < 5; ++batch) {
            std::vector<IndexEntry> entries;
            for (int i = 0; i < 60; ++i) {
                const auto& center = centers[rng() % centers.size()];
                entries.push_back(Entry("b" + std::to_string(batch) + "n" + std::to_string(i),
                                        "key" + std::to_string(batch), text(2 + int(rng() % 12)),
                                        Near(rng, center, 0.1f)));
            }
            ASSERT_TRUE(index.Apply(entries, {}, ++seq).ok());
            if (batch == 4) new_nodes = entries;
        }
        for (int agent = 0; agent < 10; ++agent) {
            std::vector<NeedRef> agent_needs;
            for (int n = 0; n < 4; ++n) {
                NeedRef need;
                need.need_index = n;
                need.text = text(1 + int(rng() % 3));
                if (n != 3) need.vector = Near(rng, centers[rng() % centers.size()], 0.08f);
                agent_needs.push_back(need);
                needs_by_agent["agent" + std::to_string(agent)].push_back(need);
            }
            needs.Upsert("agent" + std::to_string(agent), agent_needs);
        }
    }

    std::vector<std::vector<float>> centers;
    ProjectIndex index;
    NeedsIndex needs;
    std::vector<IndexEntry> new_nodes;
    std::map<std::string, std::vector<NeedRef>> needs_by_agent;
};

// A node matches need n exactly when the forward query for n returns that node (the
// corpus is smaller than the candidate depth, so no result limit interferes).
TEST_F(ReverseMatching, AgreesWithForwardMatching) {
    const float tau = 0.75f, kappa = 3.0f;
    auto after = index.snapshot();
    auto reverse = needs.Match(*after, new_nodes, tau, kappa);
    ASSERT_TRUE(reverse.ok());

    using Key = std::tuple<std::string, std::string, int>;  // node, agent, need
    std::map<Key, std::pair<float, float>> from_reverse, from_forward;
    for (const NeedMatch& m : *reverse) {
        from_reverse[{new_nodes[m.node_pos].node_key, m.agent_id, m.need_index}] = {
            m.similarity, m.keyword_score};
    }
    std::set<std::string> new_keys;
    for (const auto& e : new_nodes) new_keys.insert(e.node_key);
    int vector_only = 0, keyword_only = 0;
    for (const auto& [agent, list] : needs_by_agent) {
        for (const NeedRef& need : list) {
            for (const Hit& h : after->Search(need.vector, need.text, testing::Wide(tau, kappa))) {
                if (!new_keys.contains(h.node_key)) continue;
                from_forward[{h.node_key, agent, need.need_index}] = {h.similarity, h.keyword_score};
                vector_only += h.match_type == MatchType::kVector;
                keyword_only += h.match_type == MatchType::kKeyword;
            }
        }
    }
    // Both retrievers contribute, so the comparison covers both conditions.
    EXPECT_GT(vector_only, 5);
    EXPECT_GT(keyword_only, 5);
    ASSERT_EQ(from_reverse.size(), from_forward.size());
    for (const auto& [key, values] : from_forward) {
        auto it = from_reverse.find(key);
        ASSERT_NE(it, from_reverse.end()) << std::get<0>(key) << " " << std::get<1>(key);
        EXPECT_EQ(it->second.first, values.first);
        if (values.second > 0) {
            EXPECT_EQ(it->second.second, values.second);
        }
    }
}

TEST_F(ReverseMatching, DisabledKeywordMatchingUsesCosineOnly) {
    auto after = index.snapshot();
    auto all = needs.Match(*after, new_nodes, 0.75f, std::numeric_limits<float>::infinity());
    ASSERT_TRUE(all.ok());
    ASSERT_FALSE(all->empty());
    for (const NeedMatch& m : *all) EXPECT_GE(m.similarity, 0.75f);
}

TEST_F(ReverseMatching, RemovedAgentsNoLongerMatch) {
    auto after = index.snapshot();
    for (const auto& [agent, list] : needs_by_agent) {
        if (agent != "agent0") needs.Remove(agent);
    }
    EXPECT_EQ(needs.size(), 4u);
    auto matches = needs.Match(*after, new_nodes, 0.0f, 0.0f);
    ASSERT_TRUE(matches.ok());
    ASSERT_FALSE(matches->empty());
    for (const NeedMatch& m : *matches) EXPECT_EQ(m.agent_id, "agent0");
}

TEST(NeedsIndex, RejectsNodesOfAnotherDimension) {
    NeedsIndex needs;
    needs.Upsert("a", {NeedRef{"a", 0, "text", {1, 0}}});
    ProjectIndex index;
    std::vector<IndexEntry> nodes = {Entry("n", "k", "text", {1, 0, 0})};
    ASSERT_TRUE(index.Apply(nodes, {}, 1).ok());
    auto r = needs.Match(*index.snapshot(), nodes, 0.5f, 5.0f);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(NeedsIndex, NoNeedsMeansNoMatches) {
    NeedsIndex needs;
    ProjectIndex index;
    std::vector<IndexEntry> nodes = {Entry("n", "k", "text", {1, 0})};
    ASSERT_TRUE(index.Apply(nodes, {}, 1).ok());
    auto r = needs.Match(*index.snapshot(), nodes, 0.0f, 0.0f);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace contex::index
