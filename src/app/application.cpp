#include "app/application.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "api/routes.hpp"
#include "app/engine_fanout.hpp"
#include "app/maintenance.hpp"
#include "embed/embedding_service.hpp"
#include "engine/context_engine.hpp"
#include "notify/in_process_bus.hpp"
#include "notify/redis/redis_publisher.hpp"
#include "notify/webhook/curl_sender.hpp"
#include "notify/webhook/destination_policy.hpp"
#include "notify/webhook/dispatcher.hpp"
#include "common/clock.hpp"
#include "common/strings.hpp"
#include "observability/health.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "observability/process.hpp"
#include "server/http_server.hpp"
#include "server/router.hpp"
#include "storage/storage.hpp"

namespace contex::app {
namespace {

obs::LogOptions LogOptionsFrom(const Config& config) {
    obs::LogOptions options;
    options.level = obs::ParseLogLevel(config.ops.log_level).value_or(obs::LogLevel::kInfo);
    options.json = config.ops.log_json;
    return options;
}

server::ServerOptions ServerOptionsFrom(const Config& config) {
    server::ServerOptions o;
    o.bind_address = config.server.bind_address;
    o.port = static_cast<std::uint16_t>(config.server.port);
    o.io_threads = config.server.http_io_threads;
    o.handler_threads = config.server.http_threads;
    o.max_request_bytes = config.server.max_request_bytes;
    o.request_timeout = std::chrono::seconds(config.server.request_timeout_seconds);
    o.max_connections = config.server.max_connections;
    o.sse_heartbeat = std::chrono::seconds(config.server.sse_heartbeat_seconds);
    o.cors.origins = config.security.cors_origins;
    o.cors.allow_credentials = config.security.cors_allow_credentials;
    o.enable_hsts = config.security.enable_hsts;
    o.trusted_proxies = config.server.trusted_proxies;
    o.version = std::string(kVersion);
    o.shutdown_readiness_delay = std::chrono::seconds(config.server.shutdown_readiness_delay_seconds);
    o.shutdown_grace = std::chrono::seconds(config.server.shutdown_grace_seconds);
    return o;
}

storage::StorageConfig StorageConfigFrom(const Config& config) {
    storage::StorageConfig c;
    c.database_url = config.database.url;
    c.data_dir = config.server.data_dir;
    c.pool_size = config.database.pool_size;
    c.max_overflow = config.database.max_overflow;
    c.pool_timeout = std::chrono::seconds(config.database.pool_timeout_seconds);
    c.pool_recycle = std::chrono::seconds(config.database.pool_recycle_seconds);
    c.connect_timeout = std::chrono::seconds(config.database.connect_timeout_seconds);
    c.statement_timeout = std::chrono::milliseconds(config.database.statement_timeout_ms);
    c.application_name = config.database.application_name;
    c.sqlite_busy_timeout = std::chrono::milliseconds(config.database.sqlite_busy_timeout_ms);
    c.echo = config.database.echo;
    c.migrate_on_start = config.database.migrate_on_start;
    return c;
}

notify::RedisOptions RedisOptionsFrom(const RedisConfig& config) {
    notify::RedisOptions o;
    o.url = config.url.value_or("");
    o.mode = config.mode;
    o.sentinel_hosts = config.sentinel_hosts;
    o.sentinel_master = config.sentinel_master;
    o.sentinel_password = config.sentinel_password;
    o.password = config.password;
    o.db = config.db;
    o.max_connections = config.max_connections;
    o.socket_timeout = std::chrono::seconds(config.socket_timeout_seconds);
    o.connect_timeout = std::chrono::seconds(config.socket_connect_timeout_seconds);
    o.socket_keepalive = config.socket_keepalive;
    o.retry_on_timeout = config.retry_on_timeout;
    o.health_check_interval = std::chrono::seconds(config.health_check_interval_seconds);
    return o;
}

notify::DispatcherOptions WebhookOptionsFrom(const DeliveryConfig& d, bool sole_dispatcher) {
    notify::DispatcherOptions o;
    o.workers = d.webhook_workers;
    o.timeout = std::chrono::seconds(d.webhook_timeout_seconds);
    o.retry = {d.webhook_max_retries, d.webhook_retry_base_seconds, d.webhook_retry_max_seconds};
    o.circuit_failures = d.webhook_circuit_failures;
    o.circuit_open = std::chrono::seconds(d.webhook_circuit_open_seconds);
    o.user_agent = "Contex-Webhook/" + std::string(kVersion);
    o.sole_dispatcher = sole_dispatcher;
    return o;
}

engine::EngineSettings EngineSettingsFrom(const Config& config, double similarity_threshold) {
    engine::EngineSettings s;
    s.similarity_threshold = similarity_threshold;
    s.max_matches = config.search.max_matches;
    s.max_context_size = config.search.max_context_size;
    s.keyword_threshold = config.search.keyword_threshold;
    s.rrf_k = config.search.rrf_k;
    s.vector_boost = config.search.vector_boost;
    s.bm25_enabled = config.search.bm25_enabled;
    s.min_candidates = config.search.min_candidates;
    s.ef_search = config.search.hnsw_ef_search;
    s.catchup_max_events = config.delivery.catchup_max_events;
    s.max_nodes_per_key = static_cast<std::size_t>(config.server.max_nodes_per_key);
    s.max_request_bytes = config.server.max_request_bytes;
    s.chunk_max_tokens = static_cast<std::size_t>(config.search.chunk_max_tokens);
    s.sse_max_streams = config.server.sse_max_streams;
    s.notification_retention_days = config.delivery.notification_retention_days;
    s.notification_max_per_agent = config.delivery.notification_max_per_agent;
    s.index.bm25_k1 = config.search.bm25_k1;
    s.index.bm25_b = config.search.bm25_b;
    s.index.hnsw_threshold = static_cast<std::size_t>(config.search.hnsw_threshold);
    s.index.hnsw_m = static_cast<std::size_t>(config.search.hnsw_m);
    s.index.hnsw_ef_construction = static_cast<std::size_t>(config.search.hnsw_ef_construction);
    s.index_preload = config.search.index_preload;
    s.index_max_memory_bytes = static_cast<std::size_t>(config.search.index_max_memory_mb) << 20;
    s.index_reconcile = std::chrono::seconds(config.search.index_reconcile_seconds);
    return s;
}

}  // namespace

int RunServer(const Config& config) {
    SystemClock clock;
    obs::Logger logger(LogOptionsFrom(config), clock);
    logger.Info("contex", "Contex starting", {{"version", std::string(kVersion)}});
    for (const auto& warning : config.warnings) {
        logger.Warning("contex.config", "Configuration warning", {{"detail", warning}});
    }
    logger.Info("contex.config", "Configuration loaded", {{"config", SanitizedSummary(config)}});
    if (!config.security.auth_enabled) {
        logger.Warning("contex.auth", "Authentication is DISABLED");
    }
    for (const auto& origin : config.security.cors_origins) {
        if (origin == "*") {
            logger.Info("contex.http", "CORS allows all origins (*)");
            if (config.security.cors_allow_credentials) {
                logger.Warning("contex.http",
                               "CORS_ALLOW_CREDENTIALS is ignored because CORS_ORIGINS contains *");
            }
            break;
        }
    }

    std::error_code ec;
    std::filesystem::create_directories(config.server.data_dir, ec);
    if (ec) {
        logger.Error("contex", "Cannot create data directory",
                     {{"path", config.server.data_dir}, {"error", ec.message()}});
        return 1;
    }

    obs::MetricsRegistry metrics;
    obs::RegisterProcessMetrics(metrics);
    metrics.AddGauge("contex_service_info", "Build information.", {"service", "version"})
        .WithLabels({"contex", std::string(kVersion)})
        .Set(1);

    obs::HealthRegistry health(clock, std::string(kVersion));
    obs::SystemResourcesCheck system_resources(clock);

    // Storage: the source of truth.
    auto opened = storage::OpenStorage(StorageConfigFrom(config), logger, metrics, clock);
    if (!opened.ok()) {
        logger.Error("contex.db", "Storage unavailable at start-up",
                     {{"error", opened.error().message}});
        return 1;
    }
    std::unique_ptr<storage::Storage> store = std::move(opened).value();
    if (config.database.migrate_on_start) {
        if (auto migrated = store->Migrate(); !migrated.ok()) {
            logger.Error("contex.db", "Migrations failed", {{"error", migrated.error().message}});
            return 1;
        }
    }
    std::string storage_component(store->backend());
    health.Register(storage_component, [&store] { return store->CheckHealth(); }, true);

    // Embeddings: the configured model, or the lexical fallback (unless strict).
    auto created = embed::CreateEmbeddingService(config.embedding, logger, metrics, clock);
    if (!created.ok()) {
        logger.Error("contex.embedding", "Embedding model unavailable",
                     {{"error", created.error().message}});
        return 1;
    }
    std::unique_ptr<embed::EmbeddingService> embedder = std::move(created).value();
    health.Register("embedding_model", [&embedder] { return embedder->CheckHealth(); }, true);
    double threshold = config.search.similarity_threshold;
    if (!config.search.similarity_threshold_set &&
        (embedder->degraded() || embedder->provider() == "lexical")) {
        threshold = 0.2;  // engine.md §2.4: the lexical embedder's default
    }

    // Delivery: the in-process bus always, Redis when configured.
    notify::InProcessBus bus(metrics);
    std::unique_ptr<notify::RedisPublisher> redis;
    if (config.redis.url) {
        auto publisher = notify::RedisPublisher::Create(RedisOptionsFrom(config.redis), logger,
                                                        metrics, clock);
        if (!publisher.ok()) {
            logger.Error("contex.redis", "Failed to connect to Redis",
                         {{"error", publisher.error().message}});
            return 1;
        }
        redis = std::move(publisher).value();
        health.Register("redis", [&redis] { return redis->CheckHealth(); }, false);
    } else {
        logger.Info("contex.redis",
                    "Redis not configured; agent notifications use the in-process bus only");
        health.Register("redis", [] {
            obs::ComponentHealth h;
            h.message = "Redis not configured (in-process notification bus)";
            h.details["enabled"] = false;
            return h;
        }, false);
    }
    // Agent webhooks: the outbox dispatcher (engine.md §6.4). SQLite is single-process, so
    // its dispatcher is the only one and may release leases a crash left behind.
    notify::DestinationPolicy webhook_policy(
        {config.delivery.webhook_block_private, config.delivery.webhook_allowed_hosts});
    notify::CurlWebhookSender webhook_sender(webhook_policy);
    notify::WebhookDispatcher webhooks(
        WebhookOptionsFrom(config.delivery, store->backend() == "sqlite"), *store, webhook_sender,
        clock, logger, metrics);

    EngineFanout fanout(bus, redis.get(), [&webhooks] { webhooks.Wake(); });
    engine::EngineSettings settings = EngineSettingsFrom(config, threshold);
    settings.check_webhook_url = [&webhook_policy](std::string_view url) {
        return webhook_policy.CheckUrl(url);
    };
    engine::ContextEngine engine(std::move(settings), *store, *embedder, fanout, logger, metrics,
                                 clock);
    webhooks.Start();
    // engine.md §2.7: vectors of another model are re-embedded in the background, now and
    // whenever the active model changes (the lexical fallback replaced by the real model).
    embedder->AddModelChangeListener([&engine](const std::string&) { engine.HandleModelChange(); });
    engine.StartReembedding();
    engine.StartIndexLifecycle();
    Maintenance maintenance({std::chrono::seconds(config.ops.maintenance_interval_seconds),
                             config.delivery.notification_retention_days,
                             config.delivery.notification_max_per_agent},
                            *store, clock, logger, metrics);
    maintenance.Start();
    // Replica coherence: notices from other replicas mark project runtimes stale.
    store->SetChangeListener(
        [&engine](const storage::ChangeNotice& notice) { engine.HandleChange(notice); });
    health.Register("pgvector", [] {
        obs::ComponentHealth h;
        h.message = "pgvector not used (vectors stored as float32 blobs)";
        h.details["enabled"] = false;
        return h;
    }, false);
    health.Register("search_index", [&engine] { return engine.CheckIndexHealth(); }, false);
    health.Register("system_resources", [&system_resources] { return system_resources.Check(); },
                    false);

    api::ApiContext api_context;
    api_context.version = std::string(kVersion);
    api_context.health = &health;
    api_context.metrics = &metrics;
    api_context.metrics_enabled = config.security.metrics_enabled;
    api_context.metrics_token = config.security.metrics_token;
    api_context.engine = &engine;
    api_context.max_batch_items = static_cast<std::size_t>(config.server.max_batch_items);
    api_context.clock = &clock;

    server::Router router;
    api::RegisterRoutes(router, api_context);

    server::HttpServer http(ServerOptionsFrom(config), router, logger, metrics, clock);
    if (auto started = http.Start(); !started.ok()) {
        logger.Error("contex.http", "HTTP server failed to start",
                     {{"error", started.error().message}});
        return 1;
    }
    health.SetStarted();
    logger.Info("contex", "Contex is ready!",
                {{"port", static_cast<int>(http.port())}, {"address", config.server.bind_address}});

    http.RunUntilShutdown([&] {
        logger.Info("contex", "Shutdown initiated");
        health.SetShuttingDown();
    });
    // operations.md §11: background work, then Redis, then storage (destructors, in order).
    store->SetChangeListener(nullptr);
    maintenance.Stop();
    webhooks.Stop();  // in-flight attempts finish (bounded by WEBHOOK_TIMEOUT)
    engine.StopBackgroundWork();
    embedder->Shutdown();
    if (redis) redis->Shutdown();
    logger.Info("contex", "Contex stopped");
    return 0;
}

int RunMigrate(const Config& config, bool status_only) {
    SystemClock clock;
    obs::LogOptions options = LogOptionsFrom(config);
    options.out = stderr;  // stdout carries the command's answer
    obs::Logger logger(options, clock);
    obs::MetricsRegistry metrics;
    auto store = storage::OpenStorage(StorageConfigFrom(config), logger, metrics, clock);
    if (!store.ok()) {
        std::fprintf(stderr, "contex migrate: %s\n", store.error().message.c_str());
        return 1;
    }
    if (!status_only) {
        if (auto migrated = (*store)->Migrate(); !migrated.ok()) {
            std::fprintf(stderr, "contex migrate: %s\n", migrated.error().message.c_str());
            return 1;
        }
    }
    auto version = (*store)->SchemaVersion();
    if (!version.ok()) {
        std::fprintf(stderr, "contex migrate: %s\n", version.error().message.c_str());
        return 1;
    }
    std::printf("{\"backend\":\"%s\",\"schema_version\":\"%s\"}\n",
                std::string((*store)->backend()).c_str(), version->c_str());
    return 0;
}

}  // namespace contex::app
