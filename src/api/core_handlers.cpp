#include "api/core_handlers.hpp"

#include <chrono>
#include <cmath>
#include <memory>

#include "api/core_codecs.hpp"
#include "api/error_mapping.hpp"
#include "api/validation.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"
#include "engine/toon.hpp"
#include "server/sse.hpp"

namespace contex::api {
namespace {

constexpr char kToonContentType[] = "text/plain; charset=utf-8";

server::Response Ok(const json::value& body) { return server::Response::Json(200, ToJson(body)); }

server::Response Toon(const json::value& body) {
    return server::Response::Text(200, engine::ToToon(body), kToonContentType);
}

// The text of a batch item's failure: the client-facing detail ErrorToResponse would
// give, never an internal message.
std::string BatchErrorText(const Error& error) {
    switch (error.code) {
        case ErrorCode::kInternal:
            return "Internal Server Error";
        case ErrorCode::kCancelled:
            return "Shutting down";
        default:
            return error.message;
    }
}

Clock::MonoTime Monotonic(const ApiContext& context) {
    static const SystemClock kSystemClock;  // stateless fallback when the app gives none
    return (context.clock ? *context.clock : kSystemClock).Monotonic();
}

double ElapsedMs(const ApiContext& context, Clock::MonoTime started) {
    double ms = std::chrono::duration<double, std::milli>(Monotonic(context) - started).count();
    return std::round(ms * 100) / 100;
}

json::object BatchEnvelope(std::size_t total, std::size_t successful, double duration_ms,
                           json::array results) {
    json::object o;
    o["status"] = "completed";
    o["total"] = total;
    o["successful"] = successful;
    o["failed"] = total - successful;
    o["duration_ms"] = duration_ms;
    o["results"] = std::move(results);
    return o;
}

// Where an engine's registration rule violation belongs (api.md §3.5): the engine's
// message names the field it concerns.
Loc RegisterErrorLoc(const Loc& at, std::string_view message) {
    if (StartsWith(message, "notification_channel")) return Extend(at, "notification_channel");
    if (StartsWith(message, "webhook_url")) return Extend(at, "webhook_url");
    return at;
}

json::value RegisterErrorInput(const engine::RegisterRequest& request, std::string_view message) {
    if (StartsWith(message, "notification_channel") && request.notification_channel) {
        return json::string(*request.notification_channel);
    }
    if (StartsWith(message, "webhook_url") && request.webhook_url) {
        return json::string(*request.webhook_url);
    }
    return nullptr;
}

// Literal query parameter with a default (literal_error at ["query", name]).
std::optional<std::string> QueryLiteral(const server::Request& request, std::string_view name,
                                        std::string fallback,
                                        const std::vector<std::string>& allowed,
                                        ValidationErrors& errors) {
    auto raw = request.Query(name);
    if (!raw) return fallback;
    for (const auto& a : allowed) {
        if (*raw == a) return a;
    }
    errors.Literal(LocOf("query", name), json::string(*raw), allowed);
    return std::nullopt;
}

constexpr char kSseGauge[] = "contex_sse_connections";
constexpr char kSseGaugeHelp[] = "Open SSE streams.";

// What an open SSE stream holds until it finishes: the engine subscription and its place
// in contex_sse_connections.
class StreamResources {
  public:
    StreamResources(std::unique_ptr<engine::StreamSubscription> subscription, obs::Gauge* gauge)
        : subscription_(std::move(subscription)), gauge_(gauge) {
        if (gauge_) gauge_->Add(1);
    }
    ~StreamResources() {
        subscription_.reset();  // stop deliveries before the stream counts as closed
        if (gauge_) gauge_->Add(-1);
    }
    StreamResources(const StreamResources&) = delete;
    StreamResources& operator=(const StreamResources&) = delete;

