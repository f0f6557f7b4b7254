#include "notify/redis/redis_connection.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace contex::notify {

namespace {

using SteadyClock = std::chrono::steady_clock;

int MillisLeft(SteadyClock::time_point deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
    return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, INT_MAX));
}

std::string Where(const RedisEndpoint& e) { return e.host + ":" + std::to_string(e.port); }

std::string OpenSslError() {
    unsigned long code = ERR_get_error();
    if (code == 0) return "unknown TLS error";
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    return buf;
}

// SSL_write() writes to the socket with write(2), which raises SIGPIPE when the peer has
// gone. Block it on this thread for the duration and swallow one raised meanwhile.
class SigpipeGuard {
  public:
    SigpipeGuard() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &set_, &old_);
    }
    ~SigpipeGuard() {
        int saved_errno = errno;
        if (!was_pending_) {
            sigset_t pending;
            sigpending(&pending);
            if (sigismember(&pending, SIGPIPE) == 1) {
                timespec zero{0, 0};
                while (sigtimedwait(&set_, nullptr, &zero) == -1 && errno == EINTR) {
                }
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
        errno = saved_errno;
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

  private:
    sigset_t set_;
    sigset_t old_;
    bool was_pending_ = false;
};

// poll() one fd until `deadline`: 1 ready, 0 deadline passed, -1 error (errno set).
int WaitFd(int fd, short events, SteadyClock::time_point deadline) {
    for (;;) {
        int left = MillisLeft(deadline);
        if (left == 0) return 0;
        pollfd pfd{fd, events, 0};
        int n = ::poll(&pfd, 1, left);
        if (n < 0 && errno == EINTR) continue;
        return n > 0 ? 1 : n;
    }
}

bool IsIpLiteral(const std::string& host) {
    in6_addr v6{};
    in_addr v4{};
    return inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
           inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

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

RedisConnection::RedisConnection(int fd, RedisEndpoint endpoint,
                                 std::chrono::milliseconds command_timeout, obs::Gauge* gauge)
    : fd_(fd),
      reader_(redisReaderCreate()),
      endpoint_(std::move(endpoint)),
      command_timeout_(command_timeout),
      gauge_(gauge) {
    if (gauge_ != nullptr) gauge_->Add(1);
}

RedisConnection::~RedisConnection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ssl_ctx_ != nullptr) SSL_CTX_free(ssl_ctx_);
    ::close(fd_);
    if (reader_ != nullptr) redisReaderFree(reader_);
    if (gauge_ != nullptr) gauge_->Add(-1);
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Open(const RedisEndpoint& endpoint,
                                                               const RedisConnectSettings& settings,
                                                               obs::Gauge* open_connections) {
    auto deadline = SteadyClock::now() + settings.connect_timeout;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addresses = nullptr;
    std::string port = std::to_string(endpoint.port);
    if (int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &addresses); rc != 0) {
        return Unavailable(std::string("cannot resolve ") + endpoint.host + ": " +
                           gai_strerror(rc));
    }
    int fd = -1;
    bool timed_out = false;
    std::string last_error = "no address";
    for (addrinfo* ai = addresses; ai != nullptr && fd < 0; ai = ai->ai_next) {
        int s = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         ai->ai_protocol);
        if (s < 0) {
            last_error = std::strerror(errno);
            continue;
        }
        int rc = ::connect(s, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            int ready = WaitFd(s, POLLOUT, deadline);
            if (ready == 0) {
                timed_out = true;
                ::close(s);
                break;
            }
            int err = 0;
            socklen_t len = sizeof err;
            if (ready < 0) {
                err = errno;
            } else if (::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                err = errno;
            }
            rc = err == 0 ? 0 : -1;
            errno = err;
        }
        if (rc != 0) {
            last_error = std::strerror(errno);
            ::close(s);
            continue;
        }
        fd = s;
    }
    ::freeaddrinfo(addresses);
    if (fd < 0) {
        if (timed_out) return Timeout("Redis connect timed out (" + Where(endpoint) + ")");
        return Unavailable(last_error + " (" + Where(endpoint) + ")");
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (settings.keepalive) {
        ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        int idle = 15;
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle);
    }
    std::unique_ptr<RedisConnection> connection(
        new RedisConnection(fd, endpoint, settings.command_timeout, open_connections));
    if (connection->reader_ == nullptr) return Unavailable("cannot allocate a RESP reader");
    if (settings.tls) CONTEX_TRY(connection->StartTls(settings, deadline));
    return connection;
}

