// Storage: the source of truth for events, nodes (with embeddings), data keys, agents,
// their needs / interest sets and notification rows (operations.md §2, engine.md §5-§8).
//
// One interface, two back ends: SQLite (embedded default) and PostgreSQL. Every index and
// cache elsewhere is derived from what is stored here. All calls block; the engine runs
// them on worker threads. Implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/result.hpp"
#include "observability/health.hpp"

namespace contex::obs {
class Logger;
class MetricsRegistry;
}  // namespace contex::obs

namespace contex::storage {

using TimePoint = std::chrono::system_clock::time_point;

// Timestamps left at the epoch (TimePoint{}) in records passed to write calls are
// replaced by the storage clock's Now(); every other value is stored as given.

// One row of `events`. `data` is {"<data_key>": payload}.
struct EventRecord {
    std::string project_id;  // empty = the transaction's project
    int64_t sequence = 0;
    std::string event_type;
    json::value data;
    std::string data_key;
    std::string data_format;
    std::string content_hash;
    bool changed = true;
    TimePoint created_at{};
};

// One row of `embeddings`: a node of a data key, with its vector (float32) when present.
struct NodeRecord {
    std::string project_id;  // empty = the transaction's project
    std::string data_key;
    std::string node_key;
    std::string node_path;
    std::string node_type;
    std::string description;  // node text (embedded and indexed)
    std::string data_format;
    std::string text_hash;
    std::string model_id;
    json::object data;
    json::object metadata;
    int node_index = 0;
    std::vector<float> embedding;  // empty = none (also when read with with_vectors=false)
};

// One row of `data_keys`: the current content of a data key.
struct DataKeyRecord {
    std::string project_id;  // empty = the transaction's project
    std::string data_key;
    std::string data_format;
    std::string content_hash;
    json::value data_original;
    int node_count = 0;
    int64_t sequence = 0;
    TimePoint updated_at{};
};

// One row of `agent_registrations`.
struct AgentRecord {
    std::string agent_id;
    std::string project_id;
    std::optional<std::string> tenant_id;
    std::vector<std::string> needs;
    std::string notification_method = "redis";  // redis | webhook
    std::string response_format = "json";
    std::string notification_channel;
    std::optional<std::string> webhook_url;
    std::optional<std::string> webhook_secret;
    std::vector<std::string> data_keys;  // the interest set's data keys
    int64_t last_sequence = 0;
    std::optional<TimePoint> last_seen;
    TimePoint created_at{};
    TimePoint updated_at{};
    json::object data;
};

// Set to true in AgentRecord::data when a webhook receiver answered 410 Gone: no more
// webhook deliveries are queued for the agent until it registers again.
inline constexpr std::string_view kAgentWebhookDisabled = "webhook_disabled";
inline bool WebhookDisabled(const AgentRecord& agent) {
    const auto* flag = agent.data.if_contains(kAgentWebhookDisabled);
    return flag && flag->is_bool() && flag->get_bool();
}

// One row of `agent_needs`.
struct AgentNeedRecord {
    std::string agent_id;
    int need_index = 0;
    std::string need;
    std::vector<float> embedding;
    std::string model_id;
};

// One row of `agent_matches` (an interest-set entry). Keyed by (agent, need_index, node_key).
struct AgentMatchRecord {
    std::string agent_id;
    std::string project_id;
    int need_index = 0;
    std::string node_key;
    std::string data_key;
    float similarity = 0;
    float keyword_score = 0;
};

// One row of `agent_notifications`; for webhook agents also the outbox entry.
struct NotificationRecord {
    std::string message_id;  // "msg_" + 32 hex, unique
    std::string agent_id;
    std::string project_id;
    int64_t sequence = 0;
    std::string type;  // event | initial_context | data_update
    json::value payload;
    TimePoint created_at{};
    std::optional<std::string> delivery_status;  // pending|delivering|delivered|failed|cancelled
    int attempts = 0;
    std::optional<TimePoint> next_attempt_at;
    std::optional<TimePoint> locked_until;
    std::optional<TimePoint> delivered_at;
    std::optional<int> last_status_code;
    std::optional<std::string> last_error;
};

// Cross-replica change signal (engine.md §6.5). kind: publish|register|unregister|import|
// model. A listener also receives {kind="reconnect", project_id="", sequence=0} after the
// PostgreSQL LISTEN connection was re-established (time to reconcile).
struct ChangeNotice {
    std::string project_id;
    int64_t sequence = 0;
    std::string data_key;
    std::string kind;
};

// The operations available inside Storage::WithProjectTransaction. Every call runs in the
// one transaction that holds the project's write lock (the `projects` row on PostgreSQL,
// the single writer connection on SQLite). Records whose project_id is empty take the
// transaction's project. Events, nodes and data keys naming another project are
// kInvalidArgument; agent, match and notification rows are stored with the project they
// name (an agent may move projects). Not thread-safe: use it only on the thread that runs
// the transaction function, and only during that call.
class ProjectTransaction {
  public:
    virtual ~ProjectTransaction() = default;

