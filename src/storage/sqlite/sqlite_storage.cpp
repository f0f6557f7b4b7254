#include "storage/sqlite/sqlite_storage.hpp"

#include <sqlite3.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <thread>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>

#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "storage/codec.hpp"
#include "storage/migrations/migrations.hpp"

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

constexpr std::string_view kLog = "contex.db";

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
    int ext = db ? sqlite3_extended_errcode(db) : rc;
    std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    switch (ext) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
            return Conflict(msg);
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            return NotFound(msg);
        default:
            break;
    }
    switch (ext & 0xff) {
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_TOOBIG:
            return InvalidArgument(msg);
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return Unavailable("Database busy: " + msg);
        case SQLITE_INTERRUPT:
            return Timeout(msg);
        case SQLITE_IOERR:
        case SQLITE_FULL:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
            return Unavailable("Database unavailable: " + msg);
        default:
            return Internal(msg);
    }
}

// A prepared statement borrowed from a connection's cache; reset on destruction.
class Stmt {
  public:
    Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt() { Reset(); }
    void Reset() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    Stmt& Bind(int i, std::string_view v) {
        sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
    Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
    Stmt& Bind(int i, int64_t v) {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    Stmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
    Stmt& Bind(int i, double v) {
        sqlite3_bind_double(s_, i, v);
        return *this;
    }
    Stmt& Bind(int i, const std::optional<std::string>& v) {
        if (v) return Bind(i, *v);
        sqlite3_bind_null(s_, i);
        return *this;
    }
    Stmt& Bind(int i, const std::optional<TimePoint>& v) {
        if (v) return Bind(i, FormatTime(*v));
        sqlite3_bind_null(s_, i);
        return *this;
    }
    Stmt& Bind(int i, const std::optional<int>& v) {
        if (v) return Bind(i, *v);
        sqlite3_bind_null(s_, i);
        return *this;
    }
    Stmt& BindBlob(int i, const std::string& blob, bool null_if_empty) {
        if (blob.empty() && null_if_empty) {
            sqlite3_bind_null(s_, i);
        } else {
            sqlite3_bind_blob(s_, i, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
        }
        return *this;
    }
    // Next row: true = row available, false = done.
    Result<bool> Step() {
        int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        return SqliteError(db_, rc, "statement failed");
    }
    Status Run() {
        auto r = Step();
        if (!r.ok()) return std::move(r).error();
        return OkStatus();
    }
    bool IsNull(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
    std::string Text(int c) const {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
        return p ? std::string(p, sqlite3_column_bytes(s_, c)) : std::string();
    }
    std::optional<std::string> OptText(int c) const {
        if (IsNull(c)) return std::nullopt;
        return Text(c);
    }
    std::string_view Blob(int c) const {
        auto* p = static_cast<const char*>(sqlite3_column_blob(s_, c));
        return p ? std::string_view(p, sqlite3_column_bytes(s_, c)) : std::string_view();
    }
    int64_t Int(int c) const { return sqlite3_column_int64(s_, c); }
    double Double(int c) const { return sqlite3_column_double(s_, c); }
    Result<std::optional<TimePoint>> OptTime(int c) const {
        if (IsNull(c)) return std::optional<TimePoint>();
        CONTEX_ASSIGN_OR_RETURN(TimePoint t, ParseTime(Text(c)));
        return std::optional<TimePoint>(t);
    }

  private:
    sqlite3* db_;
    sqlite3_stmt* s_;
};

class Connection {
  public:
    ~Connection() {
        for (auto& [sql, s] : cache_) sqlite3_finalize(s);
        if (db_) sqlite3_close_v2(db_);
    }
    static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool readonly,
                                                    const StorageConfig& config,
                                                    obs::Logger* echo = nullptr) {
        auto c = std::make_unique<Connection>();
        // Readers open read-write with query_only: a read-only WAL connection cannot
        // recover the shared-memory index on its own.
        int flags =
            SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READWRITE | (readonly ? 0 : SQLITE_OPEN_CREATE);
        int rc = sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr);
        if (rc != SQLITE_OK) {
            std::string msg = c->db_ ? sqlite3_errmsg(c->db_) : sqlite3_errstr(rc);
            return Unavailable("Database unavailable: cannot open SQLite database " + path + ": " +
                               msg);
        }
        sqlite3_extended_result_codes(c->db_, 1);
        if (echo != nullptr) {
            // DATABASE_ECHO: every statement at DEBUG.
            sqlite3_trace_v2(
                c->db_, SQLITE_TRACE_STMT,
                [](unsigned, void* ctx, void* stmt, void*) -> int {
                    const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(stmt));
                    static_cast<obs::Logger*>(ctx)->Log(obs::LogLevel::kDebug, "contex.db",
                                                        "SQL statement",
                                                        {{"sql", json::value(sql ? sql : "")}});
                    return 0;
                },
                echo);
        }
        sqlite3_busy_timeout(c->db_, static_cast<int>(config.sqlite_busy_timeout.count()));
        // A 64 MiB page cache and memory-mapped reads: without them, publishes that write
        // many notification rows spent a tenth of their time re-reading pages via pread.
        std::string pragmas =
            "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536; "
            "PRAGMA mmap_size=268435456;";
        if (readonly) {
            pragmas += "PRAGMA query_only=1;";
        } else {
            pragmas +=
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=" + config.sqlite_synchronous + ";";
        }
        CONTEX_TRY(c->ExecScript(pragmas));
        return c;
    }
    Status ExecScript(const std::string& sql) {
        char* err = nullptr;
        int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
        if (rc != SQLITE_OK) {
            std::string m = err ? err : "";
            sqlite3_free(err);
            return SqliteError(db_, rc, "SQL script failed: " + m);
        }
        return OkStatus();
    }
    Result<std::unique_ptr<Stmt>> Prepare(const char* sql) {
        auto it = cache_.find(sql);
        if (it == cache_.end()) {
            sqlite3_stmt* s = nullptr;
            int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
            if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare failed");
            it = cache_.emplace(sql, s).first;
        }
        return std::make_unique<Stmt>(db_, it->second);
    }
    sqlite3* db() { return db_; }

  private:
    sqlite3* db_ = nullptr;
    std::map<std::string, sqlite3_stmt*> cache_;
};

// Column lists shared by reads.
constexpr const char* kEventCols =
    "project_id, sequence, event_type, data, data_key, data_format, content_hash, changed, "
    "created_at";
constexpr const char* kDataKeyCols =
    "project_id, data_key, data_format, content_hash, data_original, node_count, sequence, "
    "updated_at";
constexpr const char* kAgentCols =
    "agent_id, project_id, tenant_id, needs, notification_method, response_format, "
    "notification_channel, webhook_url, webhook_secret, data_keys, last_sequence, last_seen, "
    "created_at, updated_at, data";
// Webhook rows pending or delivering, as one sum over the two partial indexes (an IN list
// may not use them).
#define PENDING_DELIVERIES_COUNT                                                            \
    "(SELECT count(*) FROM agent_notifications WHERE delivery_status = 'pending') + "     \
    "(SELECT count(*) FROM agent_notifications WHERE delivery_status = 'delivering')"
constexpr const char* kNotificationCols =
    "message_id, agent_id, project_id, sequence, type, payload, created_at, delivery_status, "
    "attempts, next_attempt_at, locked_until, delivered_at, last_status_code, last_error";

std::string Sql(std::initializer_list<std::string_view> parts) {
    std::string s;
    for (auto p : parts) s += p;
    return s;
}

Result<EventRecord> ReadEvent(const Stmt& s) {
    EventRecord e;
    e.project_id = s.Text(0);
    e.sequence = s.Int(1);
    e.event_type = s.Text(2);
    CONTEX_ASSIGN_OR_RETURN(e.data, ParseJsonColumn(s.Text(3)));
    e.data_key = s.Text(4);
    e.data_format = s.Text(5);
    e.content_hash = s.Text(6);
    e.changed = s.Int(7) != 0;
    CONTEX_ASSIGN_OR_RETURN(e.created_at, ParseTime(s.Text(8)));
    return e;
}

// Columns: project_id, data_key, node_key, node_path, node_type, description, data_format,
// text_hash, model_id, data, metadata, node_index, embedding
constexpr const char* kNodeColsNoVec =
    "project_id, data_key, node_key, node_path, node_type, description, data_format, text_hash, "
    "model_id, data, metadata, node_index, NULL";
constexpr const char* kNodeColsVec =
    "project_id, data_key, node_key, node_path, node_type, description, data_format, text_hash, "
    "model_id, data, metadata, node_index, embedding";

Result<NodeRecord> ReadNode(const Stmt& s) {
    NodeRecord n;
    n.project_id = s.Text(0);
    n.data_key = s.Text(1);
    n.node_key = s.Text(2);
    n.node_path = s.Text(3);
    n.node_type = s.Text(4);
    n.description = s.Text(5);
    n.data_format = s.Text(6);
    n.text_hash = s.Text(7);
    n.model_id = s.Text(8);
    CONTEX_ASSIGN_OR_RETURN(n.data, ParseJsonObjectColumn(s.Text(9)));
    CONTEX_ASSIGN_OR_RETURN(n.metadata, ParseJsonObjectColumn(s.Text(10)));
    n.node_index = static_cast<int>(s.Int(11));
    if (!s.IsNull(12)) {
        CONTEX_ASSIGN_OR_RETURN(n.embedding, DecodeVector(s.Blob(12)));
    }
    return n;
}

Result<DataKeyRecord> ReadDataKey(const Stmt& s) {
    DataKeyRecord d;
    d.project_id = s.Text(0);
    d.data_key = s.Text(1);
    d.data_format = s.Text(2);
    d.content_hash = s.Text(3);
    CONTEX_ASSIGN_OR_RETURN(d.data_original, ParseJsonColumn(s.Text(4)));
    d.node_count = static_cast<int>(s.Int(5));
    d.sequence = s.Int(6);
    CONTEX_ASSIGN_OR_RETURN(d.updated_at, ParseTime(s.Text(7)));
    return d;
}

Result<AgentRecord> ReadAgent(const Stmt& s) {
    AgentRecord a;
    a.agent_id = s.Text(0);
    a.project_id = s.Text(1);
    a.tenant_id = s.OptText(2);
    CONTEX_ASSIGN_OR_RETURN(a.needs, ParseStringArrayJson(s.Text(3)));
    a.notification_method = s.Text(4);
    a.response_format = s.Text(5);
    a.notification_channel = s.Text(6);
    a.webhook_url = s.OptText(7);
    a.webhook_secret = s.OptText(8);
    CONTEX_ASSIGN_OR_RETURN(a.data_keys, ParseStringArrayJson(s.Text(9)));
    a.last_sequence = std::strtoll(s.Text(10).c_str(), nullptr, 10);
    CONTEX_ASSIGN_OR_RETURN(a.last_seen, s.OptTime(11));
    CONTEX_ASSIGN_OR_RETURN(a.created_at, ParseTime(s.Text(12)));
    CONTEX_ASSIGN_OR_RETURN(a.updated_at, ParseTime(s.Text(13)));
    CONTEX_ASSIGN_OR_RETURN(a.data, ParseJsonObjectColumn(s.Text(14)));
    return a;
}

Result<AgentNeedRecord> ReadNeed(const Stmt& s) {
    AgentNeedRecord n;
    n.agent_id = s.Text(0);
    n.need_index = static_cast<int>(s.Int(1));
    n.need = s.Text(2);
    if (!s.IsNull(3)) {
        CONTEX_ASSIGN_OR_RETURN(n.embedding, DecodeVector(s.Blob(3)));
    }
    n.model_id = s.Text(4);
    return n;
}

AgentMatchRecord ReadMatch(const Stmt& s) {
    AgentMatchRecord m;
    m.agent_id = s.Text(0);
    m.project_id = s.Text(1);
    m.need_index = static_cast<int>(s.Int(2));
    m.node_key = s.Text(3);
    m.data_key = s.Text(4);
    m.similarity = static_cast<float>(s.Double(5));
    m.keyword_score = static_cast<float>(s.Double(6));
    return m;
}

Result<NotificationRecord> ReadNotification(const Stmt& s) {
    NotificationRecord n;
    n.message_id = s.Text(0);
    n.agent_id = s.Text(1);
    n.project_id = s.Text(2);
    n.sequence = s.Int(3);
    n.type = s.Text(4);
    CONTEX_ASSIGN_OR_RETURN(n.payload, ParseJsonColumn(s.Text(5)));
    CONTEX_ASSIGN_OR_RETURN(n.created_at, ParseTime(s.Text(6)));
    n.delivery_status = s.OptText(7);
    n.attempts = static_cast<int>(s.Int(8));
    CONTEX_ASSIGN_OR_RETURN(n.next_attempt_at, s.OptTime(9));
    CONTEX_ASSIGN_OR_RETURN(n.locked_until, s.OptTime(10));
    CONTEX_ASSIGN_OR_RETURN(n.delivered_at, s.OptTime(11));
    if (!s.IsNull(12)) n.last_status_code = static_cast<int>(s.Int(12));
    n.last_error = s.OptText(13);
    return n;
}

template <typename T, typename Reader>
Result<std::vector<T>> CollectRows(Stmt& s, Reader reader) {
    std::vector<T> out;
    while (true) {
        CONTEX_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        if constexpr (std::is_same_v<decltype(reader(s)), T>) {
            out.push_back(reader(s));
        } else {
            CONTEX_ASSIGN_OR_RETURN(T v, reader(s));
            out.push_back(std::move(v));
        }
    }
    return out;
}

class SqliteStorage;

class SqliteTransaction final : public ProjectTransaction {
  public:
    SqliteTransaction(Connection& c, std::string project, const Clock& clock)
        : c_(c), project_(std::move(project)), clock_(clock) {}

