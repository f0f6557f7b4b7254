// Crash safety: a writer process (storage_test_writer) is SIGKILLed at random moments while
// publishing; after every kill the database must contain every acknowledged append, the
// event sequences must be exactly 1..counter, and data key "doc" must show one complete
// version (record, node set and event agreeing). Trials: CONTEX_STORAGE_CRASH_TRIALS (100).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

#include "storage/storage.hpp"
#include "storage/storage_test_support.hpp"

namespace contex::storage {
namespace {

int Trials() {
    const char* v = std::getenv("CONTEX_STORAGE_CRASH_TRIALS");
    return v ? std::max(1, std::atoi(v)) : 100;
}

struct CrashStats {
    int trials = 0;
    int64_t acknowledged = 0;
    int inconsistencies = 0;
};

// Checks the invariants; returns a description of the first violation or "".
std::string Verify(Storage& s, const std::string& project, const std::set<int64_t>& acked) {
    // Barrier: a SIGKILLed PostgreSQL client can leave one statement (possibly its COMMIT)
    // still executing in its server backend. Taking the project lock waits until that
    // transaction has ended, so the reads below see a settled database.
    auto barrier = s.WithProjectTransaction(project, [](ProjectTransaction& t) -> Status {
        auto r = t.LockProject();
        if (!r.ok()) return std::move(r).error();
        return OkStatus();
    });
    if (!barrier.ok()) return "project lock failed: " + barrier.error().message;
    auto counter = s.CurrentSequence(project);
    if (!counter.ok()) return "CurrentSequence failed: " + counter.error().message;
    int64_t expected = 1;
    std::set<int64_t> present;
    while (true) {
        auto page = s.ListEvents(project, expected - 1, 1000, std::nullopt, std::nullopt);
        if (!page.ok()) return "ListEvents failed: " + page.error().message;
        if (page->empty()) break;
        for (const auto& e : *page) {
            if (e.sequence != expected) {
                return "event sequence gap: expected " + std::to_string(expected) + ", found " +
                       std::to_string(e.sequence);
            }
            present.insert(e.sequence);
            ++expected;
        }
    }
    if (expected - 1 != *counter) {
        return "counter " + std::to_string(*counter) + " but " + std::to_string(expected - 1) +
               " events";
    }
    for (int64_t a : acked) {
        if (!present.count(a)) return "acknowledged append " + std::to_string(a) + " lost";
    }
    if (*counter == 0) return "";
    auto dk = s.GetDataKey(project, "doc");
    if (!dk.ok() || !dk->has_value()) return "data key record missing";
    const auto& record = **dk;
    if (record.sequence != *counter) {
        return "data key at sequence " + std::to_string(record.sequence) + " but latest event is " +
               std::to_string(*counter);
    }
    auto nodes = s.ListNodes(project, std::string("doc"), true);
    if (!nodes.ok()) return "ListNodes failed: " + nodes.error().message;
    if (static_cast<int>(nodes->size()) != record.node_count) {
        return "half-replaced data key: record says " + std::to_string(record.node_count) +
               " nodes, found " + std::to_string(nodes->size());
    }
    for (const auto& n : *nodes) {
        if (n.data.at("v").as_int64() != record.sequence ||
            n.embedding != std::vector<float>(16, static_cast<float>(record.sequence))) {
            return "half-replaced data key: node " + n.node_key + " from another version";
        }
    }
    return "";
}

CrashStats RunTrials(const std::string& url, Storage& verifier, int trials) {
    CrashStats stats;
    std::mt19937 rng(std::random_device{}());
    std::set<int64_t> acked;
    for (int t = 0; t < trials; ++t) {
        testing::ChildProcess writer({CONTEX_STORAGE_WRITER, url, "crash", "0"});
        EXPECT_TRUE(writer.started());
        auto ready = writer.ReadLine();
        if (!ready || *ready != "READY") {
            ADD_FAILURE() << "writer did not start (exit status " << writer.Wait() << ")";
            break;
        }
        int want = std::uniform_int_distribution<int>(0, 12)(rng);
        for (int i = 0; i < want; ++i) {
            auto line = writer.ReadLine();
            if (!line) break;
            if (line->rfind("ACK ", 0) == 0) {
                acked.insert(std::atoll(line->c_str() + 4));
                ++stats.acknowledged;
            }
        }
        // Randomizes where inside the next transaction the kill lands; nothing waits on it.
        std::this_thread::sleep_for(
            std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng)));
        writer.Kill();
        // Acks already written before the kill count too.
        while (auto line = writer.ReadLine()) {
            if (line->rfind("ACK ", 0) == 0) {
                acked.insert(std::atoll(line->c_str() + 4));
                ++stats.acknowledged;
            }
        }
        writer.Wait();
        ++stats.trials;
        std::string problem = Verify(verifier, "crash", acked);
        if (!problem.empty()) {
            ++stats.inconsistencies;
            ADD_FAILURE() << "trial " << t << ": " << problem;
        }
    }
    return stats;
}

void Report(const char* backend, const CrashStats& s) {
    std::printf("crash-trials backend=%s trials=%d acknowledged=%lld inconsistencies=%d\n", backend,
                s.trials, static_cast<long long>(s.acknowledged), s.inconsistencies);
    ::testing::Test::RecordProperty("trials", s.trials);
    ::testing::Test::RecordProperty("inconsistencies", s.inconsistencies);
}

TEST(StorageCrash, SqliteKeepsEveryAcknowledgedAppendAcrossSigkill) {
    testing::TempDir dir;
    testing::TestEnv env;
    std::string url = "sqlite:///" + dir.path() + "/crash.db";
    StorageConfig config;
    config.database_url = url;
    auto s = OpenStorage(config, env.logger, env.metrics, env.clock);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto stats = RunTrials(url, **s, Trials());
    Report("sqlite", stats);
    EXPECT_EQ(stats.trials, Trials());
    EXPECT_GT(stats.acknowledged, 0);
    EXPECT_EQ(stats.inconsistencies, 0);
}

TEST(StorageCrash, PostgresKeepsEveryAcknowledgedAppendAcrossSigkill) {
    auto server = testing::PostgresUrl();
    if (!server) GTEST_SKIP() << CONTEX_SKIP_MESSAGE_NO_PG;
    testing::ScratchPostgresDatabase db(*server);
    ASSERT_FALSE(db.url().empty()) << db.error();
    testing::TestEnv env;
    StorageConfig config;
    config.database_url = db.url();
    auto s = OpenStorage(config, env.logger, env.metrics, env.clock);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto stats = RunTrials(db.url(), **s, Trials());
    Report("postgresql", stats);
    EXPECT_EQ(stats.trials, Trials());
    EXPECT_GT(stats.acknowledged, 0);
    EXPECT_EQ(stats.inconsistencies, 0);
}

}  // namespace
}  // namespace contex::storage
