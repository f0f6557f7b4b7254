// Test helpers shared by the storage test executables (not part of the library).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "storage/postgres/pg_connection.hpp"
#include "storage/storage.hpp"

namespace contex::storage::testing {

// Logger, metrics and a manual clock for one test.
struct TestEnv {
    ManualClock clock;
    std::FILE* log_file = std::tmpfile();
    obs::Logger logger{obs::LogOptions{obs::LogLevel::kInfo, true, log_file}, clock};
    obs::MetricsRegistry metrics;
    ~TestEnv() {
        if (log_file) std::fclose(log_file);
    }
    // Everything logged so far.
    std::string LogText() {
        std::fflush(log_file);
        std::string out;
        std::rewind(log_file);
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, log_file)) > 0) out.append(buf, n);
        std::fseek(log_file, 0, SEEK_END);
        return out;
    }
};

inline bool ServicesRequired() {
    const char* v = std::getenv("CONTEX_REQUIRE_SERVICES");
    return v != nullptr && std::string(v) == "1";
}

// CONTEX_TEST_POSTGRES_URL, or nullopt (the caller skips; with CONTEX_REQUIRE_SERVICES=1
// a missing URL is recorded as a failure).
inline std::optional<std::string> PostgresUrl() {
    const char* v = std::getenv("CONTEX_TEST_POSTGRES_URL");
    if (v == nullptr || *v == '\0') {
        if (ServicesRequired()) {
            ADD_FAILURE() << "CONTEX_REQUIRE_SERVICES=1 but CONTEX_TEST_POSTGRES_URL is unset";
        }
        return std::nullopt;
    }
    return std::string(v);
}

#define CONTEX_SKIP_MESSAGE_NO_PG                                                        \
    "PostgreSQL not configured: set CONTEX_TEST_POSTGRES_URL (eval \"$(scripts/services " \
    "start)\") to run the PostgreSQL instantiation"

// The URL with its database name replaced.
inline std::string WithDatabase(const std::string& url, const std::string& db) {
    auto scheme = url.find("://");
    auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    auto query = url.find('?');
    std::string base = slash == std::string::npos ? url.substr(0, query) : url.substr(0, slash);
    std::string tail = query == std::string::npos ? "" : url.substr(query);
    return base + "/" + db + tail;
}

// A fresh database on the test server, dropped when the object goes away.
class ScratchPostgresDatabase {
public:
    explicit ScratchPostgresDatabase(const std::string& server_url)
        : admin_url_(server_url), name_("contex_t_" + RandomHex(12)) {
        auto c = pg::PgConnection::Connect(admin_url_, {});
        if (!c.ok()) {
            error_ = c.error().message;
            return;
        }
        auto r = (*c)->Exec("test", ("CREATE DATABASE " + name_).c_str());
        if (!r.ok()) {
            error_ = r.error().message;
            return;
        }
        url_ = WithDatabase(server_url, name_);
    }
    ~ScratchPostgresDatabase() {
        if (url_.empty()) return;
        auto c = pg::PgConnection::Connect(admin_url_, {});
        if (c.ok()) (void)(*c)->Exec("test", ("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)").c_str());
    }
    const std::string& url() const { return url_; }
    const std::string& error() const { return error_; }

private:
    std::string admin_url_;
    std::string name_;
    std::string url_;
    std::string error_;
};

// A temporary directory removed with its contents.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "contex-storage-XXXXXX").string();
        path_ = mkdtemp(tmpl.data()) ? tmpl : std::string();
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace contex::storage::testing