    const std::string& project_id() const override { return project_; }

    TimePoint Stamp(TimePoint t) const { return t == TimePoint{} ? clock_.Now() : t; }

    Result<int64_t> AllocateSequence() override {
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("INSERT INTO projects (project_id, last_sequence, created_at, "
                               "updated_at) VALUES (?1, 1, ?2, ?2) ON CONFLICT (project_id) DO "
                               "UPDATE SET last_sequence = last_sequence + 1, updated_at = ?2 "
                               "RETURNING last_sequence"));
        s->Bind(1, project_).Bind(2, FormatTime(clock_.Now()));
        CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) return Internal("sequence allocation returned no row");
        return s->Int(0);
    }

    Status EnsureProjectRow() {
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("INSERT INTO projects (project_id, last_sequence, created_at, "
                               "updated_at) VALUES (?1, 0, ?2, ?2) ON CONFLICT (project_id) DO "
                               "NOTHING"));
        s->Bind(1, project_).Bind(2, FormatTime(clock_.Now()));
        return s->Run();
    }

    Result<int64_t> LockProject() override {
        CONTEX_TRY(EnsureProjectRow());
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("SELECT last_sequence FROM projects WHERE project_id = ?1"));
        s->Bind(1, project_);
        CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
        return row ? s->Int(0) : int64_t{0};
    }

    Result<std::optional<DataKeyRecord>> GetDataKey(std::string_view data_key) override {
        static const std::string sql = Sql(
            {"SELECT ", kDataKeyCols, " FROM data_keys WHERE project_id = ?1 AND data_key = ?2"});
        CONTEX_ASSIGN_OR_RETURN(auto s, c_.Prepare(sql.c_str()));
        s->Bind(1, project_).Bind(2, data_key);
        CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row) return std::optional<DataKeyRecord>();
        CONTEX_ASSIGN_OR_RETURN(DataKeyRecord d, ReadDataKey(*s));
        return std::optional<DataKeyRecord>(std::move(d));
    }

    Result<std::vector<NodeRecord>> GetNodes(std::string_view data_key,
                                             bool with_vectors) override {
        static const std::string sql_vec =
            Sql({"SELECT ", kNodeColsVec,
                 " FROM embeddings WHERE project_id = ?1 AND data_key = ?2 ORDER BY node_index, "
                 "node_key"});
        static const std::string sql_novec =
            Sql({"SELECT ", kNodeColsNoVec,
                 " FROM embeddings WHERE project_id = ?1 AND data_key = ?2 ORDER BY node_index, "
                 "node_key"});
        CONTEX_ASSIGN_OR_RETURN(auto s,
                                c_.Prepare(with_vectors ? sql_vec.c_str() : sql_novec.c_str()));
        s->Bind(1, project_).Bind(2, data_key);
        return CollectRows<NodeRecord>(*s, ReadNode);
    }

    Status ReplaceNodes(std::string_view data_key, std::span<const std::string> removed,
                        std::span<const NodeRecord> upserts) override {
        if (!removed.empty()) {
            CONTEX_ASSIGN_OR_RETURN(auto del,
                                    c_.Prepare("DELETE FROM embeddings WHERE project_id = ?1 AND "
                                               "data_key = ?2 AND node_key = ?3"));
            for (const auto& key : removed) {
                del->Bind(1, project_).Bind(2, data_key).Bind(3, key);
                CONTEX_TRY(del->Run());
                del->Reset();
            }
        }
        if (upserts.empty()) return OkStatus();
        constexpr const char* kUpsert =
            "INSERT INTO embeddings (project_id, data_key, node_key, node_path, node_type, "
            "description, data, data_format, embedding, model_id, dim, text_hash, metadata, "
            "node_index, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
            "?11, ?12, ?13, ?14, ?15, ?15) ON CONFLICT (project_id, node_key) DO UPDATE SET "
            "data_key = excluded.data_key, node_path = excluded.node_path, node_type = "
            "excluded.node_type, description = excluded.description, data = excluded.data, "
            "data_format = excluded.data_format, embedding = excluded.embedding, model_id = "
            "excluded.model_id, dim = excluded.dim, text_hash = excluded.text_hash, metadata = "
            "excluded.metadata, node_index = excluded.node_index, updated_at = excluded.updated_at";
        std::string now = FormatTime(clock_.Now());
        for (const auto& node : upserts) {
            std::string p = node.project_id;
            CONTEX_TRY(CheckProject(p, project_));
            if (node.data_key != data_key) {
                return InvalidArgument("node '" + node.node_key + "' belongs to data key '" +
                                       node.data_key + "', not '" + std::string(data_key) + "'");
            }
            CONTEX_ASSIGN_OR_RETURN(auto s, c_.Prepare(kUpsert));
            s->Bind(1, project_)
                .Bind(2, node.data_key)
                .Bind(3, node.node_key)
                .Bind(4, node.node_path)
                .Bind(5, node.node_type)
                .Bind(6, node.description)
                .Bind(7, JsonText(node.data))
                .Bind(8, node.data_format)
                .BindBlob(9, EncodeVector(node.embedding), true);
            s->Bind(10, node.model_id);
            s->Bind(11, static_cast<int64_t>(node.embedding.size()))
                .Bind(12, node.text_hash)
                .Bind(13, JsonText(node.metadata))
                .Bind(14, node.node_index)
                .Bind(15, now);
            CONTEX_TRY(s->Run());
        }
        return OkStatus();
    }

    Status UpsertDataKey(const DataKeyRecord& record) override {
        std::string p = record.project_id;
        CONTEX_TRY(CheckProject(p, project_));
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("INSERT INTO data_keys (project_id, data_key, data_format, "
                               "content_hash, data_original, node_count, sequence, updated_at) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (project_id, "
                               "data_key) DO UPDATE SET data_format = excluded.data_format, "
                               "content_hash = excluded.content_hash, data_original = "
                               "excluded.data_original, node_count = excluded.node_count, "
                               "sequence = excluded.sequence, updated_at = excluded.updated_at"));
        s->Bind(1, project_)
            .Bind(2, record.data_key)
            .Bind(3, record.data_format)
            .Bind(4, record.content_hash)
            .Bind(5, JsonText(record.data_original))
            .Bind(6, record.node_count)
            .Bind(7, record.sequence)
            .Bind(8, FormatTime(Stamp(record.updated_at)));
        return s->Run();
    }

    Status DeleteDataKey(std::string_view data_key) override {
        {
            CONTEX_ASSIGN_OR_RETURN(
                auto s,
                c_.Prepare("DELETE FROM data_keys WHERE project_id = ?1 AND data_key = ?2"));
            s->Bind(1, project_).Bind(2, data_key);
            CONTEX_TRY(s->Run());
        }
        if (sqlite3_changes(c_.db()) == 0) {
            return NotFound("data key '" + std::string(data_key) + "' not found");
        }
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("DELETE FROM embeddings WHERE project_id = ?1 AND data_key = ?2"));
        s->Bind(1, project_).Bind(2, data_key);
        return s->Run();
    }

    Status InsertEventRow(const EventRecord& event) {
        std::string p = event.project_id;
        CONTEX_TRY(CheckProject(p, project_));
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("INSERT INTO events (project_id, event_type, data, sequence, "
                               "created_at, data_key, data_format, content_hash, changed) VALUES "
                               "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
        s->Bind(1, project_)
            .Bind(2, event.event_type)
            .Bind(3, JsonText(event.data))
            .Bind(4, event.sequence)
            .Bind(5, FormatTime(Stamp(event.created_at)))
            .Bind(6, event.data_key)
            .Bind(7, event.data_format)
            .Bind(8, event.content_hash)
            .Bind(9, event.changed ? 1 : 0);
        auto st = s->Run();
        if (!st.ok() && st.error().code == ErrorCode::kConflict) {
            return Conflict("event sequence " + std::to_string(event.sequence) +
                            " already exists in project '" + project_ + "'");
        }
        return st;
    }

    Status InsertEvent(const EventRecord& event) override { return InsertEventRow(event); }

    Result<std::vector<EventRecord>> ListRecentEvents(int64_t after, int64_t upto,
                                                      std::span<const std::string> data_keys,
                                                      int limit) override {
        if (limit < 1) return InvalidArgument("limit must be at least 1");
        std::vector<EventRecord> out;
        if (data_keys.empty() || upto <= after) return out;
        std::vector<std::string> keys(data_keys.begin(), data_keys.end());
        static const std::string sql =
            Sql({"SELECT ", kEventCols,
                 " FROM events WHERE project_id = ?1 AND sequence > ?2 AND sequence <= ?3 AND "
                 "data_key IN (SELECT value FROM json_each(?4)) ORDER BY sequence DESC LIMIT ?5"});
        CONTEX_ASSIGN_OR_RETURN(auto s, c_.Prepare(sql.c_str()));
        s->Bind(1, project_)
            .Bind(2, after)
            .Bind(3, upto)
            .Bind(4, StringArrayJson(keys))
            .Bind(5, limit);
        CONTEX_ASSIGN_OR_RETURN(out, CollectRows<EventRecord>(*s, ReadEvent));
        std::reverse(out.begin(), out.end());
        return out;
    }

    Status InsertEvents(std::span<const EventRecord> events) override {
        for (const auto& e : events) CONTEX_TRY(InsertEventRow(e));
        return OkStatus();
    }

    Status UpsertAgent(const AgentRecord& a) override {
        if (a.agent_id.empty()) return InvalidArgument("agent_id must not be empty");
        CONTEX_ASSIGN_OR_RETURN(
            auto s,
            c_.Prepare(
                "INSERT INTO agent_registrations (agent_id, project_id, tenant_id, needs, "
                "notification_method, response_format, notification_channel, webhook_url, "
                "webhook_secret, data_keys, last_sequence, last_seen, data, created_at, "
                "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                "?14, ?15) ON CONFLICT (agent_id) DO UPDATE SET project_id = "
                "excluded.project_id, tenant_id = excluded.tenant_id, needs = "
                "excluded.needs, notification_method = excluded.notification_method, "
                "response_format = excluded.response_format, notification_channel = "
                "excluded.notification_channel, webhook_url = excluded.webhook_url, "
                "webhook_secret = excluded.webhook_secret, data_keys = excluded.data_keys, "
                "last_sequence = excluded.last_sequence, last_seen = excluded.last_seen, "
                "data = excluded.data, updated_at = excluded.updated_at"));
        s->Bind(1, a.agent_id)
            .Bind(2, a.project_id.empty() ? project_ : a.project_id)
            .Bind(3, a.tenant_id)
            .Bind(4, StringArrayJson(a.needs))
            .Bind(5, a.notification_method)
            .Bind(6, a.response_format)
            .Bind(7, a.notification_channel)
            .Bind(8, a.webhook_url)
            .Bind(9, a.webhook_secret)
            .Bind(10, StringArrayJson(a.data_keys))
            .Bind(11, std::to_string(a.last_sequence))
            .Bind(12, a.last_seen)
            .Bind(13, JsonText(a.data))
            .Bind(14, FormatTime(Stamp(a.created_at)))
            .Bind(15, FormatTime(Stamp(a.updated_at)));
        return s->Run();
    }

    Result<bool> AgentExists(std::string_view agent_id) {
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("SELECT 1 FROM agent_registrations WHERE agent_id = ?1"));
        s->Bind(1, agent_id);
        return s->Step();
    }

    Status RequireAgent(std::string_view agent_id) {
        CONTEX_ASSIGN_OR_RETURN(bool exists, AgentExists(agent_id));
        if (!exists) return NotFound("agent '" + std::string(agent_id) + "' not found");
        return OkStatus();
    }

    Status ReplaceAgentNeeds(std::string_view agent_id,
                             std::span<const AgentNeedRecord> needs) override {
        CONTEX_TRY(RequireAgent(agent_id));
        {
            CONTEX_ASSIGN_OR_RETURN(auto s,
                                    c_.Prepare("DELETE FROM agent_needs WHERE agent_id = ?1"));
            s->Bind(1, agent_id);
            CONTEX_TRY(s->Run());
        }
        for (const auto& n : needs) {
            if (!n.agent_id.empty() && n.agent_id != agent_id) {
                return InvalidArgument("need row names another agent");
            }
            CONTEX_ASSIGN_OR_RETURN(
                auto s, c_.Prepare("INSERT INTO agent_needs (agent_id, need_index, need, "
                                   "embedding, model_id) VALUES (?1, ?2, ?3, ?4, ?5)"));
            s->Bind(1, agent_id).Bind(2, n.need_index).Bind(3, n.need);
            s->BindBlob(4, EncodeVector(n.embedding), true).Bind(5, n.model_id);
            CONTEX_TRY(s->Run());
        }
        return OkStatus();
    }

    Status InsertMatch(const AgentMatchRecord& m, std::string_view agent_id) {
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("INSERT INTO agent_matches (agent_id, project_id, need_index, "
                               "node_key, data_key, similarity, keyword_score) VALUES (?1, ?2, ?3, "
                               "?4, ?5, ?6, ?7) ON CONFLICT (agent_id, need_index, node_key) DO "
                               "UPDATE SET project_id = excluded.project_id, data_key = "
                               "excluded.data_key, similarity = excluded.similarity, "
                               "keyword_score = excluded.keyword_score"));
        s->Bind(1, agent_id)
            .Bind(2, m.project_id.empty() ? project_ : m.project_id)
            .Bind(3, m.need_index)
            .Bind(4, m.node_key)
            .Bind(5, m.data_key)
            .Bind(6, static_cast<double>(m.similarity))
            .Bind(7, static_cast<double>(m.keyword_score));
        return s->Run();
    }

    Status ReplaceAgentMatches(std::string_view agent_id,
                               std::span<const AgentMatchRecord> matches) override {
        CONTEX_TRY(RequireAgent(agent_id));
        {
            CONTEX_ASSIGN_OR_RETURN(auto s,
                                    c_.Prepare("DELETE FROM agent_matches WHERE agent_id = ?1"));
            s->Bind(1, agent_id);
            CONTEX_TRY(s->Run());
        }
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
            CONTEX_ASSIGN_OR_RETURN(auto s,
                                    c_.Prepare("DELETE FROM agent_matches WHERE agent_id = ?1 AND "
                                               "need_index = ?2 AND node_key = ?3"));
            s->Bind(1, m.agent_id).Bind(2, m.need_index).Bind(3, m.node_key);
            CONTEX_TRY(s->Run());
        }
        for (const auto& m : added) CONTEX_TRY(InsertMatch(m, m.agent_id));
        return OkStatus();
    }

    Status DeleteAgent(std::string_view agent_id) override {
        CONTEX_ASSIGN_OR_RETURN(auto s,
                                c_.Prepare("DELETE FROM agent_registrations WHERE agent_id = ?1"));
        s->Bind(1, agent_id);
        CONTEX_TRY(s->Run());
        if (sqlite3_changes(c_.db()) == 0) {
            return NotFound("agent '" + std::string(agent_id) + "' not found");
        }
        return OkStatus();
    }

    Status InsertNotifications(std::span<const NotificationRecord> rows) override {
        for (const auto& n : rows) {
            CONTEX_ASSIGN_OR_RETURN(
                auto s,
                c_.Prepare("INSERT INTO agent_notifications (message_id, agent_id, project_id, "
                           "sequence, type, payload, created_at, delivery_status, attempts, "
                           "next_attempt_at, locked_until, last_status_code, last_error, "
                           "delivered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                           "?12, ?13, ?14)"));
            s->Bind(1, n.message_id)
                .Bind(2, n.agent_id)
                .Bind(3, n.project_id.empty() ? project_ : n.project_id)
                .Bind(4, n.sequence)
                .Bind(5, n.type)
                .Bind(6, JsonText(n.payload))
                .Bind(7, FormatTime(Stamp(n.created_at)))
                .Bind(8, n.delivery_status)
                .Bind(9, n.attempts)
                .Bind(10, n.next_attempt_at)
                .Bind(11, n.locked_until)
                .Bind(12, n.last_status_code)
                .Bind(13, n.last_error)
                .Bind(14, n.delivered_at);
            auto st = s->Run();
            if (!st.ok()) {
                if (st.error().code == ErrorCode::kConflict) {
                    return Conflict("notification message_id '" + n.message_id +
                                    "' already exists");
                }
                if (st.error().code == ErrorCode::kNotFound) {
                    return NotFound("agent '" + n.agent_id + "' not found");
                }
                return st;
            }
        }
        return OkStatus();
    }

    Status UpdateAgentProgress(const AgentRecord& a) override {
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("UPDATE agent_registrations SET last_sequence = ?2, data_keys = ?3, "
                               "updated_at = ?4 WHERE agent_id = ?1"));
        s->Bind(1, a.agent_id)
            .Bind(2, std::to_string(a.last_sequence))
            .Bind(3, StringArrayJson(a.data_keys))
            .Bind(4, FormatTime(Stamp(a.updated_at)));
        CONTEX_TRY(s->Run());
        if (sqlite3_changes(c_.db()) == 0) {
            return NotFound("agent '" + a.agent_id + "' not found");
        }
        return OkStatus();
    }

    Status CancelPendingDeliveries(std::string_view agent_id) override {
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("UPDATE agent_notifications SET delivery_status = 'cancelled', "
                               "locked_until = NULL WHERE agent_id = ?1 AND delivery_status IN "
                               "('pending', 'delivering')"));
        s->Bind(1, agent_id);
        return s->Run();
    }

    Status DeleteProjectContent() override {
        for (const char* sql : {"DELETE FROM events WHERE project_id = ?1",
                                "DELETE FROM embeddings WHERE project_id = ?1",
                                "DELETE FROM data_keys WHERE project_id = ?1",
                                "DELETE FROM agent_registrations WHERE project_id = ?1"}) {
            CONTEX_ASSIGN_OR_RETURN(auto s, c_.Prepare(sql));
            s->Bind(1, project_);
            CONTEX_TRY(s->Run());
        }
        return OkStatus();
    }

    Status RaiseSequenceTo(int64_t sequence) override {
        CONTEX_TRY(EnsureProjectRow());
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("UPDATE projects SET last_sequence = max(last_sequence, ?2), "
                               "updated_at = ?3 WHERE project_id = ?1"));
        s->Bind(1, project_).Bind(2, sequence).Bind(3, FormatTime(clock_.Now()));
        return s->Run();
    }

    Status MarkProjectRebuilt() override {
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c_.Prepare("UPDATE projects SET rebuild_required = 0 WHERE project_id = ?1"));
        s->Bind(1, project_);
        return s->Run();
    }

  private:
    Connection& c_;
    std::string project_;
    const Clock& clock_;
};

