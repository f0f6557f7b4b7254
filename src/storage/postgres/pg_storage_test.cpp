// PostgreSQL-specific behaviour: the pool (exhaustion, gauges, application_name), error
// translation, migrations under the advisory lock, two writer processes, and an outage of
// a private server started and stopped by the test.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <latch>
#include <set>
#include <thread>

#include "storage/migrations/migrations.hpp"
#include "storage/postgres/pg_connection.hpp"
#include "storage/storage.hpp"
#include "storage/storage_test_support.hpp"

namespace contex::storage {
namespace {

using namespace std::chrono_literals;

class PostgresStorageTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto server = testing::PostgresUrl();
        if (!server) GTEST_SKIP() << CONTEX_SKIP_MESSAGE_NO_PG;
        db_ = std::make_unique<testing::ScratchPostgresDatabase>(*server);
        ASSERT_FALSE(db_->url().empty()) << db_->error();
        config_.database_url = db_->url();
        config_.application_name = "contex-test";
    }
    Result<std::unique_ptr<Storage>> Open() {
        return OpenStorage(config_, env_.logger, env_.metrics, env_.clock);
    }
    std::unique_ptr<pg::PgConnection> Raw() {
        auto c = pg::PgConnection::Connect(db_->url(), {});
        EXPECT_TRUE(c.ok());
        return c.ok() ? std::move(c).value() : nullptr;
    }

    std::unique_ptr<testing::ScratchPostgresDatabase> db_;
    testing::TestEnv env_;
    StorageConfig config_;
};

TEST_F(PostgresStorageTest, PoolExhaustionIsUnavailableLoggedAndCounted) {
    config_.pool_size = 1;
    config_.max_overflow = 0;
    config_.pool_timeout = 100ms;
    auto s = Open();
    ASSERT_TRUE(s.ok()) << s.error().message;
    std::latch holding(1);
    std::latch release(1);
    std::thread holder([&] {
        auto st = (*s)->WithProjectTransaction("p", [&](ProjectTransaction&) {
            holding.count_down();
            release.wait();
            return OkStatus();
        });
        EXPECT_TRUE(st.ok());
    });
    holding.wait();
    auto r = (*s)->CurrentSequence("p");
    release.count_down();
    holder.join();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(r.error().message, "Database busy: connection pool exhausted");
    auto metrics = env_.metrics.Render();
    EXPECT_NE(metrics.find("contex_db_pool_exhausted_total 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("contex_errors_total{component=\"db\",kind=\"timeout\"} 1"),
              std::string::npos);
    auto log = env_.LogText();
    EXPECT_NE(log.find("connection pool exhausted"), std::string::npos);
    EXPECT_NE(log.find("\"pool_size\":1"), std::string::npos) << log;
    // The pool recovers once the connection is back.
    EXPECT_TRUE((*s)->CurrentSequence("p").ok());
}

TEST_F(PostgresStorageTest, OverflowConnectionsServeConcurrentCallersAndGaugesReport) {
    config_.pool_size = 1;
    config_.max_overflow = 2;
    auto s = Open();
    ASSERT_TRUE(s.ok());
    std::latch all_holding(3);
    std::latch release(1);
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&, i] {
            auto st =
                (*s)->WithProjectTransaction("p" + std::to_string(i), [&](ProjectTransaction&) {
                    all_holding.count_down();
                    release.wait();
                    return OkStatus();
                });
            EXPECT_TRUE(st.ok());
        });
    }
    all_holding.wait();
    auto during = env_.metrics.Render();
    auto health = (*s)->CheckHealth();  // no free connection: a bounded wait, then degraded
    release.count_down();
    for (auto& t : threads) t.join();
    EXPECT_NE(during.find("contex_db_connections_max 3"), std::string::npos) << during;
    EXPECT_NE(during.find("contex_db_connections_active 3"), std::string::npos) << during;
    EXPECT_EQ(health.status, obs::HealthStatus::kDegraded) << health.message;
    auto after = env_.metrics.Render();
    EXPECT_NE(after.find("contex_db_connections_active 0"), std::string::npos) << after;
}

