#include "notify/redis/redis_connection.hpp"

#include <poll.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace contex::notify {

namespace {

timeval ToTimeval(std::chrono::milliseconds d) {
    if (d.count() <= 0) d = std::chrono::milliseconds(1);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(d.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
    return tv;
}

bool LooksLikeTimeout(int saved_errno, const char* errstr) {
    if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT) {
        return true;
    }
    std::string_view text(errstr);
    return text == std::strerror(EAGAIN) || text == std::strerror(ETIMEDOUT) ||
           text.find("timed out") != std::string_view::npos;
}

struct Argv {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    explicit Argv(const std::vector<std::string_view>& args) {
        ptrs.reserve(args.size());
        lens.reserve(args.size());
        for (auto a : args) {
            ptrs.push_back(a.data());
            lens.push_back(a.size());
        }
    }
};

}  // namespace

std::string ReplyText(const redisReply& reply) {
    switch (reply.type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            return std::string(reply.str, reply.len);
        case REDIS_REPLY_INTEGER:
            return std::to_string(reply.integer);
        case REDIS_REPLY_NIL:
            return "(nil)";
        case REDIS_REPLY_ARRAY:
            return "(array of " + std::to_string(reply.elements) + ")";
        default:
            return "(unknown reply)";
    }
}

RedisConnection::RedisConnection(redisContext* context, RedisEndpoint endpoint, obs::Gauge* gauge)
    : context_(context), endpoint_(std::move(endpoint)), gauge_(gauge) {
    if (gauge_ != nullptr) gauge_->Add(1);
}

RedisConnection::~RedisConnection() {
    redisFree(context_);
    if (gauge_ != nullptr) gauge_->Add(-1);
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Open(const RedisEndpoint& endpoint,
                                                               const RedisConnectSettings& settings,
                                                               obs::Gauge* open_connections) {
    redisContext* context = redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port,
                                                    ToTimeval(settings.connect_timeout));
    int saved_errno = errno;
    if (context == nullptr) return Unavailable("cannot allocate a Redis context");
    if (context->err != 0) {
        std::string message = std::string(context->errstr) + " (" + endpoint.host + ":" +
                              std::to_string(endpoint.port) + ")";
        bool timeout = LooksLikeTimeout(saved_errno, context->errstr) &&
                       std::string_view(context->errstr).find("refused") == std::string_view::npos;
        redisFree(context);
        return timeout ? Timeout(std::move(message)) : Unavailable(std::move(message));
    }
    if (redisSetTimeout(context, ToTimeval(settings.command_timeout)) != REDIS_OK) {
        redisFree(context);
        return Unavailable("cannot set the Redis socket timeout");
    }
    if (settings.keepalive) redisEnableKeepAlive(context);
    return std::unique_ptr<RedisConnection>(
        new RedisConnection(context, endpoint, open_connections));
}

Error RedisConnection::IoError() {
    int saved_errno = errno;
    broken_ = true;
    std::string message = context_->errstr[0] != 0 ? context_->errstr : "connection error";
    if (context_->err == REDIS_ERR_EOF) return Unavailable("connection closed by server");
    if (context_->err == REDIS_ERR_IO && LooksLikeTimeout(saved_errno, context_->errstr)) {
        return Timeout("Redis command timed out");
    }
    return Unavailable(std::move(message));
}

Result<RedisReplyPtr> RedisConnection::Command(const std::vector<std::string_view>& args) {
    if (broken_) return Unavailable("connection is broken");
    Append(args);
    return ReadReply();
}

void RedisConnection::Append(const std::vector<std::string_view>& args) {
    Argv argv(args);
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.ptrs.size()), argv.ptrs.data(),
                               argv.lens.data()) != REDIS_OK) {
        broken_ = true;
    }
}

Result<RedisReplyPtr> RedisConnection::ReadReply() {
    if (broken_) return Unavailable("connection is broken");
    void* raw = nullptr;
    errno = 0;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) return IoError();
    return RedisReplyPtr(static_cast<redisReply*>(raw));
}

Result<RedisReplyPtr> RedisConnection::PollReply(std::chrono::milliseconds timeout) {
    if (broken_) return Unavailable("connection is broken");
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(context_->reader, &raw) != REDIS_OK) {
            broken_ = true;
            return Unavailable("protocol error");
        }
        if (raw != nullptr) return RedisReplyPtr(static_cast<redisReply*>(raw));
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return RedisReplyPtr();
        pollfd pfd{context_->fd, POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            broken_ = true;
            return Unavailable(std::strerror(errno));
        }
        if (n == 0) return RedisReplyPtr();
        errno = 0;
        if (redisBufferRead(context_) != REDIS_OK) return IoError();
    }
}

