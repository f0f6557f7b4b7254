#include "notify/redis/redis_options.hpp"

#include <charconv>

#include "common/strings.hpp"

namespace contex::notify {

namespace {

std::optional<int> ParseInt(std::string_view s, int min, int max) {
    int v = 0;
    if (s.empty()) return std::nullopt;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || v < min || v > max) return std::nullopt;
    return v;
}

// host, [v6], host:port, [v6]:port
Result<RedisEndpoint> ParseHostPort(std::string_view text, int default_port) {
    RedisEndpoint e;
    e.port = default_port;
    std::string_view rest = text;
    if (StartsWith(rest, "[")) {
        auto close = rest.find(']');
        if (close == std::string_view::npos) return InvalidArgument("unterminated IPv6 address");
        e.host = std::string(rest.substr(1, close - 1));
        rest = rest.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return InvalidArgument("unexpected text after IPv6 address");
            rest = rest.substr(1);
            auto port = ParseInt(rest, 1, 65535);
            if (!port) return InvalidArgument("invalid port");
            e.port = *port;
        }
    } else {
        auto colon = rest.rfind(':');
        if (colon != std::string_view::npos) {
            auto port = ParseInt(rest.substr(colon + 1), 1, 65535);
            if (!port) return InvalidArgument("invalid port");
            e.port = *port;
            rest = rest.substr(0, colon);
        }
        e.host = std::string(rest);
    }
    return e;
}

}  // namespace

Result<RedisUrl> ParseRedisUrl(std::string_view url) {
    RedisUrl out;
    std::string_view rest;
    std::string lower = ToLowerAscii(url.substr(0, std::min<std::size_t>(url.size(), 9)));
    if (StartsWith(lower, "rediss://")) {
        out.tls = true;
        rest = url.substr(9);
    } else if (StartsWith(lower, "redis://")) {
        rest = url.substr(8);
    } else {
        return InvalidArgument("REDIS_URL must start with redis:// or rediss://");
    }
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    std::string_view path;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        path = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
    }
    if (auto at = rest.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = userinfo.find(':');
        std::string_view user = userinfo.substr(0, colon);
        if (!user.empty()) {
            auto decoded = PercentDecode(user);
            if (!decoded) return InvalidArgument("invalid escape in REDIS_URL user name");
            out.username = *decoded;
        }
        if (colon != std::string_view::npos) {
            auto decoded = PercentDecode(userinfo.substr(colon + 1));
            if (!decoded) return InvalidArgument("invalid escape in REDIS_URL password");
            if (!decoded->empty()) out.password = *decoded;
        }
    }
    if (!rest.empty()) {
        auto endpoint = ParseHostPort(rest, 6379);
        if (!endpoint) return InvalidArgument("REDIS_URL: " + endpoint.error().message);
        if (!endpoint->host.empty()) out.host = endpoint->host;
        out.port = endpoint->port;
    }
    if (!path.empty()) {
        auto db = ParseInt(path, 0, 1 << 20);
        if (!db) return InvalidArgument("REDIS_URL database must be a number");
        out.db = *db;
    }
    for (std::string_view param : Split(query, '&')) {
        auto eq = param.find('=');
        std::string_view key = param.substr(0, eq);
        auto value = PercentDecode(eq == std::string_view::npos ? "" : param.substr(eq + 1));
        if (!value) return InvalidArgument("invalid escape in REDIS_URL query");
        if (key == "db") {
            auto db = ParseInt(*value, 0, 1 << 20);
            if (!db) return InvalidArgument("REDIS_URL db parameter must be a number");
            out.db = *db;
        } else if (key == "ssl_cert_reqs") {
            std::string mode = ToLowerAscii(*value);
            if (mode == "none" || mode == "cert_none") {
                out.tls_verify = false;
            } else if (mode == "optional" || mode == "required" || mode == "cert_optional" ||
                       mode == "cert_required") {
                out.tls_verify = true;
            } else {
                return InvalidArgument(
                    "REDIS_URL ssl_cert_reqs must be none, optional or required");
            }
        } else if (key == "ssl_ca_certs") {
            out.tls_ca_file = *value;
        }
    }
    return out;
}

std::string MaskRedisUrl(std::string_view url) {
    auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return "redis://***";
    std::string_view authority = url.substr(scheme_end + 3);
    auto end = authority.find_first_of("/?");
    auto at = authority.substr(0, end).rfind('@');
    if (at == std::string_view::npos) return std::string(url);
    std::string_view userinfo = authority.substr(0, at);
    auto colon = userinfo.find(':');
    std::string out(url.substr(0, scheme_end + 3));
    if (colon == std::string_view::npos) {
        out += "***";  // a lone userinfo may be a password: never print it
    } else {
        out += userinfo.substr(0, colon);
        out += ":***";
    }
    out += authority.substr(at);
    return out;
}

Result<std::vector<RedisEndpoint>> ParseSentinelHosts(const std::vector<std::string>& hosts) {
    std::vector<RedisEndpoint> out;
    for (const auto& raw : hosts) {
        std::string_view text = TrimView(raw);
        if (text.empty()) continue;
        auto endpoint = ParseHostPort(text, 26379);
        if (!endpoint || endpoint->host.empty()) {
            return InvalidArgument("REDIS_SENTINEL_HOSTS entry is not host[:port]: " +
                                   std::string(text));
        }
        out.push_back(*std::move(endpoint));
    }
    if (out.empty()) return InvalidArgument("REDIS_SENTINEL_HOSTS is empty");
    return out;
}

}  // namespace contex::notify
