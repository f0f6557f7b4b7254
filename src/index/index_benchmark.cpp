// Index benchmarks (issue 5). Vector cases read the dataset written by
// bench/index/make_data.py (directory in $CONTEX_INDEX_BENCH_DATA, default
// build/h-index-data) so that bench/index/baseline.py measures hnswlib and FAISS on the
// very same vectors and queries. Queries run one at a time on one thread, through the
// full Snapshot::Search path (§3.3: candidates, exact re-scoring, fusion, hit objects).
// Reported counters: p50_us / p99_us per query, qps, recall_at_10 against exact top-10.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "index/needs_index.hpp"
#include "index/project_index.hpp"
#include "index/vector_kernels.hpp"

namespace contex::index {
namespace {

constexpr int kDim = 384;

// "prefix" + number without the operator+(const char*, std::string) overload that makes
// GCC 12 emit a spurious -Wrestrict at -O2/-O3.
std::string Cat(std::string_view prefix, long long n) {
    std::string out(prefix);
    out += std::to_string(n);
    return out;
}

std::string DataDir() {
    const char* dir = std::getenv("CONTEX_INDEX_BENCH_DATA");
    return dir ? dir : "build/h-index-data";
}

template <typename T>
std::vector<T> ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) {
        std::fprintf(stderr, "missing %s (run bench/index/make_data.py)\n", path.c_str());
        std::exit(2);
    }
    std::vector<T> data(static_cast<std::size_t>(in.tellg()) / sizeof(T));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(T)));
    return data;
}

struct Dataset {
    std::vector<float> queries;
    std::vector<int32_t> truth;  // 10 per query
    std::size_t query_count() const { return queries.size() / kDim; }
};

int QueryLimit() {
    const char* q = std::getenv("CONTEX_INDEX_BENCH_QUERIES");
    return q ? std::atoi(q) : 1000;
}

// CPU time of the whole process (every thread) in seconds.
double ProcessCpuSeconds() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// Builds (once per process and kind) a project index over base_<n>.f32.
struct Built {
    std::unique_ptr<ProjectIndex> index;
    Dataset data;
    double build_seconds = 0;
    double build_cpu_seconds = 0;  // all threads of the process during Rebuild
};

Built& GetIndex(int n, bool hnsw) {
    static std::map<std::pair<int, bool>, Built> cache;
    auto key = std::make_pair(n, hnsw);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    cache.clear();  // one big index at a time
    Built built;
    const std::string dir = DataDir();
    std::vector<float> base = ReadFile<float>(dir + Cat("/base_", n) + ".f32");
    built.data.queries = ReadFile<float>(dir + Cat("/queries_", n) + ".f32");
    built.data.truth = ReadFile<int32_t>(dir + Cat("/gt_", n) + ".i32");
    const std::size_t limit = std::min<std::size_t>(built.data.query_count(), QueryLimit());
    built.data.queries.resize(limit * kDim);
    std::vector<IndexEntry> entries(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        entries[i].node_key = std::to_string(i);
        entries[i].data_key = Cat("k", i / 10);
        entries[i].vector.assign(base.begin() + std::ptrdiff_t(i) * kDim,
                                 base.begin() + std::ptrdiff_t(i + 1) * kDim);
    }
    std::vector<float>().swap(base);
    IndexOptions options;
    options.hnsw_threshold = hnsw ? 1 : std::size_t(-1);
    options.build_threads = std::max(1u, std::thread::hardware_concurrency());
    built.index = std::make_unique<ProjectIndex>(options);
    auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = ProcessCpuSeconds();
    if (!built.index->Rebuild(std::move(entries), 1).ok()) std::abort();
    built.build_cpu_seconds = ProcessCpuSeconds() - cpu0;
    built.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // CONTEX_INDEX_BENCH_HOLD=<path>: wait for that file before querying, so that a long
    // build can overlap other work and the queries still run on a quiet machine.
    if (const char* hold = std::getenv("CONTEX_INDEX_BENCH_HOLD")) {
        std::fprintf(stderr, "built n=%d in %.0f s; waiting for %s\n", n, built.build_seconds, hold);
        while (!std::ifstream(hold)) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return cache.emplace(key, std::move(built)).first->second;
}

// CPU time of the calling thread in microseconds: on a shared, oversubscribed machine it
// excludes time spent preempted, which wall-clock percentiles include.
double ThreadCpuMicros() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) / 1e3;
}

double Percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * double(v.size())))];
}