    virtual const std::string& project_id() const = 0;
    // Increments the project counter by one and returns the new value (engine.md §7.1).
    // Creates the project row when missing. Rolled back with the transaction.
    virtual Result<int64_t> AllocateSequence() = 0;
    // Current counter value (0 for a new project); the lock is held already.
    virtual Result<int64_t> LockProject() = 0;
    // The data key's current record, nullopt when the key does not exist.
    virtual Result<std::optional<DataKeyRecord>> GetDataKey(std::string_view data_key) = 0;
    // The data key's nodes ordered by node_index; vectors only when with_vectors.
    virtual Result<std::vector<NodeRecord>> GetNodes(std::string_view data_key,
                                                     bool with_vectors) = 0;
    // Deletes the listed node keys of the data key and inserts or replaces `upserts`
    // (keyed by project + node_key). Unknown removed keys are ignored.
    virtual Status ReplaceNodes(std::string_view data_key,
                                std::span<const std::string> removed_node_keys,
                                std::span<const NodeRecord> upserts) = 0;
    virtual Status UpsertDataKey(const DataKeyRecord& record) = 0;
    // Deletes the data key record and all its nodes. kNotFound when the key is unknown.
    virtual Status DeleteDataKey(std::string_view data_key) = 0;
    // kConflict when the project already has an event with this sequence.
    virtual Status InsertEvent(const EventRecord& event) = 0;
    // Inserts or replaces the registration (created_at kept on replace).
    virtual Status UpsertAgent(const AgentRecord& agent) = 0;
    // Replaces all need rows of the agent. kNotFound for an unknown agent.
    virtual Status ReplaceAgentNeeds(std::string_view agent_id,
                                     std::span<const AgentNeedRecord> needs) = 0;
    // Replaces the agent's whole interest set. kNotFound for an unknown agent.
    virtual Status ReplaceAgentMatches(std::string_view agent_id,
                                       std::span<const AgentMatchRecord> matches) = 0;
    // Deletes `removed` (by agent, need_index, node_key; missing ones ignored), then inserts
    // or replaces `added`. kNotFound when an added row names an unknown agent.
    virtual Status ApplyAgentMatchDelta(std::span<const AgentMatchRecord> removed,
                                        std::span<const AgentMatchRecord> added) = 0;
    // Deletes the registration with its needs, matches and notification rows.
    // kNotFound for an unknown agent.
    virtual Status DeleteAgent(std::string_view agent_id) = 0;
    // kConflict on a duplicate message_id; kNotFound when a row names an unknown agent.
    virtual Status InsertNotifications(std::span<const NotificationRecord> rows) = 0;
    // Writes the agent's progress after a publish — last_sequence, data_keys and
    // updated_at of `agent` — leaving every other column alone (lighter than UpsertAgent on
    // the publish path). kNotFound for an unknown agent.
    virtual Status UpdateAgentProgress(const AgentRecord& agent) = 0;
    // Marks the agent's pending/delivering webhook rows `cancelled`.
    virtual Status CancelPendingDeliveries(std::string_view agent_id) = 0;
    // Import overwrite: deletes the project's events, nodes, data keys and agents (with
    // their needs, matches, notifications). The counter is kept.
    virtual Status DeleteProjectContent() = 0;
    // Registration catch-up (engine.md §5.2 step 4): of the events with
    // after < sequence <= upto whose data key is one of data_keys, the most recent `limit`
    // (>= 1), returned in ascending sequence order. Empty data_keys = none.
    virtual Result<std::vector<EventRecord>> ListRecentEvents(
        int64_t after, int64_t upto, std::span<const std::string> data_keys, int limit) = 0;
    // Import: inserts events keeping their sequences. kConflict on a duplicate sequence.
    virtual Status InsertEvents(std::span<const EventRecord> events) = 0;
    // counter := max(counter, sequence); never lowers it.
    virtual Status RaiseSequenceTo(int64_t sequence) = 0;
    // Clears the project's rebuild flag (set by migration 002 on projects that predate
    // this schema) once the re-indexer has re-ingested every data key.
    virtual Status MarkProjectRebuilt() = 0;
};

class Storage {
  public:
    virtual ~Storage() = default;

