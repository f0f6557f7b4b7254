// Parsing throughput (MB/s) per format over the fixtures in tests/testdata/ingest/, as is
// and scaled to ~1 MB, plus the bare third-party parse of the same bytes as a baseline
// (what ingest adds on top: the data model, splitting, node texts, hashing).
//
//   build/<release>/src/ingest/ingest_benchmark --benchmark_repetitions=5
//     --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <pugixml.hpp>
#include <toml++/toml.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/json.hpp"
#include "ingest/ingest.hpp"

namespace {

using contex::json::value;
namespace ingest = contex::ingest;

std::string Read(const std::string& name) {
    std::ifstream in(std::string(CONTEX_SOURCE_DIR) + "/tests/testdata/ingest/" + name,
                     std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

constexpr std::size_t kScaledBytes = 1 << 20;

// ~1 MB inputs built from the fixtures so per-call overhead does not dominate.
std::string Scaled(const std::string& format) {
    std::string out;
    if (format == "json") {
        std::string one = Read("package.json");
        out = "[";
        while (out.size() < kScaledBytes) out += one + ",";
        out.back() = ']';
    } else if (format == "yaml") {
        std::string one = Read("openapi.yaml");
        for (int i = 0; out.size() < kScaledBytes; ++i) {
            out += "api_" + std::to_string(i) + ":\n";
            std::istringstream lines(one);
            for (std::string line; std::getline(lines, line);) out += "  " + line + "\n";
        }
    } else if (format == "toml") {
        for (int i = 0; out.size() < kScaledBytes; ++i) {
            out += "[[package]]\nname = \"pkg-" + std::to_string(i) +
                   "\"\nversion = \"1.2.3\"\nrequires = [\"a>=1\", \"b\"]\n\n";
        }
    } else if (format == "csv") {
        out = "id,customer,notes,total\n";
        for (int i = 0; out.size() < kScaledBytes; ++i) {
            out += std::to_string(i) + ",\"Lee, Ann\",\"Leave at the door.\nRing twice.\",42.50\n";
        }
    } else if (format == "xml") {
        out = "<items>";
        for (int i = 0; out.size() < kScaledBytes; ++i) {
            out += "<dependency scope=\"test\"><groupId>org.example</groupId><artifactId>lib-" +
                   std::to_string(i) + "</artifactId><version>1.0</version></dependency>";
        }
        out += "</items>";
    } else if (format == "markdown") {
        std::string one = Read("README.md");
        one = one.substr(one.find("# Inventory"));  // front matter only once
        while (out.size() < kScaledBytes) out += one + "\n";
    } else if (format == "code") {
        std::string one = Read("code/inventory.py");
        while (out.size() < kScaledBytes) out += one + "\n";
    } else {
        std::string one = Read("notes.txt");
        while (out.size() < kScaledBytes) out += one + "\n";
    }
    return out;
}

std::string Fixture(const std::string& format) {
    if (format == "json") return Read("package.json");
    if (format == "yaml") return Read("openapi.yaml");
    if (format == "toml") return Read("pyproject.toml");
    if (format == "csv") return Read("orders.csv");
    if (format == "xml") return Read("pom.xml");
    if (format == "markdown") return Read("README.md");
    if (format == "code") return Read("code/inventory.py");
    return Read("notes.txt");
}

void RunIngest(benchmark::State& state, const std::string& format, const std::string& input) {
    value data(input);
    ingest::ParseOptions options;
    options.max_nodes = 1000000;
    std::string hint = format == "code" ? "python" : format;
    std::size_t nodes = 0;
    for (auto _ : state) {
        auto doc = ingest::Parse("bench_key", data, hint, options);
        if (!doc.ok()) {
            state.SkipWithError(doc.error().message.c_str());
            return;
        }
        nodes = doc->nodes.size();
        benchmark::DoNotOptimize(doc);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
    state.counters["nodes"] = static_cast<double>(nodes);
    state.counters["input_bytes"] = static_cast<double>(input.size());
}

void BM_IngestFixture(benchmark::State& state, std::string format) {
    RunIngest(state, format, Fixture(format));
}

void BM_IngestScaled(benchmark::State& state, std::string format) {
    RunIngest(state, format, Scaled(format));
}

// Baseline: the third-party parser alone on the same scaled bytes.
void BM_BaselineParse(benchmark::State& state, std::string format) {
    std::string input = Scaled(format);
    for (auto _ : state) {
        if (format == "json") {
            auto v = contex::ParseJson(input);
            benchmark::DoNotOptimize(v);
        } else if (format == "yaml") {
            auto docs = YAML::LoadAll(input);
            benchmark::DoNotOptimize(docs);
        } else if (format == "toml") {
            auto t = toml::parse(input);
            benchmark::DoNotOptimize(t);
        } else {
            pugi::xml_document doc;
            auto r = doc.load_buffer(input.data(), input.size());
            benchmark::DoNotOptimize(r);
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

}  // namespace

#define CONTEX_INGEST_BENCH(format)                                                  \
    BENCHMARK_CAPTURE(BM_IngestFixture, format, std::string(#format))->Unit(benchmark::kMicrosecond); \
    BENCHMARK_CAPTURE(BM_IngestScaled, format, std::string(#format))->Unit(benchmark::kMillisecond)

CONTEX_INGEST_BENCH(json);
CONTEX_INGEST_BENCH(yaml);
CONTEX_INGEST_BENCH(toml);
CONTEX_INGEST_BENCH(csv);
CONTEX_INGEST_BENCH(xml);
CONTEX_INGEST_BENCH(markdown);
CONTEX_INGEST_BENCH(code);
CONTEX_INGEST_BENCH(text);
BENCHMARK_CAPTURE(BM_BaselineParse, json, std::string("json"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_BaselineParse, yaml, std::string("yaml"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_BaselineParse, toml, std::string("toml"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_BaselineParse, xml, std::string("xml"))->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
