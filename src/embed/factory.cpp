// CreateEmbedder / CreateEmbeddingService: the provider choice, model resolution and the
// lexical fallback (engine.md §2.2–§2.4).
#include <cmath>

#include "embed/embedding_service.hpp"
#include "embed/lexical_embedder.hpp"
#include "embed/model_fetch.hpp"
#include "embed/openai_embedder.hpp"
#ifdef CONTEX_HAVE_EMBED_NATIVE
#include "embed/local_embedder.hpp"
#endif

namespace contex::embed {

namespace {

constexpr std::string_view kLogger = "contex.embedding";

#ifdef CONTEX_HAVE_EMBED_NATIVE
// The id stored with vectors: the hub id, or for a directory the repository recorded in
// its manifest when it came from `contex model fetch`, else the directory as configured.
std::string LocalModelId(const EmbeddingConfig& config, const std::filesystem::path& dir) {
    if (!IsModelDirectory(config.model)) return config.model;
    if (auto manifest = VerifyManifest(dir); manifest.ok()) {
        if (const auto* repo = manifest->if_contains("repo"); repo && repo->is_string()) {
            return std::string(repo->as_string());
        }
    }
    return config.model;
}
#endif

// Load-time self-test (engine.md §2.2): one embedding with the right dimension, finite
// and of unit norm.
Status SelfTest(Embedder& embedder) {
    const std::vector<std::string> probe = {"health check"};
    CONTEX_ASSIGN_OR_RETURN(auto rows, embedder.Embed(probe));
    if (rows.size() != 1 || static_cast<int>(rows[0].size()) != embedder.dim()) {
        return Internal("self-test returned a vector of the wrong dimension");
    }
    double norm = 0;
    for (const float x : rows[0]) {
        if (!std::isfinite(x)) return Internal("self-test returned NaN or Inf");
        norm += static_cast<double>(x) * x;
    }
    if (std::abs(norm - 1.0) > 1e-3) return Internal("self-test returned a non-unit vector");
    return OkStatus();
}

Result<std::unique_ptr<Embedder>> AcquireEmbedder(const EmbeddingConfig& config,
                                                  obs::MetricsRegistry* metrics) {
    CONTEX_ASSIGN_OR_RETURN(auto embedder, CreateEmbedder(config, metrics));
    CONTEX_TRY(SelfTest(*embedder));
    return embedder;
}

}  // namespace

Result<std::unique_ptr<Embedder>> CreateEmbedder(const EmbeddingConfig& config,
                                                 obs::MetricsRegistry* metrics) {
    switch (config.provider) {
        case ProviderKind::kLexical:
            return std::unique_ptr<Embedder>(std::make_unique<LexicalEmbedder>());
        case ProviderKind::kOpenAi: {
            OpenAiOptions o;
            o.api_url = config.api_url;
            o.api_key = config.api_key;
            o.model = config.model;
            o.expected_dim = config.dim;
            o.batch = config.api_batch;
            o.timeout = std::chrono::seconds(config.api_timeout_s);
            o.max_tokens = config.max_tokens;
            o.metrics = metrics;
            CONTEX_ASSIGN_OR_RETURN(auto e, OpenAiEmbedder::Create(std::move(o)));
            return std::unique_ptr<Embedder>(std::move(e));
        }
        case ProviderKind::kLocal: {
#ifdef CONTEX_HAVE_EMBED_NATIVE
            CONTEX_ASSIGN_OR_RETURN(auto dir, FetchModel(config, {}));
            CONTEX_ASSIGN_OR_RETURN(
                auto e, LocalEmbedder::Load(dir, config.precision, LocalModelId(config, dir),
                                            config.EffectiveThreads()));
            return std::unique_ptr<Embedder>(std::move(e));
#else
            return Unavailable("this build has no native embedding runtime (embed/native)");
#endif
        }
    }
    return InvalidArgument("unknown EMBEDDING_PROVIDER");
}

Result<std::unique_ptr<EmbeddingService>> CreateEmbeddingService(const EmbeddingConfig& config,
                                                                 obs::Logger& logger,
                                                                 obs::MetricsRegistry& metrics,
                                                                 const Clock& clock) {
    const auto start = clock.Monotonic();
    ServiceOptions options = ServiceOptions::FromConfig(config);
    if (config.provider == ProviderKind::kOpenAi) options.precision = "remote";
    if (config.provider == ProviderKind::kLexical) options.precision = "fp32";

    auto embedder = AcquireEmbedder(config, &metrics);
    if (embedder.ok()) {
        const double load_ms =
            std::chrono::duration<double, std::milli>(clock.Monotonic() - start).count();
        logger.Log(obs::LogLevel::kInfo, kLogger, "Embedding model loaded",
                   {{"model", json::value((*embedder)->model_id())},
                    {"dim", json::value((*embedder)->dim())},
                    {"precision", json::value(options.precision)},
                    {"provider", json::value(options.provider)},
                    {"load_ms", json::value(std::round(load_ms * 10) / 10)}});
    } else {
        const Error& error = embedder.error();
        // A wrong EMBEDDING_DIM is a configuration error, never papered over.
        const bool config_error =
            config.provider == ProviderKind::kOpenAi && error.code == ErrorCode::kInvalidArgument;
        if (config.strict || config_error) {
            return Error(error.code, "embedding model " + config.model +
                                         " could not be loaded: " + error.message);
        }
        logger.Log(obs::LogLevel::kError, kLogger,
                   "Embedding model unavailable; using built-in lexical embedder",
                   {{"model", json::value(config.model)},
                    {"provider", json::value(options.provider)},
                    {"error", json::value(error.message)}});
        const std::string wanted_provider = options.provider;
        const std::string wanted_precision = options.precision;
        options.provider = "lexical";
        options.precision = "fp32";
        options.degraded = true;
        auto service = std::make_unique<EmbeddingService>(
            std::make_unique<LexicalEmbedder>(), std::move(options), logger, metrics, clock);
        // engine.md §2.3: retry in the background, 1 min doubling to 1 h.
        std::vector<std::chrono::milliseconds> schedule;
        for (int minutes = 1; minutes < 60; minutes *= 2) {
            schedule.push_back(std::chrono::minutes(minutes));
        }
        schedule.push_back(std::chrono::minutes(60));
        service->StartModelRetry([config, &metrics] { return AcquireEmbedder(config, &metrics); },
                                 std::move(schedule), wanted_provider, wanted_precision);
        return service;
    }
    return std::make_unique<EmbeddingService>(std::move(*embedder), std::move(options), logger,
                                              metrics, clock);
}

}  // namespace contex::embed
