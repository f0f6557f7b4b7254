#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "common/ids.hpp"
#include "common/json.hpp"
#include "embed/cli.hpp"
#include "embed/embedding_service.hpp"
#include "embed/lexical_embedder.hpp"
#include "embed/testing/fake_http_server.hpp"
#include "embed/testing/fake_openai.hpp"
#include "embed/testing/local_fixture.hpp"

namespace contex::embed {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class FactoryTest : public ::testing::Test {
  protected:
    void SetUp() override {
        log_file_ = std::tmpfile();
        logger_ = std::make_unique<obs::Logger>(
            obs::LogOptions{obs::LogLevel::kDebug, true, log_file_}, clock_);
        dir_ = fs::temp_directory_path() / ("contex-factory-" + RandomHex(8));
        config_.model_dir = dir_.string();
        config_.threads = 1;
        config_.batch_wait_ms = 0;
    }
    void TearDown() override {
        std::fclose(log_file_);
        fs::remove_all(dir_);
    }
    std::string Logs() {
        std::fflush(log_file_);
        std::rewind(log_file_);
        std::string s;
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof(buf), log_file_)) > 0) s.append(buf, n);
        return s;
    }
    Result<std::unique_ptr<EmbeddingService>> Create() {
        return CreateEmbeddingService(config_, *logger_, metrics_, clock_);
    }

    ManualClock clock_;
    std::FILE* log_file_ = nullptr;
    std::unique_ptr<obs::Logger> logger_;
    obs::MetricsRegistry metrics_;
    fs::path dir_;
    EmbeddingConfig config_;
};

TEST_F(FactoryTest, LexicalProviderIsHealthyAndNotDegraded) {
    config_.provider = ProviderKind::kLexical;
    auto s = Create();
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ((*s)->model_id(), "contex/lexical-v1");
    EXPECT_FALSE((*s)->degraded());
    EXPECT_EQ((*s)->CheckHealth().status, obs::HealthStatus::kHealthy);
    EXPECT_THAT(Logs(), HasSubstr("\"message\":\"Embedding model loaded\""));
}

TEST_F(FactoryTest, FallsBackToLexicalWhenNoModelCanBeLoaded) {
    config_.provider = ProviderKind::kLocal;
    config_.offline = true;  // not cached and may not download
    auto s = Create();
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ((*s)->model_id(), "contex/lexical-v1");
    EXPECT_TRUE((*s)->degraded());
    EXPECT_EQ((*s)->provider(), "lexical");
    const auto health = (*s)->CheckHealth();
    EXPECT_EQ(health.status, obs::HealthStatus::kDegraded);
    EXPECT_EQ(health.message, "Using built-in lexical embedder (no model available)");
    const std::string logs = Logs();
    EXPECT_THAT(
        logs,
        HasSubstr("\"message\":\"Embedding model unavailable; using built-in lexical embedder\""));
    EXPECT_THAT(logs, HasSubstr("\"level\":\"ERROR\""));
    EXPECT_EQ(metrics_.AddGauge("contex_embedding_degraded", "").Get().value(), 1.0);
    auto rows = (*s)->Embed(std::vector<std::string>{"still works"}, Priority::kInteractive);
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->front().size(), 384u);
}

TEST_F(FactoryTest, StrictModeRefusesToStartWithoutAModel) {
    config_.provider = ProviderKind::kLocal;
    config_.offline = true;
    config_.strict = true;
    auto s = Create();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
    EXPECT_THAT(Logs(), Not(HasSubstr("using built-in lexical embedder")));
}

TEST_F(FactoryTest, OpenAiProviderThroughTheService) {
    testing::FakeHttpServer server(testing::FakeOpenAiEmbeddings);
    config_.provider = ProviderKind::kOpenAi;
    config_.api_url = server.base_url();
    config_.model = "nomic-embed-text";
    auto s = Create();
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ((*s)->model_id(), "openai:nomic-embed-text");
    EXPECT_EQ((*s)->dim(), 384);
    EXPECT_FALSE((*s)->degraded());
}

