// Configuration: every environment variable of operations.md §1, read once at start,
// validated in one place. LoadConfig never exits; the CLI prints the errors and exits 2.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/json.hpp"
#include "embed/config.hpp"

namespace contex::app {

struct ServerConfig {
    int port = 8001;
    std::string bind_address = "0.0.0.0";
    std::string data_dir = "./data";
    int http_threads = 4;
    int http_io_threads = 2;
    std::size_t max_connections = 10000;
    std::size_t max_request_bytes = 10485760;
    int request_timeout_seconds = 60;
    int max_batch_items = 100;
    int max_nodes_per_key = 10000;
    int sse_heartbeat_seconds = 15;
    int sse_max_streams = 1000;
    std::string trusted_proxies;
    int shutdown_grace_seconds = 25;
    int shutdown_readiness_delay_seconds = 5;
    bool sandbox_enabled = false;
};

struct DatabaseConfig {
    std::optional<std::string> url;  // unset -> SQLite under data_dir
    int pool_size = 5;
    int max_overflow = 10;
    int pool_timeout_seconds = 30;
    int pool_recycle_seconds = 1800;
    int connect_timeout_seconds = 10;
    int statement_timeout_ms = 30000;
    bool echo = false;
    std::string application_name = "contex";
    bool migrate_on_start = true;
    int sqlite_busy_timeout_ms = 5000;
};

struct RedisConfig {
    std::optional<std::string> url;
    std::string mode = "standalone";
    std::vector<std::string> sentinel_hosts;
    std::string sentinel_master = "mymaster";
    std::optional<std::string> sentinel_password;
    std::optional<std::string> password;
    int db = 0;
    int max_connections = 20;
    int socket_timeout_seconds = 5;
    int socket_connect_timeout_seconds = 5;
    bool socket_keepalive = true;
    bool retry_on_timeout = true;
    int health_check_interval_seconds = 30;
};


struct SearchConfig {
    int chunk_max_tokens = 200;
    double similarity_threshold = 0.5;
    bool similarity_threshold_set = false;  // lexical embedder lowers the default to 0.2
    int max_matches = 10;
    int max_context_size = 51200;
    double keyword_threshold = 5.0;
    int rrf_k = 60;
    double vector_boost = 1.0;
    bool bm25_enabled = true;
    double bm25_k1 = 1.2;
    double bm25_b = 0.75;
    int min_candidates = 50;
    int hnsw_threshold = 20000;
    int hnsw_m = 16;
    int hnsw_ef_construction = 200;
    int hnsw_ef_search = 128;
    bool index_preload = false;
    int index_max_memory_mb = 0;
    int index_reconcile_seconds = 60;
    std::string vector_store = "builtin";
};

struct DeliveryConfig {
    bool webhooks_enabled = true;
    int webhook_timeout_seconds = 10;
    int webhook_max_retries = 8;
    double webhook_retry_base_seconds = 1;
    double webhook_retry_max_seconds = 3600;
    int webhook_workers = 8;
    int webhook_circuit_failures = 5;
    int webhook_circuit_open_seconds = 60;
    bool webhook_block_private = false;
    std::vector<std::string> webhook_allowed_hosts;
    int notification_retention_days = 7;
    int notification_max_per_agent = 1000;
    int catchup_max_events = 100;
};

struct SecurityConfig {
    bool auth_enabled = false;
    std::optional<std::string> api_key_salt;
    bool api_key_legacy_sha256 = false;
    int auth_cache_ttl_seconds = 5;
    std::optional<std::string> bootstrap_admin_key;
    std::string bootstrap_admin_name = "root";
    std::optional<std::string> bootstrap_admin_key_file;
    bool rate_limit_enabled = false;
    int rate_limit_requests = 60;
    int rate_limit_window = 60;
    int rate_limit_publish = 100;
    int rate_limit_register = 50;
    int rate_limit_query = 200;
    int rate_limit_auth = 20;
    int rate_limit_admin = 20;
    int rate_limit_preauth_per_ip = 60;
    bool rate_limit_shared = false;
    bool multi_tenant_enabled = false;
    std::optional<std::string> service_account_jwt_secret;
    std::optional<std::string> secrets_key;
    int idempotency_ttl_hours = 24;
    std::vector<std::string> cors_origins = {"*"};
    bool cors_allow_credentials = true;
    bool enable_hsts = true;
    bool metrics_enabled = true;
    std::optional<std::string> metrics_token;
    int metrics_project_label_limit = 100;
    bool audit_enabled = true;
    int audit_retention_days = 90;
    bool audit_reads = false;
};

struct OperationsConfig {
    int retention_events_ttl_days = 30;
    int retention_max_events_per_project = 10000;
    int retention_agent_inactive_days = 7;
    bool retention_auto_events = false;
    int maintenance_interval_seconds = 300;
    std::string log_level = "INFO";
    bool log_json = true;
    bool tracing_enabled = false;
};

struct Config {
    ServerConfig server;
    DatabaseConfig database;
    RedisConfig redis;
    embed::EmbeddingConfig embedding;  // loaded and validated by embed::LoadEmbeddingConfig
    SearchConfig search;
    DeliveryConfig delivery;
    SecurityConfig security;
    OperationsConfig ops;
    std::vector<std::string> warnings;  // ignored/unknown variables, compatibility notes
};

using Environment = std::map<std::string, std::string>;

// The process environment as a map.
Environment ProcessEnvironment();

// Parses and validates. On failure the error message lists every invalid variable,
// one per line, each naming the variable ("PORT: must be an integer in 1..65535, got 'x'").
Result<Config> LoadConfig(const Environment& env, unsigned hardware_threads);

// Every effective value, secrets and URL passwords masked ("***"), for the
// "Configuration loaded" log line.
json::object SanitizedSummary(const Config& config);

// "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db".
std::string MaskUrlPassword(std::string_view url);

}  // namespace contex::app
