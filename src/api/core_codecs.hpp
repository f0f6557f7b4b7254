// Decoders and encoders of the core routes (api.md §3.3–3.13): request JSON / query
// strings -> engine requests with every 422 of §1.2 and the route tables, and engine
// results -> response JSON with the documented key order. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/validation.hpp"
#include "common/json.hpp"
#include "engine/engine.hpp"
#include "server/http.hpp"

namespace contex::api {

// Accepted `response_format` names (api.md §3.5, §3.10); only "toon" changes anything.
const std::vector<std::string>& ResponseFormats();

// `loc` extended by more parts: Extend(LocOf("body", 3), "data_key").
template <typename... Parts>
Loc Extend(Loc loc, Parts&&... parts) {
    (loc.emplace_back(std::forward<Parts>(parts)), ...);
    return loc;
}

// ---- bodies ---------------------------------------------------------------------
// Each decoder validates one JSON value found at `at` (["body"] for a single request,
// ["body", i] for a batch item), adds every violation to `errors` and returns the
// engine request only when the value is valid. Unknown fields are ignored; null for an
// optional field means "absent".

std::optional<engine::PublishRequest> DecodePublish(const json::value& body, const Loc& at,
                                                    ValidationErrors& errors);
std::optional<engine::RegisterRequest> DecodeRegister(const json::value& body, const Loc& at,
                                                      ValidationErrors& errors);

// A batch body: a JSON array of 1..max_items items (list_type / too_short / too_long at
// ["body"]), each decoded with `decode` at ["body", i]. nullopt when anything is invalid.
template <typename T, typename Decode>
std::optional<std::vector<T>> DecodeBatch(const json::value& body, std::size_t max_items,
                                          ValidationErrors& errors, Decode decode);

// POST /projects/{P}/query body; `project_id` comes from the path.
std::optional<engine::QueryRequest> DecodeQuery(std::string project_id, const json::value& body,
                                                ValidationErrors& errors);

// Webhook URL rules (api.md §3.5): string, at most 2083 characters (url_too_long), absolute
// (url_parsing), http or https (url_scheme), with a host. Returns the URL when valid.
std::optional<std::string> ValidateWebhookUrl(const json::value& value, const Loc& loc,
                                              ValidationErrors& errors);

// ---- path and query -----------------------------------------------------------------
// A path parameter as an identifier (loc ["path", name]).
std::optional<std::string> PathIdentifier(const server::Request& request, const std::string& name,
                                          ValidationErrors& errors);
// An optional query parameter as an identifier (loc ["query", name]); nullopt when absent
// (check errors.empty() to tell absent from invalid).
std::optional<std::string> QueryIdentifier(const server::Request& request, std::string_view name,
                                           ValidationErrors& errors);
// An optional boolean query parameter with its default (bool_parsing when malformed).
bool QueryFlag(const server::Request& request, std::string_view name, bool fallback,
               ValidationErrors& errors);
// A sequence cursor as sent by clients: decimal digits -> value; empty or a legacy stream
// id containing '-' -> 0; anything else -> nullopt.
std::optional<std::int64_t> ParseSequenceCursor(std::string_view text);
// GET /projects/{P}/events query (since, count, data_key, event_type).
std::optional<engine::EventQuery> DecodeEventQuery(const server::Request& request,
                                                   std::string project_id,
                                                   ValidationErrors& errors);

// ---- encoders -----------------------------------------------------------------------
// Sequences travel as decimal strings (api.md §1.3).
std::string SequenceString(std::int64_t sequence);
// Percent-encodes one path segment (RFC 3986 unreserved characters kept).
std::string EncodePathSegment(std::string_view segment);
json::object MatchedNeeds(const std::vector<std::pair<std::string, int>>& matched_needs);

json::object EncodePublished(const engine::PublishResult& result);
json::object EncodeRegistered(const engine::RegisterResult& result);
json::object EncodeQueryResult(const engine::QueryResult& result);
json::object EncodeContext(const engine::AgentContext& context);
json::object EncodeAgentList(const std::vector<std::string>& agent_ids);
json::object EncodeEvents(json::array events);

// ---- template definitions -------------------------------------------------------------
// too_short for a list: "List should have at least 1 item after validation, not 0".
void AddTooShortList(ValidationErrors& errors, Loc loc, json::value input, std::size_t min,
                     std::size_t actual);

template <typename T, typename Decode>
std::optional<std::vector<T>> DecodeBatch(const json::value& body, std::size_t max_items,
                                          ValidationErrors& errors, Decode decode) {
    if (!body.is_array()) {
        errors.ListType(LocOf("body"), body);
        return std::nullopt;
    }
    const auto& items = body.get_array();
    if (items.empty()) {
        AddTooShortList(errors, LocOf("body"), body, 1, 0);
        return std::nullopt;
    }
    if (items.size() > max_items) {
        errors.TooLong(LocOf("body"), body, max_items, items.size());
        return std::nullopt;
    }
    std::vector<T> out;
    out.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto decoded = decode(items[i], LocOf("body", static_cast<std::int64_t>(i)), errors);
        if (decoded) out.push_back(std::move(*decoded));
    }
    if (!errors.empty()) return std::nullopt;
    return out;
}

}  // namespace contex::api
