// The libcurl sender against a local receiver on 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "common/strings.hpp"
#include "notify/webhook/curl_sender.hpp"

namespace contex::notify {
namespace {

using namespace std::chrono_literals;

// A one-request-per-connection HTTP receiver that answers every request with the
// scripted response and records what it received.
class Receiver {
public:
    struct Received {
        std::string method, target, body;
        std::map<std::string, std::string> headers;  // lower-case names
    };

    explicit Receiver(std::string response, std::chrono::milliseconds delay = 0ms)
        : response_(std::move(response)), delay_(delay) {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        listen(fd_, 16);
        socklen_t len = sizeof addr;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { Serve(); });
    }
    ~Receiver() {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
    std::vector<Received> received() {
        std::lock_guard lock(mutex_);
        return received_;
    }

private:
    void Serve() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) continue;
            int c = accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            std::string data;
            char buf[4096];
            std::size_t body_at = std::string::npos, length = 0;
            while (body_at == std::string::npos || data.size() < body_at + length) {
                pollfd q{c, POLLIN, 0};
                if (poll(&q, 1, 2000) <= 0) break;
                ssize_t n = recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                data.append(buf, static_cast<std::size_t>(n));
                if (body_at == std::string::npos) {
                    auto end = data.find("\r\n\r\n");
                    if (end != std::string::npos) {
                        body_at = end + 4;
                        auto lower = ToLowerAscii(data.substr(0, end));
                        auto cl = lower.find("content-length:");
                        if (cl != std::string::npos) length = std::stoul(lower.substr(cl + 15));
                    }
                }
            }
            Record(data, body_at);
            std::this_thread::sleep_for(delay_);
            (void)send(c, response_.data(), response_.size(), MSG_NOSIGNAL);
            close(c);
        }
    }
    void Record(const std::string& data, std::size_t body_at) {
        if (body_at == std::string::npos) return;
        Received r;
        const std::string head = data.substr(0, body_at - 4);
        auto lines = Split(head, '\n');
        auto request_line = Split(TrimView(lines[0]), ' ');
        r.method = std::string(request_line[0]);
        r.target = std::string(request_line[1]);
        for (std::size_t i = 1; i < lines.size(); ++i) {
            auto colon = lines[i].find(':');
            if (colon == std::string_view::npos) continue;
            r.headers[ToLowerAscii(TrimView(lines[i].substr(0, colon)))] =
                std::string(TrimView(lines[i].substr(colon + 1)));
        }
        r.body = data.substr(body_at);
        std::lock_guard lock(mutex_);
        received_.push_back(std::move(r));
    }

    std::string response_;
    std::chrono::milliseconds delay_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::vector<Received> received_;
};

std::string Response(std::string_view status_line, std::string_view extra_headers = "") {
    return "HTTP/1.1 " + std::string(status_line) + "\r\n" + std::string(extra_headers) +
           "Content-Length: 2\r\nConnection: close\r\n\r\nok";
}

WebhookRequest Request(std::string url) {
    WebhookRequest r;
    r.url = std::move(url);
    r.body = R"({"type":"data_update"})";
    r.headers = {{"Content-Type", "application/json"}, {"webhook-id", "msg_1"}};
    r.timeout = 2000ms;
    return r;
}

TEST(CurlWebhookSender, PostsTheBodyAndHeaders) {
    Receiver receiver(Response("200 OK"));
    DestinationPolicy policy({});
    CurlWebhookSender sender(policy);
    auto outcome = sender.Send(Request(receiver.url()));
    EXPECT_EQ(outcome.status, std::optional<int>(200)) << outcome.error;
    auto got = receiver.received();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].method, "POST");
    EXPECT_EQ(got[0].target, "/hook");
    EXPECT_EQ(got[0].body, R"({"type":"data_update"})");
    EXPECT_EQ(got[0].headers["content-type"], "application/json");
    EXPECT_EQ(got[0].headers["webhook-id"], "msg_1");
    EXPECT_EQ(got[0].headers.count("expect"), 0u);
}

TEST(CurlWebhookSender, ReportsStatusAndRetryAfter) {
    Receiver receiver(Response("503 Service Unavailable", "Retry-After: 7\r\n"));
    DestinationPolicy policy({});
    CurlWebhookSender sender(policy);
    auto outcome = sender.Send(Request(receiver.url()));
    EXPECT_EQ(outcome.status, std::optional<int>(503));
    EXPECT_EQ(outcome.retry_after, std::optional<std::chrono::seconds>(7s));
}

TEST(CurlWebhookSender, DoesNotFollowRedirects) {
    Receiver receiver(Response("302 Found", "Location: http://169.254.169.254/\r\n"));
    DestinationPolicy policy({});
    CurlWebhookSender sender(policy);
    auto outcome = sender.Send(Request(receiver.url()));
    EXPECT_EQ(outcome.status, std::optional<int>(302));
    EXPECT_EQ(receiver.received().size(), 1u);
}

TEST(CurlWebhookSender, TimesOut) {
    Receiver receiver(Response("200 OK"), 1500ms);
    DestinationPolicy policy({});
    CurlWebhookSender sender(policy);
    auto request = Request(receiver.url());
    request.timeout = 200ms;
    auto outcome = sender.Send(request);
    EXPECT_FALSE(outcome.status.has_value());
    EXPECT_TRUE(outcome.timed_out) << outcome.error;
}

TEST(CurlWebhookSender, ReportsConnectionRefused) {
    std::string url;
    {
        Receiver gone(Response("200 OK"));
        url = gone.url();
    }
    DestinationPolicy policy({});
    CurlWebhookSender sender(policy);
    auto outcome = sender.Send(Request(url));
    EXPECT_FALSE(outcome.status.has_value());
    EXPECT_FALSE(outcome.blocked);
    EXPECT_FALSE(outcome.error.empty());
}

TEST(CurlWebhookSender, RefusesBlockedAddressesAfterResolution) {
    Receiver receiver(Response("200 OK"));
    DestinationPolicy policy({.block_private = true, .allowed_hosts = {}});
    CurlWebhookSender sender(policy);
    // "localhost" is a name: only the resolved address reveals that it is loopback.
    auto url = receiver.url();
    url.replace(url.find("127.0.0.1"), 9, "localhost");
    auto outcome = sender.Send(Request(url));
    EXPECT_TRUE(outcome.blocked);
    EXPECT_FALSE(outcome.status.has_value());
    EXPECT_TRUE(receiver.received().empty());
}

}  // namespace
}  // namespace contex::notify
