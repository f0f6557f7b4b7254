// Unit tests of the storage module's pure parts and SQLite-specific behaviour.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <thread>

#include "storage/codec.hpp"
#include "storage/migrations/migrations.hpp"
#include "storage/storage.hpp"
#include "storage/storage_test_support.hpp"

namespace contex::storage {
namespace {

TEST(ParseDatabaseUrl, UnsetMeansSqliteInDataDir) {
    auto t = ParseDatabaseUrl(std::nullopt, "/var/lib/contex");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->backend, Backend::kSqlite);
    EXPECT_EQ(t->sqlite_path, "/var/lib/contex/contex.db");
    EXPECT_EQ(ParseDatabaseUrl(std::string("  "), "d")->sqlite_path, "d/contex.db");
}

TEST(ParseDatabaseUrl, AcceptsPostgresSpellingsAndDropsAsyncpg) {
    for (const char* url : {"postgresql://u:p@h:5432/db", "postgres://u:p@h:5432/db",
                            "postgresql+asyncpg://u:p@h:5432/db"}) {
        auto t = ParseDatabaseUrl(std::string(url), "d");
        ASSERT_TRUE(t.ok()) << url;
        EXPECT_EQ(t->backend, Backend::kPostgres);
        EXPECT_EQ(t->postgres_uri, "postgresql://u:p@h:5432/db");
    }
}

TEST(ParseDatabaseUrl, SqlitePathsFollowTheThreeSlashRule) {
    EXPECT_EQ(ParseDatabaseUrl(std::string("sqlite:///data/x.db"), "d")->sqlite_path, "data/x.db");
    EXPECT_EQ(ParseDatabaseUrl(std::string("sqlite:////abs/x.db"), "d")->sqlite_path, "/abs/x.db");
    EXPECT_EQ(ParseDatabaseUrl(std::string("sqlite:///:memory:"), "d")->sqlite_path, ":memory:");
}

TEST(ParseDatabaseUrl, RejectsUnknownSchemesAndMalformedUrls) {
    for (const char* url :
         {"mysql://h/db", "not a url", "sqlite://relative.db", "sqlite:///", "postgresql://"}) {
        auto t = ParseDatabaseUrl(std::string(url), "d");
        ASSERT_FALSE(t.ok()) << url;
        EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument) << url;
    }
}

TEST(MaskDatabaseUrl, HidesOnlyThePassword) {
    EXPECT_EQ(MaskDatabaseUrl("postgresql://contex:secret@db:5432/contex"),
              "postgresql://contex:***@db:5432/contex");
    EXPECT_EQ(MaskDatabaseUrl("postgresql://contex@db/contex"), "postgresql://contex@db/contex");
    EXPECT_EQ(MaskDatabaseUrl("sqlite:///data/contex.db"), "sqlite:///data/contex.db");
}

TEST(VectorCodec, IsFloat32LittleEndianAndRoundTrips) {
    std::vector<float> v{1.0f, -2.5f, 0.0f};
    auto blob = internal::EncodeVector(v);
    ASSERT_EQ(blob.size(), 12u);
    // 1.0f = 0x3f800000 little-endian.
    EXPECT_EQ(static_cast<unsigned char>(blob[3]), 0x3f);
    EXPECT_EQ(static_cast<unsigned char>(blob[2]), 0x80);
    EXPECT_EQ(*internal::DecodeVector(blob), v);
    auto bad = internal::DecodeVector("abc");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
}

TEST(Migrations, AreOrderedAndEndAtTheLatestVersion) {
    auto all = AllMigrations();
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all.front().version, "001");
    for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].version, all[i].version);
    EXPECT_EQ(LatestSchemaVersion(), all.back().version);
}