Result<RedisTarget> ResolveRedisTarget(const RedisOptions& options) {
    RedisTarget target;
    if (options.url.empty()) return InvalidArgument("REDIS_URL is not set");
    auto url = ParseRedisUrl(options.url);
    if (!url) return std::move(url).error();
    if (url->tls) {
        return InvalidArgument(
            "rediss:// (TLS) is not supported: the system hiredis (0.14) has no TLS support");
    }
    target.endpoint = {url->host, url->port};
    target.username = url->username;
    if (options.mode == "standalone") {
        target.password = url->password ? url->password : options.password;
        target.db = url->db != 0 ? url->db : options.db;
    } else if (options.mode == "sentinel") {
        target.sentinel = true;
        auto sentinels = ParseSentinelHosts(options.sentinel_hosts);
        if (!sentinels) return std::move(sentinels).error();
        target.sentinels = *std::move(sentinels);
        if (options.sentinel_master.empty()) {
            return InvalidArgument("REDIS_SENTINEL_MASTER must not be empty");
        }
        target.master_name = options.sentinel_master;
        target.sentinel_password = options.sentinel_password;
        target.password = options.password ? options.password : url->password;
        target.db = options.db != 0 ? options.db : url->db;
    } else {
        return InvalidArgument("REDIS_MODE must be standalone or sentinel");
    }
    if (target.db < 0) return InvalidArgument("Redis db must not be negative");
    return target;
}

namespace {

Status Authenticate(RedisConnection& connection, const std::optional<std::string>& username,
                    const std::optional<std::string>& password) {
    if (!password) return OkStatus();
    std::vector<std::string_view> args{"AUTH"};
    if (username) args.emplace_back(*username);
    args.emplace_back(*password);
    CONTEX_ASSIGN_OR_RETURN(auto reply, connection.Command(args));
    if (reply->type == REDIS_REPLY_ERROR) {
        return Error(ErrorCode::kUnauthenticated, "AUTH refused: " + ReplyText(*reply));
    }
    return OkStatus();
}

Result<RedisEndpoint> AskSentinel(const RedisEndpoint& sentinel, const RedisTarget& target,
                                  const RedisConnectSettings& settings) {
    CONTEX_ASSIGN_OR_RETURN(auto connection, RedisConnection::Open(sentinel, settings, nullptr));
    CONTEX_TRY(Authenticate(*connection, std::nullopt, target.sentinel_password));
    CONTEX_ASSIGN_OR_RETURN(auto reply, connection->Command({"SENTINEL", "get-master-addr-by-name",
                                                             target.master_name}));
    if (reply->type == REDIS_REPLY_ERROR) return Unavailable("sentinel: " + ReplyText(*reply));
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        return Unavailable("sentinel does not know master " + target.master_name);
    }
    RedisEndpoint master;
    master.host = ReplyText(*reply->element[0]);
    master.port = std::atoi(reply->element[1]->str);
    if (master.port <= 0) return Unavailable("sentinel returned an invalid master port");
    return master;
}

Result<std::unique_ptr<RedisConnection>> OpenAuthenticated(const RedisEndpoint& endpoint,
                                                           const RedisTarget& target,
                                                           const RedisConnectSettings& settings,
                                                           obs::Gauge* gauge) {
    CONTEX_ASSIGN_OR_RETURN(auto connection, RedisConnection::Open(endpoint, settings, gauge));
    CONTEX_TRY(Authenticate(*connection, target.username, target.password));
    if (target.db != 0) {
        std::string db = std::to_string(target.db);
        CONTEX_ASSIGN_OR_RETURN(auto reply, connection->Command({"SELECT", db}));
        if (reply->type == REDIS_REPLY_ERROR) {
            if (ReplyText(*reply).find("NOAUTH") != std::string::npos) {
                return Error(ErrorCode::kUnauthenticated, ReplyText(*reply));
            }
            return InvalidArgument("SELECT " + db + " refused: " + ReplyText(*reply));
        }
    }
    return connection;
}

}  // namespace

Result<std::unique_ptr<RedisConnection>> ConnectToMaster(const RedisTarget& target,
                                                         const RedisConnectSettings& settings,
                                                         obs::Gauge* open_connections) {
    if (!target.sentinel)
        return OpenAuthenticated(target.endpoint, target, settings, open_connections);
    std::string errors;
    for (const auto& sentinel : target.sentinels) {
        auto master = AskSentinel(sentinel, target, settings);
        if (!master) {
            if (!errors.empty()) errors += "; ";
            errors +=
                sentinel.host + ":" + std::to_string(sentinel.port) + ": " + master.error().message;
            continue;
        }
        CONTEX_ASSIGN_OR_RETURN(auto connection,
                                OpenAuthenticated(*master, target, settings, open_connections));
        CONTEX_ASSIGN_OR_RETURN(auto role, connection->Command({"ROLE"}));
        if (role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
            role->element[0]->type == REDIS_REPLY_STRING &&
            ReplyText(*role->element[0]) != "master") {
            return Unavailable("sentinel named " + master->host + ":" +
                               std::to_string(master->port) + " but it is not a master");
        }
        return connection;
    }
    return Unavailable("no sentinel answered: " + errors);
}

}  // namespace contex::notify
