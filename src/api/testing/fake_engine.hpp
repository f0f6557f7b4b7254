// A scripted engine::Engine for handler tests: deterministic answers, the last request of
// each kind recorded, and errors chosen by magic ids ("down" -> kUnavailable, "boom" ->
// kInternal, "huge" -> the node-limit kInvalidArgument, "blocked" -> a webhook rule).
// Not thread-safe; one test at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace contex::api::testing {

class FakeEngine : public engine::Engine {
  public:
    // Recorded requests.
    std::vector<engine::PublishRequest> published;
    std::vector<engine::RegisterRequest> registered;
    std::optional<engine::QueryRequest> last_query;
    std::optional<engine::EventQuery> last_events;
    std::optional<engine::ExportRequest> last_export;
    std::optional<engine::ImportRequest> last_import;
    std::optional<std::optional<std::string>> last_agents_filter;
    std::optional<std::optional<std::int64_t>> last_cursor;
    // Live stream plumbing.
    std::function<void(const engine::AgentMessage&)> stream_deliver;
    int open_subscriptions = 0;
    // Import outcome to answer with.
    engine::ImportOutcome import_outcome;
    std::int64_t sequence = 0;

    Result<engine::PublishResult> Publish(const engine::PublishRequest& request) override {
        published.push_back(request);
        if (auto e = MagicError(request.data_key)) return *e;
        engine::PublishResult r;
        r.project_id = request.project_id;
        r.data_key = request.data_key;
        r.sequence = ++sequence;
        r.changed = request.data_key != "same";
        r.format = request.data_format.value_or("json");
        r.node_count = 1;
        if (request.data_format == "yaml") r.warnings.push_back("data_format 'yaml' could not be parsed");
        return r;
    }

    Result<engine::RegisterResult> Register(const engine::RegisterRequest& request) override {
        registered.push_back(request);
        if (auto e = MagicError(request.agent_id)) return *e;
        engine::RegisterResult r;
        r.agent_id = request.agent_id;
        r.project_id = request.project_id;
        r.caught_up_events = 2;
        r.current_sequence = 7;
        for (const auto& need : request.data_needs) {
            r.matched_needs.emplace_back(need, need.find("tech") != std::string::npos ? 1 : 0);
        }
        r.notification_channel =
            request.notification_channel.value_or("agent:" + request.agent_id + ":updates");
        return r;
    }

    Status Unregister(const std::string& agent_id) override {
        if (auto e = MagicError(agent_id)) return *e;
        if (agent_id != "code-reviewer") return NotFound("Agent not found");
        return OkStatus();
    }

    Result<engine::QueryResult> Query(const engine::QueryRequest& request) override {
        last_query = request;
        if (auto e = MagicError(request.project_id)) return *e;
        engine::QueryResult r;
        r.query = request.query;
        if (request.project_id == "my-app") {
            json::object match;
            match["data_key"] = "tech_stack";
            match["similarity"] = 0.61;
            match["data"] = json::object{{"frontend", "React"}};
            r.matches.emplace_back(std::move(match));
        }
        return r;
    }

    Result<json::array> ListEvents(const engine::EventQuery& query) override {
        last_events = query;
        if (auto e = MagicError(query.project_id)) return *e;
        json::array events;
        if (query.project_id == "my-app") {
            json::object e;
            e["sequence"] = "1";
            e["event_type"] = "tech_stack_updated";
            events.emplace_back(std::move(e));
        }
        return events;
    }

    Result<std::vector<std::string>> ListAgents(std::optional<std::string> project_id) override {
        last_agents_filter = project_id;
        if (project_id == "other") return std::vector<std::string>{};
        return std::vector<std::string>{"code-reviewer", "planner"};
    }

    Result<json::object> GetAgent(const std::string& agent_id) override {
        if (agent_id != "code-reviewer") return NotFound("Agent not found");
        json::object o;
        o["agent_id"] = agent_id;
        o["project_id"] = "my-app";
        o["has_webhook_secret"] = false;
        return o;
    }

    Result<engine::AgentContext> GetContext(const std::string& agent_id) override {
        if (agent_id != "code-reviewer") return NotFound("Agent not found");
        engine::AgentContext c;
        c.agent_id = agent_id;
        c.project_id = "my-app";
        c.sequence = 7;
        c.format = "json";
        c.context["tech"] = json::array{json::object{{"data_key", "tech_stack"}}};
        c.context["events"] = json::array{};
        c.matched_needs = {{"tech", 1}, {"events", 0}};
        return c;
    }

    Result<json::object> GetStatus(const std::string& agent_id) override {
        if (agent_id != "code-reviewer") return NotFound("Agent not found");
        json::object o;
        o["agent_id"] = agent_id;
        o["status"] = "active";
        return o;
    }

    Result<std::unique_ptr<engine::StreamSubscription>> OpenStream(
        const std::string& agent_id, std::optional<std::int64_t> cursor,
        std::function<void(const engine::AgentMessage&)> deliver) override {
        last_cursor = cursor;
        if (agent_id == "busy") return Unavailable("Too many open streams");
        if (agent_id != "code-reviewer") return NotFound("Agent not found");
        stream_deliver = deliver;
        deliver({7, "initial_context", R"({"type":"initial_context","sequence":"7"})"});
        return std::unique_ptr<engine::StreamSubscription>(new Subscription(*this));
    }

    Result<json::array> ListProjectNodes(const std::string& project_id,
                                         std::optional<std::string> data_key) override {
        if (auto e = MagicError(project_id)) return *e;
        json::array nodes;
        json::object n;
        n["data_key"] = data_key.value_or("tech_stack");
        n["node_key"] = "tech_stack.root";
        nodes.emplace_back(std::move(n));
        return nodes;
    }

    Result<std::vector<std::string>> ListDataKeys(const std::string& project_id) override {
        if (auto e = MagicError(project_id)) return *e;
        return std::vector<std::string>{"api_specs", "tech_stack"};
    }

    Result<json::object> Export(const engine::ExportRequest& request) override {
        last_export = request;
        json::object doc;
        doc["project_id"] = request.project_id;
        doc["version"] = "1.1";
        doc["data"] = json::object{{"events", json::array{}}};
        return doc;
    }

    Result<engine::ImportOutcome> Import(const engine::ImportRequest& request) override {
        last_import = request;
        const auto* doc = request.document.if_object();
        const json::value* pid = doc ? doc->if_contains("project_id") : nullptr;
        if (pid && pid->is_string() && pid->get_string() != request.project_id) {
            return InvalidArgument("Project ID mismatch: URL has '" + request.project_id +
                                   "' but data has '" + std::string(pid->get_string()) + "'");
        }
        return import_outcome;
    }

  private:
    class Subscription final : public engine::StreamSubscription {
      public:
        explicit Subscription(FakeEngine& engine) : engine_(engine) {
            ++engine_.open_subscriptions;
        }
        ~Subscription() override { --engine_.open_subscriptions; }

      private:
        FakeEngine& engine_;
    };

    static std::optional<Error> MagicError(const std::string& id) {
        if (id == "down") return Unavailable("Database unavailable");
        if (id == "boom") return Internal("secret internal detail");
        if (id == "huge") return InvalidArgument("data produces 12000 nodes; the limit is 10000");
        if (id == "blocked") return InvalidArgument("webhook_url resolves to a blocked address");
        return std::nullopt;
    }
};

}  // namespace contex::api::testing
