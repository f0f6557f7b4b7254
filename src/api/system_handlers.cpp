#include "api/system_handlers.hpp"

#include <cmath>

#include "common/crypto.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"
#include "common/time_format.hpp"

namespace contex::api {

server::Response HandleRoot(const ApiContext& context, server::Request&) {
    json::object body;
    body["service"] = "Contex";
    body["status"] = "running";
    body["version"] = context.version;
    body["api"] = "/api/v1";
    body["health"] = "/api/v1/health";
    return server::Response::Json(200, ToJson(body));
}

server::Response HandleBareHealth(const ApiContext& context, server::Request&) {
    std::string body = "{\"status\":\"healthy\",\"service\":\"contex\",\"version\":";
    AppendJsonString(body, context.version);
    body += '}';
    return server::Response::Json(200, std::move(body));
}

server::Response HandleHealth(const ApiContext& context, server::Request&) {
    auto report = context.health->CheckAll();
    int status = report.overall == obs::HealthStatus::kUnhealthy ? 503 : 200;
    return server::Response::Json(status, ToJson(report.body));
}

server::Response HandleReady(const ApiContext& context, server::Request&) {
    auto report = context.health->CheckReady();
    int status = report.overall == obs::HealthStatus::kHealthy ? 200 : 503;
    return server::Response::Json(status, ToJson(report.body));
}

server::Response HandleLive(const ApiContext& context, server::Request&) {
    json::object body;
    body["alive"] = true;
    body["timestamp"] = FormatIsoUtc(std::chrono::system_clock::now());
    body["uptime_seconds"] = std::round(context.health->uptime_seconds() * 100) / 100;
    return server::Response::Json(200, ToJson(body));
}

server::Response HandleMetrics(const ApiContext& context, server::Request& request) {
    if (!context.metrics_enabled) return server::Response::Detail(404, "Not Found");
    if (context.metrics_token) {
        auto auth = request.Header("Authorization").value_or("");
        std::string expected = "Bearer " + *context.metrics_token;
        if (!ConstantTimeEquals(TrimView(auth), expected)) {
            return server::Response::Detail(401, "Invalid or missing metrics token");
        }
    }
    return server::Response::Text(200, context.metrics->Render(),
                                  "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace contex::api
