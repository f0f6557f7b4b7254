// OpenAiEmbedder: an OpenAI-compatible /v1/embeddings endpoint (TEI, Ollama, vLLM,
// OpenAI), engine.md §2.5.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "embed/embedder.hpp"

namespace contex::obs {
class MetricsRegistry;
}

namespace contex::embed {

struct OpenAiOptions {
    std::string api_url;   // EMBEDDING_API_URL, with or without a trailing /v1
    std::string api_key;   // EMBEDDING_API_KEY; sent as a bearer token when non-empty
    std::string model;     // EMBEDDING_MODEL, sent as "model"
    int expected_dim = 0;  // EMBEDDING_DIM; 0 = take what the endpoint returns
    int batch = 64;        // EMBEDDING_API_BATCH: inputs per request
    std::chrono::milliseconds timeout{30000};  // EMBEDDING_API_TIMEOUT per request
    int max_tokens = 512;  // EMBEDDING_MAX_TOKENS: inputs are cut at max_tokens × 4 characters
    int retries = 3;       // on 429, 5xx and network errors
    // Waits between attempts; tests inject a recorder instead of sleeping.
    std::function<void(std::chrono::milliseconds)> sleep;
    // Optional: contex_retries_total / contex_retry_exhausted_total{operation="embedding_api"}.
    obs::MetricsRegistry* metrics = nullptr;
};

// The endpoint URL for `api_url`: "<base>/v1/embeddings" without a duplicate /v1.
std::string EmbeddingsEndpoint(std::string_view api_url);

// Retry delay before retry number `attempt` (0-based): 0.5 s, 1 s, 2 s … ± 25 %, or the
// Retry-After seconds when the server sent them (capped at 60 s). `unit_random` ∈ [0, 1).
std::chrono::milliseconds RetryDelay(int attempt, std::optional<std::string> retry_after,
                                     double unit_random);

// Thread-safe (each request uses its own connection).
class OpenAiEmbedder final : public Embedder {
  public:
    // Probes the endpoint once to discover the dimension. kInvalidArgument when it differs
    // from expected_dim; kUnavailable/kTimeout when the endpoint cannot be reached.
    static Result<std::unique_ptr<OpenAiEmbedder>> Create(OpenAiOptions options);

    const std::string& model_id() const override { return model_id_; }
    int dim() const override { return dim_; }
    int max_tokens() const override { return options_.max_tokens; }
    std::size_t CountTokens(std::string_view text) const override {
        return ApproximateTokenCount(text);
    }
    // Errors: kUnavailable (HTTP error after retries, malformed response, NaN/zero vector),
    // kTimeout (last attempt timed out).
    Result<std::vector<Vector>> Embed(std::span<const std::string> texts) override;

  private:
    explicit OpenAiEmbedder(OpenAiOptions options);
    Result<std::vector<Vector>> EmbedChunk(std::span<const std::string> texts);
    Result<std::string> PostWithRetries(const std::string& body);

    OpenAiOptions options_;
    std::string endpoint_;
    std::string model_id_;
    int dim_ = 0;
};

}  // namespace contex::embed