TEST_F(PostgresStorageTest, ConnectionsCarryTheApplicationName) {
    auto s = Open();
    ASSERT_TRUE(s.ok());
    auto raw = Raw();
    ASSERT_TRUE(raw);
    auto r = raw->Exec("test",
                       "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                       "'contex-test' AND datname = current_database()");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_GE(r->Int(0, 0), 1);
    auto log = env_.LogText();
    EXPECT_NE(log.find("PostgreSQL connection established successfully"), std::string::npos);
}

TEST_F(PostgresStorageTest, EchoLogsStatementsAtDebug) {
    testing::TestEnv env(obs::LogLevel::kDebug);
    config_.echo = true;
    auto s = OpenStorage(config_, env.logger, env.metrics, env.clock);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->CurrentSequence("p").ok());
    auto log = env.LogText();
    EXPECT_NE(log.find("\"operation\":\"current_sequence\""), std::string::npos) << log;
}

TEST_F(PostgresStorageTest, MigrationRecordsHistoryAndRefusesNewerDatabase) {
    ASSERT_TRUE(Open().ok());
    auto raw = Raw();
    ASSERT_TRUE(raw);
    auto history = raw->Exec("test", "SELECT count(*) FROM schema_migrations");
    ASSERT_TRUE(history.ok());
    EXPECT_EQ(history->Int(0, 0), static_cast<int64_t>(AllMigrations().size()));
    ASSERT_TRUE(raw->Exec("test", "UPDATE alembic_version SET version_num = '999'").ok());
    auto s = Open();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kConflict);
}

TEST_F(PostgresStorageTest, UpgradesAPythonServerDatabaseAt001) {
    auto raw = Raw();
    ASSERT_TRUE(raw);
    // The Python server's core tables in their older form (no product columns), at 001.
    auto st = raw->ExecScript(
        "test",
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);"
        "INSERT INTO alembic_version VALUES ('001');"
        "CREATE TABLE projects (project_id VARCHAR(255) PRIMARY KEY, tenant_id VARCHAR(255) NOT "
        "NULL DEFAULT 'default', created_at TIMESTAMPTZ NOT NULL DEFAULT now(), updated_at "
        "TIMESTAMPTZ NOT NULL DEFAULT now());"
        "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, "
        "tenant_id VARCHAR(255), event_type VARCHAR(100) NOT NULL, data JSONB NOT NULL, sequence "
        "BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());"
        "CREATE TABLE embeddings (id BIGSERIAL PRIMARY KEY, project_id VARCHAR(255) NOT NULL, "
        "data_key VARCHAR(255) NOT NULL, node_key VARCHAR(255) NOT NULL, node_path TEXT, "
        "node_type VARCHAR(50), description TEXT, data JSONB NOT NULL, data_original TEXT, "
        "data_format VARCHAR(50), created_at TIMESTAMPTZ NOT NULL DEFAULT now(), updated_at "
        "TIMESTAMPTZ NOT NULL DEFAULT now());"
        "CREATE TABLE agent_registrations (agent_id VARCHAR(255) PRIMARY KEY, project_id "
        "VARCHAR(255) NOT NULL, tenant_id VARCHAR(255), needs TEXT[], notification_method "
        "VARCHAR(20) NOT NULL DEFAULT 'redis', response_format VARCHAR(20) NOT NULL DEFAULT "
        "'json', notification_channel VARCHAR(255), webhook_url TEXT, webhook_secret TEXT, "
        "last_sequence VARCHAR(255) NOT NULL DEFAULT '0', created_at TIMESTAMPTZ NOT NULL "
        "DEFAULT now(), updated_at TIMESTAMPTZ NOT NULL DEFAULT now());"
        "INSERT INTO events (project_id, event_type, data, sequence) VALUES "
        "('legacy', 'doc_updated', '{\"doc\": {\"a\": 1}}', 1), "
        "('legacy', 'doc_updated', '{\"doc\": {\"a\": 2}}', 2), "
        "('legacy', 'notes_updated', '{\"notes\": \"x\"}', 3);"
        "INSERT INTO agent_registrations (agent_id, project_id, needs) VALUES ('old', "
        "'legacy', '{\"tech stack\"}');");
    ASSERT_TRUE(st.ok()) << st.error().message;
    auto s = Open();
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(*(*s)->SchemaVersion(), LatestSchemaVersion());
    EXPECT_EQ(*(*s)->CurrentSequence("legacy"), 3);
    auto events = (*s)->ListEvents("legacy", 0, 10, std::string("doc"), std::nullopt);
    ASSERT_TRUE(events.ok()) << events.error().message;
    EXPECT_EQ(events->size(), 2u);
    EXPECT_TRUE((*events)[0].changed);
    EXPECT_EQ(*(*s)->ListProjectsNeedingRebuild(), std::vector<std::string>{"legacy"});
    auto agent = (*s)->GetAgent("old");
    ASSERT_TRUE(agent.ok() && agent->has_value()) << (agent.ok() ? "" : agent.error().message);
    EXPECT_EQ((*agent)->needs, std::vector<std::string>{"tech stack"});
    // New sequences continue after the legacy ones; the flag clears once rebuilt.
    ASSERT_TRUE((*s)->WithProjectTransaction("legacy",
                                             [](ProjectTransaction& t) -> Status {
                                                 auto seq = t.AllocateSequence();
                                                 EXPECT_TRUE(seq.ok() && *seq == 4);
                                                 return t.MarkProjectRebuilt();
                                             })
                    .ok());
    EXPECT_TRUE((*s)->ListProjectsNeedingRebuild()->empty());
    // Tables the Python database lacked now exist.
    EXPECT_TRUE(raw->Exec("test", "SELECT count(*) FROM agent_notifications").ok());
    EXPECT_TRUE(raw->Exec("test", "SELECT count(*) FROM audit_events").ok());
}

