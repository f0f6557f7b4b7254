#include "embed/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace contex::embed {
namespace {

using ::testing::HasSubstr;

Result<EmbeddingConfig> Load(std::map<std::string, std::string> env) {
    return LoadEmbeddingConfig([env](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(std::string(name));
        if (it == env.end()) return std::nullopt;
        return it->second;
    });
}

TEST(EmbeddingConfig, HasTheDocumentedDefaults) {
    auto c = Load({{"HOME", "/home/u"}});
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->provider, ProviderKind::kLocal);
    EXPECT_EQ(c->model, "sentence-transformers/all-MiniLM-L6-v2");
    EXPECT_EQ(c->model_revision, "main");
    EXPECT_EQ(c->model_dir, "/home/u/.cache/contex/models");
    EXPECT_EQ(c->hf_endpoint, "https://huggingface.co");
    EXPECT_FALSE(c->offline);
    EXPECT_FALSE(c->strict);
    EXPECT_EQ(c->precision, Precision::kFp32);
    EXPECT_GE(c->EffectiveThreads(), 1);
    EXPECT_LE(c->EffectiveThreads(), 4);
    EXPECT_EQ(c->queue_limit, 10000u);
    EXPECT_EQ(c->batch_tokens, 8192u);
    EXPECT_EQ(c->max_batch, 64u);
    EXPECT_EQ(c->batch_wait_ms, 2);
    EXPECT_EQ(c->dim, 0);
    EXPECT_EQ(c->api_batch, 64);
    EXPECT_EQ(c->api_timeout_s, 30);
    EXPECT_EQ(c->max_tokens, 512);
    EXPECT_EQ(c->cache_size, 10000u);
    EXPECT_EQ(c->cache_ttl_s, 0);
}

TEST(EmbeddingConfig, ReadsEveryVariable) {
    auto c = Load({{"EMBEDDING_PROVIDER", "OpenAI"},
                   {"EMBEDDING_MODEL", "text-embedding-3-small"},
                   {"EMBEDDING_MODEL_REVISION", "v2"},
                   {"CONTEX_MODEL_DIR", "/models"},
                   {"HF_ENDPOINT", "http://mirror.local/"},
                   {"HF_TOKEN", "hf_x"},
                   {"HF_HUB_OFFLINE", "1"},
                   {"EMBEDDING_STRICT", "yes"},
                   {"EMBEDDING_PRECISION", "int8"},
                   {"EMBEDDING_THREADS", "3"},
                   {"EMBEDDING_QUEUE_LIMIT", "50"},
                   {"EMBEDDING_BATCH_TOKENS", "4096"},
                   {"EMBEDDING_MAX_BATCH", "16"},
                   {"EMBEDDING_BATCH_WAIT_MS", "0"},
                   {"EMBEDDING_QUERY_PREFIX", "query: "},
                   {"EMBEDDING_DOCUMENT_PREFIX", "passage: "},
                   {"EMBEDDING_API_URL", "http://tei:8080"},
                   {"EMBEDDING_API_KEY", "sk"},
                   {"EMBEDDING_DIM", "1536"},
                   {"EMBEDDING_API_BATCH", "8"},
                   {"EMBEDDING_API_TIMEOUT", "5"},
                   {"EMBEDDING_MAX_TOKENS", "8192"},
                   {"EMBEDDING_CACHE_SIZE", "0"},
                   {"EMBEDDING_CACHE_TTL", "3600"}});
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->provider, ProviderKind::kOpenAi);
    EXPECT_EQ(c->model_dir, "/models");
    EXPECT_EQ(c->hf_endpoint, "http://mirror.local");
    EXPECT_TRUE(c->offline);
    EXPECT_TRUE(c->strict);
    EXPECT_EQ(c->precision, Precision::kInt8);
    EXPECT_EQ(c->EffectiveThreads(), 3);
    EXPECT_EQ(c->queue_limit, 50u);
    EXPECT_EQ(c->batch_tokens, 4096u);
    EXPECT_EQ(c->max_batch, 16u);
    EXPECT_EQ(c->batch_wait_ms, 0);
    EXPECT_EQ(c->query_prefix, "query: ");
    EXPECT_EQ(c->document_prefix, "passage: ");
    EXPECT_EQ(c->dim, 1536);
    EXPECT_EQ(c->api_batch, 8);
    EXPECT_EQ(c->api_timeout_s, 5);
    EXPECT_EQ(c->max_tokens, 8192);
    EXPECT_EQ(c->cache_size, 0u);
    EXPECT_EQ(c->cache_ttl_s, 3600);
}

TEST(EmbeddingConfig, RejectsBadValuesNamingTheVariable) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"EMBEDDING_PROVIDER", "torch"},
        {"EMBEDDING_PRECISION", "fp16"},
        {"EMBEDDING_THREADS", "0"},
        {"EMBEDDING_THREADS", "many"},
        {"EMBEDDING_QUEUE_LIMIT", "0"},
        {"EMBEDDING_BATCH_TOKENS", "100"},
        {"EMBEDDING_MAX_BATCH", "2000"},
        {"EMBEDDING_BATCH_WAIT_MS", "1001"},
        {"EMBEDDING_DIM", "9000"},
        {"EMBEDDING_API_TIMEOUT", "0"},
        {"EMBEDDING_MAX_TOKENS", "8"},
        {"EMBEDDING_CACHE_SIZE", "-1"},
        {"EMBEDDING_CACHE_TTL", "604801"},
        {"CONTEX_OFFLINE", "maybe"},
        {"EMBEDDING_STRICT", "2"},
        {"HF_ENDPOINT", "ftp://hub"},
        {"EMBEDDING_QUERY_PREFIX", std::string(257, 'q')},
    };
    for (const auto& [name, value] : bad) {
        auto c = Load({{name, value}});
        ASSERT_FALSE(c.ok()) << name << "=" << value;
        EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
        EXPECT_THAT(c.error().message, HasSubstr(name));
    }
}

TEST(EmbeddingConfig, OpenAiRequiresAnApiUrl) {
    auto c = Load({{"EMBEDDING_PROVIDER", "openai"}});
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(c.error().message, HasSubstr("EMBEDDING_API_URL"));
}

TEST(EmbeddingConfig, EitherOfflineVariableForbidsDownloads) {
    EXPECT_TRUE(Load({{"CONTEX_OFFLINE", "true"}})->offline);
    EXPECT_TRUE(Load({{"HF_HUB_OFFLINE", "on"}})->offline);
    EXPECT_FALSE(Load({{"CONTEX_OFFLINE", "off"}})->offline);
}

}  // namespace
}  // namespace contex::embed
