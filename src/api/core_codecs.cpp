#include "api/core_codecs.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

#include "common/strings.hpp"
#include "ingest/ingest.hpp"

namespace contex::api {
namespace {

constexpr std::size_t kMaxNeeds = 100;
constexpr std::size_t kMaxNeedChars = 2000;
constexpr std::size_t kMaxChannelChars = 255;
constexpr std::size_t kMaxSecretChars = 1024;
constexpr std::size_t kMaxQueryChars = 10000;
constexpr std::size_t kMaxUrlChars = 2083;
constexpr char kSequenceMessage[] = "last_seen_sequence must be a decimal integer";

// The field when present and not null ("null = absent", api.md §1.2).
const json::value* Optional(const json::object& object, std::string_view name) {
    const json::value* v = object.if_contains(name);
    return (v && !v->is_null()) ? v : nullptr;
}

// A string field of bounded length (Unicode characters). Adds string_type /
// string_too_short / string_too_long.
std::optional<std::string> BoundedString(const json::value& value, const Loc& loc, std::size_t min,
                                         std::size_t max, ValidationErrors& errors) {
    if (!value.is_string()) {
        errors.StringType(loc, value);
        return std::nullopt;
    }
    std::string_view s = value.get_string();
    std::size_t length = Utf8Length(s);
    if (length < min) {
        errors.StringTooShort(loc, value, min);
        return std::nullopt;
    }
    if (length > max) {
        errors.StringTooLong(loc, value, max);
        return std::nullopt;
    }
    return std::string(s);
}

// A literal string field ("redis" | "webhook", response formats).
std::optional<std::string> LiteralField(const json::value& value, const Loc& loc,
                                        const std::vector<std::string>& allowed,
                                        ValidationErrors& errors) {
    if (value.is_string()) {
        for (const auto& a : allowed) {
            if (value.get_string() == a) return a;
        }
    }
    errors.Literal(loc, value, allowed);
    return std::nullopt;
}

// An integer field within [min, max] with pydantic coercion.
std::optional<long long> BoundedInt(const json::value& value, const Loc& loc, long long min,
                                    long long max, ValidationErrors& errors) {
    auto v = CoerceInt(value, loc, errors);
    if (!v) return std::nullopt;
    if (*v < min) {
        errors.GreaterThanEqual(loc, value, static_cast<double>(min));
        return std::nullopt;
    }
    if (*v > max) {
        errors.LessThanEqual(loc, value, static_cast<double>(max));
        return std::nullopt;
    }
    return v;
}

bool AllDigits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

std::optional<std::int64_t> ParseDigits(std::string_view s) {
    if (!AllDigits(s)) return std::nullopt;
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

// last_seen_sequence (api.md §3.5): a string or an integer.
std::optional<std::int64_t> LastSeenSequence(const json::value& value, const Loc& loc,
                                             ValidationErrors& errors) {
    if (value.is_string()) {
        if (auto v = ParseSequenceCursor(value.get_string())) return v;
    } else if (value.is_int64()) {
        return value.get_int64() < 0 ? 0 : value.get_int64();
    } else if (value.is_uint64()) {
        if (value.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
            return static_cast<std::int64_t>(value.get_uint64());
        }
    } else if (value.is_double()) {
        double d = value.get_double();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
            return d < 0 ? 0 : static_cast<std::int64_t>(d);
        }
    }
    errors.ValueError(loc, value, kSequenceMessage);
    return std::nullopt;
}

void UrlParsing(ValidationErrors& errors, const Loc& loc, const json::value& input,
                std::string_view reason) {
    json::object ctx;
    ctx["error"] = reason;
    errors.Add("url_parsing", loc, "Input should be a valid URL, " + std::string(reason), input,
               std::move(ctx));
}

}  // namespace

const std::vector<std::string>& ResponseFormats() {
    static const std::vector<std::string> kFormats = {"json", "yaml",     "toml", "csv",
                                                      "xml",  "markdown", "toon", "text"};
    return kFormats;
}

void AddTooShortList(ValidationErrors& errors, Loc loc, json::value input, std::size_t min,
                     std::size_t actual) {
    json::object ctx;
    ctx["field_type"] = "List";
    ctx["min_length"] = min;
    ctx["actual_length"] = actual;
    errors.Add("too_short", std::move(loc),
               "List should have at least " + std::to_string(min) +
                   (min == 1 ? " item" : " items") + " after validation, not " +
                   std::to_string(actual),
               std::move(input), std::move(ctx));
}

// ---- bodies -------------------------------------------------------------------------

std::optional<engine::PublishRequest> DecodePublish(const json::value& body, const Loc& at,
                                                    ValidationErrors& errors) {
    if (!body.is_object()) {
        errors.ModelAttributesType(at, body);
        return std::nullopt;
    }
    const auto& o = body.get_object();
    const std::size_t before = errors.items().size();
    engine::PublishRequest request;
    auto project =
        ValidateIdentifier(o.if_contains("project_id"), Extend(at, "project_id"), errors, body);
    auto key = ValidateIdentifier(o.if_contains("data_key"), Extend(at, "data_key"), errors, body);
    if (const json::value* data = o.if_contains("data")) {
        request.data = *data;
    } else {
        errors.Missing(Extend(at, "data"), body);
    }
    if (const json::value* format = Optional(o, "data_format")) {
        if (!format->is_string()) {
            errors.StringType(Extend(at, "data_format"), *format);
        } else if (TrimView(format->get_string()).empty()) {
            // A blank hint means "detect", like null.
        } else if (auto known = ingest::ResolveHint(format->get_string()); !known.ok()) {
            errors.ValueError(Extend(at, "data_format"), *format, known.error().message);
        } else {
            request.data_format = ToLowerAscii(TrimView(format->get_string()));
        }
    }
    if (const json::value* event_type = Optional(o, "event_type")) {
        request.event_type = ValidateIdentifier(event_type, Extend(at, "event_type"), errors, body);
    }
    if (errors.items().size() != before) return std::nullopt;
    request.project_id = std::move(*project);
    request.data_key = std::move(*key);
    return request;
}

std::optional<engine::RegisterRequest> DecodeRegister(const json::value& body, const Loc& at,
                                                      ValidationErrors& errors) {
    if (!body.is_object()) {
        errors.ModelAttributesType(at, body);
        return std::nullopt;
    }
    const auto& o = body.get_object();
    const std::size_t before = errors.items().size();
    engine::RegisterRequest request;
    auto agent =
        ValidateIdentifier(o.if_contains("agent_id"), Extend(at, "agent_id"), errors, body);
    auto project =
        ValidateIdentifier(o.if_contains("project_id"), Extend(at, "project_id"), errors, body);

    const Loc needs_loc = Extend(at, "data_needs");
    if (const json::value* needs = o.if_contains("data_needs"); !needs) {
        errors.Missing(needs_loc, body);
    } else if (!needs->is_array()) {
        errors.ListType(needs_loc, *needs);
    } else if (needs->get_array().size() > kMaxNeeds) {
        errors.TooLong(needs_loc, *needs, kMaxNeeds, needs->get_array().size());
    } else {
        const auto& items = needs->get_array();
        for (std::size_t i = 0; i < items.size(); ++i) {
            auto need = BoundedString(items[i], Extend(needs_loc, static_cast<std::int64_t>(i)), 1,
                                      kMaxNeedChars, errors);
            if (need) request.data_needs.push_back(std::move(*need));
        }
    }

    bool method_known = true;
    if (const json::value* method = Optional(o, "notification_method")) {
        auto m =
            LiteralField(*method, Extend(at, "notification_method"), {"redis", "webhook"}, errors);
        if (m) {
            request.notification_method = *m;
        } else {
            method_known = false;
        }
    }

    if (const json::value* channel = Optional(o, "notification_channel")) {
        const Loc loc = Extend(at, "notification_channel");
        if (!channel->is_string()) {
            errors.StringType(loc, *channel);
        } else {
            std::string_view c = channel->get_string();
            std::size_t length = Utf8Length(c);
            if (length < 1 || length > kMaxChannelChars) {
                errors.ValueError(loc, *channel, "notification_channel must be 1-255 characters");
            } else if (agent && !StartsWith(c, "agent:" + *agent + ":")) {
                errors.ValueError(loc, *channel,
                                  "notification_channel must start with 'agent:" + *agent + ":'");
            } else {
                request.notification_channel = std::string(c);
            }
        }
    }

    const json::value* url = Optional(o, "webhook_url");
    if (url) request.webhook_url = ValidateWebhookUrl(*url, Extend(at, "webhook_url"), errors);

    if (const json::value* secret = Optional(o, "webhook_secret")) {
        request.webhook_secret =
            BoundedString(*secret, Extend(at, "webhook_secret"), 1, kMaxSecretChars, errors);
    }
    if (const json::value* seen = Optional(o, "last_seen_sequence")) {
        if (auto v = LastSeenSequence(*seen, Extend(at, "last_seen_sequence"), errors)) {
            request.last_seen_sequence = *v;
        }
    }
    if (const json::value* format = Optional(o, "response_format")) {
        if (auto f =
                LiteralField(*format, Extend(at, "response_format"), ResponseFormats(), errors)) {
            request.response_format = *f;
        }
    }
    if (method_known && request.notification_method == "webhook" && !url) {
        errors.ValueError(Extend(at, "webhook_url"), nullptr,
                          "webhook_url is required when notification_method='webhook'");
    }
    if (errors.items().size() != before) return std::nullopt;
    request.agent_id = std::move(*agent);
    request.project_id = std::move(*project);
    return request;
}

std::optional<engine::QueryRequest> DecodeQuery(std::string project_id, const json::value& body,
                                                ValidationErrors& errors) {
    const Loc at = LocOf("body");
    if (!body.is_object()) {
        errors.ModelAttributesType(at, body);
        return std::nullopt;
    }
    const auto& o = body.get_object();
    const std::size_t before = errors.items().size();
    engine::QueryRequest request;
    request.project_id = std::move(project_id);
    if (const json::value* query = o.if_contains("query"); !query) {
        errors.Missing(Extend(at, "query"), body);
    } else if (auto q = BoundedString(*query, Extend(at, "query"), 1, kMaxQueryChars, errors)) {
        request.query = std::move(*q);
    }
    std::optional<long long> top_k;
    std::optional<long long> max_results;
    if (const json::value* v = Optional(o, "top_k")) {
        top_k = BoundedInt(*v, Extend(at, "top_k"), 1, 100, errors);
    }
    if (const json::value* v = Optional(o, "max_results")) {
        max_results = BoundedInt(*v, Extend(at, "max_results"), 1, 100, errors);
    }
    if (top_k) {
        request.top_k = static_cast<int>(*top_k);
    } else if (max_results && !Optional(o, "top_k")) {
        request.top_k = static_cast<int>(*max_results);
    }
    if (const json::value* v = Optional(o, "threshold")) {
        const Loc loc = Extend(at, "threshold");
        if (auto t = CoerceNumber(*v, loc, errors)) {
            if (*t < 0) {
                errors.GreaterThanEqual(loc, *v, 0);
            } else if (*t > 1) {
                errors.LessThanEqual(loc, *v, 1);
            } else {
                request.threshold = *t;
            }
        }
    }
    if (const json::value* v = Optional(o, "max_tokens")) {
        if (auto t = BoundedInt(*v, Extend(at, "max_tokens"), 1000, 128000, errors)) {
            request.max_tokens = static_cast<int>(*t);
        }
    }
    if (const json::value* v = Optional(o, "response_format")) {
        if (auto f = LiteralField(*v, Extend(at, "response_format"), ResponseFormats(), errors)) {
            request.toon = *f == "toon";
        }
    }
    if (errors.items().size() != before) return std::nullopt;
    return request;
}

std::optional<std::string> ValidateWebhookUrl(const json::value& value, const Loc& loc,
                                              ValidationErrors& errors) {
    if (!value.is_string()) {
        errors.StringType(loc, value);
        return std::nullopt;
    }
    std::string_view s = value.get_string();
    if (Utf8Length(s) > kMaxUrlChars) {
        json::object ctx;
        ctx["max_length"] = kMaxUrlChars;
        errors.Add("url_too_long", loc, "URL should have at most 2083 characters", value,
                   std::move(ctx));
        return std::nullopt;
    }
    // scheme ":" ... (RFC 3986 scheme syntax); anything else is relative.
    std::size_t colon = s.find(':');
    bool has_scheme = colon != std::string_view::npos && colon > 0 &&
                      std::isalpha(static_cast<unsigned char>(s[0]));
    for (std::size_t i = 0; has_scheme && i < colon; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') has_scheme = false;
    }
    if (!has_scheme) {
        UrlParsing(errors, loc, value, "relative URL without a base");
        return std::nullopt;
    }
    std::string scheme = ToLowerAscii(s.substr(0, colon));
    if (scheme != "http" && scheme != "https") {
        json::object ctx;
        ctx["expected_schemes"] = "'http' or 'https'";
        errors.Add("url_scheme", loc, "URL scheme should be 'http' or 'https'", value,
                   std::move(ctx));
        return std::nullopt;
    }
    std::string_view rest = s.substr(colon + 1);
    while (!rest.empty() && (rest.front() == '/' || rest.front() == '\\')) rest.remove_prefix(1);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#\\"));
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority.remove_prefix(at + 1);
    }
    std::string_view host = authority;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) {
            UrlParsing(errors, loc, value, "invalid IPv6 address");
            return std::nullopt;
        }
        host = authority.substr(0, close + 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                UrlParsing(errors, loc, value, "invalid IPv6 address");
                return std::nullopt;
            }
            port = after.substr(1);
        }
    } else if (auto c = authority.rfind(':'); c != std::string_view::npos) {
        host = authority.substr(0, c);
        port = authority.substr(c + 1);
    }
    if (host.empty()) {
        UrlParsing(errors, loc, value, "empty host");
        return std::nullopt;
    }
    if (!port.empty()) {
        auto p = ParseDigits(port);
        if (!p || *p > 65535) {
            UrlParsing(errors, loc, value, "invalid port number");
            return std::nullopt;
        }
    }
    return std::string(s);
}

