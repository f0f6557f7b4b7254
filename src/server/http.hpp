// Transport-level HTTP types shared by the server and the handlers. Deliberately free
// of Beast/Asio so handler code stays light to compile; the server converts at the edge.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace contex::server {

class SseStream;

// Case-insensitive header list that keeps insertion order.
class Headers {
public:
    std::optional<std::string_view> Get(std::string_view name) const;
    // Replaces every existing value of `name`.
    void Set(std::string name, std::string value);
    void Add(std::string name, std::string value);
    void Remove(std::string_view name);
    bool Has(std::string_view name) const { return Get(name).has_value(); }
    const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

private:
    std::vector<std::pair<std::string, std::string>> items_;
};

struct Request {
    std::string method;  // upper-case token as received ("GET")
    std::string target;  // raw request target
    std::string path;    // raw path, no query string
    std::vector<std::pair<std::string, std::string>> query;  // percent-decoded
    Headers headers;
    std::string body;
    std::string remote_address;

    // Filled by the server before the handler runs.
    std::string request_id;
    std::string route_template;                     // "/api/v1/agents/{agent_id}" or ""
    std::map<std::string, std::string> path_params;  // percent-decoded segments

    // First value of a query parameter.
    std::optional<std::string_view> Query(std::string_view name) const;
    std::optional<std::string_view> Header(std::string_view name) const {
        return headers.Get(name);
    }
    std::string_view PathParam(const std::string& name) const;
};

struct Response {
    int status = 200;
    Headers headers;
    std::string body;
    // When set, the response is a Server-Sent Events stream fed by this object; `body`
    // is ignored.
    std::shared_ptr<SseStream> stream;

    static Response Json(int status, std::string json_body);
    // {"detail":"<text>"}
    static Response Detail(int status, std::string_view detail);
    static Response Text(int status, std::string body, std::string content_type);
};

std::string_view StatusReason(int status);

}  // namespace contex::server