Status RedisConnection::StartTls(const RedisConnectSettings& settings, Deadline deadline) {
    ERR_clear_error();
    ssl_ctx_ = SSL_CTX_new(TLS_client_method());
    if (ssl_ctx_ == nullptr) return Unavailable("TLS: " + OpenSslError());
    SSL_CTX_set_min_proto_version(ssl_ctx_, TLS1_2_VERSION);
    SSL_CTX_set_mode(ssl_ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (settings.tls_verify) {
        int loaded =
            settings.tls_ca_file.empty()
                ? SSL_CTX_set_default_verify_paths(ssl_ctx_)
                : SSL_CTX_load_verify_locations(ssl_ctx_, settings.tls_ca_file.c_str(), nullptr);
        if (loaded != 1) return Unavailable("TLS: cannot load CA certificates: " + OpenSslError());
        SSL_CTX_set_verify(ssl_ctx_, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(ssl_ctx_, SSL_VERIFY_NONE, nullptr);
    }
    ssl_ = SSL_new(ssl_ctx_);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return Unavailable("TLS: " + OpenSslError());
    if (IsIpLiteral(endpoint_.host)) {
        if (settings.tls_verify) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), endpoint_.host.c_str());
        }
    } else {
        SSL_set_tlsext_host_name(ssl_, endpoint_.host.c_str());
        if (settings.tls_verify) SSL_set1_host(ssl_, endpoint_.host.c_str());
    }
    for (;;) {
        ERR_clear_error();
        int rc;
        {
            SigpipeGuard guard;
            rc = SSL_connect(ssl_);
        }
        if (rc == 1) return OkStatus();
        int e = SSL_get_error(ssl_, rc);
        short events = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (events == 0) {
            std::string why = OpenSslError();
            long verify = SSL_get_verify_result(ssl_);
            if (verify != X509_V_OK)
                why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
            return Unavailable("TLS handshake with " + Where(endpoint_) + " failed: " + why);
        }
        int ready = WaitFd(fd_, events, deadline);
        if (ready == 0) return Timeout("TLS handshake timed out (" + Where(endpoint_) + ")");
        if (ready < 0) return Unavailable(std::strerror(errno));
    }
}

Error RedisConnection::Fail(Error error) {
    broken_ = true;
    return error;
}

Status RedisConnection::Flush(Deadline deadline) {
    std::size_t offset = 0;
    while (offset < out_.size()) {
        const char* data = out_.data() + offset;
        std::size_t size = std::min<std::size_t>(out_.size() - offset, INT_MAX);
        short wait_for = POLLOUT;
        if (ssl_ != nullptr) {
            ERR_clear_error();
            int n;
            {
                SigpipeGuard guard;
                n = SSL_write(ssl_, data, static_cast<int>(size));
            }
            if (n > 0) {
                offset += static_cast<std::size_t>(n);
                continue;
            }
            int e = SSL_get_error(ssl_, n);
            if (e == SSL_ERROR_WANT_READ) {
                wait_for = POLLIN;
            } else if (e != SSL_ERROR_WANT_WRITE) {
                return Fail(Unavailable("TLS write failed: " + OpenSslError()));
            }
        } else {
            ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
            if (n > 0) {
                offset += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                return Fail(Unavailable(std::string("write failed: ") + std::strerror(errno)));
            }
        }
        int ready = WaitFd(fd_, wait_for, deadline);
        if (ready == 0) return Fail(Timeout("Redis command timed out"));
        if (ready < 0) return Fail(Unavailable(std::strerror(errno)));
    }
    out_.clear();
    return OkStatus();
}

