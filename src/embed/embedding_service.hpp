// EmbeddingService: the one embedding entry point of the process (engine.md §2.6, §9).
// Cache first, then a bounded two-priority queue, dynamic token-budget batching and a
// pool of compute threads in front of one Embedder.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "embed/config.hpp"
#include "embed/embedder.hpp"
#include "embed/embedding_cache.hpp"
#include "observability/health.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"

namespace contex::embed {

// Interactive (queries, needs) is always served before bulk (publish, import, re-embed).
enum class Priority { kInteractive, kBulk };
// Which prefix is prepended (EMBEDDING_QUERY_PREFIX / EMBEDDING_DOCUMENT_PREFIX).
enum class TextKind { kQuery, kDocument };

using EmbedCallback = std::function<void(Result<std::vector<Vector>>)>;

struct ServiceOptions {
    int threads = 1;
    std::size_t queue_limit = 10000;  // pending texts
    std::size_t batch_tokens = 8192;  // batch_size × longest token length
    std::size_t max_batch = 64;
    std::chrono::milliseconds batch_wait{2};
    std::chrono::milliseconds enqueue_timeout{30000};  // blocking Embed only
    std::size_t cache_size = 10000;
    std::chrono::seconds cache_ttl{0};
    std::string query_prefix;
    std::string document_prefix;
    // Reported in health and contex_embedding_model_info.
    std::string provider = "local";
    std::string precision = "fp32";
    // True when the lexical embedder stands in for a model that could not be loaded.
    bool degraded = false;

    static ServiceOptions FromConfig(const EmbeddingConfig& config);
};

class EmbeddingService {
  public:
    // Starts options.threads compute threads. `logger`, `metrics` and `clock` must outlive
    // the service.
    EmbeddingService(std::unique_ptr<Embedder> embedder, ServiceOptions options,
                     obs::Logger& logger, obs::MetricsRegistry& metrics, const Clock& clock);
    ~EmbeddingService();  // Shutdown()
    EmbeddingService(const EmbeddingService&) = delete;
    EmbeddingService& operator=(const EmbeddingService&) = delete;

    // Blocking; callable from many threads, never from an EmbedCallback. Rows in input
    // order. Prefix by priority: kInteractive → query prefix, kBulk → document prefix.
    // Use the TextKind overload when the two disagree (re-embedding needs at bulk priority).
    // Cached texts are answered without queueing. Admission is all-or-nothing: a request
    // is queued when pending + its misses <= queue_limit, or when nothing is pending (so
    // one oversized request still runs). Errors: kUnavailable "Embedding service
    // unavailable" when there is no room for enqueue_timeout (30 s), kUnavailable after
    // Shutdown, the embedder's error otherwise (the whole request fails).
    Result<std::vector<Vector>> Embed(std::span<const std::string> texts, Priority priority);
    Result<std::vector<Vector>> Embed(std::span<const std::string> texts, Priority priority,
                                      TextKind kind);

    // Asynchronous form for I/O threads: never blocks. `done` runs exactly once, on a
    // compute thread, or on the calling thread when every text was cached or the queue is
    // full (kUnavailable "Embedding service unavailable"). `done` must not block.
    void Submit(std::vector<std::string> texts, Priority priority, EmbedCallback done);
    void Submit(std::vector<std::string> texts, Priority priority, TextKind kind,
                EmbedCallback done);

    // The active model. Returned by value: the background retry may replace the lexical
    // fallback by a real model at any time (see SwitchEmbedder).
    std::string model_id() const;
    int dim() const;
    int max_tokens() const;
    std::size_t CountTokens(std::string_view text) const;
    bool degraded() const;  // lexical fallback active
    std::string provider() const;
    std::size_t queue_depth() const;

    // Drops every cached vector (model switch, engine.md §9).
    void ClearCache();

    // Replaces the active embedder (typically the lexical fallback by the model it stood in
    // for): new texts use it at once, texts already queued finish on the model they were
    // submitted to; the cache is cleared, health and metrics follow, "Embedding model
    // loaded" is logged and every listener is told the new model id (engine.md §2.7).
    void SwitchEmbedder(std::unique_ptr<Embedder> embedder, std::string provider,
                        std::string precision);
    // `listener` runs on the thread that switched. Thread-safe.
    void AddModelChangeListener(std::function<void(const std::string& model_id)> listener);

