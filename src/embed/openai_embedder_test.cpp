#include "embed/openai_embedder.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "common/json.hpp"
#include "embed/testing/fake_http_server.hpp"
#include "embed/testing/fake_openai.hpp"
#include "observability/metrics.hpp"

namespace contex::embed {
namespace {

using testing::FakeHttpServer;
using testing::FakeOpenAiEmbeddings;
using testing::FakeRequest;
using testing::FakeResponse;
using namespace std::chrono_literals;

struct SleepRecorder {
    std::mutex mutex;
    std::vector<std::chrono::milliseconds> delays;
    std::function<void(std::chrono::milliseconds)> Fn() {
        return [this](std::chrono::milliseconds d) {
            std::lock_guard lock(mutex);
            delays.push_back(d);
        };
    }
};

OpenAiOptions Options(const FakeHttpServer& server, SleepRecorder& sleeps) {
    OpenAiOptions o;
    o.api_url = server.base_url();
    o.model = "text-embedding-3-small";
    o.sleep = sleeps.Fn();
    o.timeout = 10s;
    return o;
}

TEST(OpenAiEmbedder, JoinsEndpointWithoutDuplicateV1) {
    EXPECT_EQ(EmbeddingsEndpoint("http://h:8080"), "http://h:8080/v1/embeddings");
    EXPECT_EQ(EmbeddingsEndpoint("http://h:8080/"), "http://h:8080/v1/embeddings");
    EXPECT_EQ(EmbeddingsEndpoint("http://h:8080/v1"), "http://h:8080/v1/embeddings");
    EXPECT_EQ(EmbeddingsEndpoint("http://h:8080/v1/"), "http://h:8080/v1/embeddings");
    EXPECT_EQ(EmbeddingsEndpoint("https://api.openai.com/v1/embeddings"),
              "https://api.openai.com/v1/embeddings");
    EXPECT_EQ(EmbeddingsEndpoint("http://h/proxy/openai"), "http://h/proxy/openai/v1/embeddings");
}

TEST(OpenAiEmbedder, BacksOffExponentiallyWithJitterOrRetryAfter) {
    EXPECT_EQ(RetryDelay(0, std::nullopt, 0.0), 375ms);
    EXPECT_EQ(RetryDelay(0, std::nullopt, 0.5), 500ms);
    EXPECT_EQ(RetryDelay(1, std::nullopt, 0.5), 1000ms);
    EXPECT_EQ(RetryDelay(2, std::nullopt, 0.5), 2000ms);
    EXPECT_EQ(RetryDelay(2, std::nullopt, 0.999999), 2499ms);
    EXPECT_EQ(RetryDelay(0, std::string("7"), 0.5), 7000ms);
    EXPECT_EQ(RetryDelay(0, std::string("3600"), 0.5), 60000ms);  // capped
    EXPECT_EQ(RetryDelay(1, std::string("Wed, 21 Oct 2015 07:28:00 GMT"), 0.5), 1000ms);
}

TEST(OpenAiEmbedder, DiscoversDimensionAndSendsTheDocumentedRequest) {
    FakeHttpServer server(FakeOpenAiEmbeddings);
    SleepRecorder sleeps;
    auto options = Options(server, sleeps);
    options.api_key = "sk-test";
    auto e = OpenAiEmbedder::Create(options);
    ASSERT_TRUE(e.ok()) << e.error().message;
    EXPECT_EQ((*e)->dim(), 384);
    EXPECT_EQ((*e)->model_id(), "openai:text-embedding-3-small");
    const auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].method, "POST");
    EXPECT_EQ(reqs[0].target, "/v1/embeddings");
    EXPECT_EQ(reqs[0].headers.at("authorization"), "Bearer sk-test");
    auto body = ParseJson(reqs[0].body);
    ASSERT_TRUE(body.ok());
    EXPECT_EQ(body->at("model").as_string(), "text-embedding-3-small");
    EXPECT_EQ(body->at("encoding_format").as_string(), "float");
    EXPECT_TRUE(body->at("input").is_array());
}