    // "sqlite" or "postgresql" (also the health component name).
    virtual std::string_view backend() const = 0;

    // Applies pending migrations (idempotent). PostgreSQL: under
    // pg_advisory_lock(hashtext('contex_migrate')). kConflict when the database schema
    // is newer than this binary; kUnavailable when the database cannot be reached.
    virtual Status Migrate() = 0;
    // Applied schema version ("" before the first migration) and the binary's latest.
    virtual Result<std::string> SchemaVersion() = 0;

    // Runs fn in one transaction that holds the project's write lock (taken before fn
    // runs; the project row is created when missing). Commits iff fn returns ok; fn's
    // error is returned unchanged. Serialization failures and deadlocks are retried
    // transparently (up to 5 attempts), so fn may run more than once: it must not have
    // side effects outside the transaction. fn must not call other Storage methods
    // (on SQLite that would deadlock). kUnavailable when the database is down,
    // kTimeout on statement timeout.
    virtual Status WithProjectTransaction(std::string_view project_id,
                                          const std::function<Status(ProjectTransaction&)>& fn) = 0;

    // The project's counter; 0 when the project is unknown.
    virtual Result<int64_t> CurrentSequence(std::string_view project_id) = 0;
    // Events with sequence > after, ascending, at most limit (>= 1, else kInvalidArgument),
    // optionally filtered by data key and event type.
    virtual Result<std::vector<EventRecord>> ListEvents(std::string_view project_id, int64_t after,
                                                        int limit,
                                                        std::optional<std::string> data_key,
                                                        std::optional<std::string> event_type) = 0;
    // Projects that have a counter row, sorted.
    virtual Result<std::vector<std::string>> ListProjects() = 0;
    // Projects whose nodes must be rebuilt from their events (operations.md §2.3: a
    // Python-server database upgraded by migration 002), sorted.
    virtual Result<std::vector<std::string>> ListProjectsNeedingRebuild() = 0;
    virtual Result<std::optional<DataKeyRecord>> GetDataKey(std::string_view project_id,
                                                            std::string_view data_key) = 0;
    // Sorted by data key.
    virtual Result<std::vector<DataKeyRecord>> ListDataKeys(std::string_view project_id) = 0;
    // Ordered by data key, then node_index.
    virtual Result<std::vector<NodeRecord>> ListNodes(std::string_view project_id,
                                                      std::optional<std::string> data_key,
                                                      bool with_vectors) = 0;
    // Streams every stored node (optionally of one project) with its vector, in no
    // particular order, for index rebuilds. Constant memory: rows are fetched in batches
    // and handed to sink one at a time on the calling thread. sink must not call Storage.
    virtual Status StreamNodes(std::optional<std::string> project_id,
                               const std::function<void(NodeRecord&&)>& sink) = 0;
    virtual Result<std::optional<AgentRecord>> GetAgent(std::string_view agent_id) = 0;
    // Sorted by agent id; all projects when project_id is nullopt.
    virtual Result<std::vector<AgentRecord>> ListAgents(std::optional<std::string> project_id) = 0;
    // The number of the project's registrations and their latest updated_at: a cheap way to
    // tell whether another process changed them (compare with the same figures in memory).
    struct AgentsStamp {
        int64_t count = 0;
        std::optional<TimePoint> latest_update;
        bool operator==(const AgentsStamp&) const = default;
    };
    virtual Result<AgentsStamp> GetAgentsStamp(std::string_view project_id) = 0;
    // Needs of every agent of the project, ordered by agent id, need_index.
    virtual Result<std::vector<AgentNeedRecord>> ListNeeds(std::string_view project_id) = 0;
    // Interest-set rows of the project, ordered by agent id, need_index, node_key.
    virtual Result<std::vector<AgentMatchRecord>> ListMatches(std::string_view project_id) = 0;
    // Interest-set rows of one agent, ordered by need_index, node_key.
    virtual Result<std::vector<AgentMatchRecord>> ListAgentMatches(std::string_view agent_id) = 0;
    // The agent's notification rows with sequence > after_sequence, in insertion order
    // within ascending sequence, at most limit (>= 1).
    virtual Result<std::vector<NotificationRecord>> ListNotifications(std::string_view agent_id,
                                                                      int64_t after_sequence,
                                                                      int limit) = 0;
    // One agent's webhook deliveries for GET /agents/{id}/status: rows pending or
    // delivering, rows failed, and the newest `recent` rows that have a delivery status,
    // newest first (sequence, then insertion order). Counted in the database: an agent may
    // have any number of rows. kInvalidArgument when recent < 0.
    struct DeliverySummary {
        int64_t pending = 0;
        int64_t failed = 0;
        std::vector<NotificationRecord> recent;
    };
    virtual Result<DeliverySummary> GetDeliverySummary(std::string_view agent_id, int recent) = 0;
    // Sets last_seen. kNotFound for an unknown agent.
    virtual Status TouchAgent(std::string_view agent_id, TimePoint last_seen) = 0;