    using AcquireFn = std::function<Result<std::unique_ptr<Embedder>>()>;
    // Starts one background thread that waits schedule[0], schedule[1], … (the last delay
    // repeats) between calls to `acquire` until one succeeds, then SwitchEmbedder.
    // Shutdown stops it (after an acquisition already in progress). Call at most once.
    void StartModelRetry(AcquireFn acquire, std::vector<std::chrono::milliseconds> schedule,
                         std::string provider, std::string precision);

    // The engine marks background re-embedding (engine.md §2.7): health reports degraded
    // ("reindexing") and contex_embedding_degraded is 1 while it runs. Thread-safe.
    void SetReembedding(bool active);

    // The `embedding_model` health component (operations.md §6.1). The self-test result
    // is cached for 30 s of clock time.
    obs::ComponentHealth CheckHealth();

    // Stops the compute threads; queued texts fail with kUnavailable. Idempotent.
    void Shutdown();

  private:
    struct Job;
    struct Item {
        std::shared_ptr<Job> job;
        std::size_t index = 0;  // row in the job
        std::string text;       // prefixed
        std::size_t tokens = 0;
        Clock::MonoTime enqueued;  // for the batch fill wait
    };

    struct Active {
        std::shared_ptr<Embedder> embedder;
        std::string provider;
        std::string precision;
        bool degraded = false;
    };
    std::shared_ptr<const Active> active() const;

    void SubmitInternal(std::vector<std::string> texts, Priority priority, TextKind kind,
                        EmbedCallback done, bool blocking);
    void WorkerLoop();
    std::vector<Item> TakeBatchLocked();
    Clock::MonoTime::duration FillWaitLocked() const;
    void RunBatch(std::vector<Item>& batch);
    void FinishItem(Item& item, const Error* error);
    obs::ComponentHealth SelfTest();

    ServiceOptions options_;
    obs::Logger& logger_;
    const Clock& clock_;
    EmbeddingCache cache_;

    obs::Counter& cache_hits_;
    obs::Counter& cache_misses_;
    obs::Gauge& cache_size_;
    obs::Histogram& encode_duration_;
    obs::Histogram& batch_size_;
    obs::Gauge& queue_depth_;
    obs::Gauge& degraded_gauge_;
    obs::Counter& errors_;
    obs::Family<obs::Gauge>& model_info_;

    mutable std::mutex active_mutex_;
    std::shared_ptr<const Active> active_;                            // guarded by active_mutex_
    std::vector<std::function<void(const std::string&)>> listeners_;  // guarded by active_mutex_

    std::mutex retry_mutex_;
    std::condition_variable retry_cv_;
    bool retry_stop_ = false;  // guarded by retry_mutex_
    std::thread retry_thread_;

    mutable std::mutex mutex_;
    std::condition_variable work_cv_;
    std::condition_variable space_cv_;
    std::deque<Item> queues_[2];  // by Priority; guarded by mutex_
    std::size_t pending_ = 0;     // guarded by mutex_
    bool stopping_ = false;       // guarded by mutex_
    std::vector<std::thread> workers_;
    std::atomic<bool> reembedding_{false};

    std::mutex health_mutex_;
    bool health_cached_ = false;           // guarded by health_mutex_
    Clock::MonoTime health_checked_at_;    // guarded by health_mutex_
    obs::ComponentHealth health_;          // guarded by health_mutex_
    bool health_running_ = false;          // guarded by health_mutex_
    std::uint64_t health_generation_ = 0;  // guarded by health_mutex_; bumped on a switch
};

// Resolves EMBEDDING_PROVIDER, the model (directory or hub id, fetched when allowed) and
// the fallback: when no model can be loaded it logs ERROR "Embedding model unavailable;
// using built-in lexical embedder" and serves contex/lexical-v1 with degraded() true, or
// with config.strict returns the error (kUnavailable, or kInvalidArgument for a
// configuration error such as an EMBEDDING_DIM mismatch). Logs "Embedding model loaded"
// on success. After a fallback it keeps trying to acquire the model in the background
// (1 min doubling to 1 h) and switches to it on success (AddModelChangeListener).
// `metrics` must outlive the service.
Result<std::unique_ptr<EmbeddingService>> CreateEmbeddingService(const EmbeddingConfig& config,
                                                                 obs::Logger& logger,
                                                                 obs::MetricsRegistry& metrics,
                                                                 const Clock& clock);

// The provider alone, without the service and without the lexical fallback (used by
// CreateEmbeddingService and `contex model inspect`).
Result<std::unique_ptr<Embedder>> CreateEmbedder(const EmbeddingConfig& config,
                                                 obs::MetricsRegistry* metrics);

}  // namespace contex::embed
