#include "notify/testing/redis_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace contex::notify::testing {

bool RedisServerAvailable() {
    const char* path = std::getenv("PATH");
    if (path == nullptr) return false;
    std::string_view rest(path);
    while (!rest.empty()) {
        auto colon = rest.find(':');
        std::string dir(rest.substr(0, colon));
        if (!dir.empty() && ::access((dir + "/redis-server").c_str(), X_OK) == 0) return true;
        if (colon == std::string_view::npos) break;
        rest = rest.substr(colon + 1);
    }
    return false;
}

RedisConnectSettings TestConnectSettings(std::chrono::milliseconds timeout) {
    RedisConnectSettings settings;
    settings.connect_timeout = timeout;
    settings.command_timeout = timeout;
    settings.keepalive = false;
    return settings;
}

bool ServicesRequired() {
    const char* v = std::getenv("CONTEX_REQUIRE_SERVICES");
    return v != nullptr && *v != 0 && std::string_view(v) != "0";
}

int FreeLoopbackPort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        socklen_t len = sizeof addr;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
            port = ntohs(addr.sin_port);
        }
    }
    ::close(fd);
    return port;
}

Result<std::unique_ptr<RedisServerProcess>> RedisServerProcess::Start(RedisServerOptions options) {
    if (!RedisServerAvailable()) return Unavailable("redis-server is not installed");
    if (options.port == 0) options.port = FreeLoopbackPort();
    if (options.port == 0) return Unavailable("no free port");
    std::unique_ptr<RedisServerProcess> server(new RedisServerProcess(std::move(options)));
    std::string templ = (std::filesystem::temp_directory_path() / "contex-redis-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) return Unavailable("mkdtemp failed");
    server->dir_ = templ;
    if (server->options_.tls) {
        server->tls_port_ = FreeLoopbackPort();
        std::string cmd =
            "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
            " -addext subjectAltName=IP:127.0.0.1 -keyout '" +
            templ + "/key.pem' -out '" + templ + "/cert.pem' >/dev/null 2>&1";
        if (std::system(cmd.c_str()) != 0)
            return Unavailable("openssl could not make a certificate");
    }
    CONTEX_TRY(server->Spawn());
    return server;
}

RedisServerProcess::~RedisServerProcess() {
    Kill();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string RedisServerProcess::url(int db, const std::string& password) const {
    std::string auth = password.empty() ? "" : ":" + password + "@";
    return "redis://" + auth + "127.0.0.1:" + std::to_string(options_.port) + "/" +
           std::to_string(db);
}

void RedisServerProcess::Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

Status RedisServerProcess::Restart() {
    Kill();
    return Spawn();
}

Status RedisServerProcess::Spawn() {
    std::vector<std::string> args{"redis-server"};
    if (options_.sentinel_for_master_port != 0) {
        std::string conf = dir_ + "/sentinel.conf";
        std::ofstream out(conf);
        out << "port " << options_.port << "\n"
            << "bind 127.0.0.1\n"
            << "dir " << dir_ << "\n"
            << "sentinel monitor " << options_.sentinel_master << " 127.0.0.1 "
            << options_.sentinel_for_master_port << " 1\n";
        out.close();
        args.push_back(conf);
        args.emplace_back("--sentinel");
    } else {
        for (const char* a :
             {"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"}) {
            args.emplace_back(a);
        }
        args.emplace_back("--dir");
        args.push_back(dir_);
        args.emplace_back("--port");
        args.push_back(std::to_string(options_.port));
    }
    if (options_.tls) {
        for (const std::string& a :
             {std::string("--tls-port"), std::to_string(tls_port_), std::string("--tls-cert-file"),
              dir_ + "/cert.pem", std::string("--tls-key-file"), dir_ + "/key.pem",
              std::string("--tls-ca-cert-file"), dir_ + "/cert.pem",
              std::string("--tls-auth-clients"), std::string("no")}) {
            args.push_back(a);
        }
    }
    for (const auto& a : options_.extra_args) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return Unavailable("fork failed");
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        int devnull = ::open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            ::dup2(devnull, 0);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
        }
        ::execvp("redis-server", argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    // Ready when it answers anything (PING may be refused with NOAUTH).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    RedisConnectSettings settings = TestConnectSettings(std::chrono::milliseconds(500));
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return Unavailable("redis-server exited at start");
        }
        auto connection = RedisConnection::Open({"127.0.0.1", options_.port}, settings, nullptr);
        if (connection && (*connection)->Command({"PING"}).ok()) return OkStatus();
        // Polling a child process that has no readiness signal; bounded by the deadline.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Kill();
    return Unavailable("redis-server did not answer within 10 s");
}

Result<std::unique_ptr<RedisSubscriber>> RedisSubscriber::Connect(
    const std::string& url, const std::vector<std::string>& channels) {
    CONTEX_ASSIGN_OR_RETURN(auto parsed, ParseRedisUrl(url));
    RedisConnectSettings settings = TestConnectSettings(std::chrono::seconds(5));
    CONTEX_ASSIGN_OR_RETURN(auto connection,
                            RedisConnection::Open({parsed.host, parsed.port}, settings, nullptr));
    if (parsed.password) {
        CONTEX_ASSIGN_OR_RETURN(auto reply, connection->Command({"AUTH", *parsed.password}));
        if (reply->type == REDIS_REPLY_ERROR) return Unavailable(ReplyText(*reply));
    }
    std::vector<std::string_view> args{"SUBSCRIBE"};
    for (const auto& c : channels) args.emplace_back(c);
    connection->Append(args);
    for (std::size_t i = 0; i < channels.size(); ++i) {
        CONTEX_ASSIGN_OR_RETURN(auto reply, connection->ReadReply());
        if (reply->type != REDIS_REPLY_ARRAY) return Unavailable("unexpected SUBSCRIBE reply");
    }
    return std::unique_ptr<RedisSubscriber>(new RedisSubscriber(std::move(connection)));
}

std::vector<RedisSubscriber::Message> RedisSubscriber::Receive(std::size_t n,
                                                               std::chrono::milliseconds timeout) {
    std::vector<Message> out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        auto reply = connection_->PollReply(left);
        if (!reply || !*reply) break;
        const redisReply& r = **reply;
        if (r.type == REDIS_REPLY_ARRAY && r.elements == 3 &&
            ReplyText(*r.element[0]) == "message") {
            out.push_back({ReplyText(*r.element[1]), ReplyText(*r.element[2])});
        }
    }
    return out;
}

}  // namespace contex::notify::testing
