#include "storage/postgres/pg_storage.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "storage/codec.hpp"
#include "storage/migrations/migrations.hpp"
#include "storage/postgres/pg_connection.hpp"
#include "storage/postgres/pg_pool.hpp"

namespace contex::storage {
namespace {

using internal::CheckProject;
using internal::DecodeVector;
using internal::EncodeVector;
using internal::FormatTime;
using internal::JsonText;
using internal::ParseJsonColumn;
using internal::ParseJsonObjectColumn;
using internal::ParseStringArrayJson;
using internal::ParseTime;
using internal::StringArrayJson;
using pg::Params;
using pg::PgConnection;
using pg::PgPool;
using pg::PgResult;

constexpr std::string_view kLog = "contex.db";

#define EVENT_COLS                                                           \
    "project_id, sequence, event_type, data::text, coalesce(data_key, ''), " \
    "coalesce(data_format, ''), coalesce(content_hash, ''), changed, created_at::text"
#define DATA_KEY_COLS                                                                    \
    "project_id, data_key, data_format, content_hash, data_original::text, node_count, " \
    "sequence, updated_at::text"
#define NODE_COLS_BASE                                                                   \
    "project_id, data_key, node_key, coalesce(node_path, ''), coalesce(node_type, ''), " \
    "coalesce(description, ''), coalesce(data_format, ''), coalesce(text_hash, ''), "    \
    "coalesce(model_id, ''), data::text, metadata::text, node_index"
#define NODE_COLS_VEC NODE_COLS_BASE ", embedding"
#define NODE_COLS_NOVEC NODE_COLS_BASE ", NULL::bytea"
#define AGENT_COLS                                                                       \
    "agent_id, project_id, tenant_id, to_json(needs)::text, notification_method, "       \
    "response_format, coalesce(notification_channel, ''), webhook_url, webhook_secret, " \
    "to_json(data_keys)::text, last_sequence, last_seen::text, created_at::text, "       \
    "updated_at::text, data::text"
// Webhook rows pending or delivering, as one sum over the two partial indexes.
#define PENDING_DELIVERIES_COUNT                                                            \
    "(SELECT count(*) FROM agent_notifications WHERE delivery_status = 'pending') + "     \
    "(SELECT count(*) FROM agent_notifications WHERE delivery_status = 'delivering')"
#define NOTIFICATION_COLS                                                                 \
    "message_id, agent_id, project_id, sequence, type, payload::text, created_at::text, " \
    "delivery_status, attempts, next_attempt_at::text, locked_until::text, "              \
    "delivered_at::text, last_status_code, last_error"
#define MATCH_COLS                                                                  \
    "agent_id, project_id, need_index, node_key, data_key, coalesce(similarity, 0), " \
    "coalesce(keyword_score, 0)"
#define ARRAY_PARAM(n) "ARRAY(SELECT jsonb_array_elements_text($" #n "::jsonb))"

Result<std::optional<TimePoint>> OptTime(const PgResult& r, int row, int col) {
    if (r.IsNull(row, col)) return std::optional<TimePoint>();
    CONTEX_ASSIGN_OR_RETURN(TimePoint t, ParseTime(r.Text(row, col)));
    return std::optional<TimePoint>(t);
}

std::optional<std::string> OptTimeParam(const std::optional<TimePoint>& t) {
    if (!t) return std::nullopt;
    return FormatTime(*t);
}

Result<EventRecord> ReadEvent(const PgResult& r, int i) {
    EventRecord e;
    e.project_id = r.Str(i, 0);
    e.sequence = r.Int(i, 1);
    e.event_type = r.Str(i, 2);
    CONTEX_ASSIGN_OR_RETURN(e.data, ParseJsonColumn(r.Text(i, 3)));
    e.data_key = r.Str(i, 4);
    e.data_format = r.Str(i, 5);
    e.content_hash = r.Str(i, 6);
    // CHAR(64) pads; hashes are always 64 hex characters or empty.
    while (!e.content_hash.empty() && e.content_hash.back() == ' ') e.content_hash.pop_back();
    e.changed = r.Bool(i, 7);
    CONTEX_ASSIGN_OR_RETURN(e.created_at, ParseTime(r.Text(i, 8)));
    return e;
}

std::string Unpad(std::string s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

// Columns 0-10 of a node row, the same in text and binary format.
Result<NodeRecord> ReadNodeColumns(const PgResult& r, int i) {
    NodeRecord n;
    n.project_id = r.Str(i, 0);
    n.data_key = r.Str(i, 1);
    n.node_key = r.Str(i, 2);
    n.node_path = r.Str(i, 3);
    n.node_type = r.Str(i, 4);
    n.description = r.Str(i, 5);
    n.data_format = r.Str(i, 6);
    n.text_hash = Unpad(r.Str(i, 7));
    n.model_id = r.Str(i, 8);
    CONTEX_ASSIGN_OR_RETURN(n.data, ParseJsonObjectColumn(r.Text(i, 9)));
    CONTEX_ASSIGN_OR_RETURN(n.metadata, ParseJsonObjectColumn(r.Text(i, 10)));
    return n;
}

Result<NodeRecord> ReadNode(const PgResult& r, int i) {
    CONTEX_ASSIGN_OR_RETURN(NodeRecord n, ReadNodeColumns(r, i));
    n.node_index = static_cast<int>(r.Int(i, 11));
    if (!r.IsNull(i, 12)) {
        CONTEX_ASSIGN_OR_RETURN(n.embedding, DecodeVector(r.Bytes(i, 12)));
    }
    return n;
}

// The same columns fetched in binary format (StreamNodes): text columns are raw bytes, the
// vector is the raw BYTEA, node_index a big-endian int4.
Result<NodeRecord> ReadNodeBinary(const PgResult& r, int i) {
    CONTEX_ASSIGN_OR_RETURN(NodeRecord n, ReadNodeColumns(r, i));
    n.node_index = r.BinaryInt32(i, 11);
    if (!r.IsNull(i, 12)) {
        CONTEX_ASSIGN_OR_RETURN(n.embedding, DecodeVector(r.Text(i, 12)));
    }
    return n;
}

Result<DataKeyRecord> ReadDataKey(const PgResult& r, int i) {
    DataKeyRecord d;
    d.project_id = r.Str(i, 0);
    d.data_key = r.Str(i, 1);
    d.data_format = r.Str(i, 2);
    d.content_hash = Unpad(r.Str(i, 3));
    CONTEX_ASSIGN_OR_RETURN(d.data_original, ParseJsonColumn(r.Text(i, 4)));
    d.node_count = static_cast<int>(r.Int(i, 5));
    d.sequence = r.Int(i, 6);
    CONTEX_ASSIGN_OR_RETURN(d.updated_at, ParseTime(r.Text(i, 7)));
    return d;
}

Result<AgentRecord> ReadAgent(const PgResult& r, int i) {
    AgentRecord a;
    a.agent_id = r.Str(i, 0);
    a.project_id = r.Str(i, 1);
    a.tenant_id = r.OptStr(i, 2);
    CONTEX_ASSIGN_OR_RETURN(a.needs, ParseStringArrayJson(r.Text(i, 3)));
    a.notification_method = r.Str(i, 4);
    a.response_format = r.Str(i, 5);
    a.notification_channel = r.Str(i, 6);
    a.webhook_url = r.OptStr(i, 7);
    a.webhook_secret = r.OptStr(i, 8);
    CONTEX_ASSIGN_OR_RETURN(a.data_keys, ParseStringArrayJson(r.Text(i, 9)));
    a.last_sequence = r.Int(i, 10);
    CONTEX_ASSIGN_OR_RETURN(a.last_seen, OptTime(r, i, 11));
    CONTEX_ASSIGN_OR_RETURN(a.created_at, ParseTime(r.Text(i, 12)));
    CONTEX_ASSIGN_OR_RETURN(a.updated_at, ParseTime(r.Text(i, 13)));
    CONTEX_ASSIGN_OR_RETURN(a.data, ParseJsonObjectColumn(r.Text(i, 14)));
    return a;
}

Result<AgentNeedRecord> ReadNeed(const PgResult& r, int i) {
    AgentNeedRecord n;
    n.agent_id = r.Str(i, 0);
    n.need_index = static_cast<int>(r.Int(i, 1));
    n.need = r.Str(i, 2);
    if (!r.IsNull(i, 3)) {
        CONTEX_ASSIGN_OR_RETURN(n.embedding, DecodeVector(r.Bytes(i, 3)));
    }
    n.model_id = r.Str(i, 4);
    return n;
}

Result<AgentMatchRecord> ReadMatch(const PgResult& r, int i) {
    AgentMatchRecord m;
    m.agent_id = r.Str(i, 0);
    m.project_id = r.Str(i, 1);
    m.need_index = static_cast<int>(r.Int(i, 2));
    m.node_key = r.Str(i, 3);
    m.data_key = r.Str(i, 4);
    m.similarity = static_cast<float>(r.Double(i, 5));
    m.keyword_score = static_cast<float>(r.Double(i, 6));
    return m;
}

Result<NotificationRecord> ReadNotification(const PgResult& r, int i) {
    NotificationRecord n;
    n.message_id = r.Str(i, 0);
    n.agent_id = r.Str(i, 1);
    n.project_id = r.Str(i, 2);
    n.sequence = r.Int(i, 3);
    n.type = r.Str(i, 4);
    CONTEX_ASSIGN_OR_RETURN(n.payload, ParseJsonColumn(r.Text(i, 5)));
    CONTEX_ASSIGN_OR_RETURN(n.created_at, ParseTime(r.Text(i, 6)));
    n.delivery_status = r.OptStr(i, 7);
    n.attempts = static_cast<int>(r.Int(i, 8));
    CONTEX_ASSIGN_OR_RETURN(n.next_attempt_at, OptTime(r, i, 9));
    CONTEX_ASSIGN_OR_RETURN(n.locked_until, OptTime(r, i, 10));
    CONTEX_ASSIGN_OR_RETURN(n.delivered_at, OptTime(r, i, 11));
    if (!r.IsNull(i, 12)) n.last_status_code = static_cast<int>(r.Int(i, 12));
    n.last_error = r.OptStr(i, 13);
    return n;
}

template <typename T, typename Reader>
Result<std::vector<T>> Collect(const PgResult& r, Reader reader) {
    std::vector<T> out;
    out.reserve(r.rows());
    for (int i = 0; i < r.rows(); ++i) {
        CONTEX_ASSIGN_OR_RETURN(T v, reader(r, i));
        out.push_back(std::move(v));
    }
    return out;
}

Params& OptInt(Params& p, const std::optional<int>& v) {
    if (v) return p.Int(*v);
    return p.Null();
}

class PgTransaction final : public ProjectTransaction {
  public:
    PgTransaction(PgConnection& c, std::string project, const Clock& clock)
        : c_(c), project_(std::move(project)), clock_(clock) {}

    const std::string& project_id() const override { return project_; }
    TimePoint Stamp(TimePoint t) const { return t == TimePoint{} ? clock_.Now() : t; }

    Result<int64_t> AllocateSequence() override {
        CONTEX_ASSIGN_OR_RETURN(
            PgResult r,
            c_.Exec("allocate_sequence",
                    "INSERT INTO projects (project_id, last_sequence, created_at, updated_at) "
                    "VALUES ($1, 1, now(), now()) ON CONFLICT (project_id) DO UPDATE SET "
                    "last_sequence = projects.last_sequence + 1, updated_at = now() RETURNING "
                    "last_sequence",
                    Params().Text(project_)));
        if (r.rows() != 1) return Internal("sequence allocation returned no row");
        return r.Int(0, 0);
    }

    Result<int64_t> LockProject() override {
        // The no-op update takes the row lock (and creates the row when missing).
        CONTEX_ASSIGN_OR_RETURN(
            PgResult r,
            c_.Exec("lock_project",
                    "INSERT INTO projects (project_id, last_sequence, created_at, updated_at) "
                    "VALUES ($1, 0, now(), now()) ON CONFLICT (project_id) DO UPDATE SET "
                    "project_id = EXCLUDED.project_id RETURNING last_sequence",
                    Params().Text(project_)));
        if (r.rows() != 1) return Internal("project lock returned no row");
        return r.Int(0, 0);
    }

    Result<std::optional<DataKeyRecord>> GetDataKey(std::string_view data_key) override {
        CONTEX_ASSIGN_OR_RETURN(PgResult r,
                                c_.Exec("get_data_key",
                                        "SELECT " DATA_KEY_COLS
                                        " FROM data_keys WHERE project_id = $1 AND data_key = $2",
                                        Params().Text(project_).Text(data_key)));
        if (r.rows() == 0) return std::optional<DataKeyRecord>();
        CONTEX_ASSIGN_OR_RETURN(DataKeyRecord d, ReadDataKey(r, 0));
        return std::optional<DataKeyRecord>(std::move(d));
    }

    Result<std::vector<NodeRecord>> GetNodes(std::string_view data_key,
                                             bool with_vectors) override {
        CONTEX_ASSIGN_OR_RETURN(
            PgResult r,
            c_.Exec("get_nodes",
                    with_vectors ? "SELECT " NODE_COLS_VEC
                                   " FROM embeddings WHERE project_id = $1 AND data_key = $2 "
                                   "ORDER BY node_index, node_key"
                                 : "SELECT " NODE_COLS_NOVEC
                                   " FROM embeddings WHERE project_id = $1 AND data_key = $2 "
                                   "ORDER BY node_index, node_key",
                    Params().Text(project_).Text(data_key)));
        return Collect<NodeRecord>(r, ReadNode);
    }

    Status ReplaceNodes(std::string_view data_key, std::span<const std::string> removed,
                        std::span<const NodeRecord> upserts) override {
        if (!removed.empty()) {
            std::vector<std::string> keys(removed.begin(), removed.end());
            CONTEX_TRY(c_.Exec("delete_nodes",
                               "DELETE FROM embeddings WHERE project_id = $1 AND data_key = $2 "
                               "AND node_key = ANY(" ARRAY_PARAM(3) ")",
                               Params().Text(project_).Text(data_key).Text(StringArrayJson(keys))));
        }
        for (const auto& node : upserts) {
            std::string p = node.project_id;
            CONTEX_TRY(CheckProject(p, project_));
            if (node.data_key != data_key) {
                return InvalidArgument("node '" + node.node_key + "' belongs to data key '" +
                                       node.data_key + "', not '" + std::string(data_key) + "'");
            }
            Params params;
            params.Text(project_)
                .Text(node.data_key)
                .Text(node.node_key)
                .Text(node.node_path)
                .Text(node.node_type)
                .Text(node.description)
                .Text(JsonText(node.data))
                .Text(node.data_format);
            if (node.embedding.empty()) {
                params.Null().Text(node.model_id).Null();
            } else {
                params.Bytes(EncodeVector(node.embedding))
                    .Text(node.model_id)
                    .Int(static_cast<int64_t>(node.embedding.size()));
            }
            params
                .OptText(node.text_hash.empty() ? std::nullopt
                                                : std::optional<std::string>(node.text_hash))
                .Text(JsonText(node.metadata))
                .Int(node.node_index);
            CONTEX_TRY(c_.Exec(
                "upsert_node",
                "INSERT INTO embeddings (project_id, data_key, node_key, node_path, node_type, "
                "description, data, data_format, embedding, model_id, dim, text_hash, metadata, "
                "node_index, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                "$10, $11, $12, $13, $14, now(), now()) ON CONFLICT (project_id, node_key) DO "
                "UPDATE SET data_key = EXCLUDED.data_key, node_path = EXCLUDED.node_path, "
                "node_type = EXCLUDED.node_type, description = EXCLUDED.description, data = "
                "EXCLUDED.data, data_format = EXCLUDED.data_format, embedding = "
                "EXCLUDED.embedding, model_id = EXCLUDED.model_id, dim = EXCLUDED.dim, text_hash "
                "= EXCLUDED.text_hash, metadata = EXCLUDED.metadata, node_index = "
                "EXCLUDED.node_index, updated_at = now()",
                params));
        }
        return OkStatus();
    }

    Status UpsertDataKey(const DataKeyRecord& record) override {
        std::string p = record.project_id;
        CONTEX_TRY(CheckProject(p, project_));
        CONTEX_TRY(c_.Exec(
            "upsert_data_key",
            "INSERT INTO data_keys (project_id, data_key, data_format, content_hash, "
            "data_original, node_count, sequence, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
            "$8) ON CONFLICT (project_id, data_key) DO UPDATE SET data_format = "
            "EXCLUDED.data_format, content_hash = EXCLUDED.content_hash, data_original = "
            "EXCLUDED.data_original, node_count = EXCLUDED.node_count, sequence = "
            "EXCLUDED.sequence, updated_at = EXCLUDED.updated_at",
            Params()
                .Text(project_)
                .Text(record.data_key)
                .Text(record.data_format)
                .Text(record.content_hash)
                .Text(JsonText(record.data_original))
                .Int(record.node_count)
                .Int(record.sequence)
                .Text(FormatTime(Stamp(record.updated_at)))));
        return OkStatus();
    }

    Status DeleteDataKey(std::string_view data_key) override {
        CONTEX_ASSIGN_OR_RETURN(
            PgResult r, c_.Exec("delete_data_key",
                                "DELETE FROM data_keys WHERE project_id = $1 AND data_key = $2",
                                Params().Text(project_).Text(data_key)));
        if (r.affected() == 0)
            return NotFound("data key '" + std::string(data_key) + "' not found");
        CONTEX_TRY(c_.Exec("delete_nodes",
                           "DELETE FROM embeddings WHERE project_id = $1 AND data_key = $2",
                           Params().Text(project_).Text(data_key)));
        return OkStatus();
    }

    Status InsertEvent(const EventRecord& e) override {
        std::string p = e.project_id;
        CONTEX_TRY(CheckProject(p, project_));
        auto r = c_.Exec(
            "insert_event",
            "INSERT INTO events (project_id, event_type, data, sequence, created_at, data_key, "
            "data_format, content_hash, changed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            Params()
                .Text(project_)
                .Text(e.event_type)
                .Text(JsonText(e.data))
                .Int(e.sequence)
                .Text(FormatTime(Stamp(e.created_at)))
                .OptText(e.data_key.empty() ? std::nullopt : std::optional<std::string>(e.data_key))
                .OptText(e.data_format.empty() ? std::nullopt
                                               : std::optional<std::string>(e.data_format))
                .OptText(e.content_hash.empty() ? std::nullopt
                                                : std::optional<std::string>(e.content_hash))
                .Bool(e.changed));
        if (!r.ok()) {
            if (r.error().code == ErrorCode::kConflict && c_.last_sqlstate() == "23505") {
                return Conflict("event sequence " + std::to_string(e.sequence) +
                                " already exists in project '" + project_ + "'");
            }
            return std::move(r).error();
        }
        return OkStatus();
    }

    Result<std::vector<EventRecord>> ListRecentEvents(int64_t after, int64_t upto,
                                                      std::span<const std::string> data_keys,
                                                      int limit) override {
        if (limit < 1) return InvalidArgument("limit must be at least 1");
        std::vector<EventRecord> out;
        if (data_keys.empty() || upto <= after) return out;
        std::vector<std::string> keys(data_keys.begin(), data_keys.end());
        CONTEX_ASSIGN_OR_RETURN(
            PgResult r,
            c_.Exec("list_recent_events",
                    "SELECT " EVENT_COLS
                    " FROM events WHERE project_id = $1 AND sequence > $2 AND sequence <= $3 AND "
                    "data_key = ANY(" ARRAY_PARAM(4) ") ORDER BY sequence DESC LIMIT $5",
                    Params()
                        .Text(project_)
                        .Int(after)
                        .Int(upto)
                        .Text(StringArrayJson(keys))
                        .Int(limit)));
        CONTEX_ASSIGN_OR_RETURN(out, Collect<EventRecord>(r, ReadEvent));
        std::reverse(out.begin(), out.end());
        return out;
    }

    Status InsertEvents(std::span<const EventRecord> events) override {
        for (const auto& e : events) CONTEX_TRY(InsertEvent(e));
        return OkStatus();
    }

    Status UpsertAgent(const AgentRecord& a) override {
        if (a.agent_id.empty()) return InvalidArgument("agent_id must not be empty");
        CONTEX_TRY(c_.Exec(
            "upsert_agent",
            "INSERT INTO agent_registrations (agent_id, project_id, tenant_id, needs, "
            "notification_method, response_format, notification_channel, webhook_url, "
            "webhook_secret, data_keys, last_sequence, last_seen, data, created_at, updated_at) "
            "VALUES ($1, $2, $3, " ARRAY_PARAM(4) ", $5, $6, $7, $8, $9, " ARRAY_PARAM(
                10) ", $11, $12, $13, $14, $15) ON CONFLICT (agent_id) DO UPDATE SET project_id = "
                    "EXCLUDED.project_id, tenant_id = EXCLUDED.tenant_id, needs = EXCLUDED.needs, "
                    "notification_method = EXCLUDED.notification_method, response_format = "
                    "EXCLUDED.response_format, notification_channel = "
                    "EXCLUDED.notification_channel, "
                    "webhook_url = EXCLUDED.webhook_url, webhook_secret = EXCLUDED.webhook_secret, "
                    "data_keys = EXCLUDED.data_keys, last_sequence = EXCLUDED.last_sequence, "
                    "last_seen = "
                    "EXCLUDED.last_seen, data = EXCLUDED.data, updated_at = EXCLUDED.updated_at",
            Params()
                .Text(a.agent_id)
                .Text(a.project_id.empty() ? project_ : a.project_id)
                .OptText(a.tenant_id)
                .Text(StringArrayJson(a.needs))
                .Text(a.notification_method)
                .Text(a.response_format)
                .Text(a.notification_channel)
                .OptText(a.webhook_url)
                .OptText(a.webhook_secret)
                .Text(StringArrayJson(a.data_keys))
                .Text(std::to_string(a.last_sequence))
                .OptText(OptTimeParam(a.last_seen))
                .Text(JsonText(a.data))
                .Text(FormatTime(Stamp(a.created_at)))
                .Text(FormatTime(Stamp(a.updated_at)))));
        return OkStatus();
    }

    Status RequireAgent(std::string_view agent_id) {
        CONTEX_ASSIGN_OR_RETURN(
            PgResult r,
            c_.Exec("get_agent", "SELECT 1 FROM agent_registrations WHERE agent_id = $1",
                    Params().Text(agent_id)));
        if (r.rows() == 0) return NotFound("agent '" + std::string(agent_id) + "' not found");
        return OkStatus();
    }

    Status ReplaceAgentNeeds(std::string_view agent_id,
                             std::span<const AgentNeedRecord> needs) override {
        CONTEX_TRY(RequireAgent(agent_id));
        CONTEX_TRY(c_.Exec("delete_needs", "DELETE FROM agent_needs WHERE agent_id = $1",
                           Params().Text(agent_id)));
        for (const auto& n : needs) {
            if (!n.agent_id.empty() && n.agent_id != agent_id) {
                return InvalidArgument("need row names another agent");
            }
            Params p;
            p.Text(agent_id).Int(n.need_index).Text(n.need);
            if (n.embedding.empty()) {
                p.Null();
            } else {
                p.Bytes(EncodeVector(n.embedding));
            }
            p.Text(n.model_id);
            CONTEX_TRY(c_.Exec("insert_need",
                               "INSERT INTO agent_needs (agent_id, need_index, need, embedding, "
                               "model_id) VALUES ($1, $2, $3, $4, $5)",
                               p));
        }
        return OkStatus();
    }

    Status InsertMatch(const AgentMatchRecord& m, std::string_view agent_id) {
        auto r = c_.Exec(
            "upsert_match",
            "INSERT INTO agent_matches (agent_id, project_id, need_index, node_key, data_key, "
            "similarity, keyword_score) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT "
            "(agent_id, need_index, node_key) DO UPDATE SET project_id = EXCLUDED.project_id, "
            "data_key = EXCLUDED.data_key, similarity = EXCLUDED.similarity, keyword_score = "
            "EXCLUDED.keyword_score",
            Params()
                .Text(agent_id)
                .Text(m.project_id.empty() ? project_ : m.project_id)
                .Int(m.need_index)
                .Text(m.node_key)
                .Text(m.data_key)
                .Real(m.similarity)
                .Real(m.keyword_score));
        if (!r.ok()) {
            if (r.error().code == ErrorCode::kNotFound) {
                return NotFound("agent '" + std::string(agent_id) + "' not found");
            }
            return std::move(r).error();
        }
        return OkStatus();
    }

    Status ReplaceAgentMatches(std::string_view agent_id,
                               std::span<const AgentMatchRecord> matches) override {
        CONTEX_TRY(RequireAgent(agent_id));
        CONTEX_TRY(c_.Exec("delete_matches", "DELETE FROM agent_matches WHERE agent_id = $1",
                           Params().Text(agent_id)));
        for (const auto& m : matches) {
            if (!m.agent_id.empty() && m.agent_id != agent_id) {
                return InvalidArgument("match row names another agent");
            }
            CONTEX_TRY(InsertMatch(m, agent_id));
        }
        return OkStatus();
    }

    Status ApplyAgentMatchDelta(std::span<const AgentMatchRecord> removed,
                                std::span<const AgentMatchRecord> added) override {
        for (const auto& m : removed) {
            CONTEX_TRY(c_.Exec("delete_match",
                               "DELETE FROM agent_matches WHERE agent_id = $1 AND need_index = $2 "
                               "AND node_key = $3",
                               Params().Text(m.agent_id).Int(m.need_index).Text(m.node_key)));
        }
        for (const auto& m : added) CONTEX_TRY(InsertMatch(m, m.agent_id));
        return OkStatus();
    }

    Status DeleteAgent(std::string_view agent_id) override {
        CONTEX_ASSIGN_OR_RETURN(
            PgResult r,
            c_.Exec("delete_agent", "DELETE FROM agent_registrations WHERE agent_id = $1",
                    Params().Text(agent_id)));
        if (r.affected() == 0) return NotFound("agent '" + std::string(agent_id) + "' not found");
        return OkStatus();
    }

    Status InsertNotifications(std::span<const NotificationRecord> rows) override {
        for (const auto& n : rows) {
            Params p;
            p.Text(n.message_id)
                .Text(n.agent_id)
                .Text(n.project_id.empty() ? project_ : n.project_id)
                .Int(n.sequence)
                .Text(n.type)
                .Text(JsonText(n.payload))
                .Text(FormatTime(Stamp(n.created_at)))
                .OptText(n.delivery_status)
                .Int(n.attempts)
                .OptText(OptTimeParam(n.next_attempt_at))
                .OptText(OptTimeParam(n.locked_until));
            OptInt(p, n.last_status_code)
                .OptText(n.last_error)
                .OptText(OptTimeParam(n.delivered_at));
            auto r = c_.Exec(
                "insert_notification",
                "INSERT INTO agent_notifications (message_id, agent_id, project_id, sequence, "
                "type, payload, created_at, delivery_status, attempts, next_attempt_at, "
                "locked_until, last_status_code, last_error, delivered_at) VALUES ($1, $2, $3, $4, "
                "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                p);
            if (!r.ok()) {
                if (r.error().code == ErrorCode::kConflict && c_.last_sqlstate() == "23505") {
                    return Conflict("notification message_id '" + n.message_id +
                                    "' already exists");
                }
                if (r.error().code == ErrorCode::kNotFound) {
                    return NotFound("agent '" + n.agent_id + "' not found");
                }
                return std::move(r).error();
            }
        }
        return OkStatus();
    }

    Status UpdateAgentProgress(const AgentRecord& a) override {
        CONTEX_ASSIGN_OR_RETURN(
            PgResult r,
            c_.Exec("agent_progress",
                    "UPDATE agent_registrations SET last_sequence = $2, data_keys = " ARRAY_PARAM(
                        3) ", updated_at = $4 WHERE agent_id = $1",
                    Params()
                        .Text(a.agent_id)
                        .Text(std::to_string(a.last_sequence))
                        .Text(StringArrayJson(a.data_keys))
                        .Text(FormatTime(Stamp(a.updated_at)))));
        if (r.affected() == 0) return NotFound("agent '" + a.agent_id + "' not found");
        return OkStatus();
    }

    Status CancelPendingDeliveries(std::string_view agent_id) override {
        CONTEX_TRY(c_.Exec("cancel_deliveries",
                           "UPDATE agent_notifications SET delivery_status = 'cancelled', "
                           "locked_until = NULL WHERE agent_id = $1 AND delivery_status IN "
                           "('pending', 'delivering')",
                           Params().Text(agent_id)));
        return OkStatus();
    }

    Status DeleteProjectContent() override {
        for (const char* sql : {"DELETE FROM events WHERE project_id = $1",
                                "DELETE FROM embeddings WHERE project_id = $1",
                                "DELETE FROM data_keys WHERE project_id = $1",
                                "DELETE FROM agent_registrations WHERE project_id = $1"}) {
            CONTEX_TRY(c_.Exec("delete_project_content", sql, Params().Text(project_)));
        }
        return OkStatus();
    }

    Status RaiseSequenceTo(int64_t sequence) override {
        CONTEX_TRY(c_.Exec("raise_sequence",
                           "INSERT INTO projects (project_id, last_sequence, created_at, "
                           "updated_at) VALUES ($1, $2, now(), now()) ON CONFLICT (project_id) DO "
                           "UPDATE SET last_sequence = GREATEST(projects.last_sequence, "
                           "EXCLUDED.last_sequence), updated_at = now()",
                           Params().Text(project_).Int(std::max<int64_t>(0, sequence))));
        return OkStatus();
    }

    Status MarkProjectRebuilt() override {
        CONTEX_TRY(c_.Exec("mark_rebuilt",
                           "UPDATE projects SET rebuild_required = false WHERE project_id = $1",
                           Params().Text(project_)));
        return OkStatus();
    }

  private:
    PgConnection& c_;
    std::string project_;
    const Clock& clock_;
};

class PgStorage final : public Storage {
  public:
    PgStorage(std::string uri, const StorageConfig& config, obs::Logger& logger,
              obs::MetricsRegistry& metrics, const Clock& clock)
        : uri_(std::move(uri)),
          logger_(logger),
          clock_(clock),
          pool_(uri_, config, logger, metrics, clock),
          errors_(metrics.AddCounter("contex_errors_total", "Internal failures by component",
                                     {"component", "kind"})),
          query_duration_(metrics.AddHistogram("contex_db_query_duration_seconds",
                                               "Database statement latency", obs::buckets::kB3,
                                               {"operation"})) {}

    ~PgStorage() override {
        stop_listener_.store(true);
        if (listener_thread_.joinable()) listener_thread_.join();
    }

    Status Connect() {
        CONTEX_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        CONTEX_TRY(lease->Exec("connect_check", "SELECT 1"));
        logger_.Log(
            obs::LogLevel::kInfo, kLog, "PostgreSQL connection established successfully",
            {{"url", json::value(MaskDatabaseUrl(uri_))}, {"pool", json::value(pool_.Stats())}});
        logger_.Log(
            obs::LogLevel::kInfo, kLog, "Database connection established",
            {{"url", json::value(MaskDatabaseUrl(uri_))}, {"backend", json::value("postgresql")}});
        return OkStatus();
    }

    std::string_view backend() const override { return "postgresql"; }

    Status Migrate() override {
        CONTEX_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        auto& c = *lease;
        CONTEX_TRY(Track(
            c, c.Exec("migrate_lock", "SELECT pg_advisory_lock(hashtext('contex_migrate'))")));
        auto st = MigrateLocked(c);
        auto unlock =
            c.Exec("migrate_unlock", "SELECT pg_advisory_unlock(hashtext('contex_migrate'))");
        if (!unlock.ok()) lease.Discard();  // the session ends, releasing the lock
        return st;
    }

    Result<std::string> SchemaVersion() override {
        return WithConnection<std::string>(
            "schema_version", [&](PgConnection& c) -> Result<std::string> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r,
                    c.Exec("schema_version", "SELECT to_regclass('alembic_version') IS NOT NULL"));
                if (!r.Bool(0, 0)) return std::string();
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult v,
                    c.Exec("schema_version", "SELECT max(version_num) FROM alembic_version"));
                return v.IsNull(0, 0) ? std::string() : v.Str(0, 0);
            });
    }

