// Storage throughput (issue 6): appends/s with 1 and 8 writers on one project, publishes
// with a 5-node / 384-dim node set, and the time to stream 100k stored embeddings.
// SQLite always; PostgreSQL when CONTEX_BENCH_POSTGRES_URL or CONTEX_TEST_POSTGRES_URL is
// set (a scratch database is created and dropped). Run through bench/storage/run.sh.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "storage/storage.hpp"
#include "storage/storage_test_support.hpp"

namespace contex::storage {
namespace {

constexpr int kDim = 384;
constexpr int kStreamNodes = 100000;

struct BenchDb {
    testing::TestEnv env;
    std::unique_ptr<testing::TempDir> dir;
    std::unique_ptr<testing::ScratchPostgresDatabase> pg;
    std::unique_ptr<Storage> storage;
    bool stream_loaded = false;
    std::mutex load_mutex;
};

std::optional<std::string> PgServer() {
    for (const char* name : {"CONTEX_BENCH_POSTGRES_URL", "CONTEX_TEST_POSTGRES_URL"}) {
        const char* v = std::getenv(name);
        if (v && *v) return std::string(v);
    }
    return std::nullopt;
}

BenchDb* Open(bool postgres) {
    static std::mutex mu;
    static std::unique_ptr<BenchDb> sqlite_db, pg_db;
    std::lock_guard lock(mu);
    auto& slot = postgres ? pg_db : sqlite_db;
    if (slot) return slot->storage ? slot.get() : nullptr;
    slot = std::make_unique<BenchDb>();
    StorageConfig config;
    config.pool_size = 8;
    if (postgres) {
        auto server = PgServer();
        if (!server) return nullptr;
        slot->pg = std::make_unique<testing::ScratchPostgresDatabase>(*server);
        if (slot->pg->url().empty()) return nullptr;
        config.database_url = slot->pg->url();
    } else {
        slot->dir = std::make_unique<testing::TempDir>();
        config.database_url = "sqlite:///" + slot->dir->path() + "/bench.db";
    }
    auto s = OpenStorage(config, slot->env.logger, slot->env.metrics, slot->env.clock);
    if (!s.ok()) {
        std::fprintf(stderr, "open failed: %s\n", s.error().message.c_str());
        return nullptr;
    }
    slot->storage = std::move(s).value();
    return slot.get();
}

NodeRecord MakeNode(const std::string& data_key, int i, float seed) {
    NodeRecord n;
    n.data_key = data_key;
    n.node_key = data_key + ".n" + std::to_string(i);
    n.node_path = std::string("n").append(std::to_string(i));
    n.node_type = "object";
    n.description = "benchmark node " + std::to_string(i) + " | backend: FastAPI, db: PostgreSQL";
    n.data_format = "json";
    n.text_hash = std::string(64, 'a');
    n.model_id = "sentence-transformers/all-MiniLM-L6-v2";
    n.data = json::object{{"i", i}, {"name", "node"}};
    n.node_index = i;
    n.embedding.resize(kDim);
    for (int d = 0; d < kDim; ++d) n.embedding[d] = seed + static_cast<float>(d) * 1e-3f;
    return n;
}

void BM_Append(benchmark::State& state, bool postgres) {
    BenchDb* db = Open(postgres);
    if (!db) {
        state.SkipWithError("PostgreSQL not configured (CONTEX_BENCH_POSTGRES_URL)");
        return;
    }
    for (auto _ : state) {
        auto st =
            db->storage->WithProjectTransaction("append", [](ProjectTransaction& t) -> Status {
                CONTEX_ASSIGN_OR_RETURN(int64_t seq, t.AllocateSequence());
                EventRecord e;
                e.sequence = seq;
                e.event_type = "doc_updated";
                e.data = json::object{{"doc", json::object{{"v", seq}}}};
                e.data_key = "doc";
                e.data_format = "json";
                e.content_hash = std::string(64, 'c');
                return t.InsertEvent(e);
            });
        if (!st.ok()) {
            state.SkipWithError(st.error().message.c_str());
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_Publish5Nodes(benchmark::State& state, bool postgres) {
    BenchDb* db = Open(postgres);
    if (!db) {
        state.SkipWithError("PostgreSQL not configured (CONTEX_BENCH_POSTGRES_URL)");
        return;
    }
    std::string key = "key" + std::to_string(state.thread_index());
    for (auto _ : state) {
        auto st =
            db->storage->WithProjectTransaction("publish", [&](ProjectTransaction& t) -> Status {
                CONTEX_ASSIGN_OR_RETURN(int64_t seq, t.AllocateSequence());
                std::vector<NodeRecord> nodes;
                for (int i = 0; i < 5; ++i)
                    nodes.push_back(MakeNode(key, i, static_cast<float>(seq)));
                CONTEX_TRY(t.ReplaceNodes(key, {}, nodes));
                DataKeyRecord d;
                d.data_key = key;
                d.data_format = "json";
                d.content_hash = std::string(64, 'd');
                d.data_original = json::object{{"v", seq}};
                d.node_count = 5;
                d.sequence = seq;
                CONTEX_TRY(t.UpsertDataKey(d));
                EventRecord e;
                e.sequence = seq;
                e.event_type = key + "_updated";
                e.data = json::object{{key, json::object{{"v", seq}}}};
                e.data_key = key;
                return t.InsertEvent(e);
            });
        if (!st.ok()) {
            state.SkipWithError(st.error().message.c_str());
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_Stream100kEmbeddings(benchmark::State& state, bool postgres) {
    BenchDb* db = Open(postgres);
    if (!db) {
        state.SkipWithError("PostgreSQL not configured (CONTEX_BENCH_POSTGRES_URL)");
        return;
    }
    {
        std::lock_guard lock(db->load_mutex);
        if (!db->stream_loaded) {
            // 100 data keys x 1000 nodes, one transaction per key.
            for (int k = 0; k < kStreamNodes / 1000; ++k) {
                std::string key = "doc" + std::to_string(k);
                auto st = db->storage->WithProjectTransaction("stream", [&](ProjectTransaction& t) {
                    std::vector<NodeRecord> nodes;
                    for (int i = 0; i < 1000; ++i)
                        nodes.push_back(MakeNode(key, i, static_cast<float>(k)));
                    return t.ReplaceNodes(key, {}, nodes);
                });
                if (!st.ok()) {
                    state.SkipWithError(st.error().message.c_str());
                    return;
                }
            }
            db->stream_loaded = true;
        }
    }
    for (auto _ : state) {
        size_t count = 0;
        double checksum = 0;
        auto st = db->storage->StreamNodes(std::string("stream"), [&](NodeRecord&& n) {
            ++count;
            checksum += n.embedding.empty() ? 0 : n.embedding[0];
        });
        if (!st.ok() || count != kStreamNodes) {
            std::string why = st.ok() ? "stream incomplete: " + std::to_string(count) + " nodes"
                                      : "stream failed: " + st.error().message;
            state.SkipWithError(why.c_str());
            break;
        }
        benchmark::DoNotOptimize(checksum);
    }
    state.SetItemsProcessed(state.iterations() * kStreamNodes);
}

BENCHMARK_CAPTURE(BM_Append, sqlite, false)->Threads(1)->Threads(8)->UseRealTime()->MinTime(2);
BENCHMARK_CAPTURE(BM_Append, postgresql, true)->Threads(1)->Threads(8)->UseRealTime()->MinTime(2);
BENCHMARK_CAPTURE(BM_Publish5Nodes, sqlite, false)
    ->Threads(1)
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_Publish5Nodes, postgresql, true)
    ->Threads(1)
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_Stream100kEmbeddings, sqlite, false)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(BM_Stream100kEmbeddings, postgresql, true)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace contex::storage

BENCHMARK_MAIN();
