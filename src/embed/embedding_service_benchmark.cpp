// Throughput of the EmbeddingService scheduler on a real-shape model: what dynamic
// batching buys over one-text-at-a-time inference when many callers each send one text
// (the server's query/need pattern), and what length-sorted bulk batching gives a
// publish. Needs a model directory in CONTEX_BENCH_MODEL_DIR (e.g. the random-weight
// all-MiniLM-L6-v2 shape from bench/embed/make_minilm_random.py). Run (one line):
//   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE CONTEX_BENCH_MODEL_DIR=/tmp/minilm
//     build/<release>/src/embed/embedding_service_benchmark
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "embed/embedding_service.hpp"
#include "embed/local_embedder.hpp"

namespace contex::embed {
namespace {

constexpr int kTexts = 1000;
constexpr int kWorkers = 2;

const std::string* ModelDir() {
    static const std::string* dir = [] {
        const char* env = std::getenv("CONTEX_BENCH_MODEL_DIR");
        return env ? new std::string(env) : nullptr;
    }();
    return dir;
}

// 1,000 sentences of 6–62 whole-word vocabulary entries (8–64 tokens with [CLS]/[SEP]).
const std::vector<std::string>& Texts() {
    static const std::vector<std::string> texts = [] {
        std::vector<std::string> words;
        std::ifstream vocab(*ModelDir() + "/vocab.txt");
        std::string w;
        while (std::getline(vocab, w)) {
            bool alpha = w.size() >= 3;
            for (const char c : w) alpha = alpha && c >= 'a' && c <= 'z';
            if (alpha) words.push_back(w);
        }
        std::mt19937 rng(7);
        std::vector<std::string> out;
        for (int i = 0; i < kTexts; ++i) {
            const int n = 6 + static_cast<int>(rng() % 57);
            std::string s;
            for (int k = 0; k < n; ++k) s += (k ? " " : "") + words[rng() % words.size()];
            out.push_back(std::move(s));
        }
        return out;
    }();
    return texts;
}

std::unique_ptr<Embedder> LoadModel() {
    auto e = LocalEmbedder::Load(*ModelDir(), Precision::kFp32, "bench/minilm-shape");
    if (!e.ok()) {
        std::fprintf(stderr, "cannot load %s: %s\n", ModelDir()->c_str(),
                     e.error().message.c_str());
        std::exit(1);
    }
    return std::move(*e);
}

struct Env {
    SystemClock clock;
    std::FILE* devnull = std::fopen("/dev/null", "w");
    obs::Logger logger{obs::LogOptions{obs::LogLevel::kError, true, devnull}, clock};
    obs::MetricsRegistry metrics;
};

ServiceOptions Options(std::size_t max_batch) {
    ServiceOptions o;
    o.threads = kWorkers;
    o.max_batch = max_batch;
    o.cache_size = 0;  // measure inference, not the cache
    return o;
}

// Baseline: kWorkers threads embed one text per call straight on the model.
void BM_DirectOneTextPerCall(benchmark::State& state) {
    auto model = LoadModel();
    for (auto _ : state) {
        std::atomic<int> next{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < kWorkers; ++t) {
            threads.emplace_back([&] {
                for (int i; (i = next++) < kTexts;) {
                    benchmark::DoNotOptimize(model->Embed(std::span(&Texts()[i], 1)));
                }
            });
        }
        for (auto& t : threads) t.join();
    }
    state.SetItemsProcessed(state.iterations() * kTexts);
}

// `callers` threads, each sending one text at a time through the service (queries).
void RunConcurrentCallers(benchmark::State& state, std::size_t max_batch) {
    Env env;
    EmbeddingService service(LoadModel(), Options(max_batch), env.logger, env.metrics, env.clock);
    const int callers = static_cast<int>(state.range(0));
    for (auto _ : state) {
        std::atomic<int> next{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < callers; ++t) {
            threads.emplace_back([&] {
                for (int i; (i = next++) < kTexts;) {
                    auto r = service.Embed(std::span(&Texts()[i], 1), Priority::kInteractive);
                    if (!r.ok()) std::abort();
                }
            });
        }
        for (auto& t : threads) t.join();
    }
    state.SetItemsProcessed(state.iterations() * kTexts);
}

void BM_ServiceConcurrentCallersNoBatching(benchmark::State& state) {
    RunConcurrentCallers(state, 1);
}
void BM_ServiceConcurrentCallersDynamicBatching(benchmark::State& state) {
    RunConcurrentCallers(state, 64);
}

// One bulk call with every text (a publish): the service sorts by length and batches.
void BM_ServiceBulkCall(benchmark::State& state) {
    Env env;
    EmbeddingService service(LoadModel(), Options(64), env.logger, env.metrics, env.clock);
    for (auto _ : state) {
        auto r = service.Embed(Texts(), Priority::kBulk);
        if (!r.ok()) std::abort();
    }
    state.SetItemsProcessed(state.iterations() * kTexts);
}

void Configure(benchmark::internal::Benchmark* b) {
    b->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(3);
}

BENCHMARK(BM_DirectOneTextPerCall)->Apply(Configure);
BENCHMARK(BM_ServiceConcurrentCallersNoBatching)->Arg(32)->Apply(Configure);
BENCHMARK(BM_ServiceConcurrentCallersDynamicBatching)->Arg(32)->Apply(Configure);
BENCHMARK(BM_ServiceBulkCall)->Apply(Configure);

}  // namespace
}  // namespace contex::embed

int main(int argc, char** argv) {
    if (contex::embed::ModelDir() == nullptr) {
        std::fprintf(stderr, "set CONTEX_BENCH_MODEL_DIR to a model directory\n");
        return 2;
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
