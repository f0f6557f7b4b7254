// Benchmark driver for the native BERT runtime (issue 4): sentences/s over the
// length-sorted inputs written by make_minilm_random.py, and batch-1 latency.
//
//   native_bench MODEL_DIR fp32|int8 THREADS [BATCH]
//
// Throughput: THREADS workers each own a Workspace and pull batches of BATCH (default 32)
// consecutive length-sorted inputs from a shared counter (how the embedding service runs
// them). Latency: batch-1 calls on one Workspace with an IntraOpTeam of THREADS - 1
// helpers (how the service runs a lone short request). Prints one JSON object.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/json.hpp"
#include "embed/native/bert_model.hpp"
#include "embed/native/file_util.hpp"
#include "embed/native/intra_op_team.hpp"

using contex::embed::native::BertModel;
using contex::embed::native::Precision;
using Clock = std::chrono::steady_clock;

namespace {

// CPU seconds consumed by the whole process (all threads): less sensitive than wall time
// to other jobs sharing the machine.
double ProcessCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double Median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

std::vector<int32_t> ToIds(const contex::json::value& v) {
    std::vector<int32_t> ids;
    for (const auto& x : v.as_array()) ids.push_back(static_cast<int32_t>(x.as_int64()));
    return ids;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s MODEL_DIR fp32|int8 THREADS [BATCH]\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    const Precision precision = std::string(argv[2]) == "int8" ? Precision::kInt8 : Precision::kFp32;
    const int workers = std::atoi(argv[3]);
    const std::size_t batch_size = argc > 4 ? static_cast<std::size_t>(std::atoi(argv[4])) : 32;

    auto model = BertModel::Load(dir, precision);
    if (!model.ok()) {
        std::fprintf(stderr, "load failed: %s\n", model.error().message.c_str());
        return 1;
    }
    auto inputs = contex::embed::native::internal::ReadJsonFile(dir + "/inputs.json");
    if (!inputs.ok()) {
        std::fprintf(stderr, "inputs: %s\n", inputs.error().message.c_str());
        return 1;
    }
    std::vector<std::vector<int32_t>> seqs;
    for (const auto& s : inputs->at("throughput").as_array()) seqs.push_back(ToIds(s));
    std::stable_sort(seqs.begin(), seqs.end(),
                     [](const auto& a, const auto& b) { return a.size() < b.size(); });
    std::vector<std::span<const std::vector<int32_t>>> batches;
    for (std::size_t i = 0; i < seqs.size(); i += batch_size) {
        batches.emplace_back(seqs.data() + i, std::min(batch_size, seqs.size() - i));
    }

    std::vector<std::unique_ptr<BertModel::Workspace>> spaces;
    for (int w = 0; w < workers; ++w) spaces.push_back((*model)->NewWorkspace());
    double cpu_seconds = 0;
    auto pass = [&]() -> double {
        std::atomic<std::size_t> next{0};
        std::atomic<bool> failed{false};
        const double c0 = ProcessCpuSeconds();
        const auto t0 = Clock::now();
        std::vector<std::thread> threads;
        for (int w = 0; w < workers; ++w) {
            threads.emplace_back([&, w] {
                std::vector<float> out;
                for (std::size_t b; (b = next.fetch_add(1)) < batches.size();) {
                    if (!(*model)->Encode(*spaces[w], batches[b], out).ok()) failed = true;
                }
            });
        }
        for (auto& t : threads) t.join();
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        cpu_seconds = ProcessCpuSeconds() - c0;
        if (failed) {
            std::fprintf(stderr, "encode failed\n");
            std::exit(1);
        }
        return static_cast<double>(seqs.size()) / s;
    };
    const int passes = std::getenv("NATIVE_BENCH_LATENCY_ONLY") ? 0 : 3;
    const double cold = passes ? pass() : 0.0;  // includes creating GEMM primitives
    std::vector<double> rates{0.0}, cpu_rates{0.0};
    if (passes) rates.clear(), cpu_rates.clear();
    for (int r = 0; r < passes; ++r) {
        rates.push_back(pass());
        cpu_rates.push_back(static_cast<double>(seqs.size()) / cpu_seconds);
    }

    auto latency_ws = (*model)->NewWorkspace();
    contex::embed::native::IntraOpTeam team(workers - 1);
    std::string latency_json;
    // NATIVE_BENCH_LATENCY_ONLY=16 (or 128) measures that length alone (for profiling).
    const char* only = std::getenv("NATIVE_BENCH_LATENCY_ONLY");
    for (const char* n : {"16", "128"}) {
        if (only != nullptr && (std::string(only) == "16" || std::string(only) == "128") &&
            std::string(only) != n) {
            continue;
        }
        const std::vector<std::vector<int32_t>> one = {ToIds(inputs->at("latency").at(n))};
        std::vector<float> out;
        for (int i = 0; i < 10; ++i) (void)(*model)->Encode(*latency_ws, one, out, &team);
        std::vector<double> ms, cpu_ms;
        for (int i = 0; i < 200; ++i) {
            const double c0 = ProcessCpuSeconds();
            const auto t0 = Clock::now();
            (void)(*model)->Encode(*latency_ws, one, out, &team);
            ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            cpu_ms.push_back((ProcessCpuSeconds() - c0) * 1e3);
        }
        latency_json += ", \"latency_ms_" + std::string(n) + "\": " + std::to_string(Median(ms)) +
                        ", \"latency_cpu_ms_" + std::string(n) + "\": " + std::to_string(Median(cpu_ms));
    }
    std::printf("{\"runtime\": \"native\", \"precision\": \"%s\", \"threads\": %d, "
                "\"batch\": %zu, \"kernels\": \"%s\", \"sentences_per_s\": %.1f, "
                "\"sentences_per_s_runs\": [%.1f, %.1f, %.1f], \"sentences_per_cpu_s\": %.1f, "
                "\"cold_pass_sentences_per_s\": %.1f%s}\n",
                argv[2], workers, batch_size, std::string((*model)->kernels_name()).c_str(),
                Median(rates), rates[0], rates[passes > 1 ? 1 : 0], rates[passes > 2 ? 2 : 0], Median(cpu_rates), cold,
                latency_json.c_str());
    return 0;
}
