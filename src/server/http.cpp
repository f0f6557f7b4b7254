#include "server/http.hpp"

#include "common/json.hpp"
#include "common/strings.hpp"

namespace contex::server {

std::optional<std::string_view> Headers::Get(std::string_view name) const {
    for (const auto& [k, v] : items_) {
        if (EqualsIgnoreCase(k, name)) return std::string_view(v);
    }
    return std::nullopt;
}

void Headers::Set(std::string name, std::string value) {
    Remove(name);
    items_.emplace_back(std::move(name), std::move(value));
}

void Headers::Add(std::string name, std::string value) {
    items_.emplace_back(std::move(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
    std::erase_if(items_, [&](const auto& kv) { return EqualsIgnoreCase(kv.first, name); });
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
    for (const auto& [k, v] : query) {
        if (k == name) return std::string_view(v);
    }
    return std::nullopt;
}

std::string_view Request::PathParam(const std::string& name) const {
    auto it = path_params.find(name);
    return it == path_params.end() ? std::string_view() : std::string_view(it->second);
}

Response Response::Json(int status, std::string json_body) {
    Response r;
    r.status = status;
    r.headers.Set("Content-Type", "application/json");
    r.body = std::move(json_body);
    return r;
}

Response Response::Detail(int status, std::string_view detail) {
    std::string body = "{\"detail\":";
    AppendJsonString(body, detail);
    body += '}';
    return Json(status, std::move(body));
}

Response Response::Text(int status, std::string body, std::string content_type) {
    Response r;
    r.status = status;
    r.headers.Set("Content-Type", std::move(content_type));
    r.body = std::move(body);
    return r;
}

std::string_view StatusReason(int status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 413: return "Content Too Large";
        case 422: return "Unprocessable Entity";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "";
    }
}

}  // namespace contex::server