    Status WithProjectTransaction(std::string_view project_id,
                                  const std::function<Status(ProjectTransaction&)>& fn) override {
        if (project_id.empty()) return InvalidArgument("project_id must not be empty");
        Status last = OkStatus();
        for (int attempt = 1; attempt <= internal::kMaxTransactionAttempts; ++attempt) {
            auto lease_r = pool_.Acquire();
            if (!lease_r.ok()) return std::move(lease_r).error();
            auto lease = std::move(lease_r).value();
            auto& c = *lease;
            auto begin = c.Exec("begin", "BEGIN");
            if (!begin.ok()) {
                Note(c, begin.error());
                // A stale connection fails on its first statement: one retry on a fresh one.
                if (begin.error().code == ErrorCode::kUnavailable && attempt == 1) {
                    lease.Discard();
                    last = std::move(begin).error();
                    continue;
                }
                return std::move(begin).error();
            }
            PgTransaction txn(c, std::string(project_id), clock_);
            Status st = OkStatus();
            auto lock = txn.LockProject();
            if (!lock.ok()) st = std::move(lock).error();
            if (st.ok()) st = fn(txn);
            bool retry = false;
            if (st.ok()) {
                auto commit = c.Exec("commit", "COMMIT");
                if (!commit.ok()) {
                    retry = c.retryable();
                    st = std::move(commit).error();
                }
            } else {
                retry = c.retryable();
            }
            if (!st.ok()) {
                Note(c, st.error());
                if (!c.broken()) (void)c.Exec("rollback", "ROLLBACK");
                if (retry && attempt < internal::kMaxTransactionAttempts) {
                    last = st;
                    continue;
                }
            }
            return st;
        }
        return last;
    }