class SqliteStorage final : public Storage {
  public:
    SqliteStorage(std::string path, StorageConfig config, obs::Logger& logger,
                  obs::MetricsRegistry& metrics, const Clock& clock)
        : path_(std::move(path)),
          config_(std::move(config)),
          logger_(logger),
          clock_(clock),
          query_duration_(metrics.AddHistogram("contex_db_query_duration_seconds",
                                               "Database statement latency", obs::buckets::kB3,
                                               {"operation"})),
          errors_(metrics.AddCounter("contex_errors_total", "Internal failures by component",
                                     {"component", "kind"})) {}

    ~SqliteStorage() override {
        {
            std::lock_guard lock(checkpoint_mutex_);
            stopping_ = true;
        }
        checkpoint_cv_.notify_all();
        if (checkpointer_.joinable()) checkpointer_.join();
    }

    Status Open() {
        obs::Logger* echo = config_.echo ? &logger_ : nullptr;
        CONTEX_ASSIGN_OR_RETURN(writer_, Connection::Open(path_, false, config_, echo));
        if (path_ != ":memory:") {
            for (int i = 0; i < std::max(1, config_.pool_size); ++i) {
                CONTEX_ASSIGN_OR_RETURN(auto r, Connection::Open(path_, true, config_, echo));
                idle_readers_.push_back(std::move(r));
            }
            CONTEX_ASSIGN_OR_RETURN(auto c, Connection::Open(path_, false, config_, echo));
            StartCheckpointer(std::move(c));
        }
        return OkStatus();
    }

