// A blocking Redis connection with bounded timeouts (plain TCP or TLS through OpenSSL;
// the RESP protocol through hiredis's formatter and reader), and the standalone / sentinel
// connection procedure. Internal to notify (and its tests); not thread-safe: one owner
// thread per connection. Never raises SIGPIPE.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "notify/redis/redis_options.hpp"
#include "observability/metrics.hpp"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace contex::notify {

struct RedisReplyDeleter {
    void operator()(redisReply* reply) const {
        if (reply != nullptr) freeReplyObject(reply);
    }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

struct RedisConnectSettings {
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds command_timeout{5000};
    bool keepalive = true;
    bool tls = false;
    bool tls_verify = true;   // verify the chain and the host name
    std::string tls_ca_file;  // empty: the system store
};

class RedisConnection {
  public:
    // Opens a connection (and the TLS session when settings.tls). `open_connections`
    // (may be null, must outlive the connection) is incremented while it is open.
    // Errors: kTimeout (connect timed out), kUnavailable (refused, DNS, TLS handshake, ...).
    static Result<std::unique_ptr<RedisConnection>> Open(const RedisEndpoint& endpoint,
                                                         const RedisConnectSettings& settings,
                                                         obs::Gauge* open_connections);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    // Sends one command (binary-safe arguments) and reads its reply. A Redis error reply
    // (`-ERR ...`) is a value of type REDIS_REPLY_ERROR, and the connection stays usable.
    // Errors: kTimeout / kUnavailable on I/O failure; the connection is then broken().
    Result<RedisReplyPtr> Command(const std::vector<std::string_view>& args);
    // Pipelining: queue a command (sent by the next read), then read replies in order.
    void Append(const std::vector<std::string_view>& args);
    // Sends what is queued and reads the next reply, waiting up to the command timeout.
    Result<RedisReplyPtr> ReadReply();
    // Waits up to `timeout` for the next pushed reply (pub/sub). A null reply means none
    // arrived in time; the connection stays usable. Errors as Command.
    Result<RedisReplyPtr> PollReply(std::chrono::milliseconds timeout);

    // Bound for each later ReadReply (and the write before it).
    void set_command_timeout(std::chrono::milliseconds timeout) { command_timeout_ = timeout; }
    bool broken() const { return broken_; }
    const RedisEndpoint& endpoint() const { return endpoint_; }

  private:
    RedisConnection(int fd, RedisEndpoint endpoint, std::chrono::milliseconds command_timeout,
                    obs::Gauge* gauge);
    using Deadline = std::chrono::steady_clock::time_point;
    Status StartTls(const RedisConnectSettings& settings, Deadline deadline);
    Status Flush(Deadline deadline);
    // Reads some bytes into the reader. Ok(false) when the deadline passed first.
    Result<bool> ReadSome(Deadline deadline);
    Error Fail(Error error);  // marks the connection broken

    int fd_;
    SSL_CTX* ssl_ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    redisReader* reader_;
    RedisEndpoint endpoint_;
    std::chrono::milliseconds command_timeout_;
    obs::Gauge* gauge_;
    std::string out_;
    bool broken_ = false;
};

// Where and how to reach the master, resolved from RedisOptions.
struct RedisTarget {
    bool sentinel = false;
    RedisEndpoint endpoint;                // standalone
    std::vector<RedisEndpoint> sentinels;  // sentinel mode, tried in order
    std::string master_name;
    std::optional<std::string> sentinel_password;
    std::optional<std::string> username;
    std::optional<std::string> password;
    int db = 0;
    bool tls = false;  // rediss://: the master and the sentinels speak TLS
    bool tls_verify = true;
    std::string tls_ca_file;
};

// Validates options. Errors: kInvalidArgument (bad URL, unknown mode, sentinel without
// hosts).
Result<RedisTarget> ResolveRedisTarget(const RedisOptions& options);

// Connects to the master: standalone → the URL's host; sentinel → asks each sentinel
// for `SENTINEL get-master-addr-by-name` until one answers, then checks `ROLE` is master.
// Authenticates and selects the db. `settings.tls*` are taken from the target.
// Errors: kUnavailable, kTimeout, kUnauthenticated (AUTH refused), kInvalidArgument
// (SELECT refused).
Result<std::unique_ptr<RedisConnection>> ConnectToMaster(const RedisTarget& target,
                                                         RedisConnectSettings settings,
                                                         obs::Gauge* open_connections);

// The text of a reply for messages ("PONG", error text, ...).
std::string ReplyText(const redisReply& reply);

}  // namespace contex::notify