    // Webhook outbox. Claims up to limit due rows: `pending` with next_attempt_at NULL or
    // <= now, and `delivering` rows whose lease (locked_until) expired. Claimed rows become
    // `delivering` with locked_until = lease_until and are returned oldest-due first.
    // Concurrent claimers never get the same row (FOR UPDATE SKIP LOCKED).
    virtual Result<std::vector<NotificationRecord>> ClaimDueDeliveries(TimePoint now, int limit,
                                                                       TimePoint lease_until) = 0;
    // Writes delivery_status, attempts, next_attempt_at, locked_until, delivered_at,
    // last_status_code and last_error of the row with record.message_id. kNotFound if none.
    virtual Status UpdateDelivery(const NotificationRecord& record) = 0;
    // Makes every `delivering` row `pending` again, due at its next_attempt_at, whatever
    // its lease. Only for a sole dispatcher starting up after a crash (SQLite is
    // single-process); with several replicas, leases expire instead. Returns the count.
    virtual Result<int64_t> ReleaseDeliveryLeases() = 0;

    // Row counts for contex_events_count / contex_embeddings_count and health details.
    struct RowCounts {
        int64_t events = 0;
        int64_t embeddings = 0;
        int64_t pending_deliveries = 0;  // webhook rows pending or delivering
    };
    virtual Result<RowCounts> CountRows() = 0;
    // Webhook rows pending or delivering (the partial indexes only; cheap to poll).
    virtual Result<int64_t> CountPendingDeliveries() = 0;

