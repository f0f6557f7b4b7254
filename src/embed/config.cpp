#include "embed/config.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <thread>

#include "common/strings.hpp"

namespace contex::embed {

std::string_view ProviderName(ProviderKind kind) {
    switch (kind) {
        case ProviderKind::kLocal:
            return "local";
        case ProviderKind::kOpenAi:
            return "openai";
        case ProviderKind::kLexical:
            return "lexical";
    }
    return "local";
}

std::string_view PrecisionName(Precision precision) {
    return precision == Precision::kInt8 ? "int8" : "fp32";
}

int EmbeddingConfig::EffectiveThreads() const {
    if (threads > 0) return threads;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return static_cast<int>(std::min(4u, cores));
}

namespace {

Error Bad(std::string_view name, std::string_view why) {
    return InvalidArgument("invalid value for " + std::string(name) + ": " + std::string(why));
}

Status ReadInt(const EnvGetter& getenv, std::string_view name, long long lo, long long hi,
               auto& out) {
    auto raw = getenv(name);
    if (!raw) return OkStatus();
    const std::string_view text = TrimView(*raw);
    long long v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
        return Bad(name, "not an integer");
    }
    if (v < lo || v > hi) {
        return Bad(name, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(v);
    return OkStatus();
}

Status ReadBool(const EnvGetter& getenv, std::string_view name, bool& out) {
    auto raw = getenv(name);
    if (!raw) return OkStatus();
    auto parsed = ParseBool(TrimView(*raw));
    if (!parsed) return Bad(name, "not a boolean");
    out = *parsed;
    return OkStatus();
}

void ReadString(const EnvGetter& getenv, std::string_view name, std::string& out) {
    if (auto raw = getenv(name)) out = *raw;
}

}  // namespace

Result<EmbeddingConfig> LoadEmbeddingConfig(const EnvGetter& getenv) {
    EmbeddingConfig c;
    if (auto raw = getenv("EMBEDDING_PROVIDER")) {
        const std::string v = ToLowerAscii(TrimView(*raw));
        if (v == "local")
            c.provider = ProviderKind::kLocal;
        else if (v == "openai")
            c.provider = ProviderKind::kOpenAi;
        else if (v == "lexical")
            c.provider = ProviderKind::kLexical;
        else
            return Bad("EMBEDDING_PROVIDER", "expected local, openai or lexical");
    }
    ReadString(getenv, "EMBEDDING_MODEL", c.model);
    if (TrimView(c.model).empty()) return Bad("EMBEDDING_MODEL", "must not be empty");
    ReadString(getenv, "EMBEDDING_MODEL_REVISION", c.model_revision);
    if (TrimView(c.model_revision).empty()) {
        return Bad("EMBEDDING_MODEL_REVISION", "must not be empty");
    }
    if (auto raw = getenv("CONTEX_MODEL_DIR"); raw && !raw->empty()) {
        c.model_dir = *raw;
    } else {
        auto home = getenv("HOME");
        c.model_dir = (home && !home->empty() ? *home : std::string(".")) + "/.cache/contex/models";
    }
    if (StartsWith(c.model_dir, "~/")) {
        auto home = getenv("HOME");
        c.model_dir = (home ? *home : std::string(".")) + c.model_dir.substr(1);
    }
    ReadString(getenv, "HF_ENDPOINT", c.hf_endpoint);
    while (!c.hf_endpoint.empty() && c.hf_endpoint.back() == '/') c.hf_endpoint.pop_back();
    if (!StartsWith(c.hf_endpoint, "http://") && !StartsWith(c.hf_endpoint, "https://")) {
        return Bad("HF_ENDPOINT", "must be an http(s) URL");
    }
    ReadString(getenv, "HF_TOKEN", c.hf_token);
    bool hf_offline = false;
    CONTEX_TRY(ReadBool(getenv, "CONTEX_OFFLINE", c.offline));
    CONTEX_TRY(ReadBool(getenv, "HF_HUB_OFFLINE", hf_offline));
    c.offline = c.offline || hf_offline;
    CONTEX_TRY(ReadBool(getenv, "EMBEDDING_STRICT", c.strict));
    if (auto raw = getenv("EMBEDDING_PRECISION")) {
        const std::string v = ToLowerAscii(TrimView(*raw));
        if (v == "fp32")
            c.precision = Precision::kFp32;
        else if (v == "int8")
            c.precision = Precision::kInt8;
        else
            return Bad("EMBEDDING_PRECISION", "expected fp32 or int8");
    }
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_THREADS", 1, 256, c.threads));
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_QUEUE_LIMIT", 1, 1000000, c.queue_limit));
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_BATCH_TOKENS", 256, 1048576, c.batch_tokens));
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_MAX_BATCH", 1, 1024, c.max_batch));
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_BATCH_WAIT_MS", 0, 1000, c.batch_wait_ms));
    ReadString(getenv, "EMBEDDING_QUERY_PREFIX", c.query_prefix);
    ReadString(getenv, "EMBEDDING_DOCUMENT_PREFIX", c.document_prefix);
    if (IsValidUtf8(c.query_prefix) && Utf8Length(c.query_prefix) > 256) {
        return Bad("EMBEDDING_QUERY_PREFIX", "longer than 256 characters");
    }
    if (IsValidUtf8(c.document_prefix) && Utf8Length(c.document_prefix) > 256) {
        return Bad("EMBEDDING_DOCUMENT_PREFIX", "longer than 256 characters");
    }
    ReadString(getenv, "EMBEDDING_API_URL", c.api_url);
    ReadString(getenv, "EMBEDDING_API_KEY", c.api_key);
    if (!c.api_url.empty() && !StartsWith(c.api_url, "http://") &&
        !StartsWith(c.api_url, "https://")) {
        return Bad("EMBEDDING_API_URL", "must be an http(s) URL");
    }
    if (c.provider == ProviderKind::kOpenAi && c.api_url.empty()) {
        return Bad("EMBEDDING_API_URL", "required when EMBEDDING_PROVIDER=openai");
    }
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_DIM", 1, 8192, c.dim));
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_API_BATCH", 1, 2048, c.api_batch));
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_API_TIMEOUT", 1, 600, c.api_timeout_s));
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_MAX_TOKENS", 16, 32768, c.max_tokens));
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_CACHE_SIZE", 0, 10000000, c.cache_size));
    CONTEX_TRY(ReadInt(getenv, "EMBEDDING_CACHE_TTL", 0, 604800, c.cache_ttl_s));
    return c;
}

Result<EmbeddingConfig> LoadEmbeddingConfigFromEnvironment() {
    return LoadEmbeddingConfig([](std::string_view name) -> std::optional<std::string> {
        const char* v = std::getenv(std::string(name).c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    });
}

}  // namespace contex::embed
