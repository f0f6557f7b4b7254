#include "app/config.hpp"

#include <cmath>
#include <cstdlib>
#include <set>

#include "common/strings.hpp"

extern char** environ;

namespace contex::app {
namespace {

// Reads variables, records every problem, and remembers which names it knows.
class EnvReader {
public:
    explicit EnvReader(const Environment& env) : env_(env) {}

    std::optional<std::string> Raw(const std::string& name) {
        known_.insert(name);
        auto it = env_.find(name);
        if (it == env_.end()) return std::nullopt;
        return it->second;
    }
    bool IsSet(const std::string& name) {
        auto v = Raw(name);
        return v.has_value() && !TrimView(*v).empty();
    }

    template <typename T>
    void Int(const std::string& name, T& out, long long min, long long max) {
        auto raw = Raw(name);
        if (!raw || TrimView(*raw).empty()) return;
        std::string v(TrimView(*raw));
        char* end = nullptr;
        errno = 0;
        long long parsed = std::strtoll(v.c_str(), &end, 10);
        if (errno != 0 || end == v.c_str() || *end != '\0' || parsed < min || parsed > max) {
            Fail(name, "must be an integer in " + std::to_string(min) + ".." + std::to_string(max),
                 *raw);
            return;
        }
        out = static_cast<T>(parsed);
    }

    void Double(const std::string& name, double& out, double min, double max) {
        auto raw = Raw(name);
        if (!raw || TrimView(*raw).empty()) return;
        std::string v(TrimView(*raw));
        char* end = nullptr;
        double parsed = std::strtod(v.c_str(), &end);
        if (end == v.c_str() || *end != '\0' || !std::isfinite(parsed) || parsed < min ||
            parsed > max) {
            Fail(name, "must be a number in " + Num(min) + ".." + Num(max), *raw);
            return;
        }
        out = parsed;
    }

    void Bool(const std::string& name, bool& out) {
        auto raw = Raw(name);
        if (!raw || TrimView(*raw).empty()) return;
        auto parsed = ParseBool(*raw);
        if (!parsed) {
            Fail(name, "must be a boolean (true/false/1/0/yes/no/on/off)", *raw);
            return;
        }
        out = *parsed;
    }

    void String(const std::string& name, std::string& out, std::size_t min_len = 0,
                std::size_t max_len = 1 << 20) {
        auto raw = Raw(name);
        if (!raw) return;
        if (raw->size() < min_len || raw->size() > max_len) {
            Fail(name, "must be " + std::to_string(min_len) + ".." + std::to_string(max_len) +
                           " characters", *raw);
            return;
        }
        out = *raw;
    }

    void OptString(const std::string& name, std::optional<std::string>& out) {
        auto raw = Raw(name);
        if (raw && !raw->empty()) out = *raw;
    }

    void OneOf(const std::string& name, std::string& out, const std::vector<std::string>& allowed) {
        auto raw = Raw(name);
        if (!raw || TrimView(*raw).empty()) return;
        std::string v = ToLowerAscii(TrimView(*raw));
        for (const auto& a : allowed) {
            if (v == a) {
                out = a;
                return;
            }
        }
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        Fail(name, "must be one of " + list, *raw);
    }

    std::vector<std::string> List(const std::string& name) {
        std::vector<std::string> out;
        auto raw = Raw(name);
        if (!raw) return out;
        for (auto part : Split(*raw, ',')) {
            auto t = TrimView(part);
            if (!t.empty()) out.emplace_back(t);
        }
        return out;
    }

    void Fail(const std::string& name, const std::string& what, std::string_view value) {
        bool secret = name.find("KEY") != std::string::npos ||
                      name.find("SECRET") != std::string::npos ||
                      name.find("PASSWORD") != std::string::npos ||
                      name.find("TOKEN") != std::string::npos || name.find("SALT") != std::string::npos;
        std::string shown = secret ? "***" : std::string(value);
        if (name.find("URL") != std::string::npos) shown = MaskUrlPassword(value);
        errors_.push_back(name + ": " + what + ", got '" + shown + "'");
    }