    std::string_view backend() const override { return "sqlite"; }

    Status Migrate() override {
        std::lock_guard lock(writer_mutex_);
        auto& c = *writer_;
        CONTEX_TRY(c.ExecScript(
            "CREATE TABLE IF NOT EXISTS alembic_version (version_num TEXT NOT NULL PRIMARY KEY);"
            "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, description "
            "TEXT NOT NULL, applied_at TEXT NOT NULL);"));
        CONTEX_ASSIGN_OR_RETURN(std::string from, ReadVersion(c));
        if (!from.empty() && from > LatestSchemaVersion()) {
            return Conflict("database schema version " + from + " is newer than this binary (" +
                            std::string(LatestSchemaVersion()) + ")");
        }
        std::string current = from;
        for (const auto& m : AllMigrations()) {
            if (!current.empty() && m.version <= current) continue;
            CONTEX_TRY(c.ExecScript("BEGIN IMMEDIATE"));
            // Another process may have migrated while this one waited for the write lock.
            auto now_at = ReadVersion(c);
            if (!now_at.ok() || (!now_at->empty() && m.version <= *now_at)) {
                (void)c.ExecScript("ROLLBACK");
                if (!now_at.ok()) return std::move(now_at).error();
                current = *now_at;
                continue;
            }
            std::string script(m.sqlite_sql);
            script += "DELETE FROM alembic_version; INSERT INTO alembic_version VALUES ('" +
                      std::string(m.version) +
                      "'); INSERT OR REPLACE INTO schema_migrations VALUES ('" +
                      std::string(m.version) + "', '" + std::string(m.description) + "', '" +
                      FormatTime(clock_.Now()) + "');";
            auto st = c.ExecScript(script);
            if (!st.ok()) {
                (void)c.ExecScript("ROLLBACK");
                return st;
            }
            CONTEX_TRY(c.ExecScript("COMMIT"));
            current = std::string(m.version);
        }
        if (current != from) {
            logger_.Log(obs::LogLevel::kInfo, kLog, "Migrations applied",
                        {{"from", json::value(from.empty() ? "none" : from)},
                         {"to", json::value(current)},
                         {"backend", json::value("sqlite")}});
        }
        return OkStatus();
    }