TEST(OpenAiEmbedder, OmitsAuthorizationWithoutKey) {
    FakeHttpServer server(FakeOpenAiEmbeddings);
    SleepRecorder sleeps;
    auto e = OpenAiEmbedder::Create(Options(server, sleeps));
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(server.requests()[0].headers.count("authorization"), 0u);
}

TEST(OpenAiEmbedder, RejectsDimensionDifferentFromEmbeddingDim) {
    FakeHttpServer server(FakeOpenAiEmbeddings);
    SleepRecorder sleeps;
    auto options = Options(server, sleeps);
    options.expected_dim = 768;
    auto e = OpenAiEmbedder::Create(options);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.error().message, ::testing::HasSubstr("EMBEDDING_DIM"));
}

TEST(OpenAiEmbedder, SplitsInputsIntoApiBatchesAndKeepsOrder) {
    FakeHttpServer server(FakeOpenAiEmbeddings);
    SleepRecorder sleeps;
    auto options = Options(server, sleeps);
    options.batch = 2;
    auto e = OpenAiEmbedder::Create(options);
    ASSERT_TRUE(e.ok());
    const std::vector<std::string> texts = {"alpha", "beta gamma", "delta", "epsilon", "zeta"};
    auto rows = (*e)->Embed(texts);
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    ASSERT_EQ(rows->size(), 5u);
    EXPECT_EQ(server.requests().size(), 1u + 3u);  // probe + ceil(5 / 2)
    for (std::size_t i = 0; i < texts.size(); ++i) {
        auto single = (*e)->Embed(std::span(&texts[i], 1));
        ASSERT_TRUE(single.ok());
        EXPECT_EQ((*single)[0], (*rows)[i]) << i;
    }
}

TEST(OpenAiEmbedder, RenormalisesRows) {
    FakeHttpServer server(FakeOpenAiEmbeddings);
    SleepRecorder sleeps;
    auto e = OpenAiEmbedder::Create(Options(server, sleeps));
    ASSERT_TRUE(e.ok());
    const std::vector<std::string> texts = {"normalise me"};
    auto rows = (*e)->Embed(texts);
    ASSERT_TRUE(rows.ok());
    double norm = 0;
    for (const float x : (*rows)[0]) norm += double(x) * x;
    EXPECT_NEAR(norm, 1.0, 1e-5);
}

TEST(OpenAiEmbedder, CutsInputsAtFourCharactersPerToken) {
    FakeHttpServer server(FakeOpenAiEmbeddings);
    SleepRecorder sleeps;
    auto options = Options(server, sleeps);
    options.max_tokens = 16;
    auto e = OpenAiEmbedder::Create(options);
    ASSERT_TRUE(e.ok());
    std::string long_text;
    for (int i = 0; i < 30; ++i) long_text += "\u00e9b ";  // 3 code points, 4 bytes
    ASSERT_TRUE((*e)->Embed(std::vector<std::string>{long_text}).ok());
    auto body = ParseJson(server.requests().back().body);
    ASSERT_TRUE(body.ok());
    const std::string sent(body->at("input").as_array()[0].as_string());
    EXPECT_EQ(sent, long_text.substr(0, 21 * 4 + 1 + 1));  // 64 code points, never split
}

TEST(OpenAiEmbedder, RetriesServerErrorsWithBackoff) {
    std::atomic<int> calls{0};
    FakeHttpServer server([&](const FakeRequest& r) -> FakeResponse {
        if (++calls <= 2) return {503, {}, "busy", std::nullopt};
        return FakeOpenAiEmbeddings(r);
    });
    SleepRecorder sleeps;
    auto e = OpenAiEmbedder::Create(Options(server, sleeps));
    ASSERT_TRUE(e.ok()) << e.error().message;
    ASSERT_EQ(sleeps.delays.size(), 2u);
    EXPECT_GE(sleeps.delays[0], 375ms);
    EXPECT_LE(sleeps.delays[0], 625ms);
    EXPECT_GE(sleeps.delays[1], 750ms);
    EXPECT_LE(sleeps.delays[1], 1250ms);
}

