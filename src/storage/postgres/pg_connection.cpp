#include "storage/postgres/pg_connection.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace contex::storage::pg {

Params& Params::Real(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return Add(buf);
}

PgResult& PgResult::operator=(PgResult&& o) noexcept {
    if (this != &o) {
        if (r_) PQclear(r_);
        r_ = o.r_;
        o.r_ = nullptr;
    }
    return *this;
}

PgResult::~PgResult() {
    if (r_) PQclear(r_);
}

int PgResult::rows() const { return r_ ? PQntuples(r_) : 0; }
bool PgResult::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string_view PgResult::Text(int row, int col) const {
    return {PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col))};
}
std::optional<std::string> PgResult::OptStr(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return Str(row, col);
}
int64_t PgResult::Int(int row, int col) const {
    auto t = Text(row, col);
    int64_t v = 0;
    std::from_chars(t.data(), t.data() + t.size(), v);
    return v;
}
double PgResult::Double(int row, int col) const {
    return std::strtod(PQgetvalue(r_, row, col), nullptr);
}
std::string PgResult::Bytes(int row, int col) const { return DecodeByteaHex(Text(row, col)); }
int32_t PgResult::BinaryInt32(int row, int col) const {
    auto t = Text(row, col);
    if (t.size() != 4) return 0;
    auto b = reinterpret_cast<const unsigned char*>(t.data());
    return static_cast<int32_t>((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) |
                                (uint32_t{b[2]} << 8) | uint32_t{b[3]});
}

int64_t PgResult::affected() const {
    const char* n = r_ ? PQcmdTuples(r_) : "";
    return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

namespace {
int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
}
}  // namespace

std::string DecodeByteaHex(std::string_view text) {
    if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') {
        std::string out((text.size() - 2) / 2, '\0');
        const char* p = text.data() + 2;
        for (size_t i = 0; i < out.size(); ++i) {
            out[i] = static_cast<char>((HexValue(p[2 * i]) << 4) | HexValue(p[2 * i + 1]));
        }
        return out;
    }
    return std::string(text);  // escape format is never produced (bytea_output = hex)
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& uri,
                                                            const ConnectOptions& options) {
    std::string timeout = std::to_string(std::max<int64_t>(1, options.connect_timeout.count()));
    std::string pg_options = "-c timezone=UTC -c bytea_output=hex -c statement_timeout=" +
                             std::to_string(options.statement_timeout.count());
    const char* keys[] = {"dbname", "application_name", "connect_timeout", "options", nullptr};
    const char* values[] = {uri.c_str(), options.application_name.c_str(), timeout.c_str(),
                            pg_options.c_str(), nullptr};
    std::unique_ptr<PgConnection> c(new PgConnection());
    c->conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (c->conn_ == nullptr) return Unavailable("Database unavailable: out of memory");
    if (PQstatus(c->conn_) != CONNECTION_OK) {
        std::string msg = PQerrorMessage(c->conn_);
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        return Unavailable("Database unavailable: " + msg);
    }
    // Server NOTICEs (e.g. "already exists, skipping" from idempotent DDL) would go to
    // stderr, which is not the JSON log; they carry nothing operators need.
    PQsetNoticeProcessor(
        c->conn_, [](void*, const char*) {}, nullptr);
    c->created_at_ = std::chrono::steady_clock::now();
    return c;
}

PgConnection::~PgConnection() {
    if (conn_) PQfinish(conn_);
}

bool PgConnection::broken() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }

Error PgConnection::Translate(pg_result* r, std::string_view what) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    last_sqlstate_ = state ? state : "";
    std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    if (broken() || last_sqlstate_.empty() || last_sqlstate_.starts_with("08") ||
        last_sqlstate_.starts_with("53") || last_sqlstate_ == "57P01" ||
        last_sqlstate_ == "57P02" || last_sqlstate_ == "57P03") {
        if (last_sqlstate_.empty() && !broken() && r != nullptr) {
            return Internal(std::string(what) + ": " + msg);
        }
        return Unavailable("Database unavailable: " + msg);
    }
    std::string full = std::string(what) + ": " + msg;
    if (last_sqlstate_ == "23505") return Conflict(full);
    if (last_sqlstate_ == "23503") return NotFound(full);
    if (last_sqlstate_.starts_with("23") || last_sqlstate_.starts_with("22")) {
        return InvalidArgument(full);
    }
    if (last_sqlstate_ == "57014") return Timeout("Database statement timeout: " + msg);
    if (last_sqlstate_ == "40001" || last_sqlstate_ == "40P01") return Conflict(full);
    if (last_sqlstate_ == "55P03") return Unavailable("Database busy: " + msg);
    return Internal(full);
}

Result<PgResult> PgConnection::Exec(const char* op, const char* sql, const Params& params) {
    return Run(op, sql, params, 0);
}

Result<PgResult> PgConnection::ExecBinary(const char* op, const char* sql, const Params& params) {
    return Run(op, sql, params, 1);
}

Result<PgResult> PgConnection::Run(const char* op, const char* sql, const Params& params,
                                   int result_format) {
    if (echo_) {
        echo_->Log(obs::LogLevel::kDebug, "contex.db", "SQL statement",
                   {{"operation", json::value(op)}, {"sql", json::value(sql)}});
    }
    auto start = std::chrono::steady_clock::now();
    const auto& items = params.items();
    std::vector<const char*> values(items.size());
    std::vector<int> lengths(items.size());
    std::vector<int> formats(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        values[i] = items[i].value ? items[i].value->data() : nullptr;
        lengths[i] = items[i].value ? static_cast<int>(items[i].value->size()) : 0;
        formats[i] = items[i].binary ? 1 : 0;
    }
    PgResult res(PQexecParams(conn_, sql, static_cast<int>(items.size()), nullptr, values.data(),
                              lengths.data(), formats.data(), result_format));
    if (histogram_) {
        histogram_->WithLabels({op}).Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    pg_result* raw = res.get();
    auto status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        last_sqlstate_.clear();
        return res;
    }
    return Translate(raw, op);
}

Status PgConnection::ExecScript(const char* op, const std::string& sql) {
    if (echo_) {
        echo_->Log(obs::LogLevel::kDebug, "contex.db", "SQL statement",
                   {{"operation", json::value(op)}, {"sql", json::value(sql)}});
    }
    auto start = std::chrono::steady_clock::now();
    PgResult res(PQexec(conn_, sql.c_str()));
    if (histogram_) {
        histogram_->WithLabels({op}).Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    pg_result* raw = res.get();
    auto status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        last_sqlstate_.clear();
        return OkStatus();
    }
    return Translate(raw, op);
}

}  // namespace contex::storage::pg