    Result<std::string> SchemaVersion() override {
        std::lock_guard lock(writer_mutex_);
        auto exists = TableExists(*writer_, "alembic_version");
        if (!exists.ok()) return std::move(exists).error();
        if (!*exists) return std::string();
        return ReadVersion(*writer_);
    }

    Status WithProjectTransaction(std::string_view project_id,
                                  const std::function<Status(ProjectTransaction&)>& fn) override {
        if (project_id.empty()) return InvalidArgument("project_id must not be empty");
        auto start = clock_.Monotonic();
        std::lock_guard lock(writer_mutex_);
        auto& c = *writer_;
        auto st = c.ExecScript("BEGIN IMMEDIATE");
        if (!st.ok()) return CountError(std::move(st));
        SqliteTransaction txn(c, std::string(project_id), clock_);
        st = txn.EnsureProjectRow();
        if (st.ok()) st = fn(txn);
        if (st.ok()) {
            st = c.ExecScript("COMMIT");
            if (!st.ok()) (void)c.ExecScript("ROLLBACK");
        } else {
            (void)c.ExecScript("ROLLBACK");
        }
        Observe("project_transaction", start);
        return st;
    }

    Result<int64_t> CurrentSequence(std::string_view project_id) override {
        return Read<int64_t>("current_sequence", [&](Connection& c) -> Result<int64_t> {
            CONTEX_ASSIGN_OR_RETURN(
                auto s, c.Prepare("SELECT last_sequence FROM projects WHERE project_id = ?1"));
            s->Bind(1, project_id);
            CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
            return row ? s->Int(0) : int64_t{0};
        });
    }

