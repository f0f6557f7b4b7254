#include "server/router.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "common/strings.hpp"

namespace contex::server {
namespace {

std::vector<std::string> SplitPattern(std::string_view pattern) {
    std::vector<std::string> out;
    for (auto part : Split(pattern, '/')) {
        if (!part.empty()) out.emplace_back(part);
    }
    return out;
}

// Raw path -> decoded segments; nullopt when a segment has a bad escape. Empty
// segments in the middle are kept (they only match nothing); a trailing slash is not.
std::optional<std::vector<std::string>> SplitPath(std::string_view path) {
    std::vector<std::string> out;
    if (path.empty() || path[0] != '/') return std::nullopt;
    auto parts = Split(path.substr(1), '/');
    if (!parts.empty() && parts.back().empty()) parts.pop_back();
    for (auto part : parts) {
        auto decoded = PercentDecode(part);
        if (!decoded) return std::nullopt;
        out.push_back(std::move(*decoded));
    }
    return out;
}

bool IsParam(const std::string& segment) {
    return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

bool PathMatches(const Route& route, const std::vector<std::string>& segments) {
    if (route.segments.size() != segments.size()) return false;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (IsParam(route.segments[i])) {
            if (segments[i].empty()) return false;
        } else if (route.segments[i] != segments[i]) {
            return false;
        }
    }
    return true;
}

// True when a is more specific than b: at the first segment where they differ in kind,
// a has the literal.
bool MoreSpecific(const Route& a, const Route& b) {
    for (std::size_t i = 0; i < a.segments.size(); ++i) {
        bool pa = IsParam(a.segments[i]);
        bool pb = IsParam(b.segments[i]);
        if (pa != pb) return !pa;
    }
    return false;
}

std::string JoinAllow(const std::set<std::string>& methods) {
    std::string out;
    for (const auto& m : methods) {
        if (!out.empty()) out += ", ";
        out += m;
    }
    return out;
}

}  // namespace

void Router::AddApi(std::string method, std::string_view pattern, Handler handler,
                    RouteOptions options) {
    if (options.legacy) {
        Add(method, std::string(kLegacyPrefix) + std::string(pattern), handler, options);
    }
    Add(std::move(method), std::string(kApiPrefix) + std::string(pattern), std::move(handler),
        options);
}

void Router::Add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
    auto route = std::make_unique<Route>();
    route->method = std::move(method);
    route->segments = SplitPattern(pattern);
    route->pattern = pattern.empty() ? "/" : std::move(pattern);
    route->handler = std::move(handler);
    route->options = options;
    route->id = routes_.size();
    routes_.push_back(std::move(route));
}

Router::Match Router::Find(std::string_view method, std::string_view raw_path) const {
    Match match;
    auto segments = SplitPath(raw_path);
    if (!segments) return match;
    std::string_view wanted = method == "HEAD" ? std::string_view("GET") : method;
    const Route* best = nullptr;
    std::set<std::string> allowed;
    for (const auto& route : routes_) {
        if (!PathMatches(*route, *segments)) continue;
        allowed.insert(route->method);
        if (route->method != wanted) continue;
        if (!best || MoreSpecific(*route, *best)) best = route.get();
    }
    if (best) {
        match.outcome = Outcome::kFound;
        match.route = best;
        for (std::size_t i = 0; i < best->segments.size(); ++i) {
            const auto& s = best->segments[i];
            if (IsParam(s)) match.params[s.substr(1, s.size() - 2)] = (*segments)[i];
        }
        return match;
    }
    if (!allowed.empty()) {
        if (allowed.count("GET")) allowed.insert("HEAD");
        allowed.insert("OPTIONS");
        match.outcome = Outcome::kMethodNotAllowed;
        match.allow = JoinAllow(allowed);
    }
    return match;
}

std::string Router::AllowedMethods(std::string_view raw_path) const {
    auto m = Find("\x01", raw_path);
    return m.allow;
}

}  // namespace contex::server
