#include "app/application.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "api/routes.hpp"
#include "common/clock.hpp"
#include "common/strings.hpp"
#include "observability/health.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "observability/process.hpp"
#include "server/http_server.hpp"
#include "server/router.hpp"

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

// PING through a short-lived hiredis connection; Redis is best effort, so failures are
// "degraded", never "unhealthy" (operations.md §6.1).
obs::ComponentHealth CheckRedis(const RedisConfig& config) {
    obs::ComponentHealth h;
    if (!config.url) {
        h.message = "Redis not configured (in-process notification bus)";
        h.details["enabled"] = false;
        return h;
    }
    std::string url = *config.url;
    std::string rest = url.substr(url.find("://") + 3);
    std::string auth;
    if (auto at = rest.find('@'); at != std::string::npos) {
        auth = rest.substr(0, at);
        rest = rest.substr(at + 1);
    }
    std::string hostport = rest.substr(0, rest.find('/'));
    std::string host = hostport;
    int port = 6379;
    if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
        host = hostport.substr(0, colon);
        port = std::atoi(hostport.c_str() + colon + 1);
    }
    if (host.empty()) host = "127.0.0.1";
    timeval timeout{config.socket_connect_timeout_seconds, 0};
    auto started = std::chrono::steady_clock::now();
    std::unique_ptr<redisContext, decltype(&redisFree)> ctx(
        redisConnectWithTimeout(host.c_str(), port, timeout), redisFree);
    auto fail = [&](const std::string& why) {
        h.status = obs::HealthStatus::kDegraded;
        h.message = "Redis unreachable: " + why;
        h.details["purpose"] = "pub/sub";
        return h;
    };
    if (!ctx || ctx->err) return fail(ctx ? ctx->errstr : "allocation failed");
    timeval command_timeout{config.socket_timeout_seconds, 0};
    redisSetTimeout(ctx.get(), command_timeout);
    if (!auth.empty()) {
        auto colon = auth.find(':');
        std::string password = colon == std::string::npos ? auth : auth.substr(colon + 1);
        auto* reply = static_cast<redisReply*>(redisCommand(ctx.get(), "AUTH %s", password.c_str()));
        if (reply) freeReplyObject(reply);
    }
    auto* reply = static_cast<redisReply*>(redisCommand(ctx.get(), "PING"));
    if (!reply) return fail(ctx->errstr);
    bool pong = reply->type == REDIS_REPLY_STATUS && std::string_view(reply->str) == "PONG";
    freeReplyObject(reply);
    if (!pong) return fail("unexpected PING reply");
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    h.details["latency_ms"] = std::round(ms * 100) / 100;
    h.details["purpose"] = "pub/sub";
    if (ms > 100) {
        h.status = obs::HealthStatus::kDegraded;
        h.message = "High Redis latency";
    } else {
        h.message = "Redis is healthy (pub/sub)";
    }
    return h;
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
    health.Register("redis", [&config] { return CheckRedis(config.redis); }, false);
    health.Register("system_resources", [&system_resources] { return system_resources.Check(); },
                    false);
    if (!config.redis.url) {
        logger.Info("contex.redis", "Redis not configured; agent notifications use the in-process bus only");
    }

    api::ApiContext api_context;
    api_context.version = std::string(kVersion);
    api_context.health = &health;
    api_context.metrics = &metrics;
    api_context.metrics_enabled = config.security.metrics_enabled;
    api_context.metrics_token = config.security.metrics_token;

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
    logger.Info("contex", "Contex stopped");
    return 0;
}

}  // namespace contex::app
