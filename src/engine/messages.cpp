#include "engine/messages.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "common/strings.hpp"
#include "engine/toon.hpp"

namespace contex::engine {

double CleanFloat(float value) {
    if (!std::isfinite(value)) return 0;
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf - 1, value);
    *r.ptr = '\0';
    return std::strtod(buf, nullptr);
}

int TokenCount(const json::object& data, bool toon) {
    std::size_t bytes = toon ? ToToon(data).size() : ToJson(data).size();
    return static_cast<int>(std::max<std::size_t>(1, (bytes + 3) / 4));
}

std::string Preview(const json::object& data) {
    std::string pretty = ToPrettyJson(data, 2);
    if (Utf8Length(pretty) <= 200) return pretty;
    return std::string(Utf8Prefix(pretty, 200)) + "...";
}

json::object BuildMatch(const ScoredNode& m, bool toon) {
    const NodeView& n = *m.node;
    json::object o;
    o["data_key"] = n.data_key;
    o["node_key"] = n.node_key;
    o["node_path"] = n.node_path;
    o["node_type"] = n.node_type;
    o["similarity"] = m.similarity;
    o["score"] = m.score;
    o["match_type"] = m.match_type;
    o["keyword_score"] = m.keyword_score;
    o["data"] = n.data;
    o["description"] = n.description;
    o["token_count"] = TokenCount(n.data, toon);
    o["preview"] = Preview(n.data);
    o["data_format"] = n.data_format;
    o["sequence"] = std::to_string(n.sequence);
    o["metadata"] = n.metadata;
    return o;
}

namespace {

long long CostOf(const json::value& match) {
    const auto* t = match.as_object().if_contains("token_count");
    return t && t->is_int64() ? t->get_int64() : 1;
}

double SimilarityOf(const json::value& match) {
    const auto* s = match.as_object().if_contains("similarity");
    return s && s->is_double() ? s->get_double() : (s && s->is_int64() ? double(s->get_int64()) : 0);
}

}  // namespace

void ApplyBudget(NeedMatches& by_need, int budget) {
    if (budget <= 0) return;
    long long total = 0;
    bool any = false;
    for (const auto& [need, matches] : by_need) {
        for (const auto& m : matches) {
            total += CostOf(m);
            any = true;
        }
    }
    if (!any || total <= budget) return;

    // keep[i][j]: whether match j of need i survives.
    std::vector<std::vector<bool>> keep(by_need.size());
    long long used = 0;
    for (std::size_t i = 0; i < by_need.size(); ++i) {
        keep[i].assign(by_need[i].second.size(), false);
        if (!by_need[i].second.empty()) {
            long long cost = CostOf(by_need[i].second[0]);
            if (used + cost <= budget) {
                keep[i][0] = true;
                used += cost;
            }
        }
    }
    struct Candidate {
        double similarity;
        std::size_t need;
        std::size_t rank;
    };
    std::vector<Candidate> rest;
    for (std::size_t i = 0; i < by_need.size(); ++i) {
        for (std::size_t j = 0; j < by_need[i].second.size(); ++j) {
            if (!keep[i][j]) rest.push_back({SimilarityOf(by_need[i].second[j]), i, j});
        }
    }
    std::stable_sort(rest.begin(), rest.end(), [](const Candidate& a, const Candidate& b) {
        if (a.similarity != b.similarity) return a.similarity > b.similarity;
        if (a.need != b.need) return a.need < b.need;
        return a.rank < b.rank;
    });
    for (const auto& c : rest) {
        if (budget - used <= 0) break;
        long long cost = CostOf(by_need[c.need].second[c.rank]);
        if (cost <= budget - used) {
            keep[c.need][c.rank] = true;
            used += cost;
        }
    }
    for (std::size_t i = 0; i < by_need.size(); ++i) {
        json::array kept;
        for (std::size_t j = 0; j < by_need[i].second.size(); ++j) {
            if (keep[i][j]) kept.push_back(std::move(by_need[i].second[j]));
        }
        by_need[i].second = std::move(kept);
    }
}

json::object ToContextObject(const NeedMatches& by_need) {
    json::object o;
    for (const auto& [need, matches] : by_need) o[need] = matches;
    return o;
}

std::vector<std::pair<std::string, int>> MatchedCounts(const NeedMatches& by_need) {
    std::vector<std::pair<std::string, int>> out;
    for (const auto& [need, matches] : by_need) {
        out.emplace_back(need, static_cast<int>(matches.size()));
    }
    return out;
}

std::string InitialContextMessage(const std::string& agent_id, const std::string& project_id,
                                  std::int64_t sequence, bool toon, const json::object& context) {
    json::object o;
    o["type"] = "initial_context";
    o["agent_id"] = agent_id;
    o["project_id"] = project_id;
    o["sequence"] = std::to_string(sequence);
    o["format"] = toon ? "toon" : "json";
    if (toon) {
        o["context"] = ToToon(context);
    } else {
        o["context"] = context;
    }
    return ToJson(o);
}

std::string EventMessage(const std::string& agent_id, const std::string& project_id,
                         std::int64_t sequence, const std::string& event_type,
                         const std::string& data_key, const json::value& data) {
    json::object o;
    o["type"] = "event";
    o["agent_id"] = agent_id;
    o["project_id"] = project_id;
    o["sequence"] = std::to_string(sequence);
    o["event_type"] = event_type;
    o["data_key"] = data_key;
    o["data"] = data;
    return ToJson(o);
}

std::string DataUpdateMessage(const std::string& agent_id, const std::string& project_id,
                              std::int64_t sequence, const std::string& data_key,
                              const std::string& format, const json::value& data, bool toon,
                              const json::object& matches, const NodeChanges& changes) {
    return ToJson(DataUpdateObject(agent_id, project_id, sequence, data_key, format, data, toon,
                                   matches, changes));
}

json::object DataUpdateObject(const std::string& agent_id, const std::string& project_id,
                              std::int64_t sequence, const std::string& data_key,
                              const std::string& format, const json::value& data, bool toon,
                              json::object matches, const NodeChanges& changes) {
    auto strings = [](const std::vector<std::string>& v) {
        json::array a;
        for (const auto& s : v) a.emplace_back(json::string(s));
        return a;
    };
    json::object o;
    o["type"] = "data_update";
    o["agent_id"] = agent_id;
    o["project_id"] = project_id;
    o["sequence"] = std::to_string(sequence);
    o["data_key"] = data_key;
    o["format"] = toon ? "toon" : format;
    o["changed"] = true;
    if (toon) {
        o["data"] = ToToon(data);
        o["matches"] = ToToon(matches);
    } else {
        o["data"] = data;
        o["matches"] = std::move(matches);
    }
    json::object nc;
    nc["added"] = strings(changes.added);
    nc["changed"] = strings(changes.changed);
    nc["removed"] = strings(changes.removed);
    o["node_changes"] = std::move(nc);
    return o;
}

std::string UnregisteredMessage(const std::string& agent_id) {
    json::object o;
    o["type"] = "unregistered";
    o["agent_id"] = agent_id;
    return ToJson(o);
}

}  // namespace contex::engine
