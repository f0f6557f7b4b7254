#include "embed/embedding_service.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <thread>

#include "embed/lexical_embedder.hpp"

namespace contex::embed {
namespace {

using namespace std::chrono_literals;

// Tokens = words; vectors = the lexical embedding folded into 8 dims (never zero).
// Records every batch; optionally holds callers at a gate until Open().
class ScriptedEmbedder final : public Embedder {
  public:
    const std::string& model_id() const override { return id_; }
    int dim() const override { return 8; }
    int max_tokens() const override { return 512; }
    std::size_t CountTokens(std::string_view text) const override {
        std::size_t words = 0;
        bool in = false;
        for (char c : text) {
            if (c != ' ' && !in) ++words;
            in = c != ' ';
        }
        return words;
    }
    Result<std::vector<Vector>> Embed(std::span<const std::string> texts) override {
        std::unique_lock lock(mutex_);
        batches_.emplace_back(texts.begin(), texts.end());
        ++inside_;
        max_inside_ = std::max(max_inside_, inside_);
        changed_.notify_all();
        changed_.wait(lock, [&] { return open_; });
        --inside_;
        if (fail_) return Unavailable("model exploded");
        std::vector<Vector> out;
        for (const auto& t : texts) out.push_back(Row(t));
        return out;
    }
    static Vector Row(const std::string& t) {
        Vector full = LexicalEmbedder::EmbedOne(t);
        Vector v(8, 0.0f);
        for (std::size_t i = 0; i < full.size(); ++i) v[i % 8] += full[i];
        v[0] += 0.5f;
        (void)NormalizeInPlace(v, false);
        return v;
    }
    void Close() {
        std::lock_guard l(mutex_);
        open_ = false;
    }
    void Open() {
        std::lock_guard l(mutex_);
        open_ = true;
        changed_.notify_all();
    }
    void Fail() {
        std::lock_guard l(mutex_);
        fail_ = true;
    }
    // Waits (bounded, as a safety net) until `n` calls are inside Embed at once.
    bool WaitInside(int n) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, 10s, [&] { return inside_ >= n; });
    }
    std::vector<std::vector<std::string>> batches() {
        std::lock_guard l(mutex_);
        return batches_;
    }
    int max_inside() {
        std::lock_guard l(mutex_);
        return max_inside_;
    }

  private:
    std::string id_ = "test/scripted";
    std::mutex mutex_;
    std::condition_variable changed_;
    bool open_ = true;
    bool fail_ = false;
    int inside_ = 0;
    int max_inside_ = 0;
    std::vector<std::vector<std::string>> batches_;
};

struct Harness {
    explicit Harness(ServiceOptions o = Defaults(), bool lexical = false) {
        log_file = std::tmpfile();
        logger = std::make_unique<obs::Logger>(
            obs::LogOptions{obs::LogLevel::kDebug, true, log_file}, clock);
        std::unique_ptr<Embedder> e;
        if (lexical) {
            e = std::make_unique<LexicalEmbedder>();
        } else {
            auto s = std::make_unique<ScriptedEmbedder>();
            scripted = s.get();
            e = std::move(s);
        }
        service = std::make_unique<EmbeddingService>(std::move(e), o, *logger, metrics, clock);
    }
    ~Harness() {
        if (scripted) scripted->Open();
        service.reset();
        std::fclose(log_file);
    }
    static ServiceOptions Defaults() {
        ServiceOptions o;
        o.threads = 1;
        o.batch_wait = 0ms;
        o.enqueue_timeout = 0ms;
        return o;
    }
    double Counter(const std::string& name) { return metrics.AddCounter(name, "").Get().value(); }

    ManualClock clock;
    std::FILE* log_file = nullptr;
    std::unique_ptr<obs::Logger> logger;
    obs::MetricsRegistry metrics;
    ScriptedEmbedder* scripted = nullptr;
    std::unique_ptr<EmbeddingService> service;
};

std::vector<std::string> Words(int n, const std::string& word) {
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? " " : "") + word + std::to_string(i);
    return {s};
}

