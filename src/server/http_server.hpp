// HTTP/1.1 server on Boost.Beast with C++20 coroutines. Knows no domain types: it parses,
// routes, runs handlers (inline or on a bounded pool so I/O threads never block), applies
// the global response policies, records metrics and access logs, streams SSE, and shuts
// down gracefully. The only translation unit that includes Beast/Asio.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "server/policies.hpp"
#include "server/router.hpp"

namespace contex::server {

struct ServerOptions {
    std::string bind_address = "0.0.0.0";
    std::uint16_t port = 8001;  // 0 = any free port (tests)
    int io_threads = 2;
    int handler_threads = 4;
    std::size_t handler_queue = 4096;
    std::size_t max_request_bytes = 10485760;
    std::chrono::seconds header_timeout{30};
    std::chrono::seconds body_timeout{60};
    std::chrono::seconds keepalive_timeout{75};
    std::chrono::seconds request_timeout{60};
    std::size_t max_connections = 10000;
    std::chrono::seconds sse_heartbeat{15};
    CorsConfig cors;
    bool enable_hsts = true;
    std::string trusted_proxies;  // CIDR list
    std::string version = "1.0.0";
    std::chrono::seconds shutdown_readiness_delay{5};
    std::chrono::seconds shutdown_grace{25};
};

class HttpServer {
public:
    HttpServer(ServerOptions options, const Router& router, obs::Logger& logger,
               obs::MetricsRegistry& metrics, const Clock& clock);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and listens. kUnavailable when the address cannot be bound.
    Status Start();
    std::uint16_t port() const;

    // Serves until shutdown completes. On the first SIGTERM/SIGINT: calls
    // `on_shutdown_initiated` (the app flips readiness), waits the readiness delay, closes
    // the listener and SSE streams, drains in-flight requests until the grace deadline,
    // then returns. A second signal exits the process with code 1.
    void RunUntilShutdown(std::function<void()> on_shutdown_initiated);
    // Starts the same graceful sequence programmatically (tests). Thread-safe.
    void RequestShutdown();

    std::size_t active_requests() const;
    std::size_t open_streams() const;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace contex::server
