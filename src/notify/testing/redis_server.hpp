// Test support (not part of contex::notify): a private redis-server child process on a
// free loopback port, and a SUBSCRIBE client. The child dies with the test process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "notify/redis/redis_connection.hpp"

namespace contex::notify::testing {

// True when redis-server is on PATH.
bool RedisServerAvailable();
// A loopback TCP port that was free a moment ago.
int FreeLoopbackPort();
// Plain-TCP settings with both timeouts set to `timeout`, no keep-alive.
RedisConnectSettings TestConnectSettings(std::chrono::milliseconds timeout);
// True when CONTEX_REQUIRE_SERVICES is set: missing services fail tests instead of skipping.
bool ServicesRequired();

struct RedisServerOptions {
    std::vector<std::string> extra_args;  // e.g. {"--requirepass", "secret"}
    int port = 0;                         // 0 = pick a free one
    // Sentinel: a config monitoring this master port is written to a temp dir.
    int sentinel_for_master_port = 0;
    std::string sentinel_master = "mymaster";
    // Also listen with TLS on another free port, with a self-signed certificate for
    // 127.0.0.1 (made with the openssl command).
    bool tls = false;
};

class RedisServerProcess {
  public:
    // Starts redis-server and waits (≤ 10 s) until it answers. Errors: kUnavailable.
    static Result<std::unique_ptr<RedisServerProcess>> Start(RedisServerOptions options = {});
    ~RedisServerProcess();
    RedisServerProcess(const RedisServerProcess&) = delete;
    RedisServerProcess& operator=(const RedisServerProcess&) = delete;

    int port() const { return options_.port; }
    int tls_port() const { return tls_port_; }
    // The self-signed certificate (PEM), to trust as CA.
    std::string ca_file() const { return dir_ + "/cert.pem"; }
    // redis://[:password@]127.0.0.1:<port>/<db>
    std::string url(int db = 0, const std::string& password = "") const;

    // SIGKILL and reap (a crash, as far as clients can tell).
    void Kill();
    // Starts it again on the same port with the same arguments.
    Status Restart();

  private:
    explicit RedisServerProcess(RedisServerOptions options) : options_(std::move(options)) {}
    Status Spawn();

    RedisServerOptions options_;
    std::string dir_;
    pid_t pid_ = -1;
    int tls_port_ = 0;
};

// A client subscribed to some channels.
class RedisSubscriber {
  public:
    struct Message {
        std::string channel;
        std::string payload;
    };
    // Connects (AUTH from the URL) and subscribes; returns once every SUBSCRIBE is
    // confirmed. Errors: kUnavailable, kTimeout.
    static Result<std::unique_ptr<RedisSubscriber>> Connect(
        const std::string& url, const std::vector<std::string>& channels);
    // Reads messages until `n` arrived or `timeout` passed (real time); returns what came.
    std::vector<Message> Receive(std::size_t n, std::chrono::milliseconds timeout);

  private:
    explicit RedisSubscriber(std::unique_ptr<RedisConnection> c) : connection_(std::move(c)) {}
    std::unique_ptr<RedisConnection> connection_;
};

}  // namespace contex::notify::testing
