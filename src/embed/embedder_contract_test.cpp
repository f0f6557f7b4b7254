// One contract suite over every Embedder implementation (STYLE.md: typed tests).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <thread>

#include "common/json.hpp"
#include "embed/lexical_embedder.hpp"
#include "embed/openai_embedder.hpp"
#include "embed/testing/fake_http_server.hpp"
#include "embed/testing/fake_openai.hpp"
#include "embed/testing/local_fixture.hpp"
#ifdef CONTEX_HAVE_EMBED_NATIVE
#include "embed/local_embedder.hpp"
#endif

namespace contex::embed {
namespace {

struct LexicalProvider {
    std::unique_ptr<Embedder> embedder = std::make_unique<LexicalEmbedder>();
    std::string skip_reason;
};

struct OpenAiProvider {
    OpenAiProvider() {
        server = std::make_unique<testing::FakeHttpServer>(testing::FakeOpenAiEmbeddings);
        OpenAiOptions o;
        o.api_url = server->base_url() + "/v1";
        o.model = "fake-embedder";
        o.batch = 3;
        o.sleep = [](std::chrono::milliseconds) {};
        auto e = OpenAiEmbedder::Create(o);
        if (e.ok()) {
            embedder = std::move(*e);
        } else {
            skip_reason = e.error().message;
        }
    }
    std::unique_ptr<testing::FakeHttpServer> server;
    std::unique_ptr<Embedder> embedder;
    std::string skip_reason;
};

struct LocalProvider {
    LocalProvider() {
#ifdef CONTEX_HAVE_EMBED_NATIVE
        auto dir = testing::LocalFixtureModel();
        if (!dir) {
            skip_reason =
                "the BERT fixture could not be generated (needs /usr/bin/python3 + numpy)";
            return;
        }
        // Two threads: lone calls split across the helper, concurrent ones do not.
        auto e = LocalEmbedder::Load(*dir, Precision::kFp32, "test/fixture", /*threads=*/2);
        if (e.ok()) {
            embedder = std::move(*e);
        } else {
            skip_reason = "fixture model failed to load: " + e.error().message;
        }
#else
        skip_reason = "this build has no native runtime (embed/native)";
#endif
    }
    std::unique_ptr<Embedder> embedder;
    std::string skip_reason;
};

template <typename P>
class EmbedderContract : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!provider_.embedder) GTEST_SKIP() << provider_.skip_reason;
    }
    Embedder& e() { return *provider_.embedder; }
    std::vector<Vector> Embed(const std::vector<std::string>& texts) {
        auto rows = e().Embed(texts);
        EXPECT_TRUE(rows.ok()) << rows.error().message;
        return rows.ok() ? std::move(*rows) : std::vector<Vector>{};
    }
    P provider_;
};

using Providers = ::testing::Types<LexicalProvider, OpenAiProvider, LocalProvider>;
TYPED_TEST_SUITE(EmbedderContract, Providers);

const std::vector<std::string>& Texts() {
    static const std::vector<std::string> texts = {
        "hello world",
        "The quick brown fox jumps over the lazy dog",
        "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
        "data context agent search index vector token model embed node query match update push "
        "route store cache batch thread and a rather long tail of words to vary the length",
        "x",
    };
    return texts;
}

double Norm(const Vector& v) {
    double s = 0;
    for (const float x : v) s += double(x) * x;
    return std::sqrt(s);
}

TYPED_TEST(EmbedderContract, DescribesItself) {
    EXPECT_FALSE(this->e().model_id().empty());
    EXPECT_GT(this->e().dim(), 0);
    EXPECT_GT(this->e().max_tokens(), 0);
    EXPECT_GT(this->e().CountTokens("hello world"), 0u);
    EXPECT_EQ(this->e().CountTokens(""), 0u);
}

TYPED_TEST(EmbedderContract, ReturnsOneRowOfDimFloatsPerText) {
    const auto rows = this->Embed(Texts());
    ASSERT_EQ(rows.size(), Texts().size());
    for (const auto& r : rows) EXPECT_EQ(static_cast<int>(r.size()), this->e().dim());
}