TEST_F(FactoryTest, OpenAiDimensionMismatchFailsEvenWhenNotStrict) {
    testing::FakeHttpServer server(testing::FakeOpenAiEmbeddings);
    config_.provider = ProviderKind::kOpenAi;
    config_.api_url = server.base_url();
    config_.dim = 1536;
    auto s = Create();
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(FactoryTest, LocalProviderLoadsAModelDirectory) {
    auto fixture = testing::LocalFixtureModel();
    if (!fixture) GTEST_SKIP() << "native runtime or fixture generator unavailable";
    config_.provider = ProviderKind::kLocal;
    config_.model = fixture->string();
    auto s = Create();
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_FALSE((*s)->degraded());
    EXPECT_EQ((*s)->model_id(), fixture->string());
    EXPECT_EQ((*s)->dim(), 64);
    EXPECT_EQ((*s)->CheckHealth().status, obs::HealthStatus::kHealthy);
    auto rows = (*s)->Embed(std::vector<std::string>{"hello world", "the quick brown fox"},
                            Priority::kBulk);
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    EXPECT_EQ(rows->size(), 2u);
}

TEST_F(FactoryTest, EmbedCommandPrintsModelDimAndVectors) {
    config_.provider = ProviderKind::kLexical;
    std::istringstream in("first line\nsecond line\n");
    std::ostringstream out, err;
    ASSERT_EQ(RunEmbedCommand(config_, {}, in, out, err), 0) << err.str();
    auto doc = ParseJson(out.str());
    ASSERT_TRUE(doc.ok()) << out.str();
    EXPECT_EQ(doc->at("model").as_string(), "contex/lexical-v1");
    EXPECT_EQ(doc->at("dim").as_int64(), 384);
    ASSERT_EQ(doc->at("vectors").as_array().size(), 2u);
    const auto& first = doc->at("vectors").as_array()[0].as_array();
    ASSERT_EQ(first.size(), 384u);
    const Vector expected = LexicalEmbedder::EmbedOne("first line");
    for (std::size_t k = 0; k < expected.size(); ++k) {
        ASSERT_EQ(static_cast<float>(first[k].to_number<double>()), expected[k]) << k;
    }

    std::ostringstream out2;
    std::istringstream unused("ignored\n");
    ASSERT_EQ(RunEmbedCommand(config_, {"only argument"}, unused, out2, err), 0);
    EXPECT_EQ(ParseJson(out2.str())->at("vectors").as_array().size(), 1u);
}

TEST_F(FactoryTest, ModelFetchCommandFailsClearlyOffline) {
    config_.offline = true;
    std::ostringstream out, err;
    EXPECT_EQ(RunModelFetchCommand(config_, out, err), 1);
    EXPECT_THAT(err.str(), HasSubstr("CONTEX_OFFLINE"));
    EXPECT_TRUE(out.str().empty());
}

TEST_F(FactoryTest, ModelInspectCommandDescribesALocalModel) {
    auto fixture = testing::LocalFixtureModel();
    if (!fixture) GTEST_SKIP() << "native runtime or fixture generator unavailable";
    config_.model = fixture->string();
    std::ostringstream out, err;
    ASSERT_EQ(RunModelInspectCommand(config_, clock_, out, err), 0) << err.str();
    auto doc = ParseJson(out.str());
    ASSERT_TRUE(doc.ok()) << out.str();
    EXPECT_EQ(doc->at("dim").as_int64(), 64);
    EXPECT_EQ(doc->at("max_seq_tokens").as_int64(), 40);
    EXPECT_EQ(doc->at("self_test").as_string(), "ok");
    EXPECT_EQ(doc->at("path").as_string(), fixture->string());
}

}  // namespace
}  // namespace contex::embed
