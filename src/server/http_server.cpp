#include "server/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <csignal>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/address_ranges.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"
#include "common/thread_pool.hpp"
#include "server/sse.hpp"

namespace contex::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr auto kTuple = asio::as_tuple(use_awaitable);

bool ValidRequestId(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::string MethodLabel(std::string_view method) {
    static const std::set<std::string, std::less<>> kKnown = {
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
    return kKnown.count(method) ? std::string(method) : std::string("other");
}

// Query string -> decoded pairs ('+' means space in form encoding).
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    if (query.empty()) return out;
    for (auto part : Split(query, '&')) {
        if (part.empty()) continue;
        auto eq = part.find('=');
        std::string key(part.substr(0, eq));
        std::string value(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
        for (auto& c : key) if (c == '+') c = ' ';
        for (auto& c : value) if (c == '+') c = ' ';
        auto k = PercentDecode(key);
        auto v = PercentDecode(value);
        out.emplace_back(k ? *k : key, v ? *v : value);
    }
    return out;
}

// "/x?api_key=secret&a=1" -> "/x?api_key=***&a=1"
std::string RedactTarget(std::string_view target) {
    auto q = target.find('?');
    if (q == std::string_view::npos) return std::string(target);
    std::string out(target.substr(0, q + 1));
    bool first = true;
    for (auto part : Split(target.substr(q + 1), '&')) {
        if (!first) out += '&';
        first = false;
        if (StartsWith(part, "api_key=")) {
            out += "api_key=***";
        } else {
            out += part;
        }
    }
    return out;
}

class HttpDate {
public:
    std::string Now() {
        std::time_t t = std::time(nullptr);
        std::lock_guard lock(mutex_);
        if (t != cached_at_) {
            std::tm tm{};
            gmtime_r(&t, &tm);
            char buf[64];
            std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
            cached_ = buf;
            cached_at_ = t;
        }
        return cached_;
    }

private:
    std::mutex mutex_;
    std::time_t cached_at_ = 0;
    std::string cached_;
};

}  // namespace

class HttpServer::Impl {
public:
    Impl(ServerOptions options, const Router& router, obs::Logger& logger,
         obs::MetricsRegistry& metrics, const Clock& clock)
        : options_(std::move(options)),
          router_(router),
          logger_(logger),
          clock_(clock),
          cors_(options_.cors),
          trusted_(contex::AddressRanges::Parse(options_.trusted_proxies).value_or(contex::AddressRanges{})),
          ioc_(options_.io_threads),
          acceptor_(ioc_),
          signals_(ioc_, SIGINT, SIGTERM),
          shutdown_timer_(ioc_),
          pool_("http", static_cast<std::size_t>(options_.handler_threads), options_.handler_queue),
          requests_total_(metrics.AddCounter("contex_http_requests_total",
                                             "HTTP responses by method, route and status.",
                                             {"method", "endpoint", "status_code"})),
          duration_(metrics.AddHistogram("contex_http_request_duration_seconds",
                                         "HTTP request latency.", obs::buckets::kB2,
                                         {"method", "endpoint"})),
          active_gauge_(metrics.AddGauge("contex_active_requests", "In-flight HTTP requests.").Get()),
          errors_(metrics.AddCounter("contex_errors_total", "Internal failures and 5xx responses.",
                                     {"component", "kind"})) {}

    Status Start() {
        boost::system::error_code ec;
        auto address = asio::ip::make_address(options_.bind_address, ec);
        if (ec) return InvalidArgument("invalid bind address " + options_.bind_address);
        tcp::endpoint endpoint(address, options_.port);
        acceptor_.open(endpoint.protocol(), ec);
        if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor_.bind(endpoint, ec);
        if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            return Unavailable("cannot listen on " + options_.bind_address + ":" +
                               std::to_string(options_.port) + ": " + ec.message());
        }
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(ioc_, AcceptLoop(), asio::detached);
        return OkStatus();
    }

    std::uint16_t port() const { return port_; }

    void RunUntilShutdown(std::function<void()> on_shutdown_initiated) {
        on_shutdown_initiated_ = std::move(on_shutdown_initiated);
        WaitForSignal();
        std::vector<std::thread> threads;
        for (int i = 1; i < options_.io_threads; ++i) threads.emplace_back([this] { ioc_.run(); });
        ioc_.run();
        for (auto& t : threads) t.join();
        pool_.Shutdown();
    }

    void RequestShutdown() {
        asio::post(ioc_, [this] { BeginShutdown(); });
    }

    std::size_t active_requests() const { return active_requests_.load(); }
    std::size_t open_streams() const {
        std::lock_guard lock(streams_mutex_);
        return streams_.size();
    }

private:
    // Counts one request as in flight for its lifetime (SSE streams leave the count
    // once their headers are out: they are closed, not drained, at shutdown).
    class ActiveRequestGuard {
    public:
        explicit ActiveRequestGuard(Impl& impl) : impl_(impl) {
            impl_.active_requests_.fetch_add(1);
            impl_.active_gauge_.Add(1);
        }
        ~ActiveRequestGuard() { Release(); }
        void Release() {
            if (released_) return;
            released_ = true;
            impl_.active_requests_.fetch_sub(1);
            impl_.active_gauge_.Add(-1);
        }

    private:
        Impl& impl_;
        bool released_ = false;
    };

    struct Connection {
        std::atomic<bool> idle{true};
        beast::tcp_stream* stream = nullptr;  // valid while registered
    };

    void WaitForSignal() {
        signals_.async_wait([this](const boost::system::error_code& ec, int) {
            if (ec) return;
            if (shutdown_started_) {
                std::_Exit(1);  // second signal: leave now
            }
            BeginShutdown();
            WaitForSignal();
        });
    }

    void BeginShutdown() {
        if (shutdown_started_) return;
        shutdown_started_ = true;
        shutdown_began_ = std::chrono::steady_clock::now();
        if (on_shutdown_initiated_) on_shutdown_initiated_();
        shutdown_timer_.expires_after(options_.shutdown_readiness_delay);
        shutdown_timer_.async_wait([this](const boost::system::error_code&) { CloseListener(); });
    }

    void CloseListener() {
        boost::system::error_code ec;
        acceptor_.close(ec);
        draining_ = true;
        {
            std::lock_guard lock(streams_mutex_);
            for (auto& s : streams_) s->Close();
        }
        CloseIdleConnections();
        PollDrain();
    }

    void CloseIdleConnections() {
        std::lock_guard lock(connections_mutex_);
        for (auto* c : connections_) {
            if (c->idle.load() && c->stream) {
                // Runs on an I/O thread; the connection's pending read fails and it exits.
                asio::post(c->stream->get_executor(), [stream = c->stream] {
                    boost::system::error_code ignored;
                    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
                    stream->socket().close(ignored);
                });
            }
        }
    }

    void PollDrain() {
        bool streams_open;
        {
            std::lock_guard lock(streams_mutex_);
            streams_open = !streams_.empty();
        }
        auto deadline = shutdown_began_ + options_.shutdown_grace;
        bool idle = active_requests_.load() == 0 && !streams_open;
        if (idle || std::chrono::steady_clock::now() >= deadline) {
            signals_.cancel();
            ioc_.stop();
            return;
        }
        CloseIdleConnections();
        shutdown_timer_.expires_after(std::chrono::milliseconds(20));
        shutdown_timer_.async_wait([this](const boost::system::error_code&) { PollDrain(); });
    }

    awaitable<void> AcceptLoop() {
        while (true) {
            auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kTuple);
            if (ec) {
                if (!acceptor_.is_open()) co_return;
                continue;
            }
            if (open_connections_.load() >= options_.max_connections) {
                asio::co_spawn(socket.get_executor(), RejectConnection(std::move(socket)),
                               asio::detached);
                continue;
            }
            auto executor = socket.get_executor();
            asio::co_spawn(executor, HandleConnection(std::move(socket)), asio::detached);
        }
    }

    awaitable<void> RejectConnection(tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        stream.expires_after(std::chrono::seconds(5));
        http::response<http::string_body> res{http::status::service_unavailable, 11};
        res.set(http::field::content_type, "application/json");
        res.set(http::field::retry_after, "1");
        res.set(http::field::connection, "close");
        res.body() = "{\"detail\":\"Too many connections\"}";
        res.prepare_payload();
        co_await http::async_write(stream, res, kTuple);
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    }

    // Writes a minimal JSON error outside normal dispatch (408, 413 before routing).
    awaitable<void> WriteEarlyError(beast::tcp_stream& stream, int status, std::string_view detail,
                                    std::string_view target) {
        Request req;
        req.path = std::string(target.substr(0, target.find('?')));
        req.request_id = RandomHex(32);
        Response resp = Response::Detail(status, detail);
        Finalize(req, resp, false);
        auto res = ToBeast(resp, 11, false, false);
        stream.expires_after(std::chrono::seconds(5));
        co_await http::async_write(stream, res, kTuple);
    }

    awaitable<void> HandleConnection(tcp::socket socket) {
        open_connections_.fetch_add(1);
        beast::tcp_stream stream(std::move(socket));
        std::string remote;
        {
            boost::system::error_code ec;
            auto ep = stream.socket().remote_endpoint(ec);
            if (!ec) remote = ep.address().to_string();
        }
        Connection conn;
        conn.stream = &stream;
        {
            std::lock_guard lock(connections_mutex_);
            connections_.insert(&conn);
        }
        beast::flat_buffer buffer;
        bool first = true;
        while (!draining_) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(64 * 1024);
            parser.body_limit(options_.max_request_bytes);
            conn.idle.store(true);
            stream.expires_after(first ? options_.header_timeout : options_.keepalive_timeout);
            auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
            first = false;
            if (ec) {
                if (ec == http::error::body_limit) {
                    co_await WriteEarlyError(stream, 413, TooLargeDetail(), parser.get().target());
                } else if (ec == beast::error::timeout && buffer.size() > 0) {
                    co_await WriteEarlyError(stream, 408, "Request Timeout", "/");
                }
                break;
            }
            conn.idle.store(false);
            // In flight from the header on: a graceful drain waits for the body too.
            ActiveRequestGuard in_flight(*this);
            if (auto len = parser.content_length(); len && *len > options_.max_request_bytes) {
                co_await WriteEarlyError(stream, 413, TooLargeDetail(), parser.get().target());
                break;
            }
            if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
                http::response<http::empty_body> cont{http::status::continue_, 11};
                co_await http::async_write(stream, cont, kTuple);
            }
            if (!parser.is_done()) {
                stream.expires_after(options_.body_timeout);
                auto [ec2, n2] = co_await http::async_read(stream, buffer, parser, kTuple);
                if (ec2) {
                    if (ec2 == http::error::body_limit) {
                        co_await WriteEarlyError(stream, 413, TooLargeDetail(),
                                                 parser.get().target());
                    } else if (ec2 == beast::error::timeout) {
                        co_await WriteEarlyError(stream, 408, "Request Timeout",
                                                 parser.get().target());
                    }
                    break;
                }
            }
            stream.expires_never();
            auto message = parser.release();
            bool keep_alive = message.keep_alive() && !draining_;
            bool ok = co_await Serve(stream, std::move(message), remote, keep_alive, in_flight);
            if (!ok || !keep_alive) break;
        }
        {
            std::lock_guard lock(connections_mutex_);
            connections_.erase(&conn);
        }
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        open_connections_.fetch_sub(1);
    }

    std::string TooLargeDetail() const {
        return "Request body too large (limit " + std::to_string(options_.max_request_bytes) +
               " bytes)";
    }

    // Handles one parsed request; false when the connection must close.
    awaitable<bool> Serve(beast::tcp_stream& stream, http::request<http::string_body> message,
                          const std::string& peer, bool keep_alive,
                          ActiveRequestGuard& in_flight) {
        auto started = std::chrono::steady_clock::now();

        Request req;
        req.method = std::string(message.method_string());
        req.target = std::string(message.target());
        auto q = req.target.find('?');
        req.path = req.target.substr(0, q);
        if (q != std::string::npos) req.query = ParseQuery(std::string_view(req.target).substr(q + 1));
        for (const auto& field : message) {
            req.headers.Add(std::string(field.name_string()), std::string(field.value()));
        }
        req.body = std::move(message.body());
        bool trusted_peer = !trusted_.empty() && trusted_.Contains(peer);
        req.remote_address = peer;
        if (trusted_peer) {
            if (auto xff = req.Header("X-Forwarded-For")) {
                auto first = TrimView(Split(*xff, ',').front());
                if (!first.empty()) req.remote_address = std::string(first);
            }
        }
        bool https = trusted_peer && req.Header("X-Forwarded-Proto") == std::string_view("https");
        auto incoming_id = req.Header("X-Request-ID");
        req.request_id = incoming_id && ValidRequestId(*incoming_id) ? std::string(*incoming_id)
                                                                     : RandomHex(32);

        const Route* route = nullptr;
        Response resp = co_await Dispatch(req, route);
        bool is_head = req.method == "HEAD";
        Finalize(req, resp, options_.enable_hsts && https);

        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::string endpoint = route ? route->pattern : "other";
        bool counted = !route || route->options.count_in_metrics;

        bool ok = true;
        std::size_t bytes_sent = resp.body.size();
        if (resp.stream && resp.status == 200) {
            RecordRequest(req, resp.status, endpoint, seconds, counted, route, bytes_sent);
            in_flight.Release();
            co_await StreamEvents(stream, resp);
            co_return false;
        }
        auto res = ToBeast(resp, message.version(), keep_alive, is_head);
        auto [ec, n] = co_await http::async_write(stream, res, kTuple);
        if (ec) ok = false;
        RecordRequest(req, resp.status, endpoint, seconds, counted, route, bytes_sent);
        co_return ok;
    }

    awaitable<Response> Dispatch(Request& req, const Route*& route) {
        if (auto preflight = cors_.HandlePreflight(req)) co_return std::move(*preflight);
        auto match = router_.Find(req.method, req.path);
        if (match.outcome == Router::Outcome::kNotFound) {
            co_return Response::Detail(404, "Not Found");
        }
        if (match.outcome == Router::Outcome::kMethodNotAllowed) {
            if (req.method == "OPTIONS") {
                Response r;
                r.status = 204;
                r.headers.Set("Allow", match.allow);
                co_return r;
            }
            Response r = Response::Detail(405, "Method Not Allowed");
            r.headers.Set("Allow", match.allow);
            co_return r;
        }
        route = match.route;
        req.route_template = route->pattern;
        req.path_params = std::move(match.params);
        if (route->options.dispatch == Dispatch::kInline) co_return RunHandler(*route, req);
        co_return co_await RunOnPool(*route, req);
    }

    Response RunHandler(const Route& route, Request& req) {
        try {
            return route.handler(req);
        } catch (const std::exception& e) {
            logger_.Error("contex.http", "Unhandled exception in handler",
                          {{"request_id", req.request_id},
                           {"endpoint", route.pattern},
                           {"exception", json::object{{"type", "std::exception"},
                                                      {"message", e.what()}}}});
            errors_.WithLabels({"http", "exception"}).Inc();
            return InternalError(req);
        }
    }

    static Response InternalError(const Request& req) {
        std::string body = "{\"detail\":\"Internal Server Error\",\"request_id\":";
        AppendJsonString(body, req.request_id);
        body += '}';
        return Response::Json(500, std::move(body));
    }

    // Runs the handler on the bounded pool and resumes on this connection's strand. The
    // request deadline answers 503 while the handler keeps running to completion (its
    // result is dropped), so a stuck dependency never holds the connection forever.
    awaitable<Response> RunOnPool(const Route& route, Request& req) {
        auto executor = co_await asio::this_coro::executor;
        struct State {
            explicit State(asio::any_io_executor ex) : timer(ex) {}
            asio::steady_timer timer;
            std::optional<Response> result;
        };
        auto state = std::make_shared<State>(executor);
        state->timer.expires_after(options_.request_timeout);
        auto request_copy = std::make_shared<Request>(req);
        auto submitted = pool_.Submit([this, &route, state, request_copy, executor] {
            Response r = RunHandler(route, *request_copy);
            asio::post(executor, [state, r = std::move(r)]() mutable {
                state->result = std::move(r);
                state->timer.cancel();
            });
        });
        if (!submitted.ok()) {
            Response r = Response::Detail(503, "Server busy");
            r.headers.Set("Retry-After", "1");
            co_return r;
        }
        co_await state->timer.async_wait(kTuple);
        if (state->result) co_return std::move(*state->result);
        errors_.WithLabels({"http", "timeout"}).Inc();
        Response r = Response::Detail(503, "Request timed out");
        r.headers.Set("Retry-After", "1");
        co_return r;
    }

    // Headers every response carries (api.md §1.1, §1.7, §1.8, §1.6).
    void Finalize(const Request& req, Response& resp, bool hsts) {
        resp.headers.Set("Date", date_.Now());
        resp.headers.Set("Server", "contex/" + options_.version);
        resp.headers.Set("X-Request-ID", req.request_id);
        AddVersionHeaders(req.path, resp);
        AddSecurityHeaders(req.path, hsts, resp);
        cors_.Decorate(req, resp);
        if (resp.status == 503 && !resp.headers.Has("Retry-After")) {
            resp.headers.Set("Retry-After", "1");
        }
        if (!resp.body.empty() && !resp.headers.Has("Content-Type")) {
            resp.headers.Set("Content-Type", "application/json");
        }
    }

    http::response<http::string_body> ToBeast(Response& resp, unsigned version, bool keep_alive,
                                              bool head) {
        http::response<http::string_body> res;
        res.version(version);
        res.result(static_cast<unsigned>(resp.status));
        for (const auto& [k, v] : resp.headers.items()) res.insert(k, v);
        std::size_t length = resp.body.size();
        if (!head) res.body() = std::move(resp.body);
        if (resp.status != 204 && resp.status >= 200) res.content_length(length);
        res.keep_alive(keep_alive);
        return res;
    }

    void RecordRequest(const Request& req, int status, const std::string& endpoint,
                       double seconds, bool counted, const Route* route, std::size_t bytes_sent) {
        std::string method = MethodLabel(req.method);
        if (counted) {
            // Label children resolved once per (method, endpoint, status) and thread: the
            // hot path then touches only atomics, not the family's mutex and map.
            struct Children {
                obs::Counter* requests;
                obs::Histogram* duration;
            };
            thread_local std::unordered_map<std::string, Children> cache;
            thread_local std::uint64_t cache_owner = 0;
            if (cache_owner != instance_id_) {  // never mix children of two servers
                cache.clear();
                cache_owner = instance_id_;
            }
            std::string key = method + ' ' + endpoint + ' ' + std::to_string(status);
            auto it = cache.find(key);
            if (it == cache.end()) {
                Children c{&requests_total_.WithLabels({method, endpoint, std::to_string(status)}),
                           &duration_.WithLabels({method, endpoint})};
                it = cache.emplace(std::move(key), c).first;
            }
            it->second.requests->Inc();
            it->second.duration->Observe(seconds);
        }
        if (status >= 500) errors_.WithLabels({"http", "5xx"}).Inc();
        bool quiet = route && route->options.quiet;
        obs::LogLevel level = status >= 500 ? obs::LogLevel::kError
                              : quiet       ? obs::LogLevel::kDebug
                                            : obs::LogLevel::kInfo;
        if (!logger_.Enabled(level)) return;
        obs::LogFields fields = {
            {"request_id", req.request_id},
            {"method", req.method},
            {"path", RedactTarget(req.target)},
            {"endpoint", endpoint},
            {"status_code", status},
            {"duration_ms", std::round(seconds * 1e5) / 100},
            {"client_ip", req.remote_address},
            {"user_agent", std::string(req.Header("User-Agent").value_or(""))},
            {"bytes_sent", static_cast<std::int64_t>(bytes_sent)},
        };
        if (status >= 500) {
            fields.emplace_back("error_type", status == 503 ? "unavailable" : "internal");
            logger_.Log(level, "contex.http", "HTTP request failed", std::move(fields));
        } else {
            logger_.Log(level, "contex.http", "HTTP request completed", std::move(fields));
        }
    }

    // Writes an SSE response: headers, then chunks as frames arrive, a comment heartbeat
    // when idle, until the producer closes the stream, the client leaves or shutdown.
    awaitable<void> StreamEvents(beast::tcp_stream& stream, Response& resp) {
        auto sse = resp.stream;
        {
            std::lock_guard lock(streams_mutex_);
            streams_.insert(sse);
        }
        if (draining_) sse->Close();
        http::response<http::empty_body> head{http::status::ok, 11};
        for (const auto& [k, v] : resp.headers.items()) {
            if (!beast::iequals(k, "Content-Type")) head.insert(k, v);
        }
        head.set(http::field::content_type, "text/event-stream");
        head.set(http::field::cache_control, "no-cache");
        head.set(http::field::connection, "keep-alive");
        head.set("X-Accel-Buffering", "no");
        head.chunked(true);
        http::response_serializer<http::empty_body> serializer{head};
        auto [hec, hn] = co_await http::async_write_header(stream, serializer, kTuple);

        auto executor = co_await asio::this_coro::executor;
        auto wake = std::make_shared<asio::steady_timer>(executor);
        auto alive = std::make_shared<std::atomic<bool>>(!hec);
        sse->SetWaker([wake, executor] { asio::post(executor, [wake] { wake->cancel(); }); });
        // Detect the client going away while we only write.
        asio::co_spawn(executor, WatchForDisconnect(stream, wake, alive), asio::detached);

        std::string pending = "retry: 2000\n\n";
        while (alive->load()) {
            bool ending = false;
            for (auto& frame : sse->TakeFrames(ending)) pending += frame;
            if (!pending.empty()) {
                auto [ec, n] = co_await asio::async_write(
                    stream, http::make_chunk(asio::buffer(pending)), kTuple);
                pending.clear();
                if (ec) break;
                continue;  // drain anything queued meanwhile before sleeping
            }
            if (ending) {
                co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
                break;
            }
            wake->expires_after(options_.sse_heartbeat);
            auto [ec] = co_await wake->async_wait(kTuple);
            if (!ec) pending = ": keepalive\n\n";  // timer expired: heartbeat
        }
        alive->store(false);
        sse->Finish();
        {
            std::lock_guard lock(streams_mutex_);
            streams_.erase(sse);
        }
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    }

    awaitable<void> WatchForDisconnect(beast::tcp_stream& stream,
                                       std::shared_ptr<asio::steady_timer> wake,
                                       std::shared_ptr<std::atomic<bool>> alive) {
        char byte;
        while (alive->load()) {
            auto [ec, n] = co_await stream.socket().async_read_some(asio::buffer(&byte, 1), kTuple);
            if (ec) break;
        }
        alive->store(false);
        wake->cancel();
    }

    ServerOptions options_;
    const Router& router_;
    obs::Logger& logger_;
    const Clock& clock_;
    CorsPolicy cors_;
    contex::AddressRanges trusted_;
    asio::io_context ioc_;
    tcp::acceptor acceptor_;
    asio::signal_set signals_;
    asio::steady_timer shutdown_timer_;
    BoundedThreadPool pool_;
    obs::Family<obs::Counter>& requests_total_;
    obs::Family<obs::Histogram>& duration_;
    obs::Gauge& active_gauge_;
    obs::Family<obs::Counter>& errors_;
    HttpDate date_;
    std::function<void()> on_shutdown_initiated_;
    std::uint16_t port_ = 0;
    static inline std::atomic<std::uint64_t> next_instance_id_{1};
    const std::uint64_t instance_id_ = next_instance_id_.fetch_add(1);
    std::atomic<bool> shutdown_started_{false};
    std::atomic<bool> draining_{false};
    std::chrono::steady_clock::time_point shutdown_began_;
    std::atomic<std::size_t> active_requests_{0};
    std::atomic<std::size_t> open_connections_{0};
    mutable std::mutex connections_mutex_;
    std::set<Connection*> connections_;  // guarded by connections_mutex_
    mutable std::mutex streams_mutex_;
    std::set<std::shared_ptr<SseStream>> streams_;  // guarded by streams_mutex_
};

HttpServer::HttpServer(ServerOptions options, const Router& router, obs::Logger& logger,
                       obs::MetricsRegistry& metrics, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), router, logger, metrics, clock)) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Start() { return impl_->Start(); }
std::uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::RunUntilShutdown(std::function<void()> on_shutdown_initiated) {
    impl_->RunUntilShutdown(std::move(on_shutdown_initiated));
}
void HttpServer::RequestShutdown() { impl_->RequestShutdown(); }
std::size_t HttpServer::active_requests() const { return impl_->active_requests(); }
std::size_t HttpServer::open_streams() const { return impl_->open_streams(); }

}  // namespace contex::server