    Result<int64_t> CurrentSequence(std::string_view project_id) override {
        return WithConnection<int64_t>("current_sequence", [&](PgConnection& c) -> Result<int64_t> {
            CONTEX_ASSIGN_OR_RETURN(
                PgResult r, c.Exec("current_sequence",
                                   "SELECT last_sequence FROM projects WHERE project_id = $1",
                                   Params().Text(project_id)));
            return r.rows() ? r.Int(0, 0) : int64_t{0};
        });
    }

    Result<std::vector<EventRecord>> ListEvents(std::string_view project_id, int64_t after,
                                                int limit, std::optional<std::string> data_key,
                                                std::optional<std::string> event_type) override {
        if (limit < 1) return InvalidArgument("limit must be at least 1");
        return WithConnection<std::vector<EventRecord>>(
            "list_events", [&](PgConnection& c) -> Result<std::vector<EventRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r,
                    c.Exec("list_events",
                           "SELECT " EVENT_COLS
                           " FROM events WHERE project_id = $1 AND sequence > $2 AND ($3::text IS "
                           "NULL OR data_key = $3) AND ($4::text IS NULL OR event_type = $4) "
                           "ORDER BY sequence LIMIT $5",
                           Params()
                               .Text(project_id)
                               .Int(after)
                               .OptText(data_key)
                               .OptText(event_type)
                               .Int(limit)));
                return Collect<EventRecord>(r, ReadEvent);
            });
    }

    Result<std::vector<std::string>> ListProjects() override {
        return WithConnection<std::vector<std::string>>(
            "list_projects", [&](PgConnection& c) -> Result<std::vector<std::string>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r,
                    c.Exec("list_projects", "SELECT project_id FROM projects ORDER BY project_id"));
                std::vector<std::string> out;
                for (int i = 0; i < r.rows(); ++i) out.push_back(r.Str(i, 0));
                return out;
            });
    }

    Result<std::vector<std::string>> ListProjectsNeedingRebuild() override {
        return WithConnection<std::vector<std::string>>(
            "list_projects", [&](PgConnection& c) -> Result<std::vector<std::string>> {
                CONTEX_ASSIGN_OR_RETURN(PgResult r, c.Exec("list_projects",
                                                           "SELECT project_id FROM projects WHERE "
                                                           "rebuild_required ORDER BY project_id"));
                std::vector<std::string> out;
                for (int i = 0; i < r.rows(); ++i) out.push_back(r.Str(i, 0));
                return out;
            });
    }

    Result<std::optional<DataKeyRecord>> GetDataKey(std::string_view project_id,
                                                    std::string_view data_key) override {
        return WithConnection<std::optional<DataKeyRecord>>(
            "get_data_key", [&](PgConnection& c) -> Result<std::optional<DataKeyRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r, c.Exec("get_data_key",
                                       "SELECT " DATA_KEY_COLS
                                       " FROM data_keys WHERE project_id = $1 AND data_key = $2",
                                       Params().Text(project_id).Text(data_key)));
                if (r.rows() == 0) return std::optional<DataKeyRecord>();
                CONTEX_ASSIGN_OR_RETURN(DataKeyRecord d, ReadDataKey(r, 0));
                return std::optional<DataKeyRecord>(std::move(d));
            });
    }

    Result<std::vector<DataKeyRecord>> ListDataKeys(std::string_view project_id) override {
        return WithConnection<std::vector<DataKeyRecord>>(
            "list_data_keys", [&](PgConnection& c) -> Result<std::vector<DataKeyRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r, c.Exec("list_data_keys",
                                       "SELECT " DATA_KEY_COLS
                                       " FROM data_keys WHERE project_id = $1 ORDER BY data_key",
                                       Params().Text(project_id)));
                return Collect<DataKeyRecord>(r, ReadDataKey);
            });
    }

    Result<std::vector<NodeRecord>> ListNodes(std::string_view project_id,
                                              std::optional<std::string> data_key,
                                              bool with_vectors) override {
        return WithConnection<std::vector<NodeRecord>>(
            "list_nodes", [&](PgConnection& c) -> Result<std::vector<NodeRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r,
                    c.Exec("list_nodes",
                           with_vectors
                               ? "SELECT " NODE_COLS_VEC
                                 " FROM embeddings WHERE project_id = $1 AND ($2::text IS NULL OR "
                                 "data_key = $2) ORDER BY data_key, node_index, node_key"
                               : "SELECT " NODE_COLS_NOVEC
                                 " FROM embeddings WHERE project_id = $1 AND ($2::text IS NULL OR "
                                 "data_key = $2) ORDER BY data_key, node_index, node_key",
                           Params().Text(project_id).OptText(data_key)));
                return Collect<NodeRecord>(r, ReadNode);
            });
    }

    Status StreamNodes(std::optional<std::string> project_id,
                       const std::function<void(NodeRecord&&)>& sink) override {
        auto r = WithConnection<bool>("stream_nodes", [&](PgConnection& c) -> Result<bool> {
            CONTEX_TRY(c.Exec("begin", "BEGIN READ ONLY"));
            auto body = [&]() -> Status {
                CONTEX_TRY(c.Exec("stream_nodes",
                                  "DECLARE contex_nodes NO SCROLL CURSOR FOR SELECT " NODE_COLS_VEC
                                  " FROM embeddings WHERE ($1::text IS NULL OR project_id = $1)",
                                  Params().OptText(project_id)));
                while (true) {
                    CONTEX_ASSIGN_OR_RETURN(
                        PgResult batch,
                        c.ExecBinary("stream_nodes", "FETCH 2000 FROM contex_nodes"));
                    if (batch.rows() == 0) break;
                    for (int i = 0; i < batch.rows(); ++i) {
                        CONTEX_ASSIGN_OR_RETURN(NodeRecord n, ReadNodeBinary(batch, i));
                        sink(std::move(n));
                    }
                }
                return OkStatus();
            };
            auto st = body();
            if (!st.ok()) {
                if (!c.broken()) (void)c.Exec("rollback", "ROLLBACK");
                return std::move(st).error();
            }
            CONTEX_TRY(c.Exec("commit", "COMMIT"));
            return true;
        });
        if (!r.ok()) return std::move(r).error();
        return OkStatus();
    }

    Result<std::optional<AgentRecord>> GetAgent(std::string_view agent_id) override {
        return WithConnection<std::optional<AgentRecord>>(
            "get_agent", [&](PgConnection& c) -> Result<std::optional<AgentRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r,
                    c.Exec("get_agent",
                           "SELECT " AGENT_COLS " FROM agent_registrations WHERE agent_id = $1",
                           Params().Text(agent_id)));
                if (r.rows() == 0) return std::optional<AgentRecord>();
                CONTEX_ASSIGN_OR_RETURN(AgentRecord a, ReadAgent(r, 0));
                return std::optional<AgentRecord>(std::move(a));
            });
    }

    Result<std::vector<AgentRecord>> ListAgents(std::optional<std::string> project_id) override {
        return WithConnection<std::vector<AgentRecord>>(
            "list_agents", [&](PgConnection& c) -> Result<std::vector<AgentRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r,
                    c.Exec("list_agents",
                           "SELECT " AGENT_COLS
                           " FROM agent_registrations WHERE ($1::text IS NULL OR project_id = "
                           "$1) ORDER BY agent_id",
                           Params().OptText(project_id)));
                return Collect<AgentRecord>(r, ReadAgent);
            });
    }

    Result<AgentsStamp> GetAgentsStamp(std::string_view project_id) override {
        return WithConnection<AgentsStamp>(
            "agents_stamp", [&](PgConnection& c) -> Result<AgentsStamp> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r, c.Exec("agents_stamp",
                                       "SELECT count(*), max(updated_at)::text FROM "
                                       "agent_registrations WHERE project_id = $1",
                                       Params().Text(project_id)));
                AgentsStamp stamp;
                stamp.count = r.Int(0, 0);
                CONTEX_ASSIGN_OR_RETURN(stamp.latest_update, OptTime(r, 0, 1));
                return stamp;
            });
    }

    Result<std::vector<AgentNeedRecord>> ListNeeds(std::string_view project_id) override {
        return WithConnection<std::vector<AgentNeedRecord>>(
            "list_needs", [&](PgConnection& c) -> Result<std::vector<AgentNeedRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r,
                    c.Exec("list_needs",
                           "SELECT n.agent_id, n.need_index, n.need, n.embedding, "
                           "coalesce(n.model_id, '') FROM agent_needs n JOIN agent_registrations "
                           "a ON a.agent_id = n.agent_id WHERE a.project_id = $1 ORDER BY "
                           "n.agent_id, n.need_index",
                           Params().Text(project_id)));
                return Collect<AgentNeedRecord>(r, ReadNeed);
            });
    }

    Result<std::vector<AgentMatchRecord>> ListMatches(std::string_view project_id) override {
        return WithConnection<std::vector<AgentMatchRecord>>(
            "list_matches", [&](PgConnection& c) -> Result<std::vector<AgentMatchRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r,
                    c.Exec("list_matches",
                           "SELECT " MATCH_COLS " FROM agent_matches WHERE project_id = $1 "
                           "ORDER BY agent_id, need_index, node_key",
                           Params().Text(project_id)));
                return Collect<AgentMatchRecord>(r, ReadMatch);
            });
    }

    Result<std::vector<AgentMatchRecord>> ListAgentMatches(std::string_view agent_id) override {
        return WithConnection<std::vector<AgentMatchRecord>>(
            "list_agent_matches", [&](PgConnection& c) -> Result<std::vector<AgentMatchRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r,
                    c.Exec("list_agent_matches",
                           "SELECT " MATCH_COLS " FROM agent_matches WHERE agent_id = $1 "
                           "ORDER BY need_index, node_key",
                           Params().Text(agent_id)));
                return Collect<AgentMatchRecord>(r, ReadMatch);
            });
    }

    Result<std::vector<NotificationRecord>> ListNotifications(std::string_view agent_id,
                                                              int64_t after_sequence,
                                                              int limit) override {
        if (limit < 1) return InvalidArgument("limit must be at least 1");
        return WithConnection<std::vector<NotificationRecord>>(
            "list_notifications", [&](PgConnection& c) -> Result<std::vector<NotificationRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r,
                    c.Exec("list_notifications",
                           "SELECT " NOTIFICATION_COLS
                           " FROM agent_notifications WHERE agent_id = $1 AND sequence > $2 "
                           "ORDER BY sequence, id LIMIT $3",
                           Params().Text(agent_id).Int(after_sequence).Int(limit)));
                return Collect<NotificationRecord>(r, ReadNotification);
            });
    }

    Result<DeliverySummary> GetDeliverySummary(std::string_view agent_id, int recent) override {
        if (recent < 0) return InvalidArgument("recent must not be negative");
        return WithConnection<DeliverySummary>(
            "delivery_summary", [&](PgConnection& c) -> Result<DeliverySummary> {
                DeliverySummary summary;
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult counts,
                    c.Exec("delivery_counts",
                           "SELECT count(*) FILTER (WHERE delivery_status IN ('pending', "
                           "'delivering')), count(*) FILTER (WHERE delivery_status = 'failed') "
                           "FROM agent_notifications WHERE agent_id = $1",
                           Params().Text(agent_id)));
                summary.pending = counts.Int(0, 0);
                summary.failed = counts.Int(0, 1);
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult rows,
                    c.Exec("recent_deliveries",
                           "SELECT " NOTIFICATION_COLS
                           " FROM agent_notifications WHERE agent_id = $1 AND delivery_status "
                           "IS NOT NULL ORDER BY sequence DESC, id DESC LIMIT $2",
                           Params().Text(agent_id).Int(recent)));
                CONTEX_ASSIGN_OR_RETURN(summary.recent,
                                        Collect<NotificationRecord>(rows, ReadNotification));
                return summary;
            });
    }

    Status TouchAgent(std::string_view agent_id, TimePoint last_seen) override {
        auto r = WithConnection<bool>("touch_agent", [&](PgConnection& c) -> Result<bool> {
            CONTEX_ASSIGN_OR_RETURN(PgResult res,
                                    c.Exec("touch_agent",
                                           "UPDATE agent_registrations SET last_seen = $2 WHERE "
                                           "agent_id = $1",
                                           Params().Text(agent_id).Text(FormatTime(last_seen))));
            return res.affected() > 0;
        });
        if (!r.ok()) return std::move(r).error();
        if (!*r) return NotFound("agent '" + std::string(agent_id) + "' not found");
        return OkStatus();
    }

    Result<std::vector<NotificationRecord>> ClaimDueDeliveries(TimePoint now, int limit,
                                                               TimePoint lease_until) override {
        if (limit < 1) return InvalidArgument("limit must be at least 1");
        auto r = WithConnection<std::vector<NotificationRecord>>(
            "claim_deliveries", [&](PgConnection& c) -> Result<std::vector<NotificationRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult res,
                    c.Exec(
                        "claim_deliveries",
                        "UPDATE agent_notifications SET delivery_status = 'delivering', "
                        "locked_until = $3 WHERE id IN (SELECT id FROM agent_notifications "
                        "WHERE (delivery_status = 'pending' AND (next_attempt_at IS NULL OR "
                        "next_attempt_at <= $1)) OR (delivery_status = 'delivering' AND "
                        "locked_until <= $1) ORDER BY coalesce(next_attempt_at, created_at), "
                        "id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING " NOTIFICATION_COLS,
                        Params().Text(FormatTime(now)).Int(limit).Text(FormatTime(lease_until))));
                return Collect<NotificationRecord>(res, ReadNotification);
            });
        if (!r.ok()) return r;
        auto out = std::move(r).value();
        std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            return a.next_attempt_at.value_or(a.created_at) <
                   b.next_attempt_at.value_or(b.created_at);
        });
        return out;
    }

    Status UpdateDelivery(const NotificationRecord& n) override {
        auto r = WithConnection<bool>("update_delivery", [&](PgConnection& c) -> Result<bool> {
            Params p;
            p.Text(n.message_id)
                .OptText(n.delivery_status)
                .Int(n.attempts)
                .OptText(OptTimeParam(n.next_attempt_at))
                .OptText(OptTimeParam(n.locked_until))
                .OptText(OptTimeParam(n.delivered_at));
            OptInt(p, n.last_status_code).OptText(n.last_error);
            CONTEX_ASSIGN_OR_RETURN(
                PgResult res,
                c.Exec("update_delivery",
                       "UPDATE agent_notifications SET delivery_status = $2, attempts = $3, "
                       "next_attempt_at = $4, locked_until = $5, delivered_at = $6, "
                       "last_status_code = $7, last_error = $8 WHERE message_id = $1",
                       p));
            return res.affected() > 0;
        });
        if (!r.ok()) return std::move(r).error();
        if (!*r) return NotFound("notification '" + n.message_id + "' not found");
        return OkStatus();
    }

    Result<int64_t> ReleaseDeliveryLeases() override {
        return WithConnection<int64_t>(
            "release_delivery_leases", [&](PgConnection& c) -> Result<int64_t> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r, c.Exec("release_delivery_leases",
                                       "UPDATE agent_notifications SET delivery_status = "
                                       "'pending', locked_until = NULL WHERE delivery_status = "
                                       "'delivering'"));
                return r.affected();
            });
    }

    Result<int64_t> CountPendingDeliveries() override {
        return WithConnection<int64_t>(
            "count_pending_deliveries", [&](PgConnection& c) -> Result<int64_t> {
                CONTEX_ASSIGN_OR_RETURN(
                    PgResult r, c.Exec("count_pending_deliveries",
                                       "SELECT " PENDING_DELIVERIES_COUNT));
                return r.Int(0, 0);
            });
    }

    Result<RowCounts> CountRows() override {
        return WithConnection<RowCounts>("count_rows", [&](PgConnection& c) -> Result<RowCounts> {
            CONTEX_ASSIGN_OR_RETURN(
                PgResult r, c.Exec("count_rows",
                                   "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM "
                                   "embeddings), " PENDING_DELIVERIES_COUNT));
            RowCounts counts;
            counts.events = r.Int(0, 0);
            counts.embeddings = r.Int(0, 1);
            counts.pending_deliveries = r.Int(0, 2);
            return counts;
        });
    }

    Result<int64_t> PruneNotifications(TimePoint older_than, int max_per_agent) override {
        if (max_per_agent < 0) return InvalidArgument("max_per_agent must not be negative");
        return WithConnection<
            int64_t>("prune_notifications", [&](PgConnection& c) -> Result<int64_t> {
            CONTEX_ASSIGN_OR_RETURN(
                PgResult r,
                c.Exec("prune_notifications",
                       "DELETE FROM agent_notifications WHERE (delivery_status IS NULL OR "
                       "delivery_status NOT IN ('pending', 'delivering')) AND (created_at < $1 OR "
                       "id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY agent_id "
                       "ORDER BY sequence DESC, id DESC) AS rn FROM agent_notifications) ranked "
                       "WHERE rn > $2))",
                       Params().Text(FormatTime(older_than)).Int(max_per_agent)));
            return r.affected();
        });
    }

    Status Notify(const ChangeNotice& notice) override {
        json::object o;
        o["project_id"] = notice.project_id;
        o["sequence"] = notice.sequence;
        o["data_key"] = notice.data_key;
        o["kind"] = notice.kind;
        auto r = WithConnection<bool>("notify", [&](PgConnection& c) -> Result<bool> {
            CONTEX_TRY(c.Exec("notify", "SELECT pg_notify('contex_changes', $1)",
                              Params().Text(ToJson(o))));
            return true;
        });
        if (!r.ok()) return std::move(r).error();
        return OkStatus();
    }

    void SetChangeListener(std::function<void(const ChangeNotice&)> listener) override {
        bool start = false;
        {
            std::lock_guard lock(listener_mutex_);
            listener_ = std::move(listener);
            start = listener_ && !listener_started_;
            if (start) listener_started_ = true;
        }
        if (start) {
            listener_thread_ = std::thread([this] { ListenLoop(); });
            // Wait for the first LISTEN attempt so that notices sent after this call
            // returns are not missed (bounded by the connect timeout).
            std::unique_lock lock(listener_mutex_);
            listener_cv_.wait_for(lock,
                                  pool_.connect_options().connect_timeout + std::chrono::seconds(1),
                                  [&] { return listener_first_attempt_done_; });
        }
    }

    obs::ComponentHealth CheckHealth() override {
        obs::ComponentHealth h;
        auto start = std::chrono::steady_clock::now();
        Status r = OkStatus();
        bool busy = false;
        for (int attempt = 1; attempt <= 2; ++attempt) {
            auto lease = pool_.Acquire(std::chrono::milliseconds(1000));
            if (!lease.ok()) {
                busy = lease.error().message.find("pool exhausted") != std::string::npos;
                r = std::move(lease).error();
                break;
            }
            auto q = (*lease)->Exec("health", "SELECT 1");
            if (q.ok()) {
                r = OkStatus();
                break;
            }
            Note(**lease, q.error());
            r = std::move(q).error();
            if (!(*lease)->broken()) break;
            lease->Discard();  // a connection from before an outage: retry on a fresh one
        }
        double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
        h.details["status"] = "healthy";
        h.details["latency_ms"] = ms;
        h.details["pool"] = pool_.Stats();
        if (!r.ok() && busy) {
            h.status = obs::HealthStatus::kDegraded;
            h.details["status"] = "degraded";
            h.message = "PostgreSQL pool exhausted";
            return h;
        }
        if (!r.ok()) {
            h.status = obs::HealthStatus::kUnhealthy;
            h.details["status"] = "unhealthy";
            h.message = "PostgreSQL connection failed: " + r.error().message;
            return h;
        }
        if (ms >= 100 || pool_.waiters() > 0) {
            h.status = obs::HealthStatus::kDegraded;
            h.details["status"] = "degraded";
            char buf[96];
            if (ms >= 100) {
                std::snprintf(buf, sizeof buf, "High PostgreSQL latency: %.2fms", ms);
            } else {
                std::snprintf(buf, sizeof buf, "PostgreSQL pool has %d waiters", pool_.waiters());
            }
            h.message = buf;
            return h;
        }
        h.message = "PostgreSQL is healthy";
        return h;
    }

  private:
    Status MigrateLocked(PgConnection& c) {
        CONTEX_TRY(Track(
            c, c.ExecScript("migrate",
                            "CREATE TABLE IF NOT EXISTS alembic_version (version_num "
                            "VARCHAR(32) NOT NULL PRIMARY KEY);"
                            "CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR(32) "
                            "PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMPTZ "
                            "NOT NULL DEFAULT now());")));
        CONTEX_ASSIGN_OR_RETURN(PgResult v, Track(c, c.Exec("migrate",
                                                            "SELECT max(version_num) "
                                                            "FROM alembic_version")));
        std::string from = v.IsNull(0, 0) ? std::string() : v.Str(0, 0);
        if (!from.empty() && from > LatestSchemaVersion()) {
            return Conflict("database schema version " + from + " is newer than this binary (" +
                            std::string(LatestSchemaVersion()) + ")");
        }
        std::string current = from;
        for (const auto& m : AllMigrations()) {
            if (!current.empty() && m.version <= current) continue;
            std::string script = "BEGIN;";
            script += m.postgres_sql;
            script += ";DELETE FROM alembic_version; INSERT INTO alembic_version VALUES ('" +
                      std::string(m.version) +
                      "'); INSERT INTO schema_migrations (version, description) VALUES ('" +
                      std::string(m.version) + "', '" + std::string(m.description) +
                      "') ON CONFLICT (version) DO UPDATE SET applied_at = now(); COMMIT;";
            auto st = c.ExecScript("migrate", script);
            if (!st.ok()) {
                if (!c.broken()) (void)c.ExecScript("migrate", "ROLLBACK");
                return Track(c, std::move(st));
            }
            current = std::string(m.version);
        }
        if (current != from) {
            logger_.Log(obs::LogLevel::kInfo, kLog, "Migrations applied",
                        {{"from", json::value(from.empty() ? "none" : from)},
                         {"to", json::value(current)},
                         {"backend", json::value("postgresql")}});
        }
        return OkStatus();
    }

    // Counts and reacts to a failure seen on connection c.
    void Note(PgConnection& c, const Error& e) {
        if (e.code == ErrorCode::kUnavailable) {
            errors_.WithLabels({"db", "unavailable"}).Inc();
            if (c.broken()) pool_.NoteServerFailure();
        } else if (e.code == ErrorCode::kTimeout) {
            errors_.WithLabels({"db", "timeout"}).Inc();
        } else if (e.code == ErrorCode::kInternal) {
            errors_.WithLabels({"db", "exception"}).Inc();
        }
    }

    template <typename R>
    R Track(PgConnection& c, R r) {
        if (!r.ok()) Note(c, r.error());
        return r;
    }

    // Runs a read or single-statement write on a pooled connection. A connection that turns
    // out to be dead on its first use is replaced once (the statement never ran).
    template <typename T, typename Fn>
    Result<T> WithConnection(const char* /*op*/, Fn&& fn) {
        for (int attempt = 1;; ++attempt) {
            auto lease_r = pool_.Acquire();
            if (!lease_r.ok()) return std::move(lease_r).error();
            auto lease = std::move(lease_r).value();
            Result<T> r = fn(*lease);
            if (r.ok()) return r;
            Note(*lease, r.error());
            bool dead = lease->broken();
            if (dead) lease.Discard();
            if (dead && attempt == 1 && r.error().code == ErrorCode::kUnavailable) continue;
            return r;
        }
    }

    void Dispatch(const ChangeNotice& n) {
        std::function<void(const ChangeNotice&)> listener;
        {
            std::lock_guard lock(listener_mutex_);
            listener = listener_;
        }
        if (listener) listener(n);
    }

    void ListenLoop() {
        std::unique_ptr<PgConnection> conn;
        auto backoff = std::chrono::milliseconds(100);
        bool connected_once = false;
        while (!stop_listener_.load()) {
            if (!conn || conn->broken()) {
                conn.reset();
                auto c = PgConnection::Connect(pool_.uri(), pool_.connect_options());
                bool listening = c.ok() && (*c)->Exec("listen", "LISTEN contex_changes").ok();
                {
                    std::lock_guard lock(listener_mutex_);
                    listener_first_attempt_done_ = true;
                }
                listener_cv_.notify_all();
                if (listening) {
                    conn = std::move(c).value();
                    backoff = std::chrono::milliseconds(100);
                    if (connected_once) {
                        logger_.Log(obs::LogLevel::kInfo, kLog, "PostgreSQL LISTEN reconnected");
                        Dispatch(ChangeNotice{"", 0, "", "reconnect"});
                    }
                    connected_once = true;
                } else {
                    // Sleep in short slices so shutdown stays prompt.
                    auto until = std::chrono::steady_clock::now() + backoff;
                    while (!stop_listener_.load() && std::chrono::steady_clock::now() < until) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    }
                    backoff =
                        std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
                    continue;
                }
            }
            pollfd pfd{PQsocket(conn->raw()), POLLIN, 0};
            int rc = poll(&pfd, 1, 100);
            if (rc < 0) continue;
            if (PQconsumeInput(conn->raw()) == 0) {
                logger_.Log(obs::LogLevel::kWarning, kLog, "PostgreSQL LISTEN connection lost");
                conn.reset();
                continue;
            }
            while (PGnotify* n = PQnotifies(conn->raw())) {
                std::string payload = n->extra ? n->extra : "";
                PQfreemem(n);
                auto v = ParseJson(payload);
                if (!v.ok() || !v->is_object()) continue;
                const auto& o = v->as_object();
                ChangeNotice notice;
                if (auto* p = o.if_contains("project_id"); p && p->is_string()) {
                    notice.project_id = std::string(p->as_string());
                }
                if (auto* p = o.if_contains("sequence"); p && p->is_int64()) {
                    notice.sequence = p->as_int64();
                }
                if (auto* p = o.if_contains("data_key"); p && p->is_string()) {
                    notice.data_key = std::string(p->as_string());
                }
                if (auto* p = o.if_contains("kind"); p && p->is_string()) {
                    notice.kind = std::string(p->as_string());
                }
                Dispatch(notice);
            }
        }
    }

    std::string uri_;
    obs::Logger& logger_;
    const Clock& clock_;
    PgPool pool_;
    obs::Family<obs::Counter>& errors_;
    obs::Family<obs::Histogram>& query_duration_;

    std::mutex listener_mutex_;
    std::function<void(const ChangeNotice&)> listener_;  // guarded by listener_mutex_
    bool listener_started_ = false;                      // guarded by listener_mutex_
    bool listener_first_attempt_done_ = false;           // guarded by listener_mutex_
    std::condition_variable listener_cv_;
    std::atomic<bool> stop_listener_{false};
    std::thread listener_thread_;
};

}  // namespace

Result<std::unique_ptr<Storage>> OpenPostgresStorage(const std::string& uri,
                                                     const StorageConfig& config,
                                                     obs::Logger& logger,
                                                     obs::MetricsRegistry& metrics,
                                                     const Clock& clock) {
    auto s = std::make_unique<PgStorage>(uri, config, logger, metrics, clock);
    CONTEX_TRY(s->Connect());
    return std::unique_ptr<Storage>(std::move(s));
}

}  // namespace contex::storage