Result<bool> RedisConnection::ReadSome(Deadline deadline) {
    char buf[16384];
    for (;;) {
        short wait_for = POLLIN;
        if (ssl_ != nullptr) {
            ERR_clear_error();
            int n = SSL_read(ssl_, buf, sizeof buf);
            if (n > 0) {
                redisReaderFeed(reader_, buf, static_cast<std::size_t>(n));
                return true;
            }
            int e = SSL_get_error(ssl_, n);
            if (e == SSL_ERROR_WANT_WRITE) {
                wait_for = POLLOUT;
            } else if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) {
                return Fail(Unavailable("connection closed by server"));
            } else if (e != SSL_ERROR_WANT_READ) {
                return Fail(Unavailable("TLS read failed: " + OpenSslError()));
            }
        } else {
            ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                redisReaderFeed(reader_, buf, static_cast<std::size_t>(n));
                return true;
            }
            if (n == 0) return Fail(Unavailable("connection closed by server"));
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                return Fail(Unavailable(std::string("read failed: ") + std::strerror(errno)));
            }
        }
        int ready = WaitFd(fd_, wait_for, deadline);
        if (ready == 0) return false;
        if (ready < 0) return Fail(Unavailable(std::strerror(errno)));
    }
}

Result<RedisReplyPtr> RedisConnection::Command(const std::vector<std::string_view>& args) {
    Append(args);
    return ReadReply();
}

void RedisConnection::Append(const std::vector<std::string_view>& args) {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    ptrs.reserve(args.size());
    lens.reserve(args.size());
    for (auto a : args) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
    }
    char* command = nullptr;
    int len =
        redisFormatCommandArgv(&command, static_cast<int>(args.size()), ptrs.data(), lens.data());
    if (len < 0 || command == nullptr) {
        broken_ = true;
        return;
    }
    out_.append(command, static_cast<std::size_t>(len));
    redisFreeCommand(command);
}

Result<RedisReplyPtr> RedisConnection::ReadReply() {
    if (broken_) return Unavailable("connection is broken");
    auto deadline = SteadyClock::now() + command_timeout_;
    CONTEX_TRY(Flush(deadline));
    for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
            return Fail(Unavailable(std::string("protocol error: ") + reader_->errstr));
        }
        if (raw != nullptr) return RedisReplyPtr(static_cast<redisReply*>(raw));
        CONTEX_ASSIGN_OR_RETURN(bool got, ReadSome(deadline));
        if (!got) return Fail(Timeout("Redis command timed out"));
    }
}

Result<RedisReplyPtr> RedisConnection::PollReply(std::chrono::milliseconds timeout) {
    if (broken_) return Unavailable("connection is broken");
    CONTEX_TRY(Flush(SteadyClock::now() + command_timeout_));
    auto deadline = SteadyClock::now() + timeout;
    for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
            return Fail(Unavailable(std::string("protocol error: ") + reader_->errstr));
        }
        if (raw != nullptr) return RedisReplyPtr(static_cast<redisReply*>(raw));
        CONTEX_ASSIGN_OR_RETURN(bool got, ReadSome(deadline));
        if (!got) return RedisReplyPtr();
    }
}

Result<RedisTarget> ResolveRedisTarget(const RedisOptions& options) {
    RedisTarget target;
    if (options.url.empty()) return InvalidArgument("REDIS_URL is not set");
    auto url = ParseRedisUrl(options.url);
    if (!url) return std::move(url).error();
    target.tls = url->tls;
    target.tls_verify = url->tls_verify;
    target.tls_ca_file = url->tls_ca_file;
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
                                                         RedisConnectSettings settings,
                                                         obs::Gauge* open_connections) {
    settings.tls = target.tls;
    settings.tls_verify = target.tls_verify;
    settings.tls_ca_file = target.tls_ca_file;
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