// Args: {n} for exact search, {n, ef_search} for HNSW (one graph per n, reused).
void VectorTop10(benchmark::State& state, bool hnsw) {
    const int n = static_cast<int>(state.range(0));
    Built& built = GetIndex(n, hnsw);
    auto snap = built.index->snapshot();
    SearchParams params;  // defaults: k 5 -> use 10, C = 50, ef_search 128
    params.k = 10;
    params.cosine_threshold = -1.0f;
    params.bm25_enabled = false;
    if (hnsw) params.ef_search = static_cast<int>(state.range(1));
    const std::size_t nq = built.data.query_count();
    std::vector<double> latencies, cpu;
    int found = 0;
    for (auto _ : state) {
        latencies.clear();
        cpu.clear();
        found = 0;
        for (std::size_t q = 0; q < nq; ++q) {
            std::span<const float> query(built.data.queries.data() + q * kDim, kDim);
            const double c0 = ThreadCpuMicros();
            auto t0 = std::chrono::steady_clock::now();
            auto hits = snap->Search(query, "", params);
            latencies.push_back(std::chrono::duration<double, std::micro>(
                                    std::chrono::steady_clock::now() - t0).count());
            cpu.push_back(ThreadCpuMicros() - c0);
            for (const Hit& h : hits) {
                const int id = std::stoi(h.node_key);
                for (int j = 0; j < 10; ++j) found += built.data.truth[q * 10 + j] == id;
            }
            benchmark::DoNotOptimize(hits);
        }
    }
    double total = 0;
    for (double l : latencies) total += l;
    state.counters["p50_us"] = Percentile(latencies, 0.50);
    state.counters["p99_us"] = Percentile(latencies, 0.99);
    state.counters["qps"] = double(nq) / (total / 1e6);
    state.counters["cpu_p50_us"] = Percentile(cpu, 0.50);
    state.counters["cpu_p99_us"] = Percentile(cpu, 0.99);
    state.counters["recall_at_10"] = double(found) / (10.0 * double(nq));
    state.counters["build_s"] = built.build_seconds;
    state.counters["build_cpu_s"] = built.build_cpu_seconds;
    state.counters["memory_mb"] = double(snap->memory_bytes()) / (1 << 20);
    state.SetLabel(std::string(DotKernelName()));
}

