#include "embed/cli.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/json.hpp"
#include "embed/model_fetch.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace contex::embed {

namespace {

std::string Mib(std::uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return buf;
}

}  // namespace

int RunEmbedCommand(const EmbeddingConfig& config, std::vector<std::string> texts, std::istream& in,
                    std::ostream& out, std::ostream& err, TextKind kind) {
    if (texts.empty()) {
        std::string line;
        while (std::getline(in, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            texts.push_back(line);
        }
    }
    SystemClock clock;
    obs::Logger logger(obs::LogOptions{obs::LogLevel::kWarning, false, stderr}, clock);
    obs::MetricsRegistry metrics;
    auto service = CreateEmbeddingService(config, logger, metrics, clock);
    if (!service.ok()) {
        err << "error: " << service.error().message << "\n";
        return 1;
    }
    const Priority priority = kind == TextKind::kQuery ? Priority::kInteractive : Priority::kBulk;
    auto rows = (*service)->Embed(texts, priority, kind);
    if (!rows.ok()) {
        err << "error: " << rows.error().message << "\n";
        return 1;
    }
    std::string s = "{\"model\":";
    AppendJsonString(s, (*service)->model_id());
    s += ",\"dim\":" + std::to_string((*service)->dim()) + ",\"vectors\":[";
    for (std::size_t i = 0; i < rows->size(); ++i) {
        if (i) s += ',';
        s += '[';
        for (std::size_t k = 0; k < (*rows)[i].size(); ++k) {
            if (k) s += ',';
            // Shortest text that reads back as the same float32 ("0.1", not the double
            // expansion 0.10000000149011612).
            char buf[32];
            const auto res = std::to_chars(buf, buf + sizeof(buf), (*rows)[i][k]);
            s.append(buf, res.ptr);
        }
        s += ']';
    }
    s += "]}\n";
    out << s;
    return 0;
}

int RunModelFetchCommand(const EmbeddingConfig& config, std::ostream& out, std::ostream& err) {
    int last_percent = -1;
    std::string last_file;
    auto result =
        FetchModel(config, [&](std::uint64_t done, std::uint64_t total, std::string_view file) {
            const int percent = total ? static_cast<int>(done * 100 / total) : 0;
            if (file == last_file && percent == last_percent) return;
            if (!last_file.empty() && file != last_file) err << "\n";
            last_file = std::string(file);
            last_percent = percent;
            const int filled = percent / 5;
            err << "\r" << file << " [" << std::string(filled, '#') << std::string(20 - filled, ' ')
                << "] " << percent << "% " << Mib(done) << (total ? " / " + Mib(total) : "")
                << std::flush;
        });
    if (!last_file.empty()) err << "\n";
    if (!result.ok()) {
        err << "error: " << result.error().message << "\n";
        return 1;
    }
    out << result->string() << "\n";
    return 0;
}

int RunModelInspectCommand(const EmbeddingConfig& config, const Clock& clock, std::ostream& out,
                           std::ostream& err) {
    EmbeddingConfig offline = config;
    offline.offline = true;
    json::object report;
    report["provider"] = ProviderName(config.provider);
    if (config.provider == ProviderKind::kLocal) {
        auto dir = FetchModel(offline, {});
        if (!dir.ok()) {
            err << "error: " << dir.error().message << "\n";
            return 1;
        }
        report["path"] = dir->string();
        if (auto manifest = VerifyManifest(*dir); manifest.ok()) {
            report["manifest"] = std::move(*manifest);
        } else {
            report["manifest"] = nullptr;
        }
    }
    obs::MetricsRegistry metrics;
    auto embedder = CreateEmbedder(offline, &metrics);
    if (!embedder.ok()) {
        err << "error: " << embedder.error().message << "\n";
        return 1;
    }
    const std::vector<std::string> probe = {"health check"};
    const auto start = clock.Monotonic();
    auto rows = (*embedder)->Embed(probe);
    const double ms = std::chrono::duration<double, std::milli>(clock.Monotonic() - start).count();
    report["model"] = (*embedder)->model_id();
    report["dim"] = (*embedder)->dim();
    report["max_seq_tokens"] = (*embedder)->max_tokens();
    report["precision"] = PrecisionName(config.precision);
    report["self_test_ms"] = std::round(ms * 100) / 100;
    report["self_test"] = rows.ok() ? "ok" : rows.error().message;
    out << ToPrettyJson(report) << "\n";
    return rows.ok() ? 0 : 1;
}

}  // namespace contex::embed