// ---- path and query -----------------------------------------------------------------

std::optional<std::string> PathIdentifier(const server::Request& request, const std::string& name,
                                          ValidationErrors& errors) {
    json::value value = json::string(request.PathParam(name));
    return ValidateIdentifier(&value, LocOf("path", name), errors, nullptr);
}

std::optional<std::string> QueryIdentifier(const server::Request& request, std::string_view name,
                                           ValidationErrors& errors) {
    auto raw = request.Query(name);
    if (!raw) return std::nullopt;
    json::value value = json::string(*raw);
    return ValidateIdentifier(&value, LocOf("query", name), errors, nullptr);
}

bool QueryFlag(const server::Request& request, std::string_view name, bool fallback,
               ValidationErrors& errors) {
    auto raw = request.Query(name);
    if (!raw) return fallback;
    return QueryBool(*raw, LocOf("query", name), errors).value_or(fallback);
}

std::optional<std::int64_t> ParseSequenceCursor(std::string_view text) {
    if (text.empty() || text.find('-') != std::string_view::npos) return 0;
    return ParseDigits(text);
}

std::optional<engine::EventQuery> DecodeEventQuery(const server::Request& request,
                                                   std::string project_id,
                                                   ValidationErrors& errors) {
    const std::size_t before = errors.items().size();
    engine::EventQuery query;
    query.project_id = std::move(project_id);
    if (auto since = request.Query("since")) {
        if (auto v = ParseSequenceCursor(*since)) {
            query.since = *v;
        } else {
            errors.IntParsing(LocOf("query", "since"), json::string(*since));
        }
    }
    if (auto count = request.Query("count")) {
        const Loc loc = LocOf("query", "count");
        if (auto v = QueryInt(*count, loc, errors)) {
            if (*v < 1) {
                errors.GreaterThanEqual(loc, json::string(*count), 1);
            } else if (*v > 1000) {
                errors.LessThanEqual(loc, json::string(*count), 1000);
            } else {
                query.count = static_cast<int>(*v);
            }
        }
    }
    query.data_key = QueryIdentifier(request, "data_key", errors);
    query.event_type = QueryIdentifier(request, "event_type", errors);
    if (errors.items().size() != before) return std::nullopt;
    return query;
}