TEST(EmbeddingService, ReturnsOneRowPerTextInInputOrder) {
    Harness h(Harness::Defaults(), /*lexical=*/true);
    std::vector<std::string> texts;
    for (int i = 0; i < 50; ++i)
        texts.push_back("text number " + std::to_string(i) + std::string(i % 7, 'x'));
    auto rows = h.service->Embed(texts, Priority::kBulk);
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    ASSERT_EQ(rows->size(), texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
        EXPECT_EQ((*rows)[i], LexicalEmbedder::EmbedOne(texts[i])) << i;
    }
    EXPECT_EQ(h.service->model_id(), "contex/lexical-v1");
    EXPECT_EQ(h.service->dim(), 384);
}

TEST(EmbeddingService, EmptyInputGivesEmptyResult) {
    Harness h;
    auto rows = h.service->Embed(std::vector<std::string>{}, Priority::kInteractive);
    ASSERT_TRUE(rows.ok());
    EXPECT_TRUE(rows->empty());
}

TEST(EmbeddingService, ServesRepeatedTextsFromTheCache) {
    Harness h;
    const std::vector<std::string> texts = {"alpha beta", "gamma"};
    auto first = h.service->Embed(texts, Priority::kBulk);
    ASSERT_TRUE(first.ok());
    const auto calls = h.scripted->batches().size();
    auto second = h.service->Embed(texts, Priority::kBulk);
    ASSERT_TRUE(second.ok());
    EXPECT_EQ(*first, *second);
    EXPECT_EQ(h.scripted->batches().size(), calls);  // nothing reached the model
    EXPECT_EQ(h.Counter("contex_embedding_cache_misses_total"), 2.0);
    EXPECT_EQ(h.Counter("contex_embedding_cache_hits_total"), 2.0);
    EXPECT_EQ(h.metrics.AddGauge("contex_embedding_cache_size", "").Get().value(), 2.0);
}

TEST(EmbeddingService, CacheEntriesExpireAfterTtl) {
    auto o = Harness::Defaults();
    o.cache_ttl = 10s;
    Harness h(o);
    const std::vector<std::string> texts = {"alpha"};
    ASSERT_TRUE(h.service->Embed(texts, Priority::kBulk).ok());
    h.clock.Advance(11s);
    ASSERT_TRUE(h.service->Embed(texts, Priority::kBulk).ok());
    EXPECT_EQ(h.scripted->batches().size(), 2u);
}

TEST(EmbeddingService, ZeroCacheSizeAlwaysEmbeds) {
    auto o = Harness::Defaults();
    o.cache_size = 0;
    Harness h(o);
    const std::vector<std::string> texts = {"alpha"};
    ASSERT_TRUE(h.service->Embed(texts, Priority::kBulk).ok());
    ASSERT_TRUE(h.service->Embed(texts, Priority::kBulk).ok());
    EXPECT_EQ(h.scripted->batches().size(), 2u);
}

TEST(EmbeddingService, PrependsQueryAndDocumentPrefixes) {
    auto o = Harness::Defaults();
    o.query_prefix = "query: ";
    o.document_prefix = "passage: ";
    Harness h(o);
    const std::vector<std::string> texts = {"same text"};
    auto q = h.service->Embed(texts, Priority::kInteractive);
    auto d = h.service->Embed(texts, Priority::kBulk);
    auto d2 = h.service->Embed(texts, Priority::kInteractive, TextKind::kDocument);
    ASSERT_TRUE(q.ok() && d.ok() && d2.ok());
    const auto batches = h.scripted->batches();
    ASSERT_EQ(batches.size(), 2u);  // the third call is a cache hit on the document key
    EXPECT_EQ(batches[0][0], "query: same text");
    EXPECT_EQ(batches[1][0], "passage: same text");
    EXPECT_NE(*q, *d);
    EXPECT_EQ(*d, *d2);
}