TYPED_TEST(EmbedderContract, RowsAreUnitLengthAndFinite) {
    for (const auto& r : this->Embed(Texts())) {
        for (const float x : r) ASSERT_TRUE(std::isfinite(x));
        EXPECT_NEAR(Norm(r), 1.0, 1e-5);
    }
}

TYPED_TEST(EmbedderContract, IsDeterministic) {
    const auto a = this->Embed(Texts());
    const auto b = this->Embed(Texts());
    EXPECT_EQ(a, b);
}

TYPED_TEST(EmbedderContract, BatchEqualsSingle) {
    const auto batch = this->Embed(Texts());
    ASSERT_EQ(batch.size(), Texts().size());
    for (std::size_t i = 0; i < Texts().size(); ++i) {
        const auto single = this->Embed({Texts()[i]});
        ASSERT_EQ(single.size(), 1u);
        ASSERT_EQ(single[0].size(), batch[i].size());
        for (std::size_t k = 0; k < single[0].size(); ++k) {
            ASSERT_NEAR(single[0][k], batch[i][k], 1e-5) << "text " << i << " component " << k;
        }
    }
}

TYPED_TEST(EmbedderContract, DifferentTextsGetDifferentVectors) {
    const auto rows = this->Embed({"database connection pool", "sunny beach holiday"});
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_NE(rows[0], rows[1]);
}

TYPED_TEST(EmbedderContract, EmptyBatchGivesNoRows) {
    auto rows = this->e().Embed(std::span<const std::string>{});
    ASSERT_TRUE(rows.ok());
    EXPECT_TRUE(rows->empty());
}

TYPED_TEST(EmbedderContract, ConcurrentCallersGetTheSameRows) {
    const auto expected = this->Embed(Texts());
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int round = 0; round < 3; ++round) {
                auto rows = this->e().Embed(Texts());
                if (!rows.ok() || rows->size() != expected.size()) {
                    ++mismatches;
                    continue;
                }
                for (std::size_t i = 0; i < expected.size(); ++i) {
                    for (std::size_t k = 0; k < expected[i].size(); ++k) {
                        if (std::abs((*rows)[i][k] - expected[i][k]) > 1e-5f) {
                            ++mismatches;
                            break;
                        }
                    }
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(mismatches.load(), 0);
}

#ifdef CONTEX_HAVE_EMBED_NATIVE
// The provider wrapper adds nothing numerically: it reproduces the independent numpy
// reference that ships with the fixture.
TEST(LocalEmbedder, MatchesTheNumpyReferenceOfTheFixture) {
    auto dir = testing::LocalFixtureModel();
    if (!dir) GTEST_SKIP() << "fixture unavailable";
    auto e = LocalEmbedder::Load(*dir, Precision::kFp32, "test/fixture", /*threads=*/2);
    ASSERT_TRUE(e.ok()) << e.error().message;
    std::ifstream in(*dir / "expected.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto expected = ParseJson(text);
    ASSERT_TRUE(expected.ok());
    EXPECT_EQ((*e)->max_tokens(), expected->at("max_seq_tokens").to_number<int>());
    std::vector<std::string> texts;
    std::vector<std::vector<double>> want;
    for (const auto& c : expected->at("cases").as_array()) {
        texts.emplace_back(c.at("text").as_string());
        std::vector<double> v;
        for (const auto& x : c.at("embedding").as_array()) v.push_back(x.to_number<double>());
        want.push_back(std::move(v));
    }
    auto rows = (*e)->Embed(texts);
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    double worst = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        ASSERT_EQ((*rows)[i].size(), want[i].size());
        // One text alone: a short call that borrows the helper thread.
        auto alone = (*e)->Embed(std::span<const std::string>(&texts[i], 1));
        ASSERT_TRUE(alone.ok()) << alone.error().message;
        for (std::size_t k = 0; k < want[i].size(); ++k) {
            worst = std::max(worst, std::abs((*rows)[i][k] - want[i][k]));
            worst = std::max(worst, std::abs((*alone)[0][k] - want[i][k]));
        }
    }
    EXPECT_LE(worst, 1e-4);
}
#endif

}  // namespace
}  // namespace contex::embed