void BM_ExactTop10(benchmark::State& state) { VectorTop10(state, false); }
void BM_HnswTop10(benchmark::State& state) { VectorTop10(state, true); }
BENCHMARK(BM_ExactTop10)->Arg(10000)->Arg(100000)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
// ef_search 128 is the product default (HNSW_EF_SEARCH); 64 and 256 show the trade-off
// on the same graph (queries are cheap next to the build).
BENCHMARK(BM_HnswTop10)
    ->ArgsProduct({{10000, 100000, 1000000}, {128, 64, 256}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Synthetic text corpus: Zipf(1.0) over a 50k-word vocabulary, 10-60 words per node.
class Corpus {
public:
    explicit Corpus(uint32_t seed) : rng_(seed) {
        std::vector<double> weights(kVocabulary);
        for (int r = 0; r < kVocabulary; ++r) weights[r] = 1.0 / (r + 1);
        zipf_ = std::discrete_distribution<int>(weights.begin(), weights.end());
    }
    std::string Word() { return Cat("w", zipf_(rng_)); }
    std::string Text(int min_words, int max_words) {
        std::string t;
        const int words = min_words + int(rng_() % uint32_t(max_words - min_words + 1));
        for (int i = 0; i < words; ++i) t += Word() + " ";
        return t;
    }
    std::mt19937& rng() { return rng_; }

private:
    static constexpr int kVocabulary = 50000;
    std::mt19937 rng_;
    std::discrete_distribution<int> zipf_;
};

ProjectIndex& TextIndex(int n) {
    static std::map<int, std::unique_ptr<ProjectIndex>> cache;
    auto it = cache.find(n);
    if (it != cache.end()) return *it->second;
    cache.clear();
    Corpus corpus(17);
    std::vector<IndexEntry> entries(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        entries[i].node_key = std::to_string(i);
        entries[i].data_key = Cat("k", i / 10);
        entries[i].text = corpus.Text(10, 60);
    }
    IndexOptions options;
    options.build_threads = std::max(1u, std::thread::hardware_concurrency());
    auto index = std::make_unique<ProjectIndex>(options);
    if (!index->Rebuild(std::move(entries), 1).ok()) std::abort();
    return *cache.emplace(n, std::move(index)).first->second;
}

void BM_Bm25Top10(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    auto snap = TextIndex(n).snapshot();
    Corpus queries(23);
    std::vector<std::string> texts;
    for (int i = 0; i < 1000; ++i) texts.push_back(queries.Text(2, 4));
    SearchParams params;
    params.k = 10;
    params.keyword_threshold = 0.0f;
    std::vector<double> latencies, cpu;
    for (auto _ : state) {
        latencies.clear();
        cpu.clear();
        for (const std::string& text : texts) {
            const double c0 = ThreadCpuMicros();
            auto t0 = std::chrono::steady_clock::now();
            auto hits = snap->Search({}, text, params);
            latencies.push_back(std::chrono::duration<double, std::micro>(
                                    std::chrono::steady_clock::now() - t0).count());
            cpu.push_back(ThreadCpuMicros() - c0);
            benchmark::DoNotOptimize(hits);
        }
    }
    state.counters["p50_us"] = Percentile(latencies, 0.50);
    state.counters["p99_us"] = Percentile(latencies, 0.99);
    state.counters["cpu_p50_us"] = Percentile(cpu, 0.50);
    state.counters["cpu_p99_us"] = Percentile(cpu, 0.99);
    state.counters["memory_mb"] = double(snap->memory_bytes()) / (1 << 20);
}
BENCHMARK(BM_Bm25Top10)->Arg(100000)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Reverse matching: 100 new nodes against 10k needs (dim 384), BM25 against a 100k-node
// project snapshot that contains the new nodes.
void BM_ReverseMatch(benchmark::State& state) {
    const int needs_count = static_cast<int>(state.range(0));
    const int new_count = static_cast<int>(state.range(1));
    Corpus corpus(31);
    std::normal_distribution<float> normal;
    auto unit = [&] {
        std::vector<float> v(kDim);
        double norm = 0;
        for (float& x : v) {
            x = normal(corpus.rng());
            norm += double(x) * x;
        }
        for (float& x : v) x = float(x / std::sqrt(norm));
        return v;
    };
    ProjectIndex& project = TextIndex(100000);
    std::vector<IndexEntry> fresh;
    for (int i = 0; i < new_count; ++i) {
        fresh.push_back(IndexEntry{Cat("new", i), "fresh", corpus.Text(10, 60), unit()});
    }
    if (!project.Apply(fresh, {}, 2).ok()) std::abort();
    auto after = project.snapshot();
    NeedsIndex needs;
    for (int a = 0; a < needs_count / 10; ++a) {
        std::vector<NeedRef> list;
        for (int j = 0; j < 10; ++j) list.push_back(NeedRef{"", j, corpus.Text(1, 4), unit()});
        needs.Upsert(Cat("agent", a), std::move(list));
    }
    (void)needs.Match(*after, fresh, 0.5f, 5.0f);  // flatten the needs once
    std::size_t matches = 0;
    for (auto _ : state) {
        auto result = needs.Match(*after, fresh, 0.5f, 5.0f);
        matches = result.ok() ? result->size() : 0;
        benchmark::DoNotOptimize(result);
    }
    state.counters["matches"] = double(matches);
}
BENCHMARK(BM_ReverseMatch)->Args({10000, 100})->Unit(benchmark::kMillisecond)->UseRealTime();

// Raw kernel throughput: one query against 10k contiguous 384-d rows.
void BM_DotRows(benchmark::State& state) {
    const std::size_t rows = static_cast<std::size_t>(state.range(0));
    std::vector<float> matrix(rows * kDim, 0.01f), query(kDim, 0.5f), out(rows);
    for (auto _ : state) {
        DotRows(query.data(), matrix.data(), rows, kDim, out.data());
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["GFLOPs"] = benchmark::Counter(2.0 * double(rows) * kDim,
                                                  benchmark::Counter::kIsIterationInvariantRate,
                                                  benchmark::Counter::kIs1000);
    state.SetLabel(std::string(DotKernelName()));
}
BENCHMARK(BM_DotRows)->Arg(10000)->Arg(100000);

// One publish of 10 nodes into a 100k-node project (copy-on-write cost).
void BM_ApplySmallPublish(benchmark::State& state) {
    ProjectIndex& project = TextIndex(100000);
    Corpus corpus(41);
    int64_t seq = 100;
    int key = 0;
    for (auto _ : state) {
        state.PauseTiming();
        std::vector<IndexEntry> e;
        std::vector<std::string> removed;
        for (int i = 0; i < 10; ++i) {
            e.push_back(IndexEntry{Cat("p", key) + Cat("_", i),
                                   Cat("p", key), corpus.Text(10, 60), {}});
            removed.push_back(std::to_string(key * 10 + i));  // replaces nodes of the base
        }
        ++key;
        state.ResumeTiming();
        if (!project.Apply(e, removed, ++seq).ok()) std::abort();
    }
}
BENCHMARK(BM_ApplySmallPublish)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace contex::index

BENCHMARK_MAIN();
