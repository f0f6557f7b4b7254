#include "notify/webhook/curl_sender.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <ctime>
#include <memory>
#include <mutex>

#include "common/strings.hpp"

namespace contex::notify {
namespace {

struct Exchange {
    const DestinationPolicy* policy = nullptr;
    std::string host;
    bool blocked = false;
    std::optional<std::string> retry_after;
};

curl_socket_t OpenCheckedSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
    auto* exchange = static_cast<Exchange*>(user);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw = nullptr;
    if (address->family == AF_INET) {
        raw = &reinterpret_cast<sockaddr_in*>(&address->addr)->sin_addr;
    } else if (address->family == AF_INET6) {
        raw = &reinterpret_cast<sockaddr_in6*>(&address->addr)->sin6_addr;
    }
    if (!raw || !inet_ntop(address->family, raw, text, sizeof text) ||
        !exchange->policy->AllowsAddress(exchange->host, text)) {
        exchange->blocked = true;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

std::size_t CaptureHeader(char* data, std::size_t size, std::size_t count, void* user) {
    auto* exchange = static_cast<Exchange*>(user);
    std::string_view line(data, size * count);
    auto colon = line.find(':');
    if (colon != std::string_view::npos &&
        ToLowerAscii(TrimView(line.substr(0, colon))) == "retry-after") {
        exchange->retry_after = std::string(TrimView(line.substr(colon + 1)));
    }
    return size * count;
}

std::size_t DiscardBody(char*, std::size_t size, std::size_t count, void*) { return size * count; }

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, std::int64_t now_unix) {
    value = TrimView(value);
    if (value.empty()) return std::nullopt;
    long long seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && end == value.data() + value.size()) {
        if (seconds < 0) return std::nullopt;
        return std::chrono::seconds(seconds);
    }
    const time_t at = curl_getdate(std::string(value).c_str(), nullptr);
    if (at == -1) return std::nullopt;
    return std::chrono::seconds(std::max<std::int64_t>(0, static_cast<std::int64_t>(at) - now_unix));
}

CurlWebhookSender::CurlWebhookSender(const DestinationPolicy& policy) : policy_(policy) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

SendOutcome CurlWebhookSender::Send(const WebhookRequest& request) {
    SendOutcome outcome;
    auto endpoint = ParseWebhookUrl(request.url);
    if (!endpoint.ok()) {
        outcome.blocked = true;
        outcome.error = endpoint.error().message;
        return outcome;
    }
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) {
        outcome.error = "curl_easy_init failed";
        return outcome;
    }
    Exchange exchange;
    exchange.policy = &policy_;
    exchange.host = endpoint->host;

    curl_slist* raw_headers = nullptr;
    for (const auto& [name, value] : request.headers) {
        raw_headers = curl_slist_append(raw_headers, (name + ": " + value).c_str());
    }
    raw_headers = curl_slist_append(raw_headers, "Expect:");  // no 100-continue round trip
    std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);

    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, OpenCheckedSocket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &exchange);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, CaptureHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &exchange);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, DiscardBody);

    const CURLcode code = curl_easy_perform(c);
    if (code == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        outcome.status = static_cast<int>(status);
        if (exchange.retry_after) {
            outcome.retry_after = ParseRetryAfter(*exchange.retry_after, std::time(nullptr));
        }
        return outcome;
    }
    if (exchange.blocked) {
        outcome.blocked = true;
        outcome.error = std::string(kBlockedAddressMessage);
        return outcome;
    }
    outcome.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    outcome.error = curl_easy_strerror(code);
    return outcome;
}

}  // namespace contex::notify