    // Retention (engine.md §6.3): deletes notification rows created before older_than and,
    // per agent, all but the newest max_per_agent rows; rows of webhook deliveries that are
    // not final (pending, delivering) are never deleted. Returns the number deleted.
    virtual Result<int64_t> PruneNotifications(TimePoint older_than, int max_per_agent) = 0;

    // Cross-replica change feed: PostgreSQL NOTIFY contex_changes (every replica, the
    // sender included, receives it on its listener thread); SQLite: the listener is called
    // synchronously on the caller's thread. Call after commit.
    virtual Status Notify(const ChangeNotice& notice) = 0;
    // Installs (or clears, with nullptr) the listener. Called on the storage's listener
    // thread (PostgreSQL); it must not block for long.
    virtual void SetChangeListener(std::function<void(const ChangeNotice&)> listener) = 0;

    // `SELECT 1` with latency; details per operations.md §6.1. Never blocks longer than the
    // connect timeout.
    virtual obs::ComponentHealth CheckHealth() = 0;
};

enum class Backend { kSqlite, kPostgres };

// Effective storage settings (operations.md §1.3). Durations as the variables give them.
struct StorageConfig {
    std::optional<std::string> database_url;        // DATABASE_URL; nullopt = SQLite in data_dir
    std::string data_dir = "./data";                // CONTEX_DATA_DIR
    int pool_size = 5;                              // DATABASE_POOL_SIZE (also SQLite readers)
    int max_overflow = 10;                          // DATABASE_MAX_OVERFLOW
    std::chrono::milliseconds pool_timeout{30000};  // DATABASE_POOL_TIMEOUT
    std::chrono::seconds pool_recycle{1800};        // DATABASE_POOL_RECYCLE
    std::chrono::seconds idle_validate_after{30};   // validate idle connections on checkout
    std::chrono::seconds overflow_idle_close{30};   // close idle overflow connections
    std::chrono::seconds connect_timeout{10};       // DATABASE_CONNECT_TIMEOUT
    std::chrono::milliseconds statement_timeout{30000};   // DATABASE_STATEMENT_TIMEOUT_MS, 0 = none
    std::string application_name = "contex";              // DB_APPLICATION_NAME
    std::chrono::milliseconds sqlite_busy_timeout{5000};  // SQLITE_BUSY_TIMEOUT_MS
    std::string sqlite_synchronous = "NORMAL";            // durability: OFF|NORMAL|FULL|EXTRA
    bool echo = false;                                    // DATABASE_ECHO (DEBUG log per statement)
    bool migrate_on_start = true;                         // MIGRATE_ON_START
};

// A parsed DATABASE_URL.
struct DatabaseTarget {
    Backend backend = Backend::kSqlite;
    std::string sqlite_path;   // ":memory:" for an in-memory database
    std::string postgres_uri;  // libpq URI, "postgresql://" scheme, "+asyncpg" dropped
};

// Parses DATABASE_URL (nullopt = SQLite `${data_dir}/contex.db`). Accepts postgresql://,
// postgres://, postgresql+asyncpg://, sqlite:///<path> (absolute after the third slash is
// kept as written: sqlite:///data/x.db -> "data/x.db"; sqlite:////abs -> "/abs") and
// sqlite:///:memory:. kInvalidArgument otherwise.
Result<DatabaseTarget> ParseDatabaseUrl(const std::optional<std::string>& url,
                                        std::string_view data_dir);

// The URL with the password replaced by "***" (for logs).
std::string MaskDatabaseUrl(std::string_view url);

// Opens the configured back end (creating the SQLite directory when needed), logs the
// connection messages of operations.md §9, and runs Migrate() when migrate_on_start.
// logger, metrics and clock must outlive the returned Storage.
// kInvalidArgument for a bad URL, kUnavailable when the database cannot be reached,
// kConflict when its schema is newer than this binary.
Result<std::unique_ptr<Storage>> OpenStorage(const StorageConfig& config, obs::Logger& logger,
                                             obs::MetricsRegistry& metrics, const Clock& clock);

}  // namespace contex::storage