TEST(OpenAiEmbedder, HonoursRetryAfterOn429) {
    std::atomic<int> calls{0};
    FakeHttpServer server([&](const FakeRequest& r) -> FakeResponse {
        if (++calls == 1) return {429, {{"Retry-After", "3"}}, "slow down", std::nullopt};
        return FakeOpenAiEmbeddings(r);
    });
    SleepRecorder sleeps;
    auto e = OpenAiEmbedder::Create(Options(server, sleeps));
    ASSERT_TRUE(e.ok());
    ASSERT_EQ(sleeps.delays.size(), 1u);
    EXPECT_EQ(sleeps.delays[0], 3000ms);
}

TEST(OpenAiEmbedder, GivesUpAfterThreeRetriesAsUnavailable) {
    FakeHttpServer server([](const FakeRequest&) -> FakeResponse {
        return {500, {}, "boom", std::nullopt};
    });
    SleepRecorder sleeps;
    obs::MetricsRegistry metrics;
    auto options = Options(server, sleeps);
    options.metrics = &metrics;
    auto e = OpenAiEmbedder::Create(options);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(server.requests().size(), 4u);
    EXPECT_EQ(sleeps.delays.size(), 3u);
    EXPECT_EQ(metrics.AddCounter("contex_retries_total", "", {"operation"})
                  .WithLabels({"embedding_api"})
                  .value(),
              3.0);
    EXPECT_EQ(metrics.AddCounter("contex_retry_exhausted_total", "", {"operation"})
                  .WithLabels({"embedding_api"})
                  .value(),
              1.0);
}

TEST(OpenAiEmbedder, DoesNotRetryClientErrors) {
    FakeHttpServer server([](const FakeRequest&) -> FakeResponse {
        return {401, {}, "no", std::nullopt};
    });
    SleepRecorder sleeps;
    auto e = OpenAiEmbedder::Create(Options(server, sleeps));
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(server.requests().size(), 1u);
    EXPECT_TRUE(sleeps.delays.empty());
}

TEST(OpenAiEmbedder, RejectsMalformedResponses) {
    for (const std::string& body : {std::string("not json"), std::string(R"({"data":[]})"),
                                    std::string(R"({"data":[{"index":0,"embedding":[0,0]}]})"),
                                    std::string(R"({"data":[{"index":5,"embedding":[1]}]})")}) {
        SCOPED_TRACE(body);
        FakeHttpServer server([&](const FakeRequest&) -> FakeResponse {
            return {200, {}, body, std::nullopt};
        });
        SleepRecorder sleeps;
        auto e = OpenAiEmbedder::Create(Options(server, sleeps));
        ASSERT_FALSE(e.ok());
        EXPECT_EQ(e.error().code, ErrorCode::kUnavailable);
    }
}

TEST(OpenAiEmbedder, SlowEndpointTimesOut) {
    // The fake answers after 600 ms; the client gives up after 100 ms.
    FakeHttpServer server([](const FakeRequest& r) -> FakeResponse {
        std::this_thread::sleep_for(600ms);
        return FakeOpenAiEmbeddings(r);
    });
    SleepRecorder sleeps;
    auto options = Options(server, sleeps);
    options.timeout = 100ms;
    options.retries = 0;
    auto e = OpenAiEmbedder::Create(options);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kTimeout);
}

TEST(OpenAiEmbedder, UnreachableEndpointIsUnavailable) {
    std::string url;
    {
        FakeHttpServer server(FakeOpenAiEmbeddings);
        url = server.base_url();
    }  // closed: nothing listens on that port any more
    SleepRecorder sleeps;
    OpenAiOptions o;
    o.api_url = url;
    o.model = "m";
    o.sleep = sleeps.Fn();
    auto e = OpenAiEmbedder::Create(o);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(sleeps.delays.size(), 3u);
}

}  // namespace
}  // namespace contex::embed