    void AddError(std::string message) {
        for (auto line : Split(message, '\n')) {
            if (!line.empty()) errors_.emplace_back(line);
        }
    }
    const std::vector<std::string>& errors() const { return errors_; }
    const std::set<std::string>& known() const { return known_; }
    const Environment& env() const { return env_; }

private:
    static std::string Num(double d) {
        std::string s = std::to_string(d);
        while (!s.empty() && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
    }

    const Environment& env_;
    std::set<std::string> known_;
    std::vector<std::string> errors_;
};

bool ValidUrlScheme(std::string_view url, std::initializer_list<std::string_view> schemes) {
    for (auto s : schemes) {
        if (StartsWith(url, s) && url.size() > s.size()) return true;
    }
    return false;
}

void ReadServer(EnvReader& r, ServerConfig& c, unsigned cores) {
    c.http_threads = static_cast<int>(std::max(4u, cores));
    c.http_io_threads = static_cast<int>(std::max(1u, std::min(cores, 4u)));
    r.Int("PORT", c.port, 1, 65535);
    if (auto v = r.Raw("BIND_ADDRESS"); v && !v->empty()) {
        std::string a(TrimView(*v));
        bool ok = a.find_first_not_of("0123456789.:abcdefABCDEF") == std::string::npos &&
                  (a.find('.') != std::string::npos || a.find(':') != std::string::npos);
        if (ok) c.bind_address = a;
        else r.Fail("BIND_ADDRESS", "must be an IP address", *v);
    }
    r.String("CONTEX_DATA_DIR", c.data_dir, 1);
    r.Int("HTTP_THREADS", c.http_threads, 1, 256);
    r.Int("HTTP_IO_THREADS", c.http_io_threads, 1, 64);
    r.Int("HTTP_MAX_CONNECTIONS", c.max_connections, 1, 1000000);
    r.Int("MAX_REQUEST_BYTES", c.max_request_bytes, 1024, 1073741824);
    r.Int("REQUEST_TIMEOUT_SECONDS", c.request_timeout_seconds, 1, 600);
    r.Int("MAX_BATCH_ITEMS", c.max_batch_items, 1, 1000);
    r.Int("MAX_NODES_PER_KEY", c.max_nodes_per_key, 1, 1000000);
    r.Int("SSE_HEARTBEAT_SECONDS", c.sse_heartbeat_seconds, 1, 300);
    r.Int("SSE_MAX_STREAMS", c.sse_max_streams, 1, 100000);
    r.String("TRUSTED_PROXIES", c.trusted_proxies);
    r.Int("SHUTDOWN_GRACE_SECONDS", c.shutdown_grace_seconds, 0, 300);
    r.Int("SHUTDOWN_READINESS_DELAY_SECONDS", c.shutdown_readiness_delay_seconds, 0, 60);
    r.Bool("SANDBOX_ENABLED", c.sandbox_enabled);
}

void ReadDatabase(EnvReader& r, DatabaseConfig& c) {
    if (auto url = r.Raw("DATABASE_URL"); url && !TrimView(*url).empty()) {
        std::string u(TrimView(*url));
        if (ValidUrlScheme(u, {"postgresql://", "postgres://", "postgresql+asyncpg://"}) ||
            StartsWith(u, "sqlite:///")) {
            c.url = u;
        } else {
            r.Fail("DATABASE_URL",
                   "must start with postgresql://, postgres://, postgresql+asyncpg:// or sqlite:///",
                   u);
        }
    }
    r.Int("DATABASE_POOL_SIZE", c.pool_size, 1, 100);
    r.Int("DATABASE_MAX_OVERFLOW", c.max_overflow, 0, 100);
    r.Int("DATABASE_POOL_TIMEOUT", c.pool_timeout_seconds, 1, 300);
    r.Int("DATABASE_POOL_RECYCLE", c.pool_recycle_seconds, 60, 7200);
    r.Int("DATABASE_CONNECT_TIMEOUT", c.connect_timeout_seconds, 1, 120);
    r.Int("DATABASE_STATEMENT_TIMEOUT_MS", c.statement_timeout_ms, 0, 600000);
    r.Bool("DATABASE_ECHO", c.echo);
    r.String("DB_APPLICATION_NAME", c.application_name, 1, 63);
    r.Bool("MIGRATE_ON_START", c.migrate_on_start);
    r.Int("SQLITE_BUSY_TIMEOUT_MS", c.sqlite_busy_timeout_ms, 0, 600000);
}

void ReadRedis(EnvReader& r, RedisConfig& c) {
    if (auto url = r.Raw("REDIS_URL"); url && !TrimView(*url).empty()) {
        std::string u(TrimView(*url));
        if (ValidUrlScheme(u, {"redis://", "rediss://"})) c.url = u;
        else r.Fail("REDIS_URL", "must be a redis:// or rediss:// URL", u);
    }
    r.OneOf("REDIS_MODE", c.mode, {"standalone", "sentinel"});
    c.sentinel_hosts = r.List("REDIS_SENTINEL_HOSTS");
    if (c.mode == "sentinel" && c.sentinel_hosts.empty()) {
        r.Fail("REDIS_SENTINEL_HOSTS", "is required when REDIS_MODE=sentinel", "");
    }
    r.String("REDIS_SENTINEL_MASTER", c.sentinel_master, 1, 255);
    r.OptString("REDIS_SENTINEL_PASSWORD", c.sentinel_password);
    r.OptString("REDIS_PASSWORD", c.password);
    r.Int("REDIS_DB", c.db, 0, 15);
    r.Int("REDIS_MAX_CONNECTIONS", c.max_connections, 1, 1000);
    r.Int("REDIS_SOCKET_TIMEOUT", c.socket_timeout_seconds, 1, 60);
    r.Int("REDIS_SOCKET_CONNECT_TIMEOUT", c.socket_connect_timeout_seconds, 1, 60);
    r.Bool("REDIS_SOCKET_KEEPALIVE", c.socket_keepalive);
    r.Bool("REDIS_RETRY_ON_TIMEOUT", c.retry_on_timeout);
    r.Int("REDIS_HEALTH_CHECK_INTERVAL", c.health_check_interval_seconds, 0, 3600);
}

// Embedding variables are defined and validated by the embed module; errors join ours.
void ReadEmbedding(EnvReader& r, embed::EmbeddingConfig& c) {
    static const char* kNames[] = {
        "EMBEDDING_PROVIDER", "EMBEDDING_MODEL", "EMBEDDING_MODEL_REVISION", "CONTEX_MODEL_DIR",
        "HF_ENDPOINT", "HF_TOKEN", "CONTEX_OFFLINE", "HF_HUB_OFFLINE", "EMBEDDING_STRICT",
        "EMBEDDING_PRECISION", "EMBEDDING_THREADS", "EMBEDDING_QUEUE_LIMIT",
        "EMBEDDING_BATCH_TOKENS", "EMBEDDING_MAX_BATCH", "EMBEDDING_BATCH_WAIT_MS",
        "EMBEDDING_QUERY_PREFIX", "EMBEDDING_DOCUMENT_PREFIX", "EMBEDDING_API_URL",
        "EMBEDDING_API_KEY", "EMBEDDING_DIM", "EMBEDDING_API_BATCH", "EMBEDDING_API_TIMEOUT",
        "EMBEDDING_MAX_TOKENS", "EMBEDDING_CACHE_SIZE", "EMBEDDING_CACHE_TTL"};
    for (const char* name : kNames) r.Raw(name);
    auto loaded = embed::LoadEmbeddingConfig([&r](std::string_view name) -> std::optional<std::string> {
        auto it = r.env().find(std::string(name));
        if (it == r.env().end()) return std::nullopt;
        return it->second;
    });
    if (!loaded.ok()) {
        r.AddError(loaded.error().message);
        return;
    }
    c = std::move(loaded).value();
}

void ReadSearch(EnvReader& r, SearchConfig& c, std::vector<std::string>& warnings) {
    r.Int("CHUNK_MAX_TOKENS", c.chunk_max_tokens, 16, 8192);
    c.similarity_threshold_set = r.IsSet("SIMILARITY_THRESHOLD");
    r.Double("SIMILARITY_THRESHOLD", c.similarity_threshold, 0, 1);
    r.Int("MAX_MATCHES", c.max_matches, 1, 100);
    r.Int("MAX_CONTEXT_SIZE", c.max_context_size, 0, 1048576);
    if (c.max_context_size != 0 && c.max_context_size < 1024) {
        r.Fail("MAX_CONTEXT_SIZE", "must be 0 or in 1024..1048576",
               std::to_string(c.max_context_size));
    }
    r.Double("KEYWORD_THRESHOLD", c.keyword_threshold, 0, 1e9);
    r.Int("RRF_K", c.rrf_k, 1, 1000);
    r.Double("VECTOR_BOOST", c.vector_boost, 0.1, 10);
    r.Bool("BM25_ENABLED", c.bm25_enabled);
    r.Double("BM25_K1", c.bm25_k1, 0, 3);
    r.Double("BM25_B", c.bm25_b, 0, 1);
    r.Int("SEARCH_MIN_CANDIDATES", c.min_candidates, 1, 10000);
    r.Int("HNSW_THRESHOLD", c.hnsw_threshold, 1, 1000000000);
    r.Int("HNSW_M", c.hnsw_m, 2, 512);
    r.Int("HNSW_EF_CONSTRUCTION", c.hnsw_ef_construction, 1, 100000);
    r.Int("HNSW_EF_SEARCH", c.hnsw_ef_search, 1, 100000);
    r.Bool("INDEX_PRELOAD", c.index_preload);
    r.Int("INDEX_MAX_MEMORY_MB", c.index_max_memory_mb, 0, 100000000);
    r.Int("INDEX_RECONCILE_SECONDS", c.index_reconcile_seconds, 5, 3600);
    r.OneOf("VECTOR_STORE", c.vector_store, {"builtin", "pgvector", "opensearch"});
    if (c.vector_store == "pgvector") {
        warnings.push_back("VECTOR_STORE=pgvector is an alias of builtin");
        c.vector_store = "builtin";
    }
    if (c.vector_store == "opensearch") {
        warnings.push_back("VECTOR_STORE=opensearch is not available yet; using builtin");
        c.vector_store = "builtin";
    }
    if (r.IsSet("VECTOR_THRESHOLD")) {
        double ignored = 0;
        r.Double("VECTOR_THRESHOLD", ignored, 0, 1);
        warnings.push_back("VECTOR_THRESHOLD is ignored; SIMILARITY_THRESHOLD applies everywhere");
    }
    bool hybrid = false;
    r.Bool("HYBRID_SEARCH_ENABLED", hybrid);
    for (auto name : {"OPENSEARCH_URL", "OPENSEARCH_INDEX", "OPENSEARCH_ALIAS",
                      "OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD", "OPENSEARCH_VERIFY_TLS"}) {
        if (r.IsSet(name)) warnings.push_back(std::string(name) + " is set but the OpenSearch back end is not available yet");
    }
}

void ReadDelivery(EnvReader& r, DeliveryConfig& c) {
    r.Bool("WEBHOOKS_ENABLED", c.webhooks_enabled);
    r.Int("WEBHOOK_TIMEOUT", c.webhook_timeout_seconds, 1, 120);
    r.Int("WEBHOOK_MAX_RETRIES", c.webhook_max_retries, 0, 20);
    r.Double("WEBHOOK_RETRY_BASE_SECONDS", c.webhook_retry_base_seconds, 0.1, 60);
    r.Double("WEBHOOK_RETRY_MAX_SECONDS", c.webhook_retry_max_seconds, 1, 86400);
    r.Int("WEBHOOK_WORKERS", c.webhook_workers, 1, 256);
    r.Int("WEBHOOK_CIRCUIT_FAILURES", c.webhook_circuit_failures, 1, 100);
    r.Int("WEBHOOK_CIRCUIT_OPEN_SECONDS", c.webhook_circuit_open_seconds, 1, 3600);
    r.Bool("WEBHOOK_BLOCK_PRIVATE", c.webhook_block_private);
    c.webhook_allowed_hosts = r.List("WEBHOOK_ALLOWED_HOSTS");
    r.Int("AGENT_NOTIFICATION_RETENTION_DAYS", c.notification_retention_days, 1, 365);
    r.Int("AGENT_NOTIFICATION_MAX_PER_AGENT", c.notification_max_per_agent, 10, 1000000);
    r.Int("CATCHUP_MAX_EVENTS", c.catchup_max_events, 0, 100000);
}

void ReadSecurity(EnvReader& r, SecurityConfig& c, std::vector<std::string>& warnings) {
    r.Bool("AUTH_ENABLED", c.auth_enabled);
    if (auto salt = r.Raw("API_KEY_SALT"); salt && !salt->empty()) {
        if (salt->size() < 16) r.Fail("API_KEY_SALT", "must be at least 16 characters", *salt);
        else c.api_key_salt = *salt;
    }
    r.Bool("API_KEY_LEGACY_SHA256", c.api_key_legacy_sha256);
    r.Int("AUTH_CACHE_TTL_SECONDS", c.auth_cache_ttl_seconds, 0, 5);
    r.OptString("BOOTSTRAP_ADMIN_KEY", c.bootstrap_admin_key);
    r.String("BOOTSTRAP_ADMIN_NAME", c.bootstrap_admin_name, 1, 255);
    r.OptString("BOOTSTRAP_ADMIN_KEY_FILE", c.bootstrap_admin_key_file);
    c.rate_limit_enabled = c.auth_enabled;
    r.Bool("RATE_LIMIT_ENABLED", c.rate_limit_enabled);
    r.Int("RATE_LIMIT_REQUESTS", c.rate_limit_requests, 1, 100000);
    r.Int("RATE_LIMIT_WINDOW", c.rate_limit_window, 1, 3600);
    r.Int("RATE_LIMIT_PUBLISH", c.rate_limit_publish, 1, 100000);
    r.Int("RATE_LIMIT_REGISTER", c.rate_limit_register, 1, 100000);
    r.Int("RATE_LIMIT_QUERY", c.rate_limit_query, 1, 100000);
    r.Int("RATE_LIMIT_AUTH", c.rate_limit_auth, 1, 100000);
    r.Int("RATE_LIMIT_ADMIN", c.rate_limit_admin, 1, 100000);
    r.Int("RATE_LIMIT_PREAUTH_PER_IP", c.rate_limit_preauth_per_ip, 1, 100000);
    r.Bool("RATE_LIMIT_SHARED", c.rate_limit_shared);
    r.Bool("MULTI_TENANT_ENABLED", c.multi_tenant_enabled);
    if (auto jwt = r.Raw("SERVICE_ACCOUNT_JWT_SECRET"); jwt && !jwt->empty()) {
        if (jwt->size() < 32) r.Fail("SERVICE_ACCOUNT_JWT_SECRET", "must be at least 32 bytes", *jwt);
        else c.service_account_jwt_secret = *jwt;
    }
    r.OptString("SECRETS_KEY", c.secrets_key);
    r.Int("IDEMPOTENCY_TTL_HOURS", c.idempotency_ttl_hours, 1, 720);
    if (r.IsSet("CORS_ORIGINS")) c.cors_origins = r.List("CORS_ORIGINS");
    if (c.cors_origins.empty()) c.cors_origins = {"*"};
    r.Bool("CORS_ALLOW_CREDENTIALS", c.cors_allow_credentials);
    r.Bool("ENABLE_HSTS", c.enable_hsts);
    r.Bool("METRICS_ENABLED", c.metrics_enabled);
    if (auto token = r.Raw("METRICS_TOKEN"); token && !token->empty()) {
        if (token->size() < 16) r.Fail("METRICS_TOKEN", "must be at least 16 characters", *token);
        else c.metrics_token = *token;
    }
    r.Int("METRICS_PROJECT_LABEL_LIMIT", c.metrics_project_label_limit, 1, 100000);
    r.Bool("AUDIT_ENABLED", c.audit_enabled);
    r.Int("AUDIT_RETENTION_DAYS", c.audit_retention_days, 1, 3650);
    r.Bool("AUDIT_READS", c.audit_reads);
    if (c.auth_enabled) {
        warnings.push_back("AUTH_ENABLED=true: authentication arrives with the security wave; "
                           "requests are not yet checked");
    }
}

void ReadOperations(EnvReader& r, OperationsConfig& c) {
    r.Int("RETENTION_EVENTS_TTL_DAYS", c.retention_events_ttl_days, 1, 1000000);
    r.Int("RETENTION_MAX_EVENTS_PER_PROJECT", c.retention_max_events_per_project, 1, 1000000000);
    r.Int("RETENTION_AGENT_INACTIVE_DAYS", c.retention_agent_inactive_days, 1, 1000000);
    r.Bool("RETENTION_AUTO_EVENTS", c.retention_auto_events);
    r.Int("MAINTENANCE_INTERVAL_SECONDS", c.maintenance_interval_seconds, 30, 86400);
    r.OneOf("LOG_LEVEL", c.log_level, {"debug", "info", "warning", "warn", "error", "critical"});
    c.log_level = ToLowerAscii(c.log_level);
    r.Bool("LOG_JSON", c.log_json);
    r.Bool("TRACING_ENABLED", c.tracing_enabled);
    for (auto name : {"TRACING_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME",
                      "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "SENTRY_DSN",
                      "SENTRY_ENVIRONMENT", "SENTRY_RELEASE", "SENTRY_SAMPLE_RATE",
                      "SENTRY_TRACES_SAMPLE_RATE"}) {
        r.Raw(name);  // known; exporters arrive with the later wave
    }
}

// §1.9: accepted and ignored, with a warning when set.
void ReadIgnored(EnvReader& r, std::vector<std::string>& warnings) {
    static const std::vector<std::string> kExact = {
        "DATA_VERSIONING_ENABLED", "DATA_MAX_VERSIONS", "REDIS_TIMEOUT", "TRACING_ENDPOINT",
        "TRACING_OTLP_EXPORT", "TRACING_CONSOLE_EXPORT", "SENTRY_ENABLE_TRACING",
        "SENTRY_PROFILES_SAMPLE_RATE", "BOOTSTRAP_ADMIN_EMAIL", "LOG_FORMAT"};
    static const std::vector<std::string> kPrefixes = {"DEGRADATION_", "VAULT_", "AWS_", "OAUTH_"};
    for (const auto& name : kExact) {
        if (r.IsSet(name)) warnings.push_back(name + " is accepted for compatibility and ignored");
    }
    for (const auto& [name, value] : r.env()) {
        for (const auto& p : kPrefixes) {
            if (StartsWith(name, p)) {
                r.Raw(name);
                warnings.push_back(name + " is accepted for compatibility and ignored");
            }
        }
    }
}

}  // namespace

Environment ProcessEnvironment() {
    Environment env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        auto eq = kv.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return env;
}

Result<Config> LoadConfig(const Environment& env, unsigned hardware_threads) {
    unsigned cores = std::max(1u, hardware_threads);
    Config config;
    EnvReader r(env);
    ReadServer(r, config.server, cores);
    ReadDatabase(r, config.database);
    ReadRedis(r, config.redis);
    ReadEmbedding(r, config.embedding);
    ReadSearch(r, config.search, config.warnings);
    ReadDelivery(r, config.delivery);
    ReadSecurity(r, config.security, config.warnings);
    ReadOperations(r, config.ops);
    ReadIgnored(r, config.warnings);
    if (config.embedding.provider == embed::ProviderKind::kLexical &&
        !config.search.similarity_threshold_set) {
        config.search.similarity_threshold = 0.2;
    }
    if (config.security.auth_enabled && config.database.url &&
        !StartsWith(*config.database.url, "sqlite") && !config.security.api_key_salt) {
        r.Fail("API_KEY_SALT", "is required when AUTH_ENABLED=true with PostgreSQL", "");
    }
    for (const auto& [name, value] : env) {
        if (StartsWith(name, "CONTEX_") && !r.known().count(name) &&
            !StartsWith(name, "CONTEX_TEST_") && name != "CONTEX_SERVICES_DIR" &&
            name != "CONTEX_REQUIRE_SERVICES" && name != "CONTEX_BINARY") {
            config.warnings.push_back("unknown variable " + name);
        }
    }
    if (!r.errors().empty()) {
        std::string message;
        for (const auto& e : r.errors()) message += (message.empty() ? "" : "\n") + e;
        return InvalidArgument(message);
    }
    return config;
}

std::string MaskUrlPassword(std::string_view url) {
    auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::string(url);
    auto rest_start = scheme + 3;
    auto at = url.find('@', rest_start);
    auto slash = url.find('/', rest_start);
    if (at == std::string_view::npos || (slash != std::string_view::npos && at > slash)) {
        return std::string(url);
    }
    auto colon = url.find(':', rest_start);
    if (colon == std::string_view::npos || colon > at) return std::string(url);
    return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

json::object SanitizedSummary(const Config& c) {
    auto secret = [](const std::optional<std::string>& v) -> json::value {
        return v ? json::value("***") : json::value(nullptr);
    };
    auto url = [](const std::optional<std::string>& v) -> json::value {
        return v ? json::value(json::string(MaskUrlPassword(*v))) : json::value(nullptr);
    };
    json::object o;
    o["PORT"] = c.server.port;
    o["BIND_ADDRESS"] = c.server.bind_address;
    o["CONTEX_DATA_DIR"] = c.server.data_dir;
    o["HTTP_THREADS"] = c.server.http_threads;
    o["MAX_REQUEST_BYTES"] = c.server.max_request_bytes;
    o["REQUEST_TIMEOUT_SECONDS"] = c.server.request_timeout_seconds;
    o["DATABASE_URL"] = url(c.database.url);
    o["DATABASE_POOL_SIZE"] = c.database.pool_size;
    o["DATABASE_MAX_OVERFLOW"] = c.database.max_overflow;
    o["DATABASE_POOL_TIMEOUT"] = c.database.pool_timeout_seconds;
    o["REDIS_URL"] = url(c.redis.url);
    o["REDIS_MODE"] = c.redis.mode;
    o["REDIS_PASSWORD"] = secret(c.redis.password);
    auto opt_if = [](const std::string& v) {
        return v.empty() ? std::optional<std::string>() : std::optional<std::string>(v);
    };
    o["EMBEDDING_PROVIDER"] = embed::ProviderName(c.embedding.provider);
    o["EMBEDDING_MODEL"] = c.embedding.model;
    o["EMBEDDING_PRECISION"] = embed::PrecisionName(c.embedding.precision);
    o["EMBEDDING_THREADS"] = c.embedding.EffectiveThreads();
    o["CONTEX_MODEL_DIR"] = c.embedding.model_dir;
    o["CONTEX_OFFLINE"] = c.embedding.offline;
    o["EMBEDDING_API_URL"] = url(opt_if(c.embedding.api_url));
    o["EMBEDDING_API_KEY"] = secret(opt_if(c.embedding.api_key));
    o["HF_TOKEN"] = secret(opt_if(c.embedding.hf_token));
    o["EMBEDDING_CACHE_SIZE"] = c.embedding.cache_size;
    o["SIMILARITY_THRESHOLD"] = c.search.similarity_threshold;
    o["MAX_MATCHES"] = c.search.max_matches;
    o["MAX_CONTEXT_SIZE"] = c.search.max_context_size;
    o["KEYWORD_THRESHOLD"] = c.search.keyword_threshold;
    o["HNSW_THRESHOLD"] = c.search.hnsw_threshold;
    o["WEBHOOK_TIMEOUT"] = c.delivery.webhook_timeout_seconds;
    o["WEBHOOK_MAX_RETRIES"] = c.delivery.webhook_max_retries;
    o["WEBHOOK_BLOCK_PRIVATE"] = c.delivery.webhook_block_private;
    o["AUTH_ENABLED"] = c.security.auth_enabled;
    o["API_KEY_SALT"] = secret(c.security.api_key_salt);
    o["BOOTSTRAP_ADMIN_KEY"] = secret(c.security.bootstrap_admin_key);
    o["SERVICE_ACCOUNT_JWT_SECRET"] = secret(c.security.service_account_jwt_secret);
    o["SECRETS_KEY"] = secret(c.security.secrets_key);
    o["METRICS_TOKEN"] = secret(c.security.metrics_token);
    o["RATE_LIMIT_ENABLED"] = c.security.rate_limit_enabled;
    json::array origins;
    for (const auto& origin : c.security.cors_origins) origins.emplace_back(json::string(origin));
    o["CORS_ORIGINS"] = std::move(origins);
    o["METRICS_ENABLED"] = c.security.metrics_enabled;
    o["LOG_LEVEL"] = c.ops.log_level;
    o["LOG_JSON"] = c.ops.log_json;
    return o;
}

}  // namespace contex::app