TEST(Migrations, CreateTheRunbookNamesOnBothDialects) {
    std::string pg, lite;
    for (const auto& m : AllMigrations()) {
        pg += m.postgres_sql;
        lite += m.sqlite_sql;
    }
    for (const char* name :
         {"TABLE IF NOT EXISTS events", "TABLE IF NOT EXISTS embeddings",
          "TABLE IF NOT EXISTS api_keys", "key_id", "TABLE IF NOT EXISTS audit_events", "actor_id",
          "\"timestamp\"", "TABLE IF NOT EXISTS agent_notifications",
          "TABLE IF NOT EXISTS idempotency_keys", "TABLE IF NOT EXISTS rate_limit_counters",
          "TABLE IF NOT EXISTS webhook_deliveries", "TABLE IF NOT EXISTS service_account_keys",
          "TABLE IF NOT EXISTS tenant_usage", "idx_audit_actor_timestamp",
          "idx_events_project_sequence"}) {
        EXPECT_NE(pg.find(name), std::string::npos) << "postgres: " << name;
        EXPECT_NE(lite.find(name), std::string::npos) << "sqlite: " << name;
    }
}

class SqliteStorageTest : public ::testing::Test {
  protected:
    Result<std::unique_ptr<Storage>> Open() {
        StorageConfig config;
        config.data_dir = dir_.path() + "/nested/data";
        return OpenStorage(config, env_.logger, env_.metrics, env_.clock);
    }
    std::string DbPath() const { return dir_.path() + "/nested/data/contex.db"; }

    testing::TempDir dir_;
    testing::TestEnv env_;
};

TEST_F(SqliteStorageTest, CreatesTheDataDirUsesWalAndLogsOpen) {
    auto s = Open();
    ASSERT_TRUE(s.ok()) << s.error().message;
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT version FROM schema_migrations ORDER BY version", -1, &st,
                       nullptr);
    std::vector<std::string> versions;
    while (sqlite3_step(st) == SQLITE_ROW) {
        versions.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    EXPECT_EQ(versions.size(), AllMigrations().size());
    auto log = env_.LogText();
    EXPECT_NE(log.find("SQLite database opened"), std::string::npos);
    EXPECT_NE(log.find("Migrations applied"), std::string::npos);
}

TEST_F(SqliteStorageTest, DataSurvivesReopen) {
    {
        auto s = Open();
        ASSERT_TRUE(s.ok());
        ASSERT_TRUE((*s)->WithProjectTransaction("p",
                                                 [](ProjectTransaction& t) -> Status {
                                                     return t.AllocateSequence().ok()
                                                                ? OkStatus()
                                                                : Internal("x");
                                                 })
                        .ok());
    }
    auto s = Open();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(*(*s)->CurrentSequence("p"), 1);
}

TEST_F(SqliteStorageTest, TwoProcessesMigratingTheSameFileBothSucceed) {
    // Simulates a second process: two independent Storage objects on one file, opened
    // concurrently (each migrates under BEGIN IMMEDIATE and re-checks the version).
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
        threads.emplace_back([&] {
            testing::TestEnv env;
            StorageConfig config;
            config.data_dir = dir_.path() + "/nested/data";
            auto s = OpenStorage(config, env.logger, env.metrics, env.clock);
            if (s.ok() && *(*s)->SchemaVersion() == LatestSchemaVersion()) ok++;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 2);
}

TEST_F(SqliteStorageTest, RefusesADatabaseNewerThanTheBinary) {
    ASSERT_TRUE(Open().ok());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE alembic_version SET version_num = '999'", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    auto s = Open();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kConflict);
}

TEST(SqliteStorage, EchoLogsEveryStatementAtDebug) {
    testing::TestEnv env(obs::LogLevel::kDebug);
    StorageConfig config;
    config.database_url = "sqlite:///:memory:";
    config.echo = true;
    auto s = OpenStorage(config, env.logger, env.metrics, env.clock);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->CurrentSequence("p").ok());
    auto log = env.LogText();
    EXPECT_NE(log.find("SQL statement"), std::string::npos);
    EXPECT_NE(log.find("SELECT last_sequence FROM projects"), std::string::npos);
}

TEST_F(SqliteStorageTest, UnopenablePathIsUnavailable) {
    StorageConfig config;
    config.database_url = "sqlite:////proc/contex-cannot-create/x.db";
    auto s = OpenStorage(config, env_.logger, env_.metrics, env_.clock);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace contex::storage
