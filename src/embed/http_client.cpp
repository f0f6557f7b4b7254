#include "embed/http_client.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "common/strings.hpp"

namespace contex::embed::http {

namespace {

std::optional<std::string> Find(const Headers& headers, std::string_view name) {
    for (const auto& [k, v] : headers) {
        if (k == name) return v;
    }
    return std::nullopt;
}

struct Transfer {
    CURL* handle = nullptr;
    const Request* request = nullptr;
    Response* response = nullptr;
    bool aborted = false;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string_view line(data, size * n);
    if (StartsWith(line, "HTTP/")) {
        t->response->headers.clear();  // a new response on the redirect chain
        return size * n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * n;
    std::string name = ToLowerAscii(TrimView(line.substr(0, colon)));
    std::string value(TrimView(line.substr(colon + 1)));
    t->response->headers.emplace_back(name, value);
    t->response->all_headers.emplace_back(std::move(name), std::move(value));
    return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string_view chunk(data, size * n);
    if (t->request->on_body) {
        // libcurl does not hand over bodies of redirects it follows.
        long status = 0;
        curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
        if (!t->request->on_body(status, chunk)) {
            t->aborted = true;
            return 0;
        }
    } else {
        t->response->body.append(chunk);
    }
    return size * n;
}

int OnProgress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->request->on_progress) {
        t->request->on_progress(static_cast<std::uint64_t>(dlnow),
                                static_cast<std::uint64_t>(dltotal));
    }
    return 0;
}

}  // namespace

std::optional<std::string> Response::Header(std::string_view name) const {
    return Find(headers, name);
}

std::optional<std::string> Response::AnyHeader(std::string_view name) const {
    return Find(all_headers, name);
}

Result<Response> Perform(const Request& request) {
    // Process-wide libcurl initialisation, once (curl_easy_init would do it implicitly,
    // but not safely while other threads start transfers).
    static std::once_flag curl_init;
    std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) return Internal("curl_easy_init failed");
    CURL* h = curl.get();
    Response response;
    Transfer transfer{h, &request, &response, false};

    curl_slist* list = nullptr;
    for (const auto& header : request.headers) list = curl_slist_append(list, header.c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> list_owner(list,
                                                                           &curl_slist_free_all);
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "contex/1.0");
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (request.timeout.count() > 0) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    }
    if (request.stall_timeout.count() > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                         static_cast<long>(request.stall_timeout.count()));
    }
    if (request.follow_redirects) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    }
    if (request.on_progress) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &OnProgress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
    }
    if (request.method == "POST") {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
    } else if (request.method == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (request.method != "GET") {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    const CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    if (rc != CURLE_OK) {
        std::string what = curl_easy_strerror(rc);
        if (transfer.aborted) return Unavailable("transfer aborted: " + request.url);
        if (rc == CURLE_OPERATION_TIMEDOUT) {
            return Timeout("HTTP request timed out: " + request.url);
        }
        return Unavailable("HTTP request failed (" + what + "): " + request.url);
    }
    return response;
}

}  // namespace contex::embed::http
