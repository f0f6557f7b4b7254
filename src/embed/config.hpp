// EmbeddingConfig: every embedding-related variable of operations.md §1.5 with its
// default, and the loader that validates them. Pure data; no I/O besides the getter.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace contex::embed {

enum class ProviderKind { kLocal, kOpenAi, kLexical };
enum class Precision { kFp32, kInt8 };

std::string_view ProviderName(ProviderKind kind);     // "local", "openai", "lexical"
std::string_view PrecisionName(Precision precision);  // "fp32", "int8"

struct EmbeddingConfig {
    ProviderKind provider = ProviderKind::kLocal;                  // EMBEDDING_PROVIDER
    std::string model = "sentence-transformers/all-MiniLM-L6-v2";  // EMBEDDING_MODEL
    std::string model_revision = "main";                           // EMBEDDING_MODEL_REVISION
    std::string model_dir;  // CONTEX_MODEL_DIR (default ~/.cache/contex/models)
    std::string hf_endpoint = "https://huggingface.co";  // HF_ENDPOINT
    std::string hf_token;                                // HF_TOKEN (secret)
    bool offline = false;                                // CONTEX_OFFLINE or HF_HUB_OFFLINE
    bool strict = false;                                 // EMBEDDING_STRICT
    Precision precision = Precision::kFp32;              // EMBEDDING_PRECISION
    int threads = 0;                                     // EMBEDDING_THREADS; 0 = min(4, cores)
    std::size_t queue_limit = 10000;                     // EMBEDDING_QUEUE_LIMIT (texts)
    std::size_t batch_tokens = 8192;                     // EMBEDDING_BATCH_TOKENS
    std::size_t max_batch = 64;                          // EMBEDDING_MAX_BATCH
    int batch_wait_ms = 2;                               // EMBEDDING_BATCH_WAIT_MS
    std::string query_prefix;                            // EMBEDDING_QUERY_PREFIX
    std::string document_prefix;                         // EMBEDDING_DOCUMENT_PREFIX
    std::string api_url;                                 // EMBEDDING_API_URL (required for openai)
    std::string api_key;                                 // EMBEDDING_API_KEY (secret)
    int dim = 0;                                         // EMBEDDING_DIM; 0 = discovered
    int api_batch = 64;                                  // EMBEDDING_API_BATCH
    int api_timeout_s = 30;                              // EMBEDDING_API_TIMEOUT
    int max_tokens = 512;                                // EMBEDDING_MAX_TOKENS
    std::size_t cache_size = 10000;                      // EMBEDDING_CACHE_SIZE; 0 disables
    int cache_ttl_s = 0;                                 // EMBEDDING_CACHE_TTL; 0 = no expiry
    // Not an environment variable: how long a blocking caller waits to enqueue before
    // kUnavailable (engine.md §2.6 fixes it at 30 s; tests shorten it).
    std::chrono::milliseconds enqueue_timeout{30000};

    // EMBEDDING_THREADS resolved against the number of cores.
    int EffectiveThreads() const;
};

// Returns the value of an environment variable, or nullopt when unset.
using EnvGetter = std::function<std::optional<std::string>(std::string_view name)>;

// Reads and validates the variables above through `getenv` (operations.md §1.1 rules:
// booleans true/false/1/0/yes/no/on/off, integer ranges of §1.5). kInvalidArgument with a
// message naming the variable when a value is malformed or out of range.
Result<EmbeddingConfig> LoadEmbeddingConfig(const EnvGetter& getenv);
// LoadEmbeddingConfig over the process environment.
Result<EmbeddingConfig> LoadEmbeddingConfigFromEnvironment();

}  // namespace contex::embed
