// FakeHttpServer: a tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port) for tests of the
// remote provider and the model fetch. One connection at a time, "Connection: close".
// Test-only; never linked into the product.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace contex::embed::testing {

struct FakeRequest {
    std::string method;
    std::string target;                          // path and query
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

struct FakeResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // Announce the full Content-Length but send only this many body bytes, then close
    // (an interrupted download).
    std::optional<std::size_t> truncate_after;
};

class FakeHttpServer {
  public:
    using Handler = std::function<FakeResponse(const FakeRequest&)>;
    // Binds and starts serving; aborts the test binary when no port can be bound.
    explicit FakeHttpServer(Handler handler);
    ~FakeHttpServer();
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    int port() const { return port_; }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // Every request received so far, in order. Thread-safe.
    std::vector<FakeRequest> requests() const;

  private:
    void Serve();
    void HandleConnection(int fd);

    Handler handler_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::vector<FakeRequest> requests_;  // guarded by mutex_
    std::thread thread_;
};

}  // namespace contex::embed::testing
