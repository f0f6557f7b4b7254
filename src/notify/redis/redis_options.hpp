// Redis connection settings (operations.md §1.4) and REDIS_URL parsing. The app fills
// RedisOptions from its configuration; nothing here reads the environment.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace contex::notify {

struct RedisOptions {
    std::string url;                               // REDIS_URL (redis:// or rediss://)
    std::string mode = "standalone";               // REDIS_MODE: "standalone" | "sentinel"
    std::vector<std::string> sentinel_hosts;       // REDIS_SENTINEL_HOSTS: "host[:port]" (26379)
    std::string sentinel_master = "mymaster";      // REDIS_SENTINEL_MASTER
    std::optional<std::string> sentinel_password;  // REDIS_SENTINEL_PASSWORD
    // REDIS_PASSWORD / REDIS_DB: the master's password and db in sentinel mode. In
    // standalone mode the URL's password and db win; these fill in what the URL lacks.
    std::optional<std::string> password;
    int db = 0;
    int max_connections = 20;  // REDIS_MAX_CONNECTIONS; the publisher opens at most 2
    std::chrono::milliseconds socket_timeout{5000};   // REDIS_SOCKET_TIMEOUT
    std::chrono::milliseconds connect_timeout{5000};  // REDIS_SOCKET_CONNECT_TIMEOUT
    bool socket_keepalive = true;                     // REDIS_SOCKET_KEEPALIVE
    bool retry_on_timeout = true;                     // REDIS_RETRY_ON_TIMEOUT
    std::chrono::seconds health_check_interval{30};   // REDIS_HEALTH_CHECK_INTERVAL (0 = off)

    // Tuning, not configuration variables (operations.md §4 fixes the defaults).
    std::size_t queue_capacity = 10000;  // messages waiting for PUBLISH
    std::chrono::milliseconds reconnect_initial_backoff{100};
    std::chrono::milliseconds reconnect_max_backoff{5000};
    std::chrono::seconds publish_warning_interval{10};  // "Redis publish failed" rate
    std::chrono::milliseconds health_timeout{1000};     // budget of one CheckHealth()
};

// A parsed REDIS_URL: redis[s]://[[user]:password@]host[:port][/db][?db=N]. For rediss://
// the redis-py query parameters `ssl_cert_reqs` (none | optional | required, default
// required) and `ssl_ca_certs` (CA bundle path; default: the system store, which honours
// SSL_CERT_FILE) are understood.
struct RedisUrl {
    bool tls = false;
    bool tls_verify = true;
    std::string tls_ca_file;
    std::string host = "127.0.0.1";
    int port = 6379;
    std::optional<std::string> username;
    std::optional<std::string> password;
    int db = 0;
};

struct RedisEndpoint {
    std::string host;
    int port = 0;
};

// Parses a REDIS_URL. Errors: kInvalidArgument (scheme, port, db or escapes malformed).
Result<RedisUrl> ParseRedisUrl(std::string_view url);

// The URL with its password replaced by "***" (for logs); unparseable input gives
// "redis://***".
std::string MaskRedisUrl(std::string_view url);

// Parses REDIS_SENTINEL_HOSTS entries ("h1:p1", "h2", "[::1]:26380"); the default port is
// 26379. Errors: kInvalidArgument.
Result<std::vector<RedisEndpoint>> ParseSentinelHosts(const std::vector<std::string>& hosts);

}  // namespace contex::notify