  private:
    std::unique_ptr<engine::StreamSubscription> subscription_;
    obs::Gauge* gauge_;
};

std::string SafeFileName(std::string_view name) {
    std::string out(name);
    for (char& c : out) {
        if (c == '"' || c == '\\' || c == '/') c = '_';
    }
    return out;
}

}  // namespace

void RegisterCoreMetrics(obs::MetricsRegistry& metrics) {
    metrics.AddGauge(kSseGauge, kSseGaugeHelp).Get();
}

// ---- publish ---------------------------------------------------------------------------

server::Response HandlePublish(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto body = ParseJsonBody(request, errors);
    if (!body) return errors.ToResponse();
    auto decoded = DecodePublish(*body, LocOf("body"), errors);
    if (!decoded) return errors.ToResponse();
    auto result = context.engine->Publish(*decoded);
    if (!result.ok()) {
        if (result.error().code == ErrorCode::kInvalidArgument) {
            errors.ValueError(LocOf("body", "data"), decoded->data, result.error().message);
            return errors.ToResponse();
        }
        return ErrorToResponse(result.error(), request);
    }
    return Ok(EncodePublished(*result));
}

server::Response HandleBatchPublish(const ApiContext& context, server::Request& request) {
    auto started = Monotonic(context);
    ValidationErrors errors;
    auto body = ParseJsonBody(request, errors);
    if (!body) return errors.ToResponse();
    auto items =
        DecodeBatch<engine::PublishRequest>(*body, context.max_batch_items, errors, DecodePublish);
    if (!items) return errors.ToResponse();
    json::array results;
    std::size_t successful = 0;
    for (const auto& item : *items) {
        auto result = context.engine->Publish(item);
        json::object r;
        if (result.ok()) {
            ++successful;
            r["status"] = "success";
            r["project_id"] = result->project_id;
            r["data_key"] = result->data_key;
            r["sequence"] = SequenceString(result->sequence);
            r["changed"] = result->changed;
        } else {
            r["status"] = "failed";
            r["project_id"] = item.project_id;
            r["data_key"] = item.data_key;
            r["error"] = BatchErrorText(result.error());
        }
        results.emplace_back(std::move(r));
    }
    return Ok(
        BatchEnvelope(items->size(), successful, ElapsedMs(context, started), std::move(results)));
}

// ---- register ----------------------------------------------------------------------------

server::Response HandleRegister(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto body = ParseJsonBody(request, errors);
    if (!body) return errors.ToResponse();
    auto decoded = DecodeRegister(*body, LocOf("body"), errors);
    if (!decoded) return errors.ToResponse();
    auto result = context.engine->Register(*decoded);
    if (!result.ok()) {
        if (result.error().code == ErrorCode::kInvalidArgument) {
            const std::string& message = result.error().message;
            errors.ValueError(RegisterErrorLoc(LocOf("body"), message),
                              RegisterErrorInput(*decoded, message), message);
            return errors.ToResponse();
        }
        return ErrorToResponse(result.error(), request);
    }
    return Ok(EncodeRegistered(*result));
}

server::Response HandleBatchRegister(const ApiContext& context, server::Request& request) {
    auto started = Monotonic(context);
    ValidationErrors errors;
    auto body = ParseJsonBody(request, errors);
    if (!body) return errors.ToResponse();
    auto items = DecodeBatch<engine::RegisterRequest>(*body, context.max_batch_items, errors,
                                                      DecodeRegister);
    if (!items) return errors.ToResponse();
    json::array results;
    std::size_t successful = 0;
    for (const auto& item : *items) {
        auto result = context.engine->Register(item);
        json::object r;
        if (result.ok()) {
            ++successful;
            r["status"] = "success";
            r["agent_id"] = result->agent_id;
            r["project_id"] = result->project_id;
            r["matched_needs"] = MatchedNeeds(result->matched_needs);
            r["notification_channel"] = result->notification_channel;
        } else {
            r["status"] = "failed";
            r["agent_id"] = item.agent_id;
            r["project_id"] = item.project_id;
            r["error"] = BatchErrorText(result.error());
        }
        results.emplace_back(std::move(r));
    }
    return Ok(
        BatchEnvelope(items->size(), successful, ElapsedMs(context, started), std::move(results)));
}

// ---- agents ------------------------------------------------------------------------------

server::Response HandleUnregister(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto agent = PathIdentifier(request, "agent_id", errors);
    if (!agent) return errors.ToResponse();
    if (auto status = context.engine->Unregister(*agent); !status.ok()) {
        return ErrorToResponse(status.error(), request);
    }
    json::object o;
    o["status"] = "unregistered";
    o["agent_id"] = *agent;
    return Ok(o);
}

server::Response HandleListAgents(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto project = QueryIdentifier(request, "project_id", errors);
    if (!errors.empty()) return errors.ToResponse();
    auto agents = context.engine->ListAgents(project);
    if (!agents.ok()) return ErrorToResponse(agents.error(), request);
    return Ok(EncodeAgentList(*agents));
}

server::Response HandleGetAgent(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto agent = PathIdentifier(request, "agent_id", errors);
    if (!agent) return errors.ToResponse();
    auto result = context.engine->GetAgent(*agent);
    if (!result.ok()) return ErrorToResponse(result.error(), request);
    return Ok(*result);
}

server::Response HandleAgentContext(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto agent = PathIdentifier(request, "agent_id", errors);
    auto format = QueryLiteral(request, "format", "json", {"json", "toon"}, errors);
    if (!errors.empty()) return errors.ToResponse();
    auto result = context.engine->GetContext(*agent);
    if (!result.ok()) return ErrorToResponse(result.error(), request);
    json::object body = EncodeContext(*result);
    return *format == "toon" ? Toon(body) : Ok(body);
}

server::Response HandleAgentStatus(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto agent = PathIdentifier(request, "agent_id", errors);
    if (!agent) return errors.ToResponse();
    auto result = context.engine->GetStatus(*agent);
    if (!result.ok()) return ErrorToResponse(result.error(), request);
    return Ok(*result);
}

server::Response HandleAgentStream(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto agent = PathIdentifier(request, "agent_id", errors);
    // The header wins over the query alternative (browsers reconnect with the header).
    std::optional<std::int64_t> cursor;
    auto header = request.Header("Last-Event-ID");
    auto raw = header ? header : request.Query("last_event_id");
    if (raw) {
        std::string_view text = TrimView(*raw);
        if (!text.empty() && text.find('-') == std::string_view::npos) {
            cursor = ParseSequenceCursor(text);
            if (!cursor) {
                errors.IntParsing(
                    header ? LocOf("header", "last-event-id") : LocOf("query", "last_event_id"),
                    json::string(*raw));
            }
        }
    }
    if (!errors.empty()) return errors.ToResponse();

    auto stream = std::make_shared<server::SseStream>();
    // The engine's delivery callback must not keep the stream alive: the stream owns the
    // subscription (through its finish callback), not the other way round.
    std::weak_ptr<server::SseStream> weak = stream;
    auto subscription =
        context.engine->OpenStream(*agent, cursor, [weak](const engine::AgentMessage& message) {
            auto s = weak.lock();
            if (!s) return;
            s->Send(server::SseStream::Frame(SequenceString(message.sequence), message.type,
                                             message.json));
            if (message.type == "unregistered") s->Close();
        });
    if (!subscription.ok()) return ErrorToResponse(subscription.error(), request);
    obs::Gauge* gauge =
        context.metrics ? &context.metrics->AddGauge(kSseGauge, kSseGaugeHelp).Get() : nullptr;
    // Released when the stream finishes, or with the stream if it is never served.
    auto held = std::make_shared<StreamResources>(std::move(*subscription), gauge);
    stream->SetOnFinished([held]() mutable { held.reset(); });
    server::Response response;
    response.status = 200;
    response.headers.Set("Content-Type", "text/event-stream");
    response.stream = std::move(stream);
    return response;
}

// ---- projects ----------------------------------------------------------------------------

server::Response HandleQuery(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto project = PathIdentifier(request, "project_id", errors);
    auto body = ParseJsonBody(request, errors);
    if (!body) return errors.ToResponse();
    auto decoded = DecodeQuery(project.value_or(""), *body, errors);
    if (!errors.empty()) return errors.ToResponse();
    auto result = context.engine->Query(*decoded);
    if (!result.ok()) return ErrorToResponse(result.error(), request);
    json::object out = EncodeQueryResult(*result);
    return decoded->toon ? Toon(out) : Ok(out);
}

server::Response HandleEvents(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto project = PathIdentifier(request, "project_id", errors);
    auto query = DecodeEventQuery(request, project.value_or(""), errors);
    if (!errors.empty()) return errors.ToResponse();
    auto events = context.engine->ListEvents(*query);
    if (!events.ok()) return ErrorToResponse(events.error(), request);
    return Ok(EncodeEvents(std::move(*events)));
}

server::Response HandleProjectData(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto project = PathIdentifier(request, "project_id", errors);
    bool include_content = QueryFlag(request, "include_content", true, errors);
    auto format = QueryLiteral(request, "format", "json", {"json", "toon"}, errors);
    auto data_key = QueryIdentifier(request, "data_key", errors);
    engine::ExportRequest exported;
    exported.include_events = QueryFlag(request, "include_events", false, errors);
    exported.include_embeddings = QueryFlag(request, "include_embeddings", false, errors);
    exported.include_agents = QueryFlag(request, "include_agents", false, errors);
    if (!errors.empty()) return errors.ToResponse();
    const bool toon = *format == "toon";

    if (exported.include_events || exported.include_embeddings || exported.include_agents) {
        exported.project_id = *project;
        exported.data_key = data_key;
        auto document = context.engine->Export(exported);
        if (!document.ok()) return ErrorToResponse(document.error(), request);
        server::Response response =
            toon ? Toon(*document) : server::Response::Json(200, ToPrettyJson(*document));
        response.headers.Set("Content-Disposition", "attachment; filename=\"" +
                                                        SafeFileName(*project) + "-export." +
                                                        (toon ? "toon" : "json") + "\"");
        return response;
    }
    if (!include_content) {
        auto keys = context.engine->ListDataKeys(*project);
        if (!keys.ok()) return ErrorToResponse(keys.error(), request);
        json::array data_keys;
        for (const auto& k : *keys) {
            if (!data_key || k == *data_key) data_keys.emplace_back(json::string(k));
        }
        json::object o;
        o["project_id"] = *project;
        std::size_t count = data_keys.size();
        o["data_keys"] = std::move(data_keys);
        o["count"] = count;
        return toon ? Toon(o) : Ok(o);
    }
    auto nodes = context.engine->ListProjectNodes(*project, data_key);
    if (!nodes.ok()) return ErrorToResponse(nodes.error(), request);
    return toon ? Toon(*nodes) : Ok(*nodes);
}

server::Response HandleImport(const ApiContext& context, server::Request& request) {
    ValidationErrors errors;
    auto project = PathIdentifier(request, "project_id", errors);
    engine::ImportRequest import;
    import.validate_only = QueryFlag(request, "validate_only", false, errors);
    import.overwrite = QueryFlag(request, "overwrite", false, errors);
    if (!errors.empty()) return errors.ToResponse();
    std::string_view format = request.Query("format").value_or("json");
    if (format != "json" && format != "toon") {
        return server::Response::Detail(400, "Format must be 'json' or 'toon'");
    }
    if (format == "toon") {
        auto parsed = engine::ParseToon(request.body);
        if (!parsed.ok()) {
            return server::Response::Detail(400, "Invalid document: " + parsed.error().message);
        }
        import.document = std::move(*parsed);
    } else {
        JsonParseFailure failure;
        auto parsed = ParseJson(request.body, &failure);
        if (!parsed.ok()) {
            std::string reason = failure.reason.empty() ? parsed.error().message : failure.reason;
            return server::Response::Detail(400, "Invalid document: " + reason);
        }
        import.document = std::move(*parsed);
    }
    import.project_id = *project;
    auto outcome = context.engine->Import(import);
    if (!outcome.ok()) return ErrorToResponse(outcome.error(), request);

    const json::value* valid = outcome->validation.if_contains("valid");
    if (!valid || !valid->is_bool() || !valid->get_bool()) {
        json::object o;
        o["detail"] = "Data validation failed";
        o["validation"] = outcome->validation;
        return server::Response::Json(400, ToJson(o));
    }
    json::object o;
    o["status"] = "success";
    if (import.validate_only || !outcome->imported) {
        o["validation"] = outcome->validation;
        o["message"] = "Validation passed (no data imported)";
        return Ok(o);
    }
    json::object stats;
    stats["project_id"] = *project;
    for (const auto& [k, v] : outcome->stats) {
        if (k != "project_id") stats[k] = v;
    }
    o["stats"] = std::move(stats);
    o["validation"] = outcome->validation;
    return Ok(o);
}

}  // namespace contex::api