TEST(EmbeddingService, BatchesRespectTokenBudgetAndMaxBatch) {
    auto o = Harness::Defaults();
    o.batch_tokens = 256;
    o.max_batch = 5;
    Harness h(o);
    h.scripted->Close();
    std::promise<void> blocker_done;
    h.service->Submit({"blocker"}, Priority::kBulk, [&](auto) { blocker_done.set_value(); });
    ASSERT_TRUE(h.scripted->WaitInside(1));
    std::vector<std::string> texts;
    for (int i = 0; i < 40; ++i) texts.push_back(Words(1 + (i * 37) % 90, "w")[0]);
    std::promise<Result<std::vector<Vector>>> result;
    h.service->Submit(texts, Priority::kBulk, [&](auto r) { result.set_value(std::move(r)); });
    EXPECT_EQ(h.service->queue_depth(), 40u);
    h.scripted->Open();
    auto rows = result.get_future().get();
    ASSERT_TRUE(rows.ok());
    blocker_done.get_future().get();
    std::size_t seen = 0;
    for (const auto& batch : h.scripted->batches()) {
        std::size_t longest = 0;
        for (const auto& t : batch) longest = std::max(longest, h.scripted->CountTokens(t) + 2);
        EXPECT_LE(batch.size(), 5u);
        if (batch.size() > 1) {
            EXPECT_LE(batch.size() * longest, 256u);
        }
        seen += batch.size();
    }
    EXPECT_EQ(seen, 41u);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        EXPECT_EQ((*rows)[i], ScriptedEmbedder::Row(texts[i]));
    }
    EXPECT_EQ(h.service->queue_depth(), 0u);
}

TEST(EmbeddingService, WaitsBrieflyToFillABatchAcrossCallers) {
    auto o = Harness::Defaults();
    o.max_batch = 3;
    o.batch_wait = 10s;  // ends as soon as the batch is full
    Harness h(o);
    std::promise<void> first, second;
    h.service->Submit({"one"}, Priority::kBulk, [&](auto r) {
        EXPECT_TRUE(r.ok());
        first.set_value();
    });
    h.service->Submit({"two", "three"}, Priority::kBulk, [&](auto r) {
        EXPECT_TRUE(r.ok());
        second.set_value();
    });
    first.get_future().get();
    second.get_future().get();
    const auto batches = h.scripted->batches();
    ASSERT_EQ(batches.size(), 1u);
    EXPECT_EQ(batches[0].size(), 3u);
}

TEST(EmbeddingService, GroupsTextsOfSimilarLength) {
    auto o = Harness::Defaults();
    o.max_batch = 4;
    o.batch_tokens = 4 * 62;  // four long texts, or any number of short ones
    Harness h(o);
    h.scripted->Close();
    h.service->Submit({"blocker"}, Priority::kBulk, [](auto) {});
    ASSERT_TRUE(h.scripted->WaitInside(1));
    std::vector<std::string> texts;
    for (int i = 0; i < 8; ++i) texts.push_back(Words(i % 2 ? 60 : 2, "t" + std::to_string(i))[0]);
    std::promise<void> done;
    h.service->Submit(texts, Priority::kBulk, [&](auto r) {
        EXPECT_TRUE(r.ok());
        done.set_value();
    });
    h.scripted->Open();
    done.get_future().get();
    const auto batches = h.scripted->batches();
    ASSERT_EQ(batches.size(), 3u);  // blocker, 4 short, 4 long
    for (std::size_t b = 1; b < batches.size(); ++b) {
        ASSERT_EQ(batches[b].size(), 4u);
        const bool long_batch = h.scripted->CountTokens(batches[b][0]) == 60;
        for (const auto& t : batches[b]) EXPECT_EQ(h.scripted->CountTokens(t) == 60, long_batch);
    }
}

TEST(EmbeddingService, ServesInteractiveBeforeBulk) {
    auto o = Harness::Defaults();
    o.max_batch = 1;
    Harness h(o);
    h.scripted->Close();
    h.service->Submit({"blocker"}, Priority::kBulk, [](auto) {});
    ASSERT_TRUE(h.scripted->WaitInside(1));
    std::promise<void> bulk_done, urgent_done;
    h.service->Submit({"bulk one", "bulk two"}, Priority::kBulk,
                      [&](auto) { bulk_done.set_value(); });
    h.service->Submit({"urgent query"}, Priority::kInteractive,
                      [&](auto) { urgent_done.set_value(); });
    h.scripted->Open();
    bulk_done.get_future().get();
    urgent_done.get_future().get();
    const auto batches = h.scripted->batches();
    ASSERT_EQ(batches.size(), 4u);
    EXPECT_EQ(batches[1][0], "urgent query");
}

