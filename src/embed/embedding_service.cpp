#include "embed/embedding_service.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <future>
#include <optional>

namespace contex::embed {

namespace {

constexpr std::chrono::seconds kHealthCacheFor{30};
constexpr double kSlowSelfTestMs = 1000.0;
const std::vector<double> kBatchSizeBuckets = {1, 2, 4, 8, 16, 32, 64, 128};

double Millis(Clock::MonoTime::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

struct EmbeddingService::Job {
    std::shared_ptr<Embedder> embedder;  // the model this job was submitted to
    std::vector<Vector> rows;
    std::vector<std::string> keys;  // cache key per row; empty when the cache is off
    std::atomic<std::size_t> remaining{0};
    std::mutex mutex;
    std::optional<Error> error;  // guarded by mutex
    EmbedCallback done;
};

ServiceOptions ServiceOptions::FromConfig(const EmbeddingConfig& config) {
    ServiceOptions o;
    o.threads = config.EffectiveThreads();
    o.queue_limit = config.queue_limit;
    o.batch_tokens = config.batch_tokens;
    o.max_batch = config.max_batch;
    o.batch_wait = std::chrono::milliseconds(config.batch_wait_ms);
    o.enqueue_timeout = config.enqueue_timeout;
    o.cache_size = config.cache_size;
    o.cache_ttl = std::chrono::seconds(config.cache_ttl_s);
    o.query_prefix = config.query_prefix;
    o.document_prefix = config.document_prefix;
    o.provider = std::string(ProviderName(config.provider));
    o.precision = std::string(PrecisionName(config.precision));
    return o;
}

EmbeddingService::EmbeddingService(std::unique_ptr<Embedder> embedder, ServiceOptions options,
                                   obs::Logger& logger, obs::MetricsRegistry& metrics,
                                   const Clock& clock)
    : options_(std::move(options)),
      logger_(logger),
      clock_(clock),
      cache_(options_.cache_size, options_.cache_ttl, clock),
      cache_hits_(
          metrics.AddCounter("contex_embedding_cache_hits_total", "Embedding cache hits").Get()),
      cache_misses_(
          metrics.AddCounter("contex_embedding_cache_misses_total", "Embedding cache misses")
              .Get()),
      cache_size_(metrics.AddGauge("contex_embedding_cache_size", "Embedding cache entries").Get()),
      encode_duration_(metrics
                           .AddHistogram("contex_embedding_duration_seconds",
                                         "Batch inference and index search latency",
                                         obs::buckets::kB1, {"operation"})
                           .WithLabels({"encode"})),
      batch_size_(metrics
                      .AddHistogram("contex_embedding_batch_size", "Texts per inference batch",
                                    kBatchSizeBuckets)
                      .Get()),
      queue_depth_(
          metrics.AddGauge("contex_embedding_queue_depth", "Texts waiting for inference").Get()),
      degraded_gauge_(metrics
                          .AddGauge("contex_embedding_degraded",
                                    "1 while the lexical fallback or re-embedding is active")
                          .Get()),
      errors_(metrics.AddCounter("contex_errors_total", "Internal failures", {"component", "kind"})
                  .WithLabels({"embedding", "unavailable"})),
      model_info_(metrics.AddGauge("contex_embedding_model_info", "Active embedding model",
                                   {"model", "provider", "dim", "precision"})) {
    CONTEX_ASSERT(embedder != nullptr);
    options_.threads = std::max(1, options_.threads);
    options_.max_batch = std::max<std::size_t>(1, options_.max_batch);
    auto initial = std::make_shared<Active>();
    initial->embedder = std::move(embedder);
    initial->provider = options_.provider;
    initial->precision = options_.precision;
    initial->degraded = options_.degraded;
    model_info_
        .WithLabels({initial->embedder->model_id(), initial->provider,
                     std::to_string(initial->embedder->dim()), initial->precision})
        .Set(1);
    active_ = std::move(initial);
    degraded_gauge_.Set(options_.degraded ? 1 : 0);
    queue_depth_.Set(0);
    cache_size_.Set(0);
    workers_.reserve(static_cast<std::size_t>(options_.threads));
    for (int i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

EmbeddingService::~EmbeddingService() { Shutdown(); }

Result<std::vector<Vector>> EmbeddingService::Embed(std::span<const std::string> texts,
                                                    Priority priority) {
    return Embed(texts, priority,
                 priority == Priority::kInteractive ? TextKind::kQuery : TextKind::kDocument);
}

Result<std::vector<Vector>> EmbeddingService::Embed(std::span<const std::string> texts,
                                                    Priority priority, TextKind kind) {
    std::promise<Result<std::vector<Vector>>> promise;
    auto future = promise.get_future();
    SubmitInternal(
        std::vector<std::string>(texts.begin(), texts.end()), priority, kind,
        [&promise](Result<std::vector<Vector>> r) { promise.set_value(std::move(r)); },
        /*blocking=*/true);
    return future.get();
}

void EmbeddingService::Submit(std::vector<std::string> texts, Priority priority,
                              EmbedCallback done) {
    const TextKind kind =
        priority == Priority::kInteractive ? TextKind::kQuery : TextKind::kDocument;
    SubmitInternal(std::move(texts), priority, kind, std::move(done), /*blocking=*/false);
}

void EmbeddingService::Submit(std::vector<std::string> texts, Priority priority, TextKind kind,
                              EmbedCallback done) {
    SubmitInternal(std::move(texts), priority, kind, std::move(done), /*blocking=*/false);
}

void EmbeddingService::SubmitInternal(std::vector<std::string> texts, Priority priority,
                                      TextKind kind, EmbedCallback done, bool blocking) {
    if (texts.empty()) {
        done(std::vector<Vector>{});
        return;
    }
    const std::string& prefix =
        kind == TextKind::kQuery ? options_.query_prefix : options_.document_prefix;
    const auto current = active();
    Embedder& embedder = *current->embedder;
    auto job = std::make_shared<Job>();
    job->embedder = current->embedder;
    job->rows.resize(texts.size());
    const bool use_cache = cache_.capacity() > 0;
    if (use_cache) job->keys.resize(texts.size());
    std::vector<Item> items;
    const std::size_t max_len = static_cast<std::size_t>(std::max(1, embedder.max_tokens()));
    for (std::size_t i = 0; i < texts.size(); ++i) {
        if (use_cache) {
            job->keys[i] = EmbeddingCache::Key(embedder.model_id(), prefix, texts[i]);
            if (auto hit = cache_.Get(job->keys[i])) {
                cache_hits_.Inc();
                job->rows[i] = std::move(*hit);
                continue;
            }
            cache_misses_.Inc();
        }
        Item item;
        item.job = job;
        item.index = i;
        item.text = prefix.empty() ? std::move(texts[i]) : prefix + texts[i];
        item.tokens = std::min(embedder.CountTokens(item.text) + 2, max_len);
        items.push_back(std::move(item));
    }
    if (items.empty()) {
        done(std::move(job->rows));
        return;
    }
    job->remaining = items.size();
    job->done = std::move(done);
    const auto now = clock_.Monotonic();
    for (auto& item : items) item.enqueued = now;

    std::unique_lock lock(mutex_);
    const std::size_t n = items.size();
    auto fits = [&] { return stopping_ || pending_ == 0 || pending_ + n <= options_.queue_limit; };
    if (blocking) space_cv_.wait_for(lock, options_.enqueue_timeout, fits);
    if (stopping_ || !fits()) {
        const bool stopping = stopping_;
        lock.unlock();
        if (!stopping) errors_.Inc();
        job->done(Unavailable(stopping ? "Embedding service is shutting down"
                                       : "Embedding service unavailable"));
        return;
    }
    auto& queue = queues_[priority == Priority::kInteractive ? 0 : 1];
    for (auto& item : items) queue.push_back(std::move(item));
    pending_ += n;
    queue_depth_.Set(static_cast<double>(pending_));
    lock.unlock();
    if (n > 1) {
        work_cv_.notify_all();
    } else {
        work_cv_.notify_one();
    }
}

std::size_t EmbeddingService::queue_depth() const {
    std::lock_guard lock(mutex_);
    return pending_;
}

void EmbeddingService::WorkerLoop() {
    std::unique_lock lock(mutex_);
    while (true) {
        work_cv_.wait(lock, [&] { return stopping_ || pending_ > 0; });
        if (stopping_) return;
        if (const auto wait = FillWaitLocked(); wait.count() > 0) {
            // Give concurrent callers a moment to fill the batch, counted from the arrival
            // of the oldest pending text, so a backlog is never delayed further.
            work_cv_.wait_for(lock, wait,
                              [&] { return stopping_ || pending_ >= options_.max_batch; });
            if (stopping_) return;
            if (pending_ == 0) continue;  // another worker took them
        }
        std::vector<Item> batch = TakeBatchLocked();
        pending_ -= batch.size();
        queue_depth_.Set(static_cast<double>(pending_));
        lock.unlock();
        space_cv_.notify_all();
        RunBatch(batch);
        batch.clear();  // drop job references outside the lock
        lock.lock();
    }
}

Clock::MonoTime::duration EmbeddingService::FillWaitLocked() const {
    if (options_.batch_wait.count() <= 0 || pending_ >= options_.max_batch) return {};
    const auto& queue = queues_[0].empty() ? queues_[1] : queues_[0];
    if (queue.empty()) return {};
    const auto waited = clock_.Monotonic() - queue.front().enqueued;
    const auto left =
        std::chrono::duration_cast<Clock::MonoTime::duration>(options_.batch_wait) - waited;
    return left.count() > 0 ? left : Clock::MonoTime::duration{};
}

std::vector<EmbeddingService::Item> EmbeddingService::TakeBatchLocked() {
    // The window: the oldest pending texts, interactive first. Its first entry (the
    // oldest text of the highest priority) always goes into the batch, so nothing
    // starves; the rest are its nearest neighbours by token length.
    // Only texts submitted to the same model as the anchor share its batch (a model
    // switch leaves older texts on the model they started with).
    const std::size_t window_limit = options_.max_batch * 4;
    struct Slot {
        int queue;
        std::size_t pos;
        std::size_t tokens;
    };
    const Embedder* model =
        (queues_[0].empty() ? queues_[1] : queues_[0]).front().job->embedder.get();
    std::vector<Slot> window;
    std::size_t scanned[2] = {0, 0};
    for (int q = 0; q < 2 && window.size() < window_limit; ++q) {
        for (std::size_t pos = 0; pos < queues_[q].size() && window.size() < window_limit &&
                                  scanned[0] + scanned[1] < 4 * window_limit;
             ++pos) {
            ++scanned[q];
            if (queues_[q][pos].job->embedder.get() != model) continue;
            window.push_back({q, pos, queues_[q][pos].tokens});
        }
    }
    std::vector<std::size_t> order(window.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return window[a].tokens < window[b].tokens;
    });
    const std::size_t anchor_at =
        static_cast<std::size_t>(std::find(order.begin(), order.end(), 0u) - order.begin());
    const std::size_t anchor_tokens = window[0].tokens;
    std::size_t lo = anchor_at, hi = anchor_at, count = 1, longest = anchor_tokens;
    const std::size_t budget = options_.batch_tokens;
    while (count < options_.max_batch) {
        const bool can_lo = lo > 0 && (count + 1) * longest <= budget;
        const bool can_hi = hi + 1 < order.size() &&
                            (count + 1) * std::max(longest, window[order[hi + 1]].tokens) <= budget;
        if (!can_lo && !can_hi) break;
        if (can_lo && (!can_hi || anchor_tokens - window[order[lo - 1]].tokens <=
                                      window[order[hi + 1]].tokens - anchor_tokens)) {
            --lo;
        } else {
            ++hi;
            longest = std::max(longest, window[order[hi]].tokens);
        }
        ++count;
    }
    std::vector<bool> taken(window.size(), false);
    std::vector<Item> batch;
    batch.reserve(count);
    for (std::size_t k = lo; k <= hi; ++k) {
        const Slot& s = window[order[k]];
        taken[order[k]] = true;
        batch.push_back(std::move(queues_[s.queue][s.pos]));
    }
    // Remove the taken slots from the scanned prefix of each queue.
    for (int q = 0; q < 2; ++q) {
        std::vector<bool> gone(scanned[q], false);
        for (std::size_t w = 0; w < window.size(); ++w) {
            if (window[w].queue == q && taken[w]) gone[window[w].pos] = true;
        }
        std::vector<Item> kept;
        for (std::size_t pos = 0; pos < scanned[q]; ++pos) {
            if (!gone[pos]) kept.push_back(std::move(queues_[q][pos]));
        }
        for (std::size_t i = 0; i < scanned[q]; ++i) queues_[q].pop_front();
        for (auto it = kept.rbegin(); it != kept.rend(); ++it)
            queues_[q].push_front(std::move(*it));
    }
    return batch;
}

void EmbeddingService::RunBatch(std::vector<Item>& batch) {
    std::vector<std::string> texts;
    texts.reserve(batch.size());
    for (auto& item : batch) texts.push_back(std::move(item.text));
    const auto start = clock_.Monotonic();
    auto rows = batch.front().job->embedder->Embed(texts);
    encode_duration_.Observe(Millis(clock_.Monotonic() - start) / 1000.0);
    batch_size_.Observe(static_cast<double>(batch.size()));
    if (rows.ok() && rows->size() != batch.size()) {
        rows = Internal("embedder returned " + std::to_string(rows->size()) + " rows for " +
                        std::to_string(batch.size()) + " texts");
    }
    if (!rows.ok()) {
        errors_.Inc();
        for (auto& item : batch) FinishItem(item, &rows.error());
        return;
    }
    bool cached = false;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        Item& item = batch[i];
        if (item.job->keys.empty()) continue;
        cache_.Put(item.job->keys[item.index], (*rows)[i]);
        cached = true;
    }
    if (cached) cache_size_.Set(static_cast<double>(cache_.size()));
    for (std::size_t i = 0; i < batch.size(); ++i) {
        Item& item = batch[i];
        item.job->rows[item.index] = std::move((*rows)[i]);
        FinishItem(item, nullptr);
    }
}

void EmbeddingService::FinishItem(Item& item, const Error* error) {
    Job& job = *item.job;
    if (error != nullptr) {
        std::lock_guard lock(job.mutex);
        if (!job.error) job.error = *error;
    }
    if (job.remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::optional<Error> failed;
    {
        std::lock_guard lock(job.mutex);
        failed = job.error;
    }
    if (failed) {
        job.done(std::move(*failed));
    } else {
        job.done(std::move(job.rows));
    }
}

std::shared_ptr<const EmbeddingService::Active> EmbeddingService::active() const {
    std::lock_guard lock(active_mutex_);
    return active_;
}

std::string EmbeddingService::model_id() const { return active()->embedder->model_id(); }
int EmbeddingService::dim() const { return active()->embedder->dim(); }
int EmbeddingService::max_tokens() const { return active()->embedder->max_tokens(); }
std::size_t EmbeddingService::CountTokens(std::string_view text) const {
    return active()->embedder->CountTokens(text);
}
bool EmbeddingService::degraded() const { return active()->degraded; }
std::string EmbeddingService::provider() const { return active()->provider; }

void EmbeddingService::SwitchEmbedder(std::unique_ptr<Embedder> embedder, std::string provider,
                                      std::string precision) {
    CONTEX_ASSERT(embedder != nullptr);
    auto next = std::make_shared<Active>();
    next->embedder = std::move(embedder);
    next->provider = std::move(provider);
    next->precision = std::move(precision);
    next->degraded = false;
    const std::string id = next->embedder->model_id();
    const int dim = next->embedder->dim();
    std::shared_ptr<const Active> previous;
    std::vector<std::function<void(const std::string&)>> listeners;
    {
        std::lock_guard lock(active_mutex_);
        previous = std::move(active_);
        active_ = next;
        listeners = listeners_;
    }
    model_info_
        .WithLabels({previous->embedder->model_id(), previous->provider,
                     std::to_string(previous->embedder->dim()), previous->precision})
        .Set(0);
    model_info_.WithLabels({id, next->provider, std::to_string(dim), next->precision}).Set(1);
    degraded_gauge_.Set(reembedding_ ? 1 : 0);
    ClearCache();
    {
        std::lock_guard lock(health_mutex_);
        health_cached_ = false;
        ++health_generation_;
    }
    logger_.Log(obs::LogLevel::kInfo, "contex.embedding", "Embedding model loaded",
                {{"model", json::value(id)},
                 {"dim", json::value(dim)},
                 {"precision", json::value(next->precision)},
                 {"provider", json::value(next->provider)}});
    for (const auto& listener : listeners) listener(id);
}

void EmbeddingService::AddModelChangeListener(
    std::function<void(const std::string& model_id)> listener) {
    std::lock_guard lock(active_mutex_);
    listeners_.push_back(std::move(listener));
}

void EmbeddingService::StartModelRetry(AcquireFn acquire,
                                       std::vector<std::chrono::milliseconds> schedule,
                                       std::string provider, std::string precision) {
    CONTEX_ASSERT(!retry_thread_.joinable());
    if (schedule.empty()) schedule.push_back(std::chrono::minutes(1));
    retry_thread_ =
        std::thread([this, acquire = std::move(acquire), schedule = std::move(schedule),
                     provider = std::move(provider), precision = std::move(precision)]() mutable {
            for (std::size_t attempt = 0;; ++attempt) {
                {
                    // A real-time wait by nature; it is also how Shutdown interrupts it.
                    std::unique_lock lock(retry_mutex_);
                    const auto delay = schedule[std::min(attempt, schedule.size() - 1)];
                    if (retry_cv_.wait_for(lock, delay, [&] { return retry_stop_; })) return;
                }
                auto embedder = acquire();
                if (embedder.ok()) {
                    SwitchEmbedder(std::move(*embedder), provider, precision);
                    return;
                }
                logger_.Log(obs::LogLevel::kWarning, "contex.embedding",
                            "Embedding model still unavailable; will retry",
                            {{"attempt", json::value(attempt + 1)},
                             {"error", json::value(embedder.error().message)}});
            }
        });
}

void EmbeddingService::SetReembedding(bool active) {
    reembedding_ = active;
    degraded_gauge_.Set(this->active()->degraded || active ? 1 : 0);
}

void EmbeddingService::ClearCache() {
    cache_.Clear();
    cache_size_.Set(0);
}

obs::ComponentHealth EmbeddingService::SelfTest() {
    obs::ComponentHealth h;
    const auto current = active();
    Embedder& embedder = *current->embedder;
    const std::vector<std::string> probe = {"health check"};
    const auto start = clock_.Monotonic();
    auto rows = embedder.Embed(probe);
    const double latency_ms = Millis(clock_.Monotonic() - start);
    h.details["latency_ms"] = std::round(latency_ms * 100) / 100;
    h.details["embedding_dim"] = embedder.dim();
    h.details["model"] = embedder.model_id();
    h.details["provider"] = current->provider;
    h.details["precision"] = current->precision;
    if (!rows.ok()) {
        h.status = obs::HealthStatus::kUnhealthy;
        h.message = "Embedding self-test failed: " + rows.error().message;
        return h;
    }
    double norm = 0;
    bool finite = rows->size() == 1;
    if (finite) {
        for (const float x : rows->front()) {
            finite = finite && std::isfinite(x);
            norm += static_cast<double>(x) * x;
        }
    }
    if (!finite || static_cast<int>(rows->front().size()) != embedder.dim() ||
        std::abs(norm - 1.0) > 1e-3) {
        h.status = obs::HealthStatus::kUnhealthy;
        h.message = "Embedding self-test returned an invalid vector";
    } else if (current->degraded) {
        h.status = obs::HealthStatus::kDegraded;
        h.message = "Using built-in lexical embedder (no model available)";
    } else if (latency_ms > kSlowSelfTestMs) {
        h.status = obs::HealthStatus::kDegraded;
        h.message = "Embedding self-test is slow";
    } else {
        h.message = "Embedding model is healthy";
    }
    return h;
}

obs::ComponentHealth EmbeddingService::CheckHealth() {
    // The self-test runs without the lock: a slow or hanging provider (a remote endpoint
    // retrying) must not pile up health checks behind it. Meanwhile callers get the last
    // result, or "in progress" before there is one.
    obs::ComponentHealth h;
    bool run = false;
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(health_mutex_);
        const bool stale =
            !health_cached_ || clock_.Monotonic() - health_checked_at_ >= kHealthCacheFor;
        if (stale && !health_running_) {
            run = true;
            health_running_ = true;
            generation = health_generation_;
        } else if (health_cached_) {
            h = health_;
        } else {
            h.status = obs::HealthStatus::kDegraded;
            h.message = "Embedding self-test in progress";
        }
    }
    if (run) {
        h = SelfTest();
        std::lock_guard lock(health_mutex_);
        health_running_ = false;
        if (generation == health_generation_) {  // no model switch in between
            health_ = h;
            health_checked_at_ = clock_.Monotonic();
            health_cached_ = true;
        }
    }
    if (reembedding_ && h.status == obs::HealthStatus::kHealthy) {
        h.status = obs::HealthStatus::kDegraded;
        h.message = "Re-embedding stored vectors (reindexing)";
    }
    json::object cache;
    cache["size"] = cache_.size();
    cache["capacity"] = cache_.capacity();
    cache["hits"] = static_cast<std::uint64_t>(cache_hits_.value());
    cache["misses"] = static_cast<std::uint64_t>(cache_misses_.value());
    h.details["cache"] = std::move(cache);
    return h;
}

void EmbeddingService::Shutdown() {
    {
        std::lock_guard lock(retry_mutex_);
        retry_stop_ = true;
    }
    retry_cv_.notify_all();
    if (retry_thread_.joinable()) retry_thread_.join();
    std::vector<Item> abandoned;
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && workers_.empty()) return;
        stopping_ = true;
        for (auto& q : queues_) {
            for (auto& item : q) abandoned.push_back(std::move(item));
            q.clear();
        }
        pending_ = 0;
        queue_depth_.Set(0);
    }
    work_cv_.notify_all();
    space_cv_.notify_all();
    const Error stopped = Unavailable("Embedding service is shutting down");
    for (auto& item : abandoned) FinishItem(item, &stopped);
    for (auto& t : workers_) {
        if (t.joinable()) t.join();
    }
    workers_.clear();
}

}  // namespace contex::embed
