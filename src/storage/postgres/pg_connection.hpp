// Small RAII layer over libpq: one connection, results, parameters, error translation.
// Internal to the storage module. Not thread-safe: a connection is used by one thread at
// a time (the pool hands it out exclusively).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

struct pg_conn;
struct pg_result;

namespace contex::obs {
class Histogram;
class Logger;
template <typename M>
class Family;
}  // namespace contex::obs

namespace contex::storage::pg {

struct Param {
    std::optional<std::string> value;  // nullopt = NULL
    bool binary = false;               // BYTEA payloads travel in binary format
};

// Positional parameters ($1, $2, ...) built fluently.
class Params {
  public:
    Params& Text(std::string_view v) { return Add(std::string(v)); }
    Params& Int(int64_t v) { return Add(std::to_string(v)); }
    Params& Bool(bool v) { return Add(v ? "true" : "false"); }
    Params& Real(double v);
    Params& OptText(const std::optional<std::string>& v) {
        params_.push_back({v, false});
        return *this;
    }
    Params& Null() {
        params_.push_back({std::nullopt, false});
        return *this;
    }
    Params& Bytes(std::string v) {
        params_.push_back({std::move(v), true});
        return *this;
    }
    const std::vector<Param>& items() const { return params_; }

  private:
    Params& Add(std::string v) {
        params_.push_back({std::move(v), false});
        return *this;
    }
    std::vector<Param> params_;
};

// Owns a PGresult. Cells are read as text (the text result format).
class PgResult {
  public:
    PgResult() = default;
    explicit PgResult(pg_result* r) : r_(r) {}
    PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
    PgResult& operator=(PgResult&& o) noexcept;
    PgResult(const PgResult&) = delete;
    PgResult& operator=(const PgResult&) = delete;
    ~PgResult();

    int rows() const;
    bool IsNull(int row, int col) const;
    std::string_view Text(int row, int col) const;
    std::string Str(int row, int col) const { return std::string(Text(row, col)); }
    std::optional<std::string> OptStr(int row, int col) const;
    int64_t Int(int row, int col) const;
    double Double(int row, int col) const;
    bool Bool(int row, int col) const { return Text(row, col) == "t"; }
    // BYTEA in text format ("\x..." hex) decoded to raw bytes.
    std::string Bytes(int row, int col) const;
    // Binary-format cells: a 4-byte big-endian integer.
    int32_t BinaryInt32(int row, int col) const;
    int64_t affected() const;  // rows changed by INSERT/UPDATE/DELETE
    pg_result* get() const { return r_; }

  private:
    pg_result* r_ = nullptr;
};

struct ConnectOptions {
    std::string application_name = "contex";
    std::chrono::seconds connect_timeout{10};
    std::chrono::milliseconds statement_timeout{30000};
};

class PgConnection {
  public:
    // kUnavailable "Database unavailable: ..." when the server cannot be reached.
    static Result<std::unique_ptr<PgConnection>> Connect(const std::string& uri,
                                                         const ConnectOptions& options);
    ~PgConnection();
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    // Runs one statement. `op` names it for the duration histogram. Errors are translated:
    // 23505 -> kConflict, 23503 -> kNotFound, other 22/23 -> kInvalidArgument,
    // 57014 -> kTimeout, lost connection / 08 / 57P0x / 53 -> kUnavailable
    // ("Database unavailable"), 40001/40P01 -> kConflict (retryable(), see below).
    Result<PgResult> Exec(const char* op, const char* sql, const Params& params = {});
    // Same, with every result column in binary format (raw bytes for text and bytea,
    // network-order integers).
    Result<PgResult> ExecBinary(const char* op, const char* sql, const Params& params = {});
    // Runs a multi-statement script without parameters.
    Status ExecScript(const char* op, const std::string& sql);

    // True when libpq reports the connection as lost.
    bool broken() const;
    // SQLSTATE of the last failed statement ("" when it succeeded).
    const std::string& last_sqlstate() const { return last_sqlstate_; }
    // True when the last failure was a serialization failure or deadlock.
    bool retryable() const { return last_sqlstate_ == "40001" || last_sqlstate_ == "40P01"; }

    pg_conn* raw() { return conn_; }
    std::chrono::steady_clock::time_point created_at() const { return created_at_; }

    // Latency sink (the pool sets it); nullptr = none.
    void set_histogram(obs::Family<obs::Histogram>* h) { histogram_ = h; }
    // DATABASE_ECHO: log every statement at DEBUG on this logger; nullptr = off.
    void set_echo(obs::Logger* logger) { echo_ = logger; }

  private:
    PgConnection() = default;
    Error Translate(pg_result* r, std::string_view what);
    Result<PgResult> Run(const char* op, const char* sql, const Params& params, int result_format);

    pg_conn* conn_ = nullptr;
    std::chrono::steady_clock::time_point created_at_{};
    std::string last_sqlstate_;
    obs::Family<obs::Histogram>* histogram_ = nullptr;
    obs::Logger* echo_ = nullptr;
};

// Hex-encodes bytes for diagnostics and decodes PostgreSQL "\x..." text.
std::string DecodeByteaHex(std::string_view text);

}  // namespace contex::storage::pg