TEST(EmbeddingService, RejectsWhenTheQueueIsFull) {
    auto o = Harness::Defaults();
    o.queue_limit = 2;
    Harness h(o);
    h.scripted->Close();
    h.service->Submit({"blocker"}, Priority::kBulk, [](auto) {});
    ASSERT_TRUE(h.scripted->WaitInside(1));
    std::promise<Result<std::vector<Vector>>> queued;
    h.service->Submit({"a", "b"}, Priority::kBulk, [&](auto r) { queued.set_value(std::move(r)); });
    std::optional<Error> rejected;
    h.service->Submit({"c"}, Priority::kInteractive, [&](auto r) {
        ASSERT_FALSE(r.ok());
        rejected = r.error();
    });
    ASSERT_TRUE(rejected.has_value());  // answered at once on this thread
    EXPECT_EQ(rejected->code, ErrorCode::kUnavailable);
    EXPECT_EQ(rejected->message, "Embedding service unavailable");
    // The blocking form waits enqueue_timeout (0 here) and fails the same way.
    auto blocking = h.service->Embed(std::vector<std::string>{"d"}, Priority::kBulk);
    ASSERT_FALSE(blocking.ok());
    EXPECT_EQ(blocking.error().code, ErrorCode::kUnavailable);
    h.scripted->Open();
    EXPECT_TRUE(queued.get_future().get().ok());
}

TEST(EmbeddingService, BlockingCallerWaitsForRoom) {
    auto o = Harness::Defaults();
    o.queue_limit = 1;
    o.enqueue_timeout = 60s;
    Harness h(o);
    h.scripted->Close();
    h.service->Submit({"blocker"}, Priority::kBulk, [](auto) {});
    ASSERT_TRUE(h.scripted->WaitInside(1));
    h.service->Submit({"queued"}, Priority::kBulk, [](auto) {});
    auto waiter = std::async(std::launch::async, [&] {
        return h.service->Embed(std::vector<std::string>{"patient"}, Priority::kBulk);
    });
    h.scripted->Open();
    auto r = waiter.get();
    ASSERT_TRUE(r.ok()) << r.error().message;
}

TEST(EmbeddingService, PropagatesEmbedderErrors) {
    Harness h;
    h.scripted->Fail();
    auto r = h.service->Embed(std::vector<std::string>{"a", "b", "c"}, Priority::kBulk);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(r.error().message, "model exploded");
    EXPECT_EQ(h.metrics.AddCounter("contex_errors_total", "", {"component", "kind"})
                  .WithLabels({"embedding", "unavailable"})
                  .value(),
              1.0);
}

TEST(EmbeddingService, ShutdownFailsQueuedWorkAndLaterCalls) {
    Harness h;
    h.scripted->Close();
    h.service->Submit({"blocker"}, Priority::kBulk, [](auto) {});
    ASSERT_TRUE(h.scripted->WaitInside(1));
    std::promise<Result<std::vector<Vector>>> queued;
    h.service->Submit({"never"}, Priority::kBulk, [&](auto r) { queued.set_value(std::move(r)); });
    auto stopper = std::async(std::launch::async, [&] { h.service->Shutdown(); });
    auto r = queued.get_future().get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
    h.scripted->Open();
    stopper.get();
    auto later = h.service->Embed(std::vector<std::string>{"late"}, Priority::kBulk);
    ASSERT_FALSE(later.ok());
    EXPECT_EQ(later.error().code, ErrorCode::kUnavailable);
}

TEST(EmbeddingService, RunsBatchesOnSeveralThreadsAtOnce) {
    auto o = Harness::Defaults();
    o.threads = 2;
    o.max_batch = 1;
    Harness h(o);
    h.scripted->Close();
    std::atomic<int> done{0};
    h.service->Submit({"one", "two"}, Priority::kBulk, [&](auto) { ++done; });
    EXPECT_TRUE(h.scripted->WaitInside(2));  // both workers inside the model together
    h.scripted->Open();
}

