// Test helpers shared by the storage test executables (not part of the library).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/ids.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "storage/postgres/pg_connection.hpp"
#include "storage/storage.hpp"

namespace contex::storage::testing {

// Logger, metrics and a manual clock for one test.
struct TestEnv {
    explicit TestEnv(obs::LogLevel level = obs::LogLevel::kInfo)
        : logger(obs::LogOptions{level, true, log_file}, clock) {}
    ManualClock clock;
    std::FILE* log_file = std::tmpfile();
    obs::Logger logger;
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

#define CONTEX_SKIP_MESSAGE_NO_PG                                                         \
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
        if (c.ok())
            (void)(*c)->Exec("test",
                             ("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)").c_str());
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
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "contex-storage-XXXXXX").string();
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

// A child process whose stdout is read line by line.
class ChildProcess {
  public:
    explicit ChildProcess(const std::vector<std::string>& argv) {
        int fds[2];
        if (pipe(fds) != 0) return;
        pid_ = fork();
        if (pid_ == 0) {
            dup2(fds[1], STDOUT_FILENO);
            close(fds[0]);
            close(fds[1]);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(127);
        }
        close(fds[1]);
        out_ = fds[0];
    }
    ~ChildProcess() {
        if (pid_ > 0 && !reaped_) {
            kill(pid_, SIGKILL);
            Wait();
        }
        if (out_ >= 0) close(out_);
    }
    bool started() const { return pid_ > 0; }
    // The next line without '\n'; nullopt at end of stream.
    std::optional<std::string> ReadLine() {
        while (true) {
            auto nl = buffer_.find('\n');
            if (nl != std::string::npos) {
                std::string line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                return line;
            }
            char buf[4096];
            ssize_t n = read(out_, buf, sizeof buf);
            if (n <= 0) return std::nullopt;
            buffer_.append(buf, static_cast<size_t>(n));
        }
    }
    void Kill() { kill(pid_, SIGKILL); }
    // Exit status as waitpid reports it.
    int Wait() {
        int status = 0;
        if (!reaped_) {
            waitpid(pid_, &status, 0);
            reaped_ = true;
            status_ = status;
        }
        return status_;
    }

  private:
    pid_t pid_ = -1;
    int out_ = -1;
    bool reaped_ = false;
    int status_ = 0;
    std::string buffer_;
};

}  // namespace contex::storage::testing