// ---- encoders -----------------------------------------------------------------------

std::string SequenceString(std::int64_t sequence) { return std::to_string(sequence); }

std::string EncodePathSegment(std::string_view segment) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(segment.size());
    for (unsigned char c : segment) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

json::object MatchedNeeds(const std::vector<std::pair<std::string, int>>& matched_needs) {
    json::object out;
    for (const auto& [need, count] : matched_needs) out[need] = count;
    return out;
}

json::object EncodePublished(const engine::PublishResult& result) {
    json::object o;
    o["status"] = "published";
    o["project_id"] = result.project_id;
    o["data_key"] = result.data_key;
    o["sequence"] = SequenceString(result.sequence);
    o["changed"] = result.changed;
    o["format"] = result.format;
    o["node_count"] = result.node_count;
    json::array warnings;
    for (const auto& w : result.warnings) warnings.emplace_back(json::string(w));
    o["warnings"] = std::move(warnings);
    return o;
}

json::object EncodeRegistered(const engine::RegisterResult& result) {
    const std::string base = "/api/v1/agents/" + EncodePathSegment(result.agent_id);
    json::object o;
    o["status"] = "registered";
    o["agent_id"] = result.agent_id;
    o["project_id"] = result.project_id;
    o["caught_up_events"] = result.caught_up_events;
    o["current_sequence"] = SequenceString(result.current_sequence);
    o["matched_needs"] = MatchedNeeds(result.matched_needs);
    o["notification_channel"] = result.notification_channel;
    o["context_url"] = base + "/context";
    o["stream_url"] = base + "/stream";
    return o;
}

json::object EncodeQueryResult(const engine::QueryResult& result) {
    json::object o;
    o["query"] = result.query;
    o["matches"] = result.matches;
    o["total_matches"] = result.matches.size();
    return o;
}

json::object EncodeContext(const engine::AgentContext& context) {
    json::object o;
    o["agent_id"] = context.agent_id;
    o["project_id"] = context.project_id;
    o["sequence"] = SequenceString(context.sequence);
    o["format"] = context.format;
    o["context"] = context.context;
    o["matched_needs"] = MatchedNeeds(context.matched_needs);
    return o;
}

json::object EncodeAgentList(const std::vector<std::string>& agent_ids) {
    json::array agents;
    for (const auto& id : agent_ids) agents.emplace_back(json::string(id));
    json::object o;
    o["agents"] = std::move(agents);
    o["count"] = agent_ids.size();
    return o;
}

json::object EncodeEvents(json::array events) {
    json::object o;
    std::size_t count = events.size();
    o["events"] = std::move(events);
    o["count"] = count;
    return o;
}

}  // namespace contex::api