TEST_F(PostgresStorageTest, ConcurrentReplicasMigrateOnceUnderTheAdvisoryLock) {
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
            testing::TestEnv env;
            auto s = OpenStorage(config_, env.logger, env.metrics, env.clock);
            if (s.ok() && *(*s)->SchemaVersion() == LatestSchemaVersion()) ok++;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 4);
}

TEST_F(PostgresStorageTest, StatementTimeoutIsTimeoutAndConstraintErrorsAreSpecific) {
    pg::ConnectOptions options;
    options.statement_timeout = 50ms;
    auto c = pg::PgConnection::Connect(db_->url(), options);
    ASSERT_TRUE(c.ok());
    auto slow = (*c)->Exec("test", "SELECT pg_sleep(5)");
    ASSERT_FALSE(slow.ok());
    EXPECT_EQ(slow.error().code, ErrorCode::kTimeout);
    ASSERT_TRUE((*c)->Exec("test", "CREATE TABLE t (a INT PRIMARY KEY, b INT NOT NULL)").ok());
    ASSERT_TRUE((*c)->Exec("test", "INSERT INTO t VALUES (1, 1)").ok());
    EXPECT_EQ((*c)->Exec("test", "INSERT INTO t VALUES (1, 1)").error().code, ErrorCode::kConflict);
    EXPECT_EQ((*c)->Exec("test", "INSERT INTO t VALUES (2, NULL)").error().code,
              ErrorCode::kInvalidArgument);
    EXPECT_EQ((*c)->Exec("test", "SELEC 1").error().code, ErrorCode::kInternal);
}

TEST_F(PostgresStorageTest, UnreachableServerIsUnavailableAndLogged) {
    config_.database_url = "postgresql://postgres@127.0.0.1:1/contex";
    config_.connect_timeout = 2s;
    auto s = Open();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(s.error().message.rfind("Database unavailable", 0), 0u) << s.error().message;
    EXPECT_NE(env_.LogText().find("Failed to connect to PostgreSQL"), std::string::npos);
}

TEST_F(PostgresStorageTest, TwoProcessesAppendWithoutGapsOrDuplicates) {
    ASSERT_TRUE(Open().ok());  // migrate first so the writers start together
    constexpr int kEach = 300;
    testing::ChildProcess a({CONTEX_STORAGE_WRITER, db_->url(), "shared", std::to_string(kEach)});
    testing::ChildProcess b({CONTEX_STORAGE_WRITER, db_->url(), "shared", std::to_string(kEach)});
    std::vector<int64_t> seqs;
    for (auto* w : {&a, &b}) {
        while (auto line = w->ReadLine()) {
            if (line->rfind("ACK ", 0) == 0) seqs.push_back(std::atoll(line->c_str() + 4));
        }
        int status = w->Wait();
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
    std::sort(seqs.begin(), seqs.end());
    ASSERT_EQ(seqs.size(), 2u * kEach);
    for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], static_cast<int64_t>(i + 1));
    auto s = Open();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(*(*s)->CurrentSequence("shared"), 2 * kEach);
}

