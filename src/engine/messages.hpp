// Match objects, token budgets and the messages pushed to agents (api.md §6,
// engine.md §4). Pure functions over node views; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/json.hpp"

namespace contex::engine {

// What a match object needs to know about a stored node.
struct NodeView {
    std::string data_key;
    std::string node_key;
    std::string node_path;
    std::string node_type;
    std::string description;  // node text
    std::string data_format;
    std::string text_hash;
    json::object data;
    json::object metadata;
    int node_index = 0;
    std::int64_t sequence = 0;  // last change of the data key
};

struct ScoredNode {
    std::shared_ptr<const NodeView> node;
    double similarity = 0;
    double score = 0;
    double keyword_score = 0;
    std::string match_type = "vector";  // vector | keyword | both
};

// Shortest decimal of a float as a double (0.6134f -> 0.6134, not 0.61340001...).
double CleanFloat(float value);

// token_count of engine.md §4.1: max(1, ceil(bytes / 4)) of `data` in the target format.
int TokenCount(const json::object& data, bool toon);
// 2-space-indented JSON of `data`, first 200 characters plus "..." when longer.
std::string Preview(const json::object& data);
// The api.md §6.1 match object, keys in documented order.
json::object BuildMatch(const ScoredNode& match, bool toon);

// need -> ranked match objects (each with "token_count" and "similarity").
using NeedMatches = std::vector<std::pair<std::string, json::array>>;
// Truncates to a token budget exactly as engine.md §4.2; budget <= 0 means none.
void ApplyBudget(NeedMatches& by_need, int budget);
json::object ToContextObject(const NeedMatches& by_need);
std::vector<std::pair<std::string, int>> MatchedCounts(const NeedMatches& by_need);

// Message JSON (compact), api.md §6.2–6.5. TOON agents get TOON strings as payloads.
std::string InitialContextMessage(const std::string& agent_id, const std::string& project_id,
                                  std::int64_t sequence, bool toon, const json::object& context);
std::string EventMessage(const std::string& agent_id, const std::string& project_id,
                         std::int64_t sequence, const std::string& event_type,
                         const std::string& data_key, const json::value& data);
struct NodeChanges {
    std::vector<std::string> added, changed, removed;
};
json::object DataUpdateObject(const std::string& agent_id, const std::string& project_id,
                              std::int64_t sequence, const std::string& data_key,
                              const std::string& format, const json::value& data, bool toon,
                              json::object matches, const NodeChanges& changes);
std::string DataUpdateMessage(const std::string& agent_id, const std::string& project_id,
                              std::int64_t sequence, const std::string& data_key,
                              const std::string& format, const json::value& data, bool toon,
                              const json::object& matches, const NodeChanges& changes);
std::string UnregisteredMessage(const std::string& agent_id);

}  // namespace contex::engine
