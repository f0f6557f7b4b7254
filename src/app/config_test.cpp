#include "app/config.hpp"

#include <gtest/gtest.h>

namespace contex::app {
namespace {

TEST(Config, DefaultsMatchTheSpec) {
    auto config = LoadConfig({}, 2);
    ASSERT_TRUE(config.ok()) << config.error().message;
    EXPECT_EQ(config->server.port, 8001);
    EXPECT_EQ(config->server.http_threads, 4);
    EXPECT_EQ(config->server.max_request_bytes, 10485760u);
    EXPECT_EQ(config->database.pool_size, 5);
    EXPECT_EQ(config->database.max_overflow, 10);
    EXPECT_FALSE(config->database.url);
    EXPECT_EQ(config->embedding.provider, embed::ProviderKind::kLocal);
    EXPECT_DOUBLE_EQ(config->search.similarity_threshold, 0.5);
    EXPECT_EQ(config->security.cors_origins, std::vector<std::string>{"*"});
    EXPECT_FALSE(config->security.auth_enabled);
    EXPECT_FALSE(config->security.rate_limit_enabled);
}

TEST(Config, InvalidValuesNameTheVariable) {
    auto config = LoadConfig({{"PORT", "70000"}, {"LOG_JSON", "maybe"},
                              {"DATABASE_URL", "mysql://x"}}, 2);
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument);
    const auto& m = config.error().message;
    EXPECT_NE(m.find("PORT: must be an integer in 1..65535, got '70000'"), std::string::npos) << m;
    EXPECT_NE(m.find("LOG_JSON"), std::string::npos);
    EXPECT_NE(m.find("DATABASE_URL"), std::string::npos);
}

TEST(Config, SecretsAreNeverEchoedInErrors) {
    auto config = LoadConfig({{"API_KEY_SALT", "short"}}, 2);
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().message.find("short"), std::string::npos);
    EXPECT_NE(config.error().message.find("API_KEY_SALT"), std::string::npos);
}

TEST(Config, LexicalProviderLowersTheDefaultThresholdOnly) {
    auto lexical = LoadConfig({{"EMBEDDING_PROVIDER", "lexical"}}, 2);
    ASSERT_TRUE(lexical.ok());
    EXPECT_DOUBLE_EQ(lexical->search.similarity_threshold, 0.2);
    auto explicit_threshold =
        LoadConfig({{"EMBEDDING_PROVIDER", "lexical"}, {"SIMILARITY_THRESHOLD", "0.4"}}, 2);
    ASSERT_TRUE(explicit_threshold.ok());
    EXPECT_DOUBLE_EQ(explicit_threshold->search.similarity_threshold, 0.4);
}

TEST(Config, BooleansListsAndRanges) {
    auto config = LoadConfig({{"AUTH_ENABLED", "Yes"},
                              {"CORS_ORIGINS", " https://a.example , https://b.example "},
                              {"MAX_CONTEXT_SIZE", "0"},
                              {"DATABASE_URL", "postgresql+asyncpg://u:p@h/db"},
                              {"API_KEY_SALT", "0123456789abcdef"}},
                             8);
    ASSERT_TRUE(config.ok()) << config.error().message;
    EXPECT_TRUE(config->security.auth_enabled);
    EXPECT_TRUE(config->security.rate_limit_enabled);  // defaults to AUTH_ENABLED
    EXPECT_EQ(config->security.cors_origins,
              (std::vector<std::string>{"https://a.example", "https://b.example"}));
    EXPECT_EQ(config->search.max_context_size, 0);
    EXPECT_EQ(config->server.http_threads, 8);
    EXPECT_FALSE(LoadConfig({{"MAX_CONTEXT_SIZE", "500"}}, 2).ok());
    EXPECT_FALSE(LoadConfig({{"AUTH_ENABLED", "true"}, {"DATABASE_URL", "postgresql://h/db"}}, 2).ok());
}

TEST(Config, IgnoredAndUnknownVariablesWarn) {
    auto config = LoadConfig({{"VAULT_ADDR", "x"}, {"CONTEX_TYPO", "1"}, {"LOG_FORMAT", "json"}}, 2);
    ASSERT_TRUE(config.ok());
    std::string all;
    for (const auto& w : config->warnings) all += w + "\n";
    EXPECT_NE(all.find("VAULT_ADDR"), std::string::npos);
    EXPECT_NE(all.find("unknown variable CONTEX_TYPO"), std::string::npos);
    EXPECT_NE(all.find("LOG_FORMAT"), std::string::npos);
}

TEST(Config, SummaryMasksSecretsAndUrlPasswords) {
    auto config = LoadConfig({{"DATABASE_URL", "postgresql://contex:hunter2@db:5432/contex"},
                              {"REDIS_URL", "redis://:pw@redis:6379/0"},
                              {"EMBEDDING_API_KEY", "sk-secret"}},
                             2);
    ASSERT_TRUE(config.ok());
    std::string summary = ToJson(SanitizedSummary(*config));
    EXPECT_EQ(summary.find("hunter2"), std::string::npos);
    EXPECT_EQ(summary.find("sk-secret"), std::string::npos);
    EXPECT_NE(summary.find("postgresql://contex:***@db:5432/contex"), std::string::npos);
    EXPECT_NE(summary.find("redis://:***@redis:6379/0"), std::string::npos);
    EXPECT_EQ(MaskUrlPassword("postgresql://h/db"), "postgresql://h/db");
}

}  // namespace
}  // namespace contex::app