    Result<std::vector<EventRecord>> ListEvents(std::string_view project_id, int64_t after,
                                                int limit, std::optional<std::string> data_key,
                                                std::optional<std::string> event_type) override {
        if (limit < 1) return InvalidArgument("limit must be at least 1");
        return Read<std::vector<EventRecord>>(
            "list_events", [&](Connection& c) -> Result<std::vector<EventRecord>> {
                static const std::string sql =
                    Sql({"SELECT ", kEventCols,
                         " FROM events WHERE project_id = ?1 AND sequence > ?2 AND (?3 IS NULL OR "
                         "data_key = ?3) AND (?4 IS NULL OR event_type = ?4) ORDER BY sequence "
                         "LIMIT ?5"});
                CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare(sql.c_str()));
                s->Bind(1, project_id).Bind(2, after).Bind(3, data_key).Bind(4, event_type);
                s->Bind(5, limit);
                return CollectRows<EventRecord>(*s, ReadEvent);
            });
    }

    Result<std::vector<std::string>> ListProjects() override {
        return Read<std::vector<std::string>>(
            "list_projects", [&](Connection& c) -> Result<std::vector<std::string>> {
                CONTEX_ASSIGN_OR_RETURN(
                    auto s, c.Prepare("SELECT project_id FROM projects ORDER BY project_id"));
                return CollectRows<std::string>(*s, [](const Stmt& r) { return r.Text(0); });
            });
    }

    Result<std::vector<std::string>> ListProjectsNeedingRebuild() override {
        return Read<std::vector<std::string>>(
            "list_projects", [&](Connection& c) -> Result<std::vector<std::string>> {
                CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare("SELECT project_id FROM projects WHERE "
                                                          "rebuild_required <> 0 ORDER BY "
                                                          "project_id"));
                return CollectRows<std::string>(*s, [](const Stmt& r) { return r.Text(0); });
            });
    }

    Result<std::optional<DataKeyRecord>> GetDataKey(std::string_view project_id,
                                                    std::string_view data_key) override {
        return Read<std::optional<DataKeyRecord>>(
            "get_data_key", [&](Connection& c) -> Result<std::optional<DataKeyRecord>> {
                static const std::string sql =
                    Sql({"SELECT ", kDataKeyCols,
                         " FROM data_keys WHERE project_id = ?1 AND data_key = ?2"});
                CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare(sql.c_str()));
                s->Bind(1, project_id).Bind(2, data_key);
                CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
                if (!row) return std::optional<DataKeyRecord>();
                CONTEX_ASSIGN_OR_RETURN(DataKeyRecord d, ReadDataKey(*s));
                return std::optional<DataKeyRecord>(std::move(d));
            });
    }

    Result<std::vector<DataKeyRecord>> ListDataKeys(std::string_view project_id) override {
        return Read<std::vector<DataKeyRecord>>(
            "list_data_keys", [&](Connection& c) -> Result<std::vector<DataKeyRecord>> {
                static const std::string sql =
                    Sql({"SELECT ", kDataKeyCols,
                         " FROM data_keys WHERE project_id = ?1 ORDER BY data_key"});
                CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare(sql.c_str()));
                s->Bind(1, project_id);
                return CollectRows<DataKeyRecord>(*s, ReadDataKey);
            });
    }

    Result<std::vector<NodeRecord>> ListNodes(std::string_view project_id,
                                              std::optional<std::string> data_key,
                                              bool with_vectors) override {
        return Read<std::vector<NodeRecord>>(
            "list_nodes", [&](Connection& c) -> Result<std::vector<NodeRecord>> {
                static const std::string sql_vec =
                    Sql({"SELECT ", kNodeColsVec,
                         " FROM embeddings WHERE project_id = ?1 AND (?2 IS NULL OR data_key = "
                         "?2) ORDER BY data_key, node_index, node_key"});
                static const std::string sql_novec =
                    Sql({"SELECT ", kNodeColsNoVec,
                         " FROM embeddings WHERE project_id = ?1 AND (?2 IS NULL OR data_key = "
                         "?2) ORDER BY data_key, node_index, node_key"});
                CONTEX_ASSIGN_OR_RETURN(
                    auto s, c.Prepare(with_vectors ? sql_vec.c_str() : sql_novec.c_str()));
                s->Bind(1, project_id).Bind(2, data_key);
                return CollectRows<NodeRecord>(*s, ReadNode);
            });
    }

    Status StreamNodes(std::optional<std::string> project_id,
                       const std::function<void(NodeRecord&&)>& sink) override {
        auto r = Read<bool>("stream_nodes", [&](Connection& c) -> Result<bool> {
            static const std::string sql =
                Sql({"SELECT ", kNodeColsVec,
                     " FROM embeddings WHERE (?1 IS NULL OR project_id = ?1)"});
            CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare(sql.c_str()));
            s->Bind(1, project_id);
            while (true) {
                CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
                if (!row) break;
                CONTEX_ASSIGN_OR_RETURN(NodeRecord n, ReadNode(*s));
                sink(std::move(n));
            }
            return true;
        });
        if (!r.ok()) return std::move(r).error();
        return OkStatus();
    }

    Result<std::optional<AgentRecord>> GetAgent(std::string_view agent_id) override {
        return Read<std::optional<AgentRecord>>(
            "get_agent", [&](Connection& c) -> Result<std::optional<AgentRecord>> {
                static const std::string sql =
                    Sql({"SELECT ", kAgentCols, " FROM agent_registrations WHERE agent_id = ?1"});
                CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare(sql.c_str()));
                s->Bind(1, agent_id);
                CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
                if (!row) return std::optional<AgentRecord>();
                CONTEX_ASSIGN_OR_RETURN(AgentRecord a, ReadAgent(*s));
                return std::optional<AgentRecord>(std::move(a));
            });
    }

    Result<std::vector<AgentRecord>> ListAgents(std::optional<std::string> project_id) override {
        return Read<std::vector<AgentRecord>>(
            "list_agents", [&](Connection& c) -> Result<std::vector<AgentRecord>> {
                static const std::string sql =
                    Sql({"SELECT ", kAgentCols,
                         " FROM agent_registrations WHERE (?1 IS NULL OR project_id = ?1) ORDER "
                         "BY agent_id"});
                CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare(sql.c_str()));
                s->Bind(1, project_id);
                return CollectRows<AgentRecord>(*s, ReadAgent);
            });
    }

    Result<AgentsStamp> GetAgentsStamp(std::string_view project_id) override {
        return Read<AgentsStamp>("agents_stamp", [&](Connection& c) -> Result<AgentsStamp> {
            CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare("SELECT count(*), max(updated_at) FROM "
                                                      "agent_registrations WHERE project_id = ?1"));
            s->Bind(1, project_id);
            AgentsStamp stamp;
            CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
            if (row) {
                stamp.count = s->Int(0);
                CONTEX_ASSIGN_OR_RETURN(stamp.latest_update, s->OptTime(1));
            }
            return stamp;
        });
    }

    Result<std::vector<AgentNeedRecord>> ListNeeds(std::string_view project_id) override {
        return Read<std::vector<AgentNeedRecord>>(
            "list_needs", [&](Connection& c) -> Result<std::vector<AgentNeedRecord>> {
                CONTEX_ASSIGN_OR_RETURN(
                    auto s,
                    c.Prepare("SELECT n.agent_id, n.need_index, n.need, n.embedding, n.model_id "
                              "FROM agent_needs n JOIN agent_registrations a ON a.agent_id = "
                              "n.agent_id WHERE a.project_id = ?1 ORDER BY n.agent_id, "
                              "n.need_index"));
                s->Bind(1, project_id);
                return CollectRows<AgentNeedRecord>(*s, ReadNeed);
            });
    }

    Result<std::vector<AgentMatchRecord>> ListMatches(std::string_view project_id) override {
        return SelectMatches("list_matches",
                             "project_id = ?1 ORDER BY agent_id, need_index, node_key",
                             project_id);
    }

    Result<std::vector<AgentMatchRecord>> ListAgentMatches(std::string_view agent_id) override {
        return SelectMatches("list_agent_matches", "agent_id = ?1 ORDER BY need_index, node_key",
                             agent_id);
    }

    // agent_matches rows WHERE `condition` (which binds ?1 to `key`).
    Result<std::vector<AgentMatchRecord>> SelectMatches(const char* operation,
                                                        const char* condition,
                                                        std::string_view key) {
        return Read<std::vector<AgentMatchRecord>>(
            operation, [&](Connection& c) -> Result<std::vector<AgentMatchRecord>> {
                const std::string sql = Sql({"SELECT agent_id, project_id, need_index, node_key, "
                                             "data_key, similarity, keyword_score FROM "
                                             "agent_matches WHERE ",
                                             condition});
                CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare(sql.c_str()));
                s->Bind(1, key);
                return CollectRows<AgentMatchRecord>(*s, ReadMatch);
            });
    }

    Result<std::vector<NotificationRecord>> ListNotifications(std::string_view agent_id,
                                                              int64_t after_sequence,
                                                              int limit) override {
        if (limit < 1) return InvalidArgument("limit must be at least 1");
        return Read<std::vector<NotificationRecord>>(
            "list_notifications", [&](Connection& c) -> Result<std::vector<NotificationRecord>> {
                static const std::string sql =
                    Sql({"SELECT ", kNotificationCols,
                         " FROM agent_notifications WHERE agent_id = ?1 AND sequence > ?2 ORDER "
                         "BY sequence, id LIMIT ?3"});
                CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare(sql.c_str()));
                s->Bind(1, agent_id).Bind(2, after_sequence).Bind(3, limit);
                return CollectRows<NotificationRecord>(*s, ReadNotification);
            });
    }

    Result<DeliverySummary> GetDeliverySummary(std::string_view agent_id, int recent) override {
        if (recent < 0) return InvalidArgument("recent must not be negative");
        return Read<DeliverySummary>(
            "delivery_summary", [&](Connection& c) -> Result<DeliverySummary> {
                DeliverySummary summary;
                CONTEX_ASSIGN_OR_RETURN(
                    auto counts,
                    c.Prepare("SELECT count(*) FILTER (WHERE delivery_status IN ('pending', "
                              "'delivering')), count(*) FILTER (WHERE delivery_status = "
                              "'failed') FROM agent_notifications WHERE agent_id = ?1"));
                counts->Bind(1, agent_id);
                CONTEX_ASSIGN_OR_RETURN(bool row, counts->Step());
                if (row) {
                    summary.pending = counts->Int(0);
                    summary.failed = counts->Int(1);
                }
                static const std::string sql =
                    Sql({"SELECT ", kNotificationCols,
                         " FROM agent_notifications WHERE agent_id = ?1 AND delivery_status IS "
                         "NOT NULL ORDER BY sequence DESC, id DESC LIMIT ?2"});
                CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare(sql.c_str()));
                s->Bind(1, agent_id).Bind(2, recent);
                CONTEX_ASSIGN_OR_RETURN(summary.recent,
                                        CollectRows<NotificationRecord>(*s, ReadNotification));
                return summary;
            });
    }

    Status TouchAgent(std::string_view agent_id, TimePoint last_seen) override {
        return Write("touch_agent", [&](Connection& c) -> Status {
            CONTEX_ASSIGN_OR_RETURN(
                auto s,
                c.Prepare("UPDATE agent_registrations SET last_seen = ?2 WHERE agent_id = ?1"));
            s->Bind(1, agent_id).Bind(2, FormatTime(last_seen));
            CONTEX_TRY(s->Run());
            if (sqlite3_changes(c.db()) == 0) {
                return NotFound("agent '" + std::string(agent_id) + "' not found");
            }
            return OkStatus();
        });
    }

    Result<std::vector<NotificationRecord>> ClaimDueDeliveries(TimePoint now, int limit,
                                                               TimePoint lease_until) override {
        if (limit < 1) return InvalidArgument("limit must be at least 1");
        std::vector<NotificationRecord> out;
        auto st = Write("claim_deliveries", [&](Connection& c) -> Status {
            CONTEX_TRY(c.ExecScript("BEGIN IMMEDIATE"));
            auto body = [&]() -> Status {
                static const std::string sql =
                    // Three index probes (the partial indexes on pending and leased rows),
                    // not one OR over the whole table: the poller runs this twice a second.
                    Sql({"UPDATE agent_notifications SET delivery_status = 'delivering', "
                         "locked_until = ?3 WHERE id IN (SELECT id FROM ("
                         "SELECT * FROM (SELECT id, next_attempt_at AS due FROM "
                         "agent_notifications WHERE delivery_status = 'pending' AND "
                         "next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2) "
                         "UNION ALL SELECT * FROM (SELECT id, created_at AS due FROM "
                         "agent_notifications WHERE delivery_status = 'pending' AND "
                         "next_attempt_at IS NULL ORDER BY id LIMIT ?2) "
                         "UNION ALL SELECT * FROM (SELECT id, coalesce(next_attempt_at, "
                         "created_at) AS due FROM agent_notifications WHERE delivery_status = "
                         "'delivering' AND locked_until <= ?1 ORDER BY locked_until, id LIMIT ?2)"
                         ") ORDER BY due, id LIMIT ?2) RETURNING ",
                         kNotificationCols});
                CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare(sql.c_str()));
                s->Bind(1, FormatTime(now)).Bind(2, limit).Bind(3, FormatTime(lease_until));
                CONTEX_ASSIGN_OR_RETURN(out, CollectRows<NotificationRecord>(*s, ReadNotification));
                return OkStatus();
            };
            auto inner = body();
            if (!inner.ok()) {
                (void)c.ExecScript("ROLLBACK");
                return inner;
            }
            return c.ExecScript("COMMIT");
        });
        if (!st.ok()) return std::move(st).error();
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            auto ka = a.next_attempt_at.value_or(a.created_at);
            auto kb = b.next_attempt_at.value_or(b.created_at);
            return ka < kb;
        });
        return out;
    }

    Status UpdateDelivery(const NotificationRecord& r) override {
        return Write("update_delivery", [&](Connection& c) -> Status {
            CONTEX_ASSIGN_OR_RETURN(
                auto s, c.Prepare("UPDATE agent_notifications SET delivery_status = ?2, attempts "
                                  "= ?3, next_attempt_at = ?4, locked_until = ?5, delivered_at = "
                                  "?6, last_status_code = ?7, last_error = ?8 WHERE message_id = "
                                  "?1"));
            s->Bind(1, r.message_id)
                .Bind(2, r.delivery_status)
                .Bind(3, r.attempts)
                .Bind(4, r.next_attempt_at)
                .Bind(5, r.locked_until)
                .Bind(6, r.delivered_at)
                .Bind(7, r.last_status_code)
                .Bind(8, r.last_error);
            CONTEX_TRY(s->Run());
            if (sqlite3_changes(c.db()) == 0) {
                return NotFound("notification '" + r.message_id + "' not found");
            }
            return OkStatus();
        });
    }

    Result<int64_t> ReleaseDeliveryLeases() override {
        int64_t released = 0;
        auto st = Write("release_delivery_leases", [&](Connection& c) -> Status {
            CONTEX_ASSIGN_OR_RETURN(
                auto s, c.Prepare("UPDATE agent_notifications SET delivery_status = 'pending', "
                                  "locked_until = NULL WHERE delivery_status = 'delivering'"));
            CONTEX_TRY(s->Run());
            released = sqlite3_changes(c.db());
            return OkStatus();
        });
        if (!st.ok()) return std::move(st).error();
        return released;
    }

    Result<int64_t> CountPendingDeliveries() override {
        return Read<int64_t>("count_pending_deliveries", [&](Connection& c) -> Result<int64_t> {
            CONTEX_ASSIGN_OR_RETURN(
                auto s, c.Prepare("SELECT " PENDING_DELIVERIES_COUNT));
            CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
            return row ? s->Int(0) : 0;
        });
    }

    Result<RowCounts> CountRows() override {
        return Read<RowCounts>("count_rows", [&](Connection& c) -> Result<RowCounts> {
            CONTEX_ASSIGN_OR_RETURN(
                auto s, c.Prepare("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM "
                                  "embeddings), " PENDING_DELIVERIES_COUNT));
            CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
            RowCounts counts;
            if (row) {
                counts.events = s->Int(0);
                counts.embeddings = s->Int(1);
                counts.pending_deliveries = s->Int(2);
            }
            return counts;
        });
    }

    Result<int64_t> PruneNotifications(TimePoint older_than, int max_per_agent) override {
        if (max_per_agent < 0) return InvalidArgument("max_per_agent must not be negative");
        int64_t deleted = 0;
        auto st = Write("prune_notifications", [&](Connection& c) -> Status {
            CONTEX_ASSIGN_OR_RETURN(
                auto s,
                c.Prepare("DELETE FROM agent_notifications WHERE (delivery_status IS NULL OR "
                          "delivery_status NOT IN ('pending', 'delivering')) AND (created_at < ?1 "
                          "OR id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY "
                          "agent_id ORDER BY sequence DESC, id DESC) AS rn FROM "
                          "agent_notifications) WHERE rn > ?2))"));
            s->Bind(1, FormatTime(older_than)).Bind(2, max_per_agent);
            CONTEX_TRY(s->Run());
            deleted = sqlite3_changes(c.db());
            return OkStatus();
        });
        if (!st.ok()) return std::move(st).error();
        return deleted;
    }

    Status Notify(const ChangeNotice& notice) override {
        std::function<void(const ChangeNotice&)> listener;
        {
            std::lock_guard lock(listener_mutex_);
            listener = listener_;
        }
        if (listener) listener(notice);
        return OkStatus();
    }

    void SetChangeListener(std::function<void(const ChangeNotice&)> listener) override {
        std::lock_guard lock(listener_mutex_);
        listener_ = std::move(listener);
    }

    obs::ComponentHealth CheckHealth() override {
        obs::ComponentHealth h;
        auto start = std::chrono::steady_clock::now();
        auto r = Read<int64_t>("health", [&](Connection& c) -> Result<int64_t> {
            CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare("SELECT 1"));
            CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
            return row ? s->Int(0) : int64_t{0};
        });
        double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
        h.details["path"] = path_;
        h.details["latency_ms"] = ms;
        if (!r.ok()) {
            h.status = obs::HealthStatus::kUnhealthy;
            h.message = "SQLite query failed: " + r.error().message;
            return h;
        }
        std::error_code ec;
        int64_t size = 0;
        if (path_ != ":memory:") {
            auto sz = std::filesystem::file_size(path_, ec);
            if (!ec) size = static_cast<int64_t>(sz);
        }
        h.details["size_bytes"] = size;
        int64_t free_bytes = -1;
        struct statvfs vfs {};
        std::string dir = path_ == ":memory:"
                              ? std::string(".")
                              : std::filesystem::absolute(path_, ec).parent_path().string();
        if (statvfs(dir.c_str(), &vfs) == 0) {
            free_bytes = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
        }
        h.details["free_disk_bytes"] = free_bytes;
        if (ms >= 100) {
            h.status = obs::HealthStatus::kDegraded;
            char buf[64];
            std::snprintf(buf, sizeof buf, "High SQLite latency: %.2fms", ms);
            h.message = buf;
        } else if (free_bytes >= 0 && free_bytes < 512LL * 1024 * 1024) {
            h.status = obs::HealthStatus::kDegraded;
            h.message = "Low free disk space for SQLite database";
        } else {
            h.message = "SQLite is healthy";
        }
        return h;
    }

  private:
    static Result<bool> TableExists(Connection& c, const char* name) {
        CONTEX_ASSIGN_OR_RETURN(
            auto s, c.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1"));
        s->Bind(1, name);
        return s->Step();
    }
    static Result<std::string> ReadVersion(Connection& c) {
        CONTEX_ASSIGN_OR_RETURN(auto s, c.Prepare("SELECT max(version_num) FROM alembic_version"));
        CONTEX_ASSIGN_OR_RETURN(bool row, s->Step());
        if (!row || s->IsNull(0)) return std::string();
        return s->Text(0);
    }

    void Observe(const char* op, Clock::MonoTime start) {
        query_duration_.WithLabels({op}).Observe(
            std::chrono::duration<double>(clock_.Monotonic() - start).count());
    }

    template <typename E>
    E CountError(E e) {
        if (!e.ok()) {
            auto code = e.error().code;
            if (code == ErrorCode::kUnavailable) {
                errors_.WithLabels({"db", "unavailable"}).Inc();
            } else if (code == ErrorCode::kTimeout) {
                errors_.WithLabels({"db", "timeout"}).Inc();
            } else if (code == ErrorCode::kInternal) {
                errors_.WithLabels({"db", "exception"}).Inc();
            }
        }
        return e;
    }

    // Runs fn on a reader connection (the writer for ":memory:").
    template <typename T, typename Fn>
    Result<T> Read(const char* op, Fn&& fn) {
        auto start = clock_.Monotonic();
        if (path_ == ":memory:") {
            std::lock_guard lock(writer_mutex_);
            auto r = fn(*writer_);
            Observe(op, start);
            return CountError(std::move(r));
        }
        std::unique_ptr<Connection> c;
        {
            std::unique_lock lock(readers_mutex_);
            readers_cv_.wait(lock, [&] { return !idle_readers_.empty(); });
            c = std::move(idle_readers_.front());
            idle_readers_.pop_front();
        }
        auto r = fn(*c);
        {
            std::lock_guard lock(readers_mutex_);
            idle_readers_.push_back(std::move(c));
        }
        readers_cv_.notify_one();
        Observe(op, start);
        return CountError(std::move(r));
    }

    template <typename Fn>
    Status Write(const char* op, Fn&& fn) {
        auto start = clock_.Monotonic();
        std::lock_guard lock(writer_mutex_);
        auto r = fn(*writer_);
        Observe(op, start);
        return CountError(std::move(r));
    }

    std::string path_;
    StorageConfig config_;
    obs::Logger& logger_;
    const Clock& clock_;
    obs::Family<obs::Histogram>& query_duration_;
    obs::Family<obs::Counter>& errors_;

    std::mutex writer_mutex_;
    std::unique_ptr<Connection> writer_;  // guarded by writer_mutex_

    std::mutex readers_mutex_;
    std::condition_variable readers_cv_;
    std::deque<std::unique_ptr<Connection>> idle_readers_;  // guarded by readers_mutex_

    std::mutex listener_mutex_;
    std::function<void(const ChangeNotice&)> listener_;  // guarded by listener_mutex_

    // WAL checkpoints run on their own thread and connection, off the request path: the
    // writer's automatic checkpoint made every ~12th publish that queued many
    // notifications pay for copying the WAL back (7% of publish time in a profile).
    // PASSIVE checkpoints never block the writer or readers.
    static constexpr int kCheckpointPages = 1000;
    static int OnWalCommit(void* self, sqlite3*, const char*, int wal_pages) {
        if (wal_pages >= kCheckpointPages) {
            auto* storage = static_cast<SqliteStorage*>(self);
            {
                std::lock_guard lock(storage->checkpoint_mutex_);
                storage->checkpoint_due_ = true;
            }
            storage->checkpoint_cv_.notify_one();
        }
        return SQLITE_OK;
    }
    void StartCheckpointer(std::unique_ptr<Connection> connection) {
        // Replaces the writer's automatic checkpoint (itself a WAL hook).
        sqlite3_wal_hook(writer_->db(), &SqliteStorage::OnWalCommit, this);
        checkpointer_ = std::thread([this, c = std::move(connection)] {
            std::unique_lock lock(checkpoint_mutex_);
            while (!stopping_) {
                checkpoint_cv_.wait_for(lock, std::chrono::seconds(1),
                                        [this] { return stopping_ || checkpoint_due_; });
                if (stopping_) break;
                checkpoint_due_ = false;
                lock.unlock();
                sqlite3_wal_checkpoint_v2(c->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                          nullptr);
                lock.lock();
            }
        });
    }
    std::mutex checkpoint_mutex_;
    std::condition_variable checkpoint_cv_;
    bool checkpoint_due_ = false;  // guarded by checkpoint_mutex_
    bool stopping_ = false;        // guarded by checkpoint_mutex_
    std::thread checkpointer_;
};

}  // namespace

Result<std::unique_ptr<Storage>> OpenSqliteStorage(const std::string& path,
                                                   const StorageConfig& config, obs::Logger& logger,
                                                   obs::MetricsRegistry& metrics,
                                                   const Clock& clock) {
    if (path != ":memory:") {
        std::error_code ec;
        auto parent = std::filesystem::path(path).parent_path();
        if (!parent.empty()) std::filesystem::create_directories(parent, ec);
        if (ec) {
            return Unavailable("Database unavailable: cannot create directory " + parent.string() +
                               ": " + ec.message());
        }
    }
    auto s = std::make_unique<SqliteStorage>(path, config, logger, metrics, clock);
    CONTEX_TRY(s->Open());
    logger.Log(obs::LogLevel::kInfo, kLog, "SQLite database opened",
               {{"path", json::value(path)},
                {"readers", json::value(path == ":memory:" ? 0 : std::max(1, config.pool_size))},
                {"synchronous", json::value(config.sqlite_synchronous)}});
    return std::unique_ptr<Storage>(std::move(s));
}

}  // namespace contex::storage
