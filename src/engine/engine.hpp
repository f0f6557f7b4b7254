// The context engine: publish -> parse -> embed -> store -> index -> match -> notify,
// and registration, query, events, agents, export/import (engine.md). Knows nothing of
// HTTP or of which database it runs on: it talks to storage::Storage, the embedding
// service, ingest, index and notification sinks through their interfaces.
//
// Thread-safety: every method may be called concurrently from handler-pool threads.
// Methods block (storage, embedding); never call them on an I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json.hpp"
#include "common/result.hpp"

namespace contex::engine {

// ---- publish -------------------------------------------------------------------
struct PublishRequest {
    std::string project_id;
    std::string data_key;
    json::value data;                        // as received (null allowed)
    std::optional<std::string> data_format;  // hint; unknown -> detect with a warning
    std::optional<std::string> event_type;   // default "<data_key>_updated"
};

struct PublishResult {
    std::string project_id;
    std::string data_key;
    std::int64_t sequence = 0;
    bool changed = true;
    std::string format;
    int node_count = 0;
    std::vector<std::string> warnings;
};

// ---- register ------------------------------------------------------------------
struct RegisterRequest {
    std::string agent_id;
    std::string project_id;
    std::vector<std::string> data_needs;             // as sent; de-duplicated by the engine
    std::string notification_method = "redis";       // "redis" | "webhook"
    std::optional<std::string> notification_channel; // must start with "agent:{id}:"
    std::optional<std::string> webhook_url;
    std::optional<std::string> webhook_secret;
    std::int64_t last_seen_sequence = 0;
    std::string response_format = "json";            // "toon" switches payloads to TOON
};

struct RegisterResult {
    std::string agent_id;
    std::string project_id;
    int caught_up_events = 0;
    std::int64_t current_sequence = 0;
    std::vector<std::pair<std::string, int>> matched_needs;  // distinct needs, request order
    std::string notification_channel;
};

// ---- query / matches -------------------------------------------------------------
// A match object exactly as api.md §6.1 (built by the engine because the same object
// travels in pushed messages).
struct QueryRequest {
    std::string project_id;
    std::string query;
    int top_k = 5;
    std::optional<double> threshold;  // default SIMILARITY_THRESHOLD
    std::optional<int> max_tokens;    // token budget, none by default
    bool toon = false;                // token counts in TOON (response_format "toon")
};

struct QueryResult {
    std::string query;
    json::array matches;  // match objects, fused order
};

// ---- agents ----------------------------------------------------------------------
struct AgentContext {
    std::string agent_id;
    std::string project_id;
    std::int64_t sequence = 0;
    std::string format;                                      // "json" | "toon"
    json::object context;                                    // need -> [match]
    std::vector<std::pair<std::string, int>> matched_needs;  // need -> count
};

// A message for one agent (initial_context, event, data_update, unregistered) with the
// sequence used as SSE id.
struct AgentMessage {
    std::int64_t sequence = 0;
    std::string type;
    std::string json;  // compact message JSON (api.md §6)
};

// An open agent stream (SSE). Messages arrive through the callback given to OpenStream,
// in sequence order, on an engine thread; destroying the handle unsubscribes.
class StreamSubscription {
public:
    virtual ~StreamSubscription() = default;
};

struct EventQuery {
    std::string project_id;
    std::int64_t since = 0;  // exclusive
    int count = 100;         // 1..1000
    std::optional<std::string> data_key;
    std::optional<std::string> event_type;
};

// ---- project data / export / import ------------------------------------------------
struct ExportRequest {
    std::string project_id;
    bool include_events = false;
    bool include_embeddings = false;
    bool include_agents = false;
    std::optional<std::string> data_key;
};

struct ImportRequest {
    std::string project_id;      // from the URL
    json::value document;        // parsed export document
    bool validate_only = false;
    bool overwrite = false;
};

struct ImportOutcome {
    // Validation result (always filled): {"valid","errors","warnings","project_id"}.
    json::object validation;
    bool imported = false;
    json::object stats;  // events_imported, embeddings_imported, agents_imported, nodes_rebuilt
};

class Engine {
public:
    virtual ~Engine() = default;

    // Errors: kInvalidArgument "data produces N nodes; the limit is M" (422 value_error at
    // body.data), kTooLarge, kUnavailable (storage/embedding down), kInternal.
    virtual Result<PublishResult> Publish(const PublishRequest& request) = 0;

    // Errors: kInvalidArgument for a channel or webhook URL that breaks the rules (the
    // message is the value_error text), kUnavailable, kInternal.
    virtual Result<RegisterResult> Register(const RegisterRequest& request) = 0;

    // kNotFound "Agent not found".
    virtual Status Unregister(const std::string& agent_id) = 0;

    // Unknown/empty project -> empty result, never an error.
    virtual Result<QueryResult> Query(const QueryRequest& request) = 0;

    // Events as api.md §3.11 objects, ascending.
    virtual Result<json::array> ListEvents(const EventQuery& query) = 0;

    // Agent ids (sorted), optionally one project.
    virtual Result<std::vector<std::string>> ListAgents(std::optional<std::string> project_id) = 0;
    // api.md §3.8 agent object (never the webhook secret). kNotFound "Agent not found".
    virtual Result<json::object> GetAgent(const std::string& agent_id) = 0;
    // Current context recomputed against current data; updates last_seen.
    virtual Result<AgentContext> GetContext(const std::string& agent_id) = 0;
    // api.md §3.8 status object.
    virtual Result<json::object> GetStatus(const std::string& agent_id) = 0;
    // Opens an agent stream: without a cursor the first message is a fresh
    // initial_context; with cursor N every stored message with sequence > N, then live
    // ones (a fresh initial_context when messages after N were pruned). kNotFound for
    // unknown agents, kUnavailable above SSE_MAX_STREAMS.
    virtual Result<std::unique_ptr<StreamSubscription>> OpenStream(
        const std::string& agent_id, std::optional<std::int64_t> cursor,
        std::function<void(const AgentMessage&)> deliver) = 0;

    // GET /projects/{P}/data default listing: one item per current node (api.md §3.12).
    virtual Result<json::array> ListProjectNodes(const std::string& project_id,
                                                 std::optional<std::string> data_key) = 0;
    virtual Result<std::vector<std::string>> ListDataKeys(const std::string& project_id) = 0;
    // The export document (engine.md §8) with the requested sections.
    virtual Result<json::object> Export(const ExportRequest& request) = 0;
    // Import: validation problems come back in ImportOutcome.validation (not as errors);
    // kInvalidArgument for project mismatch / existing data without overwrite (400 detail).
    virtual Result<ImportOutcome> Import(const ImportRequest& request) = 0;
};

}  // namespace contex::engine
