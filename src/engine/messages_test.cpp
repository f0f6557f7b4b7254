#include "engine/messages.hpp"

#include <gtest/gtest.h>

namespace contex::engine {
namespace {

json::object FakeMatch(double similarity, int tokens) {
    json::object o;
    o["similarity"] = similarity;
    o["token_count"] = tokens;
    return o;
}

TEST(ApplyBudget, FollowsTheSpecExample) {
    // T = 500: A = [a1 (0.9, 300), a2 (0.8, 150)], B = [b1 (0.7, 400)] -> A = [a1, a2], B = [].
    NeedMatches by_need = {{"A", json::array{FakeMatch(0.9, 300), FakeMatch(0.8, 150)}},
                           {"B", json::array{FakeMatch(0.7, 400)}}};
    ApplyBudget(by_need, 500);
    ASSERT_EQ(by_need.size(), 2u);
    EXPECT_EQ(by_need[0].second.size(), 2u);
    EXPECT_EQ(by_need[1].second.size(), 0u);
    EXPECT_EQ(MatchedCounts(by_need), (std::vector<std::pair<std::string, int>>{{"A", 2}, {"B", 0}}));
}

TEST(ApplyBudget, PhaseOneGivesEveryNeedItsFirstMatchBeforeSecondMatches) {
    NeedMatches by_need = {{"A", json::array{FakeMatch(0.9, 100), FakeMatch(0.85, 100)}},
                           {"B", json::array{FakeMatch(0.6, 100)}}};
    ApplyBudget(by_need, 200);
    EXPECT_EQ(by_need[0].second.size(), 1u);
    EXPECT_EQ(by_need[1].second.size(), 1u);
}

TEST(ApplyBudget, ZeroOrSufficientBudgetChangesNothing) {
    NeedMatches by_need = {{"A", json::array{FakeMatch(0.9, 300), FakeMatch(0.8, 150)}}};
    ApplyBudget(by_need, 0);
    EXPECT_EQ(by_need[0].second.size(), 2u);
    ApplyBudget(by_need, 450);
    EXPECT_EQ(by_need[0].second.size(), 2u);
}

TEST(MatchObject, HasDocumentedKeysInOrder) {
    auto node = std::make_shared<NodeView>();
    node->data_key = "tech_stack";
    node->node_key = "tech_stack.root";
    node->node_path = "root";
    node->node_type = "object";
    node->description = "tech stack | frontend: React";
    node->data_format = "json";
    node->data = json::object{{"frontend", "React"}};
    node->sequence = 3;
    auto m = BuildMatch({node, CleanFloat(0.6134f), 0.0328, 2.41, "vector"}, false);
    std::vector<std::string> keys;
    for (const auto& kv : m) keys.emplace_back(kv.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"data_key", "node_key", "node_path", "node_type",
                                              "similarity", "score", "match_type", "keyword_score",
                                              "data", "description", "token_count", "preview",
                                              "data_format", "sequence", "metadata"}));
    EXPECT_EQ(ToJson(m.at("similarity")), "0.6134");
    EXPECT_EQ(m.at("sequence").as_string(), "3");
    // {"frontend":"React"} is 20 bytes -> 5 tokens.
    EXPECT_EQ(m.at("token_count").as_int64(), 5);
    EXPECT_EQ(m.at("preview").as_string(), "{\n  \"frontend\": \"React\"\n}");
}

TEST(MatchObject, PreviewIsCutAt200CharactersWithEllipsis) {
    json::object data{{"text", std::string(500, 'x')}};
    std::string preview = Preview(data);
    EXPECT_EQ(preview.size(), 203u);
    EXPECT_EQ(preview.substr(200), "...");
}

TEST(Messages, DataUpdateShape) {
    NodeChanges changes;
    changes.added = {"k.root"};
    std::string m = DataUpdateMessage("a1", "p", 9, "k", "json", json::object{{"x", 1}}, false,
                                      json::object{{"need", json::array{}}}, changes);
    EXPECT_EQ(m, R"({"type":"data_update","agent_id":"a1","project_id":"p","sequence":"9","data_key":"k","format":"json","changed":true,"data":{"x":1},"matches":{"need":[]},"node_changes":{"added":["k.root"],"changed":[],"removed":[]}})");
    EXPECT_EQ(EventMessage("a1", "p", 2, "k_updated", "k", json::object{{"k", 1}}),
              R"({"type":"event","agent_id":"a1","project_id":"p","sequence":"2","event_type":"k_updated","data_key":"k","data":{"k":1}})");
}

}  // namespace
}  // namespace contex::engine
