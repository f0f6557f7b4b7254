#include "embed/testing/fake_http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/strings.hpp"

namespace contex::embed::testing {

namespace {

constexpr int kIoTimeoutMs = 5000;

bool ReadMore(int fd, std::string& buf) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kIoTimeoutMs) <= 0) return false;
    char tmp[16384];
    const ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
    return true;
}

void SendAll(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

const char* Reason(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 206:
            return "Partial Content";
        case 302:
            return "Found";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 404:
            return "Not Found";
        case 416:
            return "Range Not Satisfiable";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        default:
            return "Status";
    }
}

}  // namespace

FakeHttpServer::FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        std::perror("FakeHttpServer");
        std::abort();
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
}

FakeHttpServer::~FakeHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(listen_fd_);
}

std::vector<FakeRequest> FakeHttpServer::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

void FakeHttpServer::Serve() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
        const int fd = accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) continue;
        HandleConnection(fd);
        close(fd);
    }
}

void FakeHttpServer::HandleConnection(int fd) {
    std::string buf;
    std::size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!ReadMore(fd, buf)) return;
    }
    FakeRequest req;
    const std::string head = buf.substr(0, header_end);
    const auto lines = Split(head, '\n');
    {
        const auto parts = Split(TrimView(lines[0]), ' ');
        if (parts.size() < 2) return;
        req.method = std::string(parts[0]);
        req.target = std::string(parts[1]);
    }
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto line = TrimView(lines[i]);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        req.headers[ToLowerAscii(TrimView(line.substr(0, colon)))] =
            std::string(TrimView(line.substr(colon + 1)));
    }
    std::size_t content_length = 0;
    if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
        content_length = std::strtoull(it->second.c_str(), nullptr, 10);
    }
    while (buf.size() < header_end + 4 + content_length) {
        if (!ReadMore(fd, buf)) return;
    }
    req.body = buf.substr(header_end + 4, content_length);
    {
        std::lock_guard lock(mutex_);
        requests_.push_back(req);
    }
    const FakeResponse resp = handler_(req);
    std::string out =
        "HTTP/1.1 " + std::to_string(resp.status) + " " + Reason(resp.status) + "\r\n";
    for (const auto& [k, v] : resp.headers) out += k + ": " + v + "\r\n";
    out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\nConnection: close\r\n\r\n";
    if (req.method != "HEAD") {
        out += resp.truncate_after ? resp.body.substr(0, *resp.truncate_after) : resp.body;
    }
    SendAll(fd, out);
    shutdown(fd, SHUT_WR);
}

}  // namespace contex::embed::testing