TEST(EmbeddingService, ManyConcurrentCallersGetTheirOwnRows) {
    auto o = Harness::Defaults();
    o.threads = 2;
    o.batch_wait = 1ms;
    o.max_batch = 16;
    Harness h(o, /*lexical=*/true);
    std::vector<std::thread> callers;
    std::atomic<int> wrong{0};
    for (int c = 0; c < 8; ++c) {
        callers.emplace_back([&, c] {
            for (int round = 0; round < 5; ++round) {
                std::vector<std::string> texts;
                for (int i = 0; i < 10; ++i) {
                    texts.push_back("caller " + std::to_string(c) + " round " +
                                    std::to_string(round) + " item " + std::to_string(i));
                }
                auto rows =
                    h.service->Embed(texts, c % 2 ? Priority::kBulk : Priority::kInteractive);
                if (!rows.ok()) {
                    ++wrong;
                    continue;
                }
                for (std::size_t i = 0; i < texts.size(); ++i) {
                    if ((*rows)[i] != LexicalEmbedder::EmbedOne(texts[i])) ++wrong;
                }
            }
        });
    }
    for (auto& t : callers) t.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST(EmbeddingService, ReportsHealthAndCachesTheSelfTest) {
    Harness h;
    auto first = h.service->CheckHealth();
    EXPECT_EQ(first.status, obs::HealthStatus::kHealthy);
    EXPECT_EQ(first.message, "Embedding model is healthy");
    EXPECT_EQ(first.details.at("embedding_dim").as_int64(), 8);
    EXPECT_EQ(first.details.at("model").as_string(), "test/scripted");
    EXPECT_EQ(first.details.at("provider").as_string(), "local");
    EXPECT_TRUE(first.details.at("cache").as_object().contains("capacity"));
    const auto calls = h.scripted->batches().size();
    (void)h.service->CheckHealth();
    EXPECT_EQ(h.scripted->batches().size(), calls);  // cached
    h.clock.Advance(31s);
    (void)h.service->CheckHealth();
    EXPECT_EQ(h.scripted->batches().size(), calls + 1);
}

TEST(EmbeddingService, HealthChecksDoNotQueueBehindASlowSelfTest) {
    Harness h;
    h.scripted->Close();  // the self-test hangs inside the model
    auto first = std::async(std::launch::async, [&] { return h.service->CheckHealth(); });
    ASSERT_TRUE(h.scripted->WaitInside(1));
    const auto meanwhile = h.service->CheckHealth();  // answered at once
    EXPECT_EQ(meanwhile.status, obs::HealthStatus::kDegraded);
    EXPECT_EQ(meanwhile.message, "Embedding self-test in progress");
    h.scripted->Open();
    EXPECT_EQ(first.get().status, obs::HealthStatus::kHealthy);
    EXPECT_EQ(h.service->CheckHealth().status, obs::HealthStatus::kHealthy);
}

TEST(EmbeddingService, FailingSelfTestIsUnhealthy) {
    Harness h;
    h.scripted->Fail();
    EXPECT_EQ(h.service->CheckHealth().status, obs::HealthStatus::kUnhealthy);
}

TEST(EmbeddingService, LexicalFallbackIsDegraded) {
    auto o = Harness::Defaults();
    o.degraded = true;
    o.provider = "lexical";
    Harness h(o, /*lexical=*/true);
    EXPECT_TRUE(h.service->degraded());
    auto health = h.service->CheckHealth();
    EXPECT_EQ(health.status, obs::HealthStatus::kDegraded);
    EXPECT_EQ(health.message, "Using built-in lexical embedder (no model available)");
    EXPECT_EQ(h.metrics.AddGauge("contex_embedding_degraded", "").Get().value(), 1.0);
}

TEST(EmbeddingService, ReembeddingIsReportedAsDegraded) {
    Harness h;
    h.service->SetReembedding(true);
    auto health = h.service->CheckHealth();
    EXPECT_EQ(health.status, obs::HealthStatus::kDegraded);
    EXPECT_THAT(health.message, ::testing::HasSubstr("reindexing"));
    EXPECT_EQ(h.metrics.AddGauge("contex_embedding_degraded", "").Get().value(), 1.0);
    h.service->SetReembedding(false);
    EXPECT_EQ(h.service->CheckHealth().status, obs::HealthStatus::kHealthy);
    EXPECT_EQ(h.metrics.AddGauge("contex_embedding_degraded", "").Get().value(), 0.0);
}

TEST(EmbeddingService, BackgroundRetrySwitchesFromTheFallbackToTheModel) {
    auto o = Harness::Defaults();
    o.degraded = true;
    o.provider = "lexical";
    Harness h(o, /*lexical=*/true);
    const std::vector<std::string> texts = {"cached before the switch"};
    ASSERT_TRUE(h.service->Embed(texts, Priority::kBulk).ok());
    std::promise<std::string> switched;
    h.service->AddModelChangeListener([&](const std::string& id) { switched.set_value(id); });
    std::atomic<int> attempts{0};
    ScriptedEmbedder* model = nullptr;
    h.service->StartModelRetry(
        [&]() -> Result<std::unique_ptr<Embedder>> {
            if (++attempts < 3) return Unavailable("still offline");
            auto e = std::make_unique<ScriptedEmbedder>();
            model = e.get();
            return std::unique_ptr<Embedder>(std::move(e));
        },
        {0ms}, "local", "int8");
    EXPECT_EQ(switched.get_future().get(), "test/scripted");
    EXPECT_EQ(attempts.load(), 3);
    EXPECT_EQ(h.service->model_id(), "test/scripted");
    EXPECT_EQ(h.service->dim(), 8);
    EXPECT_FALSE(h.service->degraded());
    EXPECT_EQ(h.service->provider(), "local");
    EXPECT_EQ(h.service->CheckHealth().status, obs::HealthStatus::kHealthy);
    EXPECT_EQ(h.metrics.AddGauge("contex_embedding_degraded", "").Get().value(), 0.0);
    EXPECT_EQ(h.metrics.AddGauge("contex_embedding_cache_size", "").Get().value(), 0.0);
    auto rows = h.service->Embed(texts, Priority::kBulk);
    ASSERT_TRUE(rows.ok());
    EXPECT_EQ(rows->front().size(), 8u);  // the new model, not the old cache entry
    ASSERT_NE(model, nullptr);
    EXPECT_FALSE(model->batches().empty());
    const std::string metrics = h.metrics.Render();
    EXPECT_THAT(metrics,
                ::testing::HasSubstr(
                    "contex_embedding_model_info{model=\"test/scripted\",provider=\"local\","
                    "dim=\"8\",precision=\"int8\"} 1"));
    EXPECT_THAT(metrics,
                ::testing::HasSubstr(
                    "contex_embedding_model_info{model=\"contex/lexical-v1\",provider=\"lexical\","
                    "dim=\"384\",precision=\"fp32\"} 0"));
}

TEST(EmbeddingService, QueuedTextsFinishOnTheModelTheyWereSubmittedTo) {
    Harness h;
    h.scripted->Close();
    h.service->Submit({"blocker"}, Priority::kBulk, [](auto) {});
    ASSERT_TRUE(h.scripted->WaitInside(1));
    std::promise<Result<std::vector<Vector>>> old_job, new_job;
    h.service->Submit({"old model text"}, Priority::kBulk,
                      [&](auto r) { old_job.set_value(std::move(r)); });
    h.service->SwitchEmbedder(std::make_unique<LexicalEmbedder>(), "lexical", "fp32");
    h.service->Submit({"new model text"}, Priority::kBulk,
                      [&](auto r) { new_job.set_value(std::move(r)); });
    h.scripted->Open();
    auto old_rows = old_job.get_future().get();
    auto new_rows = new_job.get_future().get();
    ASSERT_TRUE(old_rows.ok() && new_rows.ok());
    EXPECT_EQ(old_rows->front().size(), 8u);
    EXPECT_EQ(new_rows->front().size(), 384u);
    h.scripted = nullptr;  // released with the last job that used it
}

TEST(EmbeddingService, ShutdownStopsAWaitingRetry) {
    Harness h(Harness::Defaults(), /*lexical=*/true);
    std::atomic<int> attempts{0};
    h.service->StartModelRetry(
        [&]() -> Result<std::unique_ptr<Embedder>> {
            ++attempts;
            return Unavailable("no");
        },
        {std::chrono::hours(1)}, "local", "fp32");
    h.service->Shutdown();  // would hang for an hour if the wait were not interruptible
    EXPECT_EQ(attempts.load(), 0);
}

TEST(EmbeddingService, ExportsModelInfo) {
    Harness h(Harness::Defaults(), /*lexical=*/true);
    const std::string text = h.metrics.Render();
    EXPECT_THAT(text,
                ::testing::HasSubstr(
                    "contex_embedding_model_info{model=\"contex/lexical-v1\",provider=\"local\","
                    "dim=\"384\",precision=\"fp32\"} 1"));
    ASSERT_TRUE(h.service->Embed(std::vector<std::string>{"x y"}, Priority::kBulk).ok());
    EXPECT_THAT(h.metrics.Render(), ::testing::HasSubstr("contex_embedding_batch_size_count 1"));
}

}  // namespace
}  // namespace contex::embed