// A PostgreSQL server owned by one test (initdb + pg_ctl as user postgres when root).
class PrivatePostgres {
  public:
    PrivatePostgres() {
        bin_ = "/usr/lib/postgresql/15/bin";
        if (!std::filesystem::exists(bin_ + "/initdb")) {
            error_ = "initdb not found under " + bin_;
            return;
        }
        char tmpl[] = "/tmp/contex-pg-outage-XXXXXX";
        if (!mkdtemp(tmpl)) {
            error_ = "mkdtemp failed";
            return;
        }
        dir_ = tmpl;
        as_root_ = geteuid() == 0;
        if (as_root_ && std::system(("chown postgres " + dir_).c_str()) != 0) {
            error_ = "chown postgres failed";
            return;
        }
        port_ = FreePort();
        if (Run(bin_ + "/initdb -D " + dir_ + "/pg -A trust -U postgres -E UTF8 >" + dir_ +
                "/initdb.log 2>&1") != 0) {
            error_ = "initdb failed (see " + dir_ + "/initdb.log)";
            return;
        }
        if (!Start()) error_ = "pg_ctl start failed";
    }
    ~PrivatePostgres() {
        if (!dir_.empty()) {
            Stop();
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
        }
    }
    bool Start() {
        return Run(bin_ + "/pg_ctl -D " + dir_ + "/pg -w -t 60 -l " + dir_ + "/pg.log -o \"-p " +
                   std::to_string(port_) + " -k " + dir_ +
                   " -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null 2>&1") == 0;
    }
    bool Stop() {
        return Run(bin_ + "/pg_ctl -D " + dir_ + "/pg -m fast -w -t 60 stop >/dev/null 2>&1") == 0;
    }
    std::string url() const {
        return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
    }
    const std::string& error() const { return error_; }

  private:
    int Run(const std::string& cmd) {
        std::string full = as_root_ ? "cd /tmp && runuser -u postgres -- sh -c '" + cmd + "'" : cmd;
        return std::system(full.c_str());
    }
    static int FreePort() {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        socklen_t len = sizeof addr;
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        int port = ntohs(addr.sin_port);
        close(fd);
        return port;
    }

    std::string bin_;
    std::string dir_;
    std::string error_;
    bool as_root_ = false;
    int port_ = 0;
};

TEST(PostgresOutage, CallsFailUnavailableDuringOutageAndRecoverWithoutRestart) {
    PrivatePostgres server;
    if (!server.error().empty()) {
        if (testing::ServicesRequired())
            FAIL() << "cannot start a private PostgreSQL: " << server.error();
        GTEST_SKIP() << "cannot start a private PostgreSQL: " << server.error();
    }
    testing::TestEnv env;
    StorageConfig config;
    config.database_url = server.url();
    config.pool_size = 2;
    config.connect_timeout = 2s;
    auto opened = OpenStorage(config, env.logger, env.metrics, env.clock);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    Storage& s = **opened;

    std::mutex mu;
    std::condition_variable cv;
    int reconnects = 0;
    s.SetChangeListener([&](const ChangeNotice& n) {
        std::lock_guard lock(mu);
        if (n.kind == "reconnect") ++reconnects;
        cv.notify_all();
    });

    auto append = [&]() {
        return s.WithProjectTransaction("p", [](ProjectTransaction& t) -> Status {
            CONTEX_ASSIGN_OR_RETURN(int64_t seq, t.AllocateSequence());
            EventRecord e;
            e.sequence = seq;
            e.event_type = "x";
            e.data = json::object{};
            return t.InsertEvent(e);
        });
    };
    ASSERT_TRUE(append().ok());

    ASSERT_TRUE(server.Stop());
    auto seq = s.CurrentSequence("p");
    ASSERT_FALSE(seq.ok());
    EXPECT_EQ(seq.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(seq.error().message.rfind("Database unavailable", 0), 0u) << seq.error().message;
    auto st = append();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(s.CheckHealth().status, obs::HealthStatus::kUnhealthy);

    ASSERT_TRUE(server.Start());
    auto back = s.CurrentSequence("p");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, 1);
    ASSERT_TRUE(append().ok());
    EXPECT_EQ(*s.CurrentSequence("p"), 2);
    EXPECT_EQ(s.CheckHealth().status, obs::HealthStatus::kHealthy);
    std::unique_lock lock(mu);
    // The listener reconnects with backoff (<= 5 s); the bound only guards a hang.
    EXPECT_TRUE(cv.wait_for(lock, 20s, [&] { return reconnects > 0; }));
    lock.unlock();
    s.SetChangeListener(nullptr);
}

}  // namespace
}  // namespace contex::storage
