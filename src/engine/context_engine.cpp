#include "engine/context_engine.hpp"

#include <algorithm>
#include <tuple>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>

#include "common/crypto.hpp"
#include "common/ids.hpp"
#include "common/strings.hpp"
#include "common/time_format.hpp"
#include "engine/toon.hpp"

namespace contex::engine {

namespace {

constexpr const char* kLog = "contex.engine";

// Storage keeps microseconds; runtime copies must compare equal to what was stored.
storage::TimePoint NowMicros(const Clock& clock) {
    return std::chrono::time_point_cast<std::chrono::microseconds>(clock.Now());
}

double Seconds(Clock::MonoTime since, const Clock& clock) {
    return std::chrono::duration<double>(clock.Monotonic() - since).count();
}

std::vector<std::string> DistinctNeeds(const std::vector<std::string>& needs) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& n : needs) {
        if (seen.insert(n).second) out.push_back(n);
    }
    return out;
}

bool IsStructuredType(std::string_view type) {
    return type == "object" || type == "array" || type == "row";
}

json::array StringArray(const std::vector<std::string>& values) {
    json::array a;
    for (const auto& v : values) a.emplace_back(json::string(v));
    return a;
}

json::value OptionalTime(const std::optional<storage::TimePoint>& t) {
    return t ? json::value(json::string(FormatIsoUtc(*t))) : json::value(nullptr);
}

std::shared_ptr<const NodeView> ViewOf(const storage::NodeRecord& n, std::int64_t sequence) {
    auto v = std::make_shared<NodeView>();
    v->data_key = n.data_key;
    v->node_key = n.node_key;
    v->node_path = n.node_path;
    v->node_type = n.node_type;
    v->description = n.description;
    v->data_format = n.data_format;
    v->text_hash = n.text_hash;
    v->data = n.data;
    v->metadata = n.metadata;
    v->node_index = n.node_index;
    v->sequence = sequence;
    return v;
}

json::object EventJson(const storage::EventRecord& e) {
    json::object o;
    o["sequence"] = std::to_string(e.sequence);
    o["event_type"] = e.event_type;
    o["data"] = e.data;
    o["data_key"] = e.data_key;
    o["changed"] = e.changed;
    o["created_at"] = FormatIsoUtc(e.created_at);
    return o;
}

}  // namespace

// A project's derived runtime. `write_mutex` serialises this replica's writers of the
// project (the storage lock serialises all replicas); `mutex` guards the maps, which
// readers share.
struct ContextEngine::Project {
    explicit Project(const index::IndexOptions& options)
        : index(options), needs(options.analyzer) {}
    std::mutex write_mutex;
    mutable std::shared_mutex mutex;
    index::ProjectIndex index;
    index::NeedsIndex needs;
    std::unordered_map<std::string, std::shared_ptr<const NodeView>> nodes;
    std::map<std::string, DataKeyState> data_keys;
    std::map<std::string, AgentState> agents;
    std::int64_t sequence = 0;
    std::atomic<bool> loaded{false};
    std::atomic<std::int64_t> last_used{0};  // monotonic ns, for LRU eviction
};

// The result of diffing a parsed document against a data key's stored nodes.
struct ContextEngine::Prepared {
    std::vector<storage::NodeRecord> upserts;  // added, changed and silently updated rows
    std::vector<std::string> removed;
    NodeChanges changes;
    std::set<std::string> rematch;  // node keys of added + changed (reverse matching)
};

ContextEngine::ContextEngine(EngineSettings settings, storage::Storage& storage,
                             embed::EmbeddingService& embedder, MessageFanout& fanout,
                             obs::Logger& logger, obs::MetricsRegistry& metrics,
                             const Clock& clock)
    : settings_(std::move(settings)),
      storage_(storage),
      embedder_(embedder),
      fanout_(fanout),
      logger_(logger),
      clock_(clock),
      events_published_(metrics.AddCounter("contex_events_published_total",
                                           "Publishes (batch items included).",
                                           {"project_id", "data_format"})),
      publish_duration_(metrics.AddHistogram("contex_publish_duration_seconds",
                                             "Publish latency.", obs::buckets::kB1,
                                             {"project_id"})),
      agents_registered_(metrics.AddCounter("contex_agents_registered_total", "Registrations.",
                                            {"project_id", "notification_method"})),
      agents_unregistered_(metrics.AddCounter("contex_agents_unregistered_total",
                                              "Unregistrations.", {"project_id"})),
      registration_duration_(metrics.AddHistogram("contex_registration_duration_seconds",
                                                  "Registration latency.", obs::buckets::kB1,
                                                  {"project_id"})),
      registered_agents_(metrics.AddGauge("contex_registered_agents", "Registered agents.",
                                          {"project_id"})),
      queries_(metrics.AddCounter("contex_queries_total", "Queries.", {"project_id", "status"})),
      query_duration_(metrics.AddHistogram("contex_query_duration_seconds", "Query latency.",
                                           obs::buckets::kB1, {"project_id"})),
      reverse_match_duration_(metrics
                                  .AddHistogram("contex_reverse_match_duration_seconds",
                                                "Reverse matching per publish.", obs::buckets::kB1)
                                  .Get()),
      errors_(metrics.AddCounter("contex_errors_total", "Internal failures and 5xx responses.",
                                 {"component", "kind"})),
      index_nodes_(metrics.AddGauge("contex_index_nodes", "Nodes in loaded indexes.").Get()),
      projects_loaded_(
          metrics.AddGauge("contex_index_projects_loaded", "Projects with a loaded index.").Get()) {}

ContextEngine::~ContextEngine() { StopBackgroundWork(); }

std::string ContextEngine::ProjectLabel(const std::string& project_id) {
    std::lock_guard lock(labels_mutex_);
    if (project_labels_.count(project_id)) return project_id;
    if (project_labels_.size() >= project_label_limit_) return "other";
    project_labels_.insert(project_id);
    return project_id;
}

std::string ContextEngine::MatchTypeOf(float similarity, float keyword_score) const {
    bool vector = similarity >= settings_.similarity_threshold;
    bool keyword = settings_.bm25_enabled && keyword_score >= settings_.keyword_threshold;
    return vector && keyword ? "both" : (vector ? "vector" : "keyword");
}

namespace {
std::string NoticeKey(const storage::ChangeNotice& n) {
    return n.project_id + '\x1f' + n.kind + '\x1f' + std::to_string(n.sequence) + '\x1f' + n.data_key;
}
}  // namespace

void ContextEngine::NotifyChange(storage::ChangeNotice notice) {
    {
        std::lock_guard lock(own_notices_mutex_);
        if (own_notices_.size() > 10000) own_notices_.clear();  // never grows without bound
        own_notices_.insert(NoticeKey(notice));
    }
    if (auto sent = storage_.Notify(notice); !sent.ok()) {
        std::lock_guard lock(own_notices_mutex_);
        own_notices_.erase(NoticeKey(notice));
        logger_.Warning(kLog, "Change notification failed", {{"error", sent.error().message}});
    }
}

void ContextEngine::HandleChange(const storage::ChangeNotice& notice) {
    {
        std::lock_guard lock(own_notices_mutex_);
        auto it = own_notices_.find(NoticeKey(notice));
        if (it != own_notices_.end()) {
            own_notices_.erase(it);
            return;
        }
    }
    {
        std::lock_guard lock(projects_mutex_);
        if (notice.kind == "reconnect") {
            // Notices may have been lost while LISTEN was down: reload everything.
            for (auto& [id, project] : projects_) project->loaded = false;
            return;
        }
        auto it = projects_.find(notice.project_id);
        if (it != projects_.end()) it->second->loaded = false;
    }
    PushToLocalStreams(notice);
}

void ContextEngine::PushToLocalStreams(const storage::ChangeNotice& notice) {
    // engine.md §6.4: streams on this replica get what another replica committed. The rows
    // of a publish (and a registration's initial context) carry the notice's sequence;
    // catch-up events of a re-registration elsewhere are left to Last-Event-ID resume.
    if (fanout_.open_streams() == 0) return;
    if (notice.kind == "unregister") {
        const std::string& agent_id = notice.data_key;
        if (fanout_.streams_for(agent_id) > 0) {
            fanout_.DeliverLocal({agent_id, "stream-only", ""},
                                 {0, "unregistered", UnregisteredMessage(agent_id)});
        }
        return;
    }
    if (notice.kind != "publish" && notice.kind != "register" && notice.kind != "import") return;
    // Only agents streaming here: usually a handful, where the project may have thousands.
    for (const auto& agent_id : fanout_.streamed_agents()) {
        auto rows = storage_.ListNotifications(agent_id, notice.sequence - 1, 1000);
        if (!rows.ok()) {
            logger_.Warning(kLog, "Cannot push another replica's messages to local streams",
                            {{"agent_id", agent_id}, {"error", rows.error().message}});
            continue;
        }
        std::optional<storage::AgentRecord> agent;
        for (const auto& r : *rows) {
            // Sequences are per project: an agent of another project may share the number.
            if (r.sequence != notice.sequence || r.project_id != notice.project_id) continue;
            if (notice.kind == "register" && r.type != "initial_context") continue;
            if (!agent) {
                auto stored = storage_.GetAgent(agent_id);
                if (!stored.ok() || !*stored) break;
                agent = std::move(**stored);
            }
            fanout_.DeliverLocal({agent_id, agent->notification_method, agent->notification_channel},
                                 {r.sequence, r.type, ToJson(r.payload)});
        }
    }
}

Result<bool> ContextEngine::AgentsChanged(const std::string& project_id, const Project& project) {
    // Count and latest updated_at, compared with the runtime's: one aggregate query instead
    // of reading every registration on every publish. Every change to a registration
    // (register, re-register, unregister, a 410 disabling its webhook) moves one of them;
    // a false alarm only costs a reload.
    CONTEX_ASSIGN_OR_RETURN(auto stored, storage_.GetAgentsStamp(project_id));
    storage::Storage::AgentsStamp runtime;
    std::shared_lock lock(project.mutex);
    runtime.count = static_cast<std::int64_t>(project.agents.size());
    for (const auto& [id, agent] : project.agents) {
        if (!runtime.latest_update || agent.record.updated_at > *runtime.latest_update) {
            runtime.latest_update = agent.record.updated_at;
        }
    }
    return stored != runtime;
}

index::SearchParams ContextEngine::Params(int k, double threshold) const {
    index::SearchParams p;
    p.k = k;
    p.cosine_threshold = static_cast<float>(threshold);
    p.keyword_threshold = static_cast<float>(settings_.keyword_threshold);
    p.rrf_k = settings_.rrf_k;
    p.vector_boost = static_cast<float>(settings_.vector_boost);
    p.min_candidates = settings_.min_candidates;
    p.bm25_enabled = settings_.bm25_enabled;
    p.ef_search = settings_.ef_search;
    return p;
}

bool ContextEngine::UsableVector(const storage::NodeRecord& node) const {
    return !node.embedding.empty() && node.model_id == embedder_.model_id() &&
           static_cast<int>(node.embedding.size()) == embedder_.dim();
}

// ---- project runtime ----------------------------------------------------------------

Result<std::shared_ptr<ContextEngine::Project>> ContextEngine::GetProject(
    const std::string& project_id) {
    std::shared_ptr<Project> project;
    {
        std::lock_guard lock(projects_mutex_);
        auto& slot = projects_[project_id];
        if (!slot) slot = std::make_shared<Project>(settings_.index);
        project = slot;
    }
    project->last_used = clock_.Monotonic().time_since_epoch().count();
    std::lock_guard write(project->write_mutex);
    if (!project->loaded) {
        CONTEX_TRY(LoadProject(project_id, *project));
        EvictOverBudget(project_id);
        std::size_t loaded = 0, nodes = 0;
        {
            // Both counts under the map's lock: other threads insert projects concurrently.
            std::lock_guard lock(projects_mutex_);
            for (const auto& [id, p] : projects_) {
                if (!p->loaded) continue;
                ++loaded;
                nodes += p->index.snapshot()->size();
            }
        }
        projects_loaded_.Set(static_cast<double>(loaded));
        index_nodes_.Set(static_cast<double>(nodes));
    }
    return project;
}

// Rebuilds a project's runtime from storage (no re-embedding). Caller holds write_mutex.
Status ContextEngine::LoadProject(const std::string& project_id, Project& project) {
    CONTEX_ASSIGN_OR_RETURN(std::int64_t sequence, storage_.CurrentSequence(project_id));
    CONTEX_ASSIGN_OR_RETURN(auto data_keys, storage_.ListDataKeys(project_id));
    CONTEX_ASSIGN_OR_RETURN(auto nodes, storage_.ListNodes(project_id, std::nullopt, true));
    CONTEX_ASSIGN_OR_RETURN(auto agents, storage_.ListAgents(project_id));
    CONTEX_ASSIGN_OR_RETURN(auto needs, storage_.ListNeeds(project_id));
    CONTEX_ASSIGN_OR_RETURN(auto matches, storage_.ListMatches(project_id));

    std::map<std::string, DataKeyState> keys;
    for (const auto& dk : data_keys) keys[dk.data_key] = {dk.data_format, dk.sequence, {}};
    std::unordered_map<std::string, std::shared_ptr<const NodeView>> views;
    std::vector<index::IndexEntry> entries;
    entries.reserve(nodes.size());
    std::size_t missing_vectors = 0;
    for (auto& n : nodes) {
        auto& key = keys[n.data_key];
        key.node_keys.insert(n.node_key);
        views[n.node_key] = ViewOf(n, key.sequence);
        index::IndexEntry e{n.node_key, n.data_key, n.description, {}};
        if (UsableVector(n)) {
            e.vector = std::move(n.embedding);
        } else {
            ++missing_vectors;
        }
        entries.push_back(std::move(e));
    }
    if (missing_vectors > 0) {
        logger_.Warning(kLog, "Nodes without a vector of the active model are keyword-only",
                        {{"project_id", project_id},
                         {"nodes", static_cast<std::int64_t>(missing_vectors)},
                         {"model", embedder_.model_id()}});
    }
    CONTEX_TRY(project.index.Rebuild(std::move(entries), sequence));

    std::map<std::string, AgentState> agent_states;
    for (auto& a : agents) {
        AgentState s;
        s.needs = a.needs;
        s.need_vectors.resize(s.needs.size());
        s.interest.resize(s.needs.size());
        s.record = std::move(a);
        agent_states.emplace(s.record.agent_id, std::move(s));
    }
    for (auto& n : needs) {
        auto it = agent_states.find(n.agent_id);
        if (it == agent_states.end()) continue;
        auto& s = it->second;
        if (n.need_index < 0 || n.need_index >= static_cast<int>(s.needs.size())) continue;
        if (n.model_id == embedder_.model_id() && static_cast<int>(n.embedding.size()) == embedder_.dim()) {
            s.need_vectors[static_cast<std::size_t>(n.need_index)] = std::move(n.embedding);
        }
    }
    for (const auto& m : matches) {
        auto it = agent_states.find(m.agent_id);
        if (it == agent_states.end()) continue;
        auto& s = it->second;
        if (m.need_index < 0 || m.need_index >= static_cast<int>(s.interest.size())) continue;
        s.interest[static_cast<std::size_t>(m.need_index)][m.node_key] = {m.data_key, m.similarity,
                                                                          m.keyword_score};
    }
    for (auto& [id, s] : agent_states) {
        std::vector<index::NeedRef> refs;
        for (std::size_t i = 0; i < s.needs.size(); ++i) {
            refs.push_back({id, static_cast<int>(i), s.needs[i], s.need_vectors[i]});
        }
        project.needs.Upsert(id, std::move(refs));
    }
    std::unique_lock lock(project.mutex);
    project.nodes = std::move(views);
    project.data_keys = std::move(keys);
    project.agents = std::move(agent_states);
    project.sequence = sequence;
    project.loaded = true;
    registered_agents_.WithLabels({ProjectLabel(project_id)})
        .Set(static_cast<double>(project.agents.size()));
    return OkStatus();
}

// ---- publish -------------------------------------------------------------------------

Result<ContextEngine::Prepared> ContextEngine::Prepare(
    const std::string& data_key, const ingest::Document& doc,
    const std::vector<storage::NodeRecord>& existing) {
    Prepared p;
    std::unordered_map<std::string, const storage::NodeRecord*> old_by_key;
    std::unordered_map<std::string, const storage::NodeRecord*> old_by_hash;
    for (const auto& n : existing) {
        old_by_key[n.node_key] = &n;
        if (UsableVector(n)) old_by_hash.emplace(n.text_hash, &n);
    }
    std::set<std::string> seen;
    std::vector<std::size_t> need_embedding;  // positions in p.upserts
    for (const auto& node : doc.nodes) {
        seen.insert(node.node_key);
        storage::NodeRecord rec;
        rec.data_key = data_key;
        rec.node_key = node.node_key;
        rec.node_path = node.path;
        rec.node_type = std::string(ingest::NodeTypeName(node.type));
        rec.description = node.text;
        rec.data_format = std::string(ingest::FormatName(doc.format));
        rec.text_hash = ingest::TextHash(node.text);
        rec.data = node.data;
        rec.metadata = node.metadata;
        rec.node_index = node.index;
        auto old = old_by_key.find(node.node_key);
        bool is_new = old == old_by_key.end();
        bool content_changed = is_new || old->second->description != rec.description ||
                               ToJson(old->second->data) != ToJson(rec.data);
        bool row_changed = content_changed || old->second->node_type != rec.node_type ||
                           old->second->node_path != rec.node_path ||
                           old->second->node_index != rec.node_index ||
                           old->second->data_format != rec.data_format ||
                           ToJson(old->second->metadata) != ToJson(rec.metadata) ||
                           !UsableVector(*old->second);
        if (!row_changed) continue;
        if (is_new) {
            p.changes.added.push_back(rec.node_key);
            p.rematch.insert(rec.node_key);
        } else if (content_changed) {
            p.changes.changed.push_back(rec.node_key);
            p.rematch.insert(rec.node_key);
        }
        // Reuse a stored vector of the same text and model (engine.md §1.11).
        auto reuse = old_by_hash.find(rec.text_hash);
        if (reuse != old_by_hash.end()) {
            rec.embedding = reuse->second->embedding;
            rec.model_id = reuse->second->model_id;
        } else {
            need_embedding.push_back(p.upserts.size());
        }
        p.upserts.push_back(std::move(rec));
    }
    for (const auto& n : existing) {
        if (!seen.count(n.node_key)) {
            p.removed.push_back(n.node_key);
            p.changes.removed.push_back(n.node_key);
        }
    }
    if (!need_embedding.empty()) {
        std::vector<std::string> texts;
        texts.reserve(need_embedding.size());
        for (auto i : need_embedding) texts.push_back(p.upserts[i].description);
        auto vectors = embedder_.Embed(texts, embed::Priority::kBulk, embed::TextKind::kDocument);
        if (!vectors.ok()) {
            errors_.WithLabels({"embedding", "unavailable"}).Inc();
            return Unavailable("Embedding service unavailable");
        }
        for (std::size_t j = 0; j < need_embedding.size(); ++j) {
            auto& rec = p.upserts[need_embedding[j]];
            rec.embedding = std::move((*vectors)[j]);
            rec.model_id = embedder_.model_id();
        }
    }
    return p;
}

storage::NotificationRecord ContextEngine::MakeNotification(const storage::AgentRecord& agent,
                                                           std::int64_t sequence, std::string type,
                                                           const std::string& message_json) const {
    return MakeNotification(agent, sequence, std::move(type),
                            ParseJson(message_json).value_or(json::value(nullptr)));
}

storage::NotificationRecord ContextEngine::MakeNotification(const storage::AgentRecord& agent,
                                                           std::int64_t sequence, std::string type,
                                                           json::value message) const {
    storage::NotificationRecord n;
    n.message_id = "msg_" + RandomHex(32);
    n.agent_id = agent.agent_id;
    n.project_id = agent.project_id;
    n.sequence = sequence;
    n.type = std::move(type);
    n.payload = std::move(message);
    n.created_at = clock_.Now();
    if (agent.notification_method == "webhook" && !storage::WebhookDisabled(agent)) {
        n.delivery_status = "pending";
        n.next_attempt_at = n.created_at;
    }
    return n;
}

void ContextEngine::Fanout(const storage::AgentRecord& agent, std::int64_t sequence,
                           const std::string& type, const std::string& message_json) {
    fanout_.Deliver({agent.agent_id, agent.notification_method, agent.notification_channel},
                    {sequence, type, message_json});
}

Result<PublishResult> ContextEngine::Publish(const PublishRequest& req) {
    auto started = clock_.Monotonic();
    ingest::ParseOptions options;
    options.max_nodes = settings_.max_nodes_per_key;
    options.max_input_bytes = settings_.max_request_bytes;
    options.chunk_max_tokens = settings_.chunk_max_tokens;
    options.max_seq_tokens = static_cast<std::size_t>(std::max(16, embedder_.max_tokens()));
    options.count_tokens = [this](std::string_view text) { return embedder_.CountTokens(text); };
    std::optional<std::string_view> hint;
    if (req.data_format) hint = *req.data_format;
    CONTEX_ASSIGN_OR_RETURN(ingest::Document doc, ingest::Parse(req.data_key, req.data, hint, options));
    const std::string format(ingest::FormatName(doc.format));
    const std::string event_type = req.event_type.value_or(req.data_key + "_updated");

    CONTEX_ASSIGN_OR_RETURN(auto project, GetProject(req.project_id));
    std::lock_guard write(project->write_mutex);

    CONTEX_ASSIGN_OR_RETURN(auto current, storage_.GetDataKey(req.project_id, req.data_key));
    std::string diffed_hash = current ? current->content_hash : std::string();
    std::optional<Prepared> prepared;
    if (!current || current->content_hash != doc.content_hash) {
        CONTEX_ASSIGN_OR_RETURN(auto existing, storage_.ListNodes(req.project_id, req.data_key, true));
        CONTEX_ASSIGN_OR_RETURN(auto p, Prepare(req.data_key, doc, existing));
        prepared = std::move(p);
    }

    PublishResult result;
    result.project_id = req.project_id;
    result.data_key = req.data_key;
    result.format = format;
    result.warnings = doc.warnings;
    result.node_count = static_cast<int>(doc.nodes.size());

    // Filled inside the transaction, applied to the runtime after commit.
    struct AgentUpdate {
        storage::AgentRecord record;
        std::vector<std::pair<std::size_t, std::string>> removed;          // (need, node key)
        std::vector<std::tuple<std::size_t, std::string, Interest>> added;  // (need, key, entry)
        std::string message;
    };
    std::vector<AgentUpdate> updates;
    std::unordered_map<std::string, std::shared_ptr<const NodeView>> new_views;
    bool index_touched = false;

    auto status = storage_.WithProjectTransaction(req.project_id, [&](storage::ProjectTransaction& tx) -> Status {
        updates.clear();
        new_views.clear();
        CONTEX_ASSIGN_OR_RETURN(std::int64_t seq, tx.AllocateSequence());
        result.sequence = seq;
        // Another replica may have published or (un)registered since this runtime was
        // built: bring it up to date under the project lock before matching.
        bool behind;
        {
            std::shared_lock lock(project->mutex);
            behind = project->sequence != seq - 1;
        }
        if (!behind) {
            CONTEX_ASSIGN_OR_RETURN(behind, AgentsChanged(req.project_id, *project));
        }
        if (behind) CONTEX_TRY(LoadProject(req.project_id, *project));
        CONTEX_ASSIGN_OR_RETURN(auto locked, tx.GetDataKey(req.data_key));
        std::string locked_hash = locked ? locked->content_hash : std::string();
        bool identical = locked && locked->content_hash == doc.content_hash;
        if (!identical && locked_hash != diffed_hash) {
            // Another writer changed the key since we diffed: diff again under the lock.
            CONTEX_ASSIGN_OR_RETURN(auto existing, tx.GetNodes(req.data_key, true));
            CONTEX_ASSIGN_OR_RETURN(auto p, Prepare(req.data_key, doc, existing));
            prepared = std::move(p);
        }
        storage::EventRecord event;
        event.sequence = seq;
        event.event_type = event_type;
        event.data = json::object{{req.data_key, req.data}};
        event.data_key = req.data_key;
        event.data_format = format;
        event.content_hash = doc.content_hash;
        event.created_at = NowMicros(clock_);
        if (identical) {
            event.changed = false;
            result.changed = false;
            result.node_count = locked->node_count;
            return tx.InsertEvent(event);
        }
        result.changed = true;
        Prepared& p = *prepared;
        for (auto& rec : p.upserts) rec.project_id = req.project_id;
        CONTEX_TRY(tx.ReplaceNodes(req.data_key, p.removed, p.upserts));
        storage::DataKeyRecord dk;
        dk.project_id = req.project_id;
        dk.data_key = req.data_key;
        dk.data_format = format;
        dk.content_hash = doc.content_hash;
        dk.data_original = req.data;
        dk.node_count = static_cast<int>(doc.nodes.size());
        dk.sequence = seq;
        dk.updated_at = event.created_at;
        CONTEX_TRY(tx.UpsertDataKey(dk));
        CONTEX_TRY(tx.InsertEvent(event));

        // Node views of the key after this publish (for match objects).
        {
            std::shared_lock lock(project->mutex);
            auto it = project->data_keys.find(req.data_key);
            if (it != project->data_keys.end()) {
                for (const auto& key : it->second.node_keys) {
                    auto v = project->nodes.find(key);
                    if (v == project->nodes.end()) continue;
                    auto copy = std::make_shared<NodeView>(*v->second);
                    copy->sequence = seq;
                    copy->data_format = format;
                    new_views[key] = std::move(copy);
                }
            }
        }
        for (const auto& key : p.removed) new_views.erase(key);
        for (const auto& rec : p.upserts) new_views[rec.node_key] = ViewOf(rec, seq);

        // Tentative index update: reverse matching needs the statistics after it.
        std::vector<index::IndexEntry> entries;
        std::vector<index::IndexEntry> fresh;  // added + changed, for reverse matching
        for (const auto& rec : p.upserts) {
            index::IndexEntry e{rec.node_key, rec.data_key, rec.description,
                                rec.model_id == embedder_.model_id() ? rec.embedding
                                                                     : std::vector<float>{}};
            if (p.rematch.count(rec.node_key)) fresh.push_back(e);
            entries.push_back(std::move(e));
        }
        index_touched = true;
        CONTEX_TRY(project->index.Apply(entries, p.removed, seq));
        auto after = project->index.snapshot();

        auto match_started = clock_.Monotonic();
        float kappa = settings_.bm25_enabled ? static_cast<float>(settings_.keyword_threshold)
                                             : std::numeric_limits<float>::infinity();
        CONTEX_ASSIGN_OR_RETURN(auto passing,
                                project->needs.Match(*after, fresh,
                                                     static_cast<float>(settings_.similarity_threshold),
                                                     kappa));
        std::set<std::string> gone(p.removed.begin(), p.removed.end());
        for (const auto& key : p.changes.changed) gone.insert(key);

        std::shared_lock lock(project->mutex);
        // Affected agents (§6.2 step 3): a passing (need, new node) pair, or a gone key in
        // the interest set. Work below is per affected agent and limited to the published
        // key's entries, so unaffected agents and other keys cost nothing.
        std::map<std::string, std::vector<const index::NeedMatch*>> affected;
        for (const auto& m : passing) affected[m.agent_id].push_back(&m);
        if (!gone.empty()) {
            for (const auto& [agent_id, state] : project->agents) {
                for (const auto& per_need : state.interest) {
                    for (const auto& key : gone) {
                        if (per_need.count(key)) affected[agent_id];
                    }
                }
            }
        }
        const std::string key_prefix = req.data_key + ".";
        std::vector<storage::AgentMatchRecord> removed_rows, added_rows;
        std::vector<storage::NotificationRecord> rows;
        for (const auto& [agent_id, agent_passing] : affected) {
            auto it = project->agents.find(agent_id);
            if (it == project->agents.end()) continue;
            const AgentState& state = it->second;
            AgentUpdate u;
            u.record = state.record;
            for (std::size_t need = 0; need < state.interest.size(); ++need) {
                for (const auto& key : gone) {
                    auto found = state.interest[need].find(key);
                    if (found == state.interest[need].end()) continue;
                    removed_rows.push_back({agent_id, req.project_id, static_cast<int>(need), key,
                                            found->second.data_key, 0, 0});
                    u.removed.emplace_back(need, key);
                }
            }
            for (const auto* m : agent_passing) {
                auto need = static_cast<std::size_t>(m->need_index);
                if (need >= state.interest.size()) continue;
                const auto& entry = fresh[m->node_pos];
                u.added.push_back({need, entry.node_key,
                                   {entry.data_key, m->similarity, m->keyword_score}});
                added_rows.push_back({agent_id, req.project_id, m->need_index, entry.node_key,
                                      entry.data_key, m->similarity, m->keyword_score});
            }
            // The published key's interest entries per need after this publish.
            std::vector<std::map<std::string, Interest>> key_interest(state.interest.size());
            for (std::size_t need = 0; need < state.interest.size(); ++need) {
                const auto& per_need = state.interest[need];
                for (auto e = per_need.lower_bound(key_prefix);
                     e != per_need.end() && StartsWith(e->first, key_prefix); ++e) {
                    if (e->second.data_key == req.data_key && !gone.count(e->first)) {
                        key_interest[need].insert(*e);
                    }
                }
            }
            for (const auto& [need, key, interest] : u.added) key_interest[need][key] = interest;

            bool toon = u.record.response_format == "toon";
            bool key_matched = false;
            NeedMatches by_need;
            for (std::size_t need = 0; need < state.needs.size(); ++need) {
                std::vector<ScoredNode> scored;
                if (need < key_interest.size()) {
                    key_matched = key_matched || !key_interest[need].empty();
                    for (const auto& [key, interest] : key_interest[need]) {
                        auto view = new_views.find(key);
                        if (view == new_views.end()) continue;
                        scored.push_back({view->second, CleanFloat(interest.similarity), 0,
                                          CleanFloat(interest.keyword_score),
                                          MatchTypeOf(interest.similarity, interest.keyword_score)});
                    }
                }
                std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
                    if (a.similarity != b.similarity) return a.similarity > b.similarity;
                    return a.node->node_key < b.node->node_key;
                });
                if (scored.size() > static_cast<std::size_t>(settings_.max_matches)) {
                    scored.resize(static_cast<std::size_t>(settings_.max_matches));
                }
                json::array list;
                for (auto& s : scored) {
                    s.score = s.similarity;
                    list.push_back(BuildMatch(s, toon));
                }
                by_need.emplace_back(state.needs[need], std::move(list));
            }
            ApplyBudget(by_need, settings_.max_context_size);
            json::object message = DataUpdateObject(agent_id, req.project_id, seq, req.data_key,
                                                    format, req.data, toon,
                                                    ToContextObject(by_need), p.changes);
            u.message = ToJson(message);
            // Only the published key's membership in data_keys can change.
            auto& keys = u.record.data_keys;
            auto at = std::find(keys.begin(), keys.end(), req.data_key);
            if (key_matched && at == keys.end()) {
                keys.insert(std::lower_bound(keys.begin(), keys.end(), req.data_key), req.data_key);
            } else if (!key_matched && at != keys.end()) {
                keys.erase(at);
            }
            u.record.last_sequence = seq;
            u.record.updated_at = event.created_at;
            rows.push_back(
                MakeNotification(u.record, seq, "data_update", json::value(std::move(message))));
            updates.push_back(std::move(u));
        }
        lock.unlock();
        reverse_match_duration_.Observe(Seconds(match_started, clock_));
        CONTEX_TRY(tx.ApplyAgentMatchDelta(removed_rows, added_rows));
        for (const auto& u : updates) CONTEX_TRY(tx.UpdateAgentProgress(u.record));
        CONTEX_TRY(tx.InsertNotifications(rows));
        return OkStatus();
    });

    if (!status.ok()) {
        if (index_touched) {
            // The index saw a write that did not commit: rebuild it from storage next time.
            std::unique_lock lock(project->mutex);
            project->loaded = false;
        }
        if (status.error().code == ErrorCode::kInternal) errors_.WithLabels({"db", "exception"}).Inc();
        return std::move(status).error();
    }

    if (result.changed) {
        std::unique_lock lock(project->mutex);
        auto& key_state = project->data_keys[req.data_key];
        for (const auto& old_key : key_state.node_keys) {
            if (!new_views.count(old_key)) project->nodes.erase(old_key);
        }
        key_state.format = format;
        key_state.sequence = result.sequence;
        key_state.node_keys.clear();
        for (auto& [key, view] : new_views) {
            key_state.node_keys.insert(key);
            project->nodes[key] = view;
        }
        for (auto& u : updates) {
            auto it = project->agents.find(u.record.agent_id);
            if (it == project->agents.end()) continue;
            it->second.record = u.record;
            auto& interest = it->second.interest;
            for (const auto& [need, key] : u.removed) interest[need].erase(key);
            for (auto& [need, key, entry] : u.added) interest[need][key] = std::move(entry);
        }
    }
    {
        std::unique_lock lock(project->mutex);
        project->sequence = std::max(project->sequence, result.sequence);
    }
    for (const auto& u : updates) Fanout(u.record, result.sequence, "data_update", u.message);
    NotifyChange({req.project_id, result.sequence, req.data_key, "publish"});

    std::string label = ProjectLabel(req.project_id);
    events_published_.WithLabels({label, format}).Inc();
    publish_duration_.WithLabels({label}).Observe(Seconds(started, clock_));
    return result;
}

// ---- forward retrieval ---------------------------------------------------------------

NeedMatches ContextEngine::SearchNeeds(const Project& project, const std::vector<std::string>& needs,
                                       const std::vector<std::vector<float>>& vectors, int k,
                                       double threshold, bool toon,
                                       std::vector<std::map<std::string, Interest>>* interest) const {
    auto snapshot = project.index.snapshot();
    NeedMatches out;
    if (interest) interest->assign(needs.size(), {});
    std::shared_lock lock(project.mutex);
    for (std::size_t i = 0; i < needs.size(); ++i) {
        std::span<const float> vector;
        if (i < vectors.size()) vector = vectors[i];
        auto hits = snapshot->Search(vector, needs[i], Params(k, threshold));
        json::array list;
        for (const auto& hit : hits) {
            auto view = project.nodes.find(hit.node_key);
            if (view == project.nodes.end()) continue;  // index ahead of the views: skip
            ScoredNode s{view->second, CleanFloat(hit.similarity), hit.score,
                         CleanFloat(hit.keyword_score),
                         std::string(index::MatchTypeName(hit.match_type))};
            list.push_back(BuildMatch(s, toon));
            if (interest) {
                (*interest)[i][hit.node_key] = {hit.data_key, hit.similarity, hit.keyword_score};
            }
        }
        out.emplace_back(needs[i], std::move(list));
    }
    return out;
}

Result<QueryResult> ContextEngine::Query(const QueryRequest& req) {
    auto started = clock_.Monotonic();
    std::string label = ProjectLabel(req.project_id);
    QueryResult result;
    result.query = req.query;
    auto vectors = embedder_.Embed(std::vector<std::string>{req.query},
                                   embed::Priority::kInteractive, embed::TextKind::kQuery);
    if (!vectors.ok()) {
        queries_.WithLabels({label, "failure"}).Inc();
        errors_.WithLabels({"embedding", "unavailable"}).Inc();
        return Unavailable("Embedding service unavailable");
    }
    auto project = GetProject(req.project_id);
    if (!project.ok()) {
        queries_.WithLabels({label, "failure"}).Inc();
        return std::move(project).error();
    }
    auto by_need = SearchNeeds(**project, {req.query}, *vectors, req.top_k,
                               req.threshold.value_or(settings_.similarity_threshold), req.toon,
                               nullptr);
    if (req.max_tokens) ApplyBudget(by_need, *req.max_tokens);
    result.matches = std::move(by_need.front().second);
    queries_.WithLabels({label, "success"}).Inc();
    query_duration_.WithLabels({label}).Observe(Seconds(started, clock_));
    return result;
}

// ---- registration --------------------------------------------------------------------

Result<RegisterResult> ContextEngine::Register(const RegisterRequest& req) {
    auto started = clock_.Monotonic();
    std::string channel = req.notification_channel.value_or("agent:" + req.agent_id + ":updates");
    if (!StartsWith(channel, "agent:" + req.agent_id + ":") || channel.size() > 255) {
        return InvalidArgument("notification_channel must start with 'agent:" + req.agent_id +
                               ":' and have at most 255 characters");
    }
    if (req.notification_method == "webhook" && !req.webhook_url) {
        return InvalidArgument("webhook_url is required when notification_method='webhook'");
    }
    if (req.webhook_url && settings_.check_webhook_url) {
        CONTEX_TRY(settings_.check_webhook_url(*req.webhook_url));
    }
    std::vector<std::string> needs = DistinctNeeds(req.data_needs);
    std::vector<std::vector<float>> need_vectors;
    if (!needs.empty()) {
        auto vectors = embedder_.Embed(needs, embed::Priority::kInteractive, embed::TextKind::kQuery);
        if (!vectors.ok()) {
            errors_.WithLabels({"embedding", "unavailable"}).Inc();
            return Unavailable("Embedding service unavailable");
        }
        need_vectors = std::move(vectors).value();
    }
    CONTEX_ASSIGN_OR_RETURN(auto previous, storage_.GetAgent(req.agent_id));
    CONTEX_ASSIGN_OR_RETURN(auto project, GetProject(req.project_id));
    std::lock_guard write(project->write_mutex);
    const bool toon = req.response_format == "toon";

    RegisterResult result;
    result.agent_id = req.agent_id;
    result.project_id = req.project_id;
    result.notification_channel = channel;
    AgentState state;
    std::vector<std::pair<std::int64_t, std::pair<std::string, std::string>>> messages;  // seq, type, json

    auto status = storage_.WithProjectTransaction(req.project_id, [&](storage::ProjectTransaction& tx) -> Status {
        messages.clear();
        CONTEX_ASSIGN_OR_RETURN(std::int64_t current, tx.LockProject());
        bool stale;
        {
            std::shared_lock lock(project->mutex);
            stale = project->sequence != current;
        }
        if (stale) CONTEX_TRY(LoadProject(req.project_id, *project));  // another replica wrote
        result.current_sequence = current;

        auto by_need = SearchNeeds(*project, needs, need_vectors, settings_.max_matches,
                                   settings_.similarity_threshold, toon, &state.interest);
        ApplyBudget(by_need, settings_.max_context_size);
        result.matched_needs = MatchedCounts(by_need);
        json::object context = ToContextObject(by_need);

        std::set<std::string> interest_keys;
        std::vector<storage::AgentMatchRecord> match_rows;
        for (std::size_t i = 0; i < state.interest.size(); ++i) {
            for (const auto& [node_key, interest] : state.interest[i]) {
                interest_keys.insert(interest.data_key);
                match_rows.push_back({req.agent_id, req.project_id, static_cast<int>(i), node_key,
                                      interest.data_key, interest.similarity, interest.keyword_score});
            }
        }

        // Catch-up: events after the agent's cursor on keys it cares about, newest N, oldest first.
        std::vector<storage::EventRecord> catchup;
        std::int64_t cursor = std::max<std::int64_t>(0, req.last_seen_sequence);
        while (cursor < current && settings_.catchup_max_events > 0) {
            CONTEX_ASSIGN_OR_RETURN(auto page, storage_.ListEvents(req.project_id, cursor, 1000,
                                                                   std::nullopt, std::nullopt));
            if (page.empty()) break;
            for (auto& e : page) {
                if (e.sequence > current) break;
                if (interest_keys.count(e.data_key)) catchup.push_back(std::move(e));
            }
            cursor = page.back().sequence;
            if (catchup.size() > static_cast<std::size_t>(settings_.catchup_max_events) * 2) {
                catchup.erase(catchup.begin(),
                              catchup.end() - settings_.catchup_max_events);
            }
        }
        if (catchup.size() > static_cast<std::size_t>(settings_.catchup_max_events)) {
            catchup.erase(catchup.begin(), catchup.end() - settings_.catchup_max_events);
        }
        result.caught_up_events = static_cast<int>(catchup.size());

        auto now = NowMicros(clock_);
        storage::AgentRecord& rec = state.record;
        rec.agent_id = req.agent_id;
        rec.project_id = req.project_id;
        rec.needs = needs;
        rec.notification_method = req.notification_method;
        rec.response_format = req.response_format;
        rec.notification_channel = channel;
        rec.webhook_url = req.webhook_url;
        rec.webhook_secret = req.webhook_secret;
        rec.data_keys.assign(interest_keys.begin(), interest_keys.end());
        rec.last_sequence = current;
        rec.last_seen = now;
        rec.created_at = previous ? previous->created_at : now;
        rec.updated_at = now;
        rec.data = json::object{{"webhook_secret_encrypted", false}};
        state.needs = needs;
        state.need_vectors = need_vectors;

        if (previous && previous->project_id != req.project_id) {
            CONTEX_TRY(tx.CancelPendingDeliveries(req.agent_id));
        }
        CONTEX_TRY(tx.UpsertAgent(rec));
        std::vector<storage::AgentNeedRecord> need_rows;
        for (std::size_t i = 0; i < needs.size(); ++i) {
            need_rows.push_back({req.agent_id, static_cast<int>(i), needs[i],
                                 i < need_vectors.size() ? need_vectors[i] : std::vector<float>{},
                                 embedder_.model_id()});
        }
        CONTEX_TRY(tx.ReplaceAgentNeeds(req.agent_id, need_rows));
        CONTEX_TRY(tx.ReplaceAgentMatches(req.agent_id, match_rows));

        std::vector<storage::NotificationRecord> rows;
        for (const auto& e : catchup) {
            std::string m = EventMessage(req.agent_id, req.project_id, e.sequence, e.event_type,
                                         e.data_key, e.data);
            rows.push_back(MakeNotification(rec, e.sequence, "event", m));
            messages.push_back({e.sequence, {"event", std::move(m)}});
        }
        std::string initial = InitialContextMessage(req.agent_id, req.project_id, current, toon, context);
        rows.push_back(MakeNotification(rec, current, "initial_context", initial));
        messages.push_back({current, {"initial_context", std::move(initial)}});
        return tx.InsertNotifications(rows);
    });
    if (!status.ok()) return std::move(status).error();

    // The agent may have moved from another project: drop it there.
    if (previous && previous->project_id != req.project_id) {
        std::shared_ptr<Project> old;
        {
            std::lock_guard lock(projects_mutex_);
            auto it = projects_.find(previous->project_id);
            if (it != projects_.end()) old = it->second;
        }
        if (old) {
            std::unique_lock lock(old->mutex);
            old->agents.erase(req.agent_id);
            old->needs.Remove(req.agent_id);
        }
    }
    std::vector<index::NeedRef> refs;
    for (std::size_t i = 0; i < state.needs.size(); ++i) {
        refs.push_back({req.agent_id, static_cast<int>(i), state.needs[i],
                        i < state.need_vectors.size() ? state.need_vectors[i] : std::vector<float>{}});
    }
    project->needs.Upsert(req.agent_id, std::move(refs));
    storage::AgentRecord record = state.record;
    std::size_t agent_count;
    {
        std::unique_lock lock(project->mutex);
        project->agents[req.agent_id] = std::move(state);
        agent_count = project->agents.size();
    }
    for (const auto& [seq, msg] : messages) Fanout(record, seq, msg.first, msg.second);
    NotifyChange({req.project_id, result.current_sequence, req.agent_id, "register"});

    std::string label = ProjectLabel(req.project_id);
    agents_registered_.WithLabels({label, req.notification_method}).Inc();
    registration_duration_.WithLabels({label}).Observe(Seconds(started, clock_));
    registered_agents_.WithLabels({label}).Set(static_cast<double>(agent_count));
    return result;
}

Status ContextEngine::Unregister(const std::string& agent_id) {
    CONTEX_ASSIGN_OR_RETURN(auto agent, storage_.GetAgent(agent_id));
    if (!agent) return NotFound("Agent not found");
    const std::string project_id = agent->project_id;
    CONTEX_ASSIGN_OR_RETURN(auto project, GetProject(project_id));
    std::lock_guard write(project->write_mutex);
    CONTEX_TRY(storage_.WithProjectTransaction(project_id, [&](storage::ProjectTransaction& tx) -> Status {
        CONTEX_TRY(tx.CancelPendingDeliveries(agent_id));
        return tx.DeleteAgent(agent_id);
    }));
    project->needs.Remove(agent_id);
    std::size_t agent_count;
    {
        std::unique_lock lock(project->mutex);
        project->agents.erase(agent_id);
        agent_count = project->agents.size();
    }
    fanout_.Deliver({agent_id, "stream-only", agent->notification_channel},
                    {0, "unregistered", UnregisteredMessage(agent_id)});
    NotifyChange({project_id, 0, agent_id, "unregister"});
    std::string label = ProjectLabel(project_id);
    agents_unregistered_.WithLabels({label}).Inc();
    registered_agents_.WithLabels({label}).Set(static_cast<double>(agent_count));
    return OkStatus();
}

// ---- agents ---------------------------------------------------------------------------

Result<std::vector<std::string>> ContextEngine::ListAgents(std::optional<std::string> project_id) {
    CONTEX_ASSIGN_OR_RETURN(auto agents, storage_.ListAgents(std::move(project_id)));
    std::vector<std::string> ids;
    for (const auto& a : agents) ids.push_back(a.agent_id);
    std::sort(ids.begin(), ids.end());
    return ids;
}

Result<json::object> ContextEngine::GetAgent(const std::string& agent_id) {
    CONTEX_ASSIGN_OR_RETURN(auto agent, storage_.GetAgent(agent_id));
    if (!agent) return NotFound("Agent not found");
    std::set<std::string> node_keys;
    CONTEX_ASSIGN_OR_RETURN(auto matches, storage_.ListAgentMatches(agent_id));
    for (const auto& m : matches) node_keys.insert(m.node_key);
    json::object o;
    o["agent_id"] = agent->agent_id;
    o["project_id"] = agent->project_id;
    o["needs"] = StringArray(agent->needs);
    o["notification_method"] = agent->notification_method;
    o["response_format"] = agent->response_format;
    o["channel"] = agent->notification_channel;
    o["webhook_url"] = agent->webhook_url ? json::value(json::string(*agent->webhook_url))
                                          : json::value(nullptr);
    o["has_webhook_secret"] = agent->webhook_secret.has_value();
    o["data_keys"] = StringArray(agent->data_keys);
    o["node_keys"] = StringArray({node_keys.begin(), node_keys.end()});
    o["last_sequence"] = std::to_string(agent->last_sequence);
    o["last_seen"] = OptionalTime(agent->last_seen);
    o["created_at"] = FormatIsoUtc(agent->created_at);
    o["updated_at"] = FormatIsoUtc(agent->updated_at);
    return o;
}

Result<AgentContext> ContextEngine::ComputeContext(const std::string& agent_id, bool touch) {
    CONTEX_ASSIGN_OR_RETURN(auto agent, storage_.GetAgent(agent_id));
    if (!agent) return NotFound("Agent not found");
    CONTEX_ASSIGN_OR_RETURN(auto project, GetProject(agent->project_id));
    std::vector<std::string> needs;
    std::vector<std::vector<float>> vectors;
    std::int64_t sequence;
    {
        std::shared_lock lock(project->mutex);
        auto it = project->agents.find(agent_id);
        if (it != project->agents.end()) {
            needs = it->second.needs;
            vectors = it->second.need_vectors;
        } else {
            needs = agent->needs;
        }
        sequence = project->sequence;
    }
    const bool toon = agent->response_format == "toon";
    auto by_need = SearchNeeds(*project, needs, vectors, settings_.max_matches,
                               settings_.similarity_threshold, toon, nullptr);
    ApplyBudget(by_need, settings_.max_context_size);
    AgentContext ctx;
    ctx.agent_id = agent_id;
    ctx.project_id = agent->project_id;
    ctx.sequence = sequence;
    ctx.format = toon ? "toon" : "json";
    ctx.context = ToContextObject(by_need);
    ctx.matched_needs = MatchedCounts(by_need);
    if (touch) (void)storage_.TouchAgent(agent_id, clock_.Now());
    return ctx;
}

Result<AgentContext> ContextEngine::GetContext(const std::string& agent_id) {
    return ComputeContext(agent_id, true);
}

constexpr int kRecentDeliveries = 10;

Result<json::object> ContextEngine::GetStatus(const std::string& agent_id) {
    CONTEX_ASSIGN_OR_RETURN(auto agent, storage_.GetAgent(agent_id));
    if (!agent) return NotFound("Agent not found");
    CONTEX_ASSIGN_OR_RETURN(std::int64_t current, storage_.CurrentSequence(agent->project_id));
    const bool webhook = agent->notification_method == "webhook";
    CONTEX_ASSIGN_OR_RETURN(auto deliveries,
                            storage_.GetDeliverySummary(agent_id, webhook ? kRecentDeliveries : 0));
    json::object o;
    o["agent_id"] = agent->agent_id;
    o["project_id"] = agent->project_id;
    o["status"] = "active";
    o["notification_method"] = agent->notification_method;
    o["last_sequence"] = std::to_string(agent->last_sequence);
    o["current_sequence"] = std::to_string(current);
    o["pending_deliveries"] = deliveries.pending;
    o["failed_deliveries"] = deliveries.failed;
    o["sse_connections"] = static_cast<std::int64_t>(fanout_.streams_for(agent_id));
    o["last_seen"] = OptionalTime(agent->last_seen);
    if (webhook) {
        // Extension (docs/decisions/0004-webhooks.md): the webhook's state and its most
        // recent deliveries, newest first.
        o["webhook_disabled"] = storage::WebhookDisabled(*agent);
        json::array recent;
        for (const auto& row : deliveries.recent) {
            json::object d;
            d["webhook_id"] = row.message_id;
            d["sequence"] = std::to_string(row.sequence);
            d["type"] = row.type;
            d["status"] = *row.delivery_status;
            d["attempts"] = row.attempts;
            d["last_status_code"] =
                row.last_status_code ? json::value(*row.last_status_code) : json::value(nullptr);
            d["last_error"] = row.last_error ? json::value(json::string(*row.last_error))
                                             : json::value(nullptr);
            d["next_attempt_at"] = OptionalTime(row.next_attempt_at);
            d["delivered_at"] = OptionalTime(row.delivered_at);
            d["created_at"] = OptionalTime(row.created_at);
            recent.push_back(std::move(d));
        }
        o["recent_deliveries"] = std::move(recent);
    }
    return o;
}

// ---- agent streams ----------------------------------------------------------------------

namespace {

// Orders a stream: the backlog (stored or fresh messages) first, then live messages that
// arrived meanwhile or later, never a lower sequence than already sent.
class OrderedStream final : public StreamSubscription {
public:
    explicit OrderedStream(std::function<void(const AgentMessage&)> deliver)
        : deliver_(std::move(deliver)) {}

    void SetSubscription(std::unique_ptr<StreamSubscription> subscription) {
        subscription_ = std::move(subscription);
    }
    void OnLive(const AgentMessage& m) {
        std::lock_guard lock(mutex_);
        if (!backlog_done_) {
            pending_.push_back(m);
            return;
        }
        SendLocked(m);
    }
    void SendBacklog(const std::vector<AgentMessage>& backlog) {
        std::lock_guard lock(mutex_);
        for (const auto& m : backlog) SendLocked(m, true);
        backlog_done_ = true;
        // Live messages that raced the backlog: older ones and exact repeats are dropped.
        for (const auto& m : pending_) SendLocked(m);
        pending_.clear();
    }

private:
    void SendLocked(const AgentMessage& m, bool force = false) {
        if (m.type != "unregistered") {
            // Drop what is older than the stream's position, and exact repeats at it (a
            // message may reach a stream both from storage and live).
            if (!force && (m.sequence < last_sequence_ ||
                           (m.sequence == last_sequence_ && sent_at_last_.count(m.json)))) {
                return;
            }
            if (m.sequence > last_sequence_) {
                last_sequence_ = m.sequence;
                sent_at_last_.clear();
            }
            sent_at_last_.insert(m.json);
        }
        deliver_(m);
    }

    std::function<void(const AgentMessage&)> deliver_;
    std::mutex mutex_;
    bool backlog_done_ = false;
    std::vector<AgentMessage> pending_;
    std::int64_t last_sequence_ = 0;
    std::set<std::string> sent_at_last_;  // messages sent at last_sequence_
    std::unique_ptr<StreamSubscription> subscription_;  // destroyed last: unsubscribes
};

}  // namespace

Result<std::unique_ptr<StreamSubscription>> ContextEngine::OpenStream(
    const std::string& agent_id, std::optional<std::int64_t> cursor,
    std::function<void(const AgentMessage&)> deliver) {
    CONTEX_ASSIGN_OR_RETURN(auto agent, storage_.GetAgent(agent_id));
    if (!agent) return NotFound("Agent not found");
    if (fanout_.open_streams() >= static_cast<std::size_t>(settings_.sse_max_streams)) {
        return Unavailable("Too many open streams");
    }
    auto stream = std::make_unique<OrderedStream>(std::move(deliver));
    OrderedStream* raw = stream.get();
    stream->SetSubscription(
        fanout_.Subscribe(agent_id, [raw](const AgentMessage& m) { raw->OnLive(m); }));

    std::vector<AgentMessage> backlog;
    bool fresh = !cursor.has_value();
    if (cursor) {
        CONTEX_ASSIGN_OR_RETURN(auto rows, storage_.ListNotifications(agent_id, *cursor, 100000));
        if (rows.empty() && agent->last_sequence > *cursor) {
            fresh = true;  // messages after the cursor were pruned
        }
        for (const auto& r : rows) backlog.push_back({r.sequence, r.type, ToJson(r.payload)});
    }
    if (fresh) {
        CONTEX_ASSIGN_OR_RETURN(auto ctx, ComputeContext(agent_id, false));
        backlog.push_back({ctx.sequence, "initial_context",
                           InitialContextMessage(agent_id, ctx.project_id, ctx.sequence,
                                                 ctx.format == "toon", ctx.context)});
    }
    stream->SendBacklog(backlog);
    return std::unique_ptr<StreamSubscription>(std::move(stream));
}

// ---- events and project data ---------------------------------------------------------------

Result<json::array> ContextEngine::ListEvents(const EventQuery& q) {
    CONTEX_ASSIGN_OR_RETURN(auto events, storage_.ListEvents(q.project_id, q.since, q.count,
                                                             q.data_key, q.event_type));
    json::array out;
    for (const auto& e : events) out.push_back(EventJson(e));
    return out;
}

Result<std::vector<std::string>> ContextEngine::ListDataKeys(const std::string& project_id) {
    CONTEX_ASSIGN_OR_RETURN(auto keys, storage_.ListDataKeys(project_id));
    std::vector<std::string> out;
    for (const auto& k : keys) out.push_back(k.data_key);
    std::sort(out.begin(), out.end());
    return out;
}

Result<json::array> ContextEngine::ListProjectNodes(const std::string& project_id,
                                                    std::optional<std::string> data_key) {
    CONTEX_ASSIGN_OR_RETURN(auto keys, storage_.ListDataKeys(project_id));
    std::map<std::string, std::int64_t> sequences;
    for (const auto& k : keys) sequences[k.data_key] = k.sequence;
    CONTEX_ASSIGN_OR_RETURN(auto nodes, storage_.ListNodes(project_id, std::move(data_key), false));
    json::array out;
    for (const auto& n : nodes) {
        json::object o;
        o["data_key"] = n.data_key;
        o["node_key"] = n.node_key;
        o["node_path"] = n.node_path;
        o["node_type"] = n.node_type;
        o["description"] = n.description;
        o["data"] = n.data;
        o["data_format"] = n.data_format;
        o["is_structured"] = IsStructuredType(n.node_type);
        o["metadata"] = n.metadata;
        o["sequence"] = std::to_string(sequences[n.data_key]);
        o["toon"] = ToToon(n.data);
        out.push_back(std::move(o));
    }
    return out;
}

Result<json::object> ContextEngine::Export(const ExportRequest& req) {
    json::object data;
    if (req.include_events) {
        json::array events;
        std::int64_t after = 0;
        while (true) {
            CONTEX_ASSIGN_OR_RETURN(auto page, storage_.ListEvents(req.project_id, after, 1000,
                                                                   req.data_key, std::nullopt));
            if (page.empty()) break;
            for (const auto& e : page) {
                json::object o;
                o["event_id"] = std::to_string(e.sequence);
                o["sequence"] = std::to_string(e.sequence);
                o["event_type"] = e.event_type;
                o["data_key"] = e.data_key;
                o["changed"] = e.changed;
                o["data"] = e.data;
                o["created_at"] = FormatIsoUtc(e.created_at);
                events.push_back(std::move(o));
            }
            after = page.back().sequence;
            if (page.size() < 1000) break;
        }
        data["events"] = std::move(events);
    }
    if (req.include_embeddings) {
        CONTEX_ASSIGN_OR_RETURN(auto nodes, storage_.ListNodes(req.project_id, req.data_key, false));
        json::array embeddings;
        for (const auto& n : nodes) {
            json::object o;
            o["key"] = n.node_key;
            o["node_key"] = n.node_key;
            o["data_key"] = n.data_key;
            o["node_path"] = n.node_path;
            o["node_type"] = n.node_type;
            o["description"] = n.description;
            o["data"] = n.data;
            o["data_format"] = n.data_format;
            o["metadata"] = n.metadata;
            embeddings.push_back(std::move(o));
        }
        data["embeddings"] = std::move(embeddings);
    }
    if (req.include_agents) {
        CONTEX_ASSIGN_OR_RETURN(auto agents, storage_.ListAgents(req.project_id));
        json::array list;
        for (const auto& a : agents) {
            json::object d;
            d["project_id"] = a.project_id;
            d["tenant_id"] = a.tenant_id ? json::value(json::string(*a.tenant_id)) : json::value(nullptr);
            d["needs"] = StringArray(a.needs);
            d["notification_method"] = a.notification_method;
            d["response_format"] = a.response_format;
            d["notification_channel"] = a.notification_channel;
            d["webhook_url"] = a.webhook_url ? json::value(json::string(*a.webhook_url)) : json::value(nullptr);
            d["data_keys"] = StringArray(a.data_keys);
            json::object o;
            o["agent_id"] = a.agent_id;
            o["data"] = std::move(d);
            o["last_seen"] = OptionalTime(a.last_seen);
            o["last_sequence"] = std::to_string(a.last_sequence);
            list.push_back(std::move(o));
        }
        data["agents"] = std::move(list);
    }
    json::object doc;
    doc["project_id"] = req.project_id;
    doc["export_timestamp"] = std::round(ToUnixSeconds(clock_.Now()) * 1e6) / 1e6;
    doc["version"] = "1.1";
    doc["data"] = std::move(data);
    return doc;
}

obs::ComponentHealth ContextEngine::CheckIndexHealth() {
    std::size_t loaded = 0, nodes = 0, hnsw = 0;
    {
        std::lock_guard lock(projects_mutex_);
        for (const auto& [id, p] : projects_) {
            if (!p->loaded) continue;
            ++loaded;
            auto stats = p->index.snapshot()->stats();
            nodes += stats.nodes;
            if (stats.hnsw_nodes > 0) ++hnsw;
        }
    }
    obs::ComponentHealth h;
    h.message = "Search index is healthy";
    h.details["projects_loaded"] = static_cast<std::int64_t>(loaded);
    h.details["nodes"] = static_cast<std::int64_t>(nodes);
    h.details["hnsw_projects"] = static_cast<std::int64_t>(hnsw);
    h.details["pending_embeddings"] = static_cast<std::int64_t>(embedder_.queue_depth());
    return h;
}

// ---- import ---------------------------------------------------------------------------------

namespace {

std::optional<std::int64_t> DigitsValue(const json::value& v) {
    if (v.is_int64() && v.get_int64() >= 0) return v.get_int64();
    if (v.is_uint64()) return static_cast<std::int64_t>(v.get_uint64());
    if (!v.is_string()) return std::nullopt;
    std::string_view s = v.get_string();
    if (s.empty() || s.size() > 18) return std::nullopt;
    std::int64_t out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        out = out * 10 + (c - '0');
    }
    return out;
}

}  // namespace

Result<ImportOutcome> ContextEngine::Import(const ImportRequest& req) {
    ImportOutcome outcome;
    json::array errors, warnings;
    json::value doc_project = nullptr;
    const json::object* doc = req.document.if_object();
    const json::object* data = nullptr;
    const json::array* events = nullptr;
    const json::array* embeddings = nullptr;
    const json::array* agents = nullptr;
    struct ImportedEvent {
        std::int64_t sequence;
        storage::EventRecord record;
    };
    std::vector<ImportedEvent> parsed_events;
    if (!doc) {
        errors.emplace_back("Missing required field: project_id");
        errors.emplace_back("Missing required field: data");
    } else {
        if (const auto* p = doc->if_contains("project_id"); p && p->is_string()) {
            doc_project = *p;
        } else {
            errors.emplace_back("Missing required field: project_id");
        }
        if (!doc->contains("version")) warnings.emplace_back("Missing version field");
        const json::value* d = doc->if_contains("data");
        if (!d) {
            errors.emplace_back("Missing required field: data");
        } else if (!d->is_object()) {
            errors.emplace_back("'data' field must be a dictionary");
        } else {
            data = &d->get_object();
        }
    }
    if (data) {
        if (const auto* e = data->if_contains("events")) {
            if (!e->is_array()) errors.emplace_back("'events' must be a list");
            else events = &e->get_array();
        }
        if (const auto* e = data->if_contains("embeddings")) {
            if (!e->is_array()) errors.emplace_back("'embeddings' must be a list");
            else embeddings = &e->get_array();
        }
        if (const auto* a = data->if_contains("agents")) {
            if (!a->is_array()) errors.emplace_back("'agents' must be a list");
            else agents = &a->get_array();
        }
    }
    if (events) {
        std::set<std::int64_t> seen;
        for (std::size_t i = 0; i < events->size(); ++i) {
            const auto* e = (*events)[i].if_object();
            std::string n = std::to_string(i);
            if (!e || !e->contains("event_id")) {
                errors.emplace_back(json::string("Event " + n + " missing event_id"));
                continue;
            }
            if (!e->contains("data")) {
                errors.emplace_back(json::string("Event " + n + " missing data"));
                continue;
            }
            std::optional<std::int64_t> seq;
            if (const auto* s = e->if_contains("sequence")) seq = DigitsValue(*s);
            if (!seq) seq = DigitsValue(e->at("event_id"));
            if (!seq) {
                errors.emplace_back(json::string("Event " + n + " has a non-numeric event_id"));
                continue;
            }
            if (!seen.insert(*seq).second) {
                errors.emplace_back(json::string("Duplicate event sequence " + std::to_string(*seq)));
                continue;
            }
            storage::EventRecord r;
            r.project_id = req.project_id;
            r.sequence = *seq;
            const auto* type = e->if_contains("event_type");
            r.event_type = type && type->is_string() ? std::string(type->get_string()) : "imported";
            r.data = e->at("data");
            if (const auto* obj = r.data.if_object(); obj && obj->size() == 1) {
                r.data_key = std::string(obj->begin()->key());
            } else if (const auto* dk = e->if_contains("data_key"); dk && dk->is_string()) {
                r.data_key = std::string(dk->get_string());
            }
            if (const auto* c = e->if_contains("changed"); c && c->is_bool()) r.changed = c->get_bool();
            r.created_at = clock_.Now();
            if (const auto* t = e->if_contains("created_at"); t && t->is_string()) {
                if (auto parsed = ParseIsoUtc(t->get_string())) r.created_at = *parsed;
            }
            parsed_events.push_back({*seq, std::move(r)});
        }
    }
    outcome.validation["valid"] = errors.empty();
    outcome.validation["errors"] = errors;
    outcome.validation["warnings"] = warnings;
    outcome.validation["project_id"] = doc_project;
    if (!errors.empty()) return outcome;
    std::string doc_project_id(doc_project.get_string());
    if (doc_project_id != req.project_id) {
        return InvalidArgument("Project ID mismatch: URL has '" + req.project_id +
                               "' but data has '" + doc_project_id + "'");
    }
    CONTEX_ASSIGN_OR_RETURN(auto existing, storage_.ListEvents(req.project_id, 0, 1, std::nullopt, std::nullopt));
    if (!existing.empty() && !req.overwrite) {
        return InvalidArgument("Project " + req.project_id +
                               " already has data. Use overwrite=True to replace.");
    }
    if (req.validate_only) return outcome;

    // Current content: the newest imported event of every data key, re-ingested.
    std::sort(parsed_events.begin(), parsed_events.end(),
              [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
    std::map<std::string, const storage::EventRecord*> newest;
    for (const auto& e : parsed_events) {
        if (!e.record.data_key.empty()) newest[e.record.data_key] = &e.record;
    }
    std::map<std::string, std::string> formats;
    std::map<std::string, std::vector<const json::object*>> doc_nodes;
    if (embeddings) {
        for (const auto& v : *embeddings) {
            const auto* o = v.if_object();
            if (!o) continue;
            const auto* dk = o->if_contains("data_key");
            if (!dk || !dk->is_string()) continue;
            std::string key(dk->get_string());
            if (const auto* f = o->if_contains("data_format"); f && f->is_string()) {
                formats.emplace(key, std::string(f->get_string()));
            }
            doc_nodes[key].push_back(o);
        }
    }
    ingest::ParseOptions options;
    options.max_nodes = settings_.max_nodes_per_key;
    options.max_input_bytes = settings_.max_request_bytes;
    options.chunk_max_tokens = settings_.chunk_max_tokens;
    options.max_seq_tokens = static_cast<std::size_t>(std::max(16, embedder_.max_tokens()));
    options.count_tokens = [this](std::string_view text) { return embedder_.CountTokens(text); };

    struct KeyContent {
        storage::DataKeyRecord record;
        std::vector<storage::NodeRecord> nodes;
    };
    std::vector<KeyContent> contents;
    std::int64_t embeddings_imported = 0, nodes_rebuilt = 0;
    for (const auto& [key, event] : newest) {
        const json::value* payload = event->data.is_object() ? event->data.as_object().if_contains(key) : nullptr;
        json::value value = payload ? *payload : event->data;
        std::optional<std::string_view> hint;
        if (auto f = formats.find(key); f != formats.end()) hint = f->second;
        CONTEX_ASSIGN_OR_RETURN(auto parsed, ingest::Parse(key, value, hint, options));
        CONTEX_ASSIGN_OR_RETURN(auto prepared, Prepare(key, parsed, {}));
        KeyContent c;
        c.record = {req.project_id, key, std::string(ingest::FormatName(parsed.format)),
                    parsed.content_hash, value, static_cast<int>(parsed.nodes.size()),
                    event->sequence, clock_.Now()};
        c.nodes = std::move(prepared.upserts);
        nodes_rebuilt += static_cast<std::int64_t>(c.nodes.size());
        contents.push_back(std::move(c));
    }
    for (const auto& [key, nodes] : doc_nodes) {
        if (newest.count(key)) continue;
        KeyContent c;
        std::vector<std::string> texts;
        for (const auto* o : nodes) {
            storage::NodeRecord n;
            n.project_id = req.project_id;
            n.data_key = key;
            auto str = [&](const char* field) {
                const auto* v = o->if_contains(field);
                return v && v->is_string() ? std::string(v->get_string()) : std::string();
            };
            n.node_key = str("node_key").empty() ? str("key") : str("node_key");
            if (n.node_key.empty()) continue;
            n.node_path = str("node_path");
            n.node_type = str("node_type").empty() ? "object" : str("node_type");
            n.description = str("description");
            n.data_format = str("data_format").empty() ? "json" : str("data_format");
            n.text_hash = ingest::TextHash(n.description);
            if (const auto* d = o->if_contains("data"); d && d->is_object()) n.data = d->get_object();
            if (const auto* m = o->if_contains("metadata"); m && m->is_object()) n.metadata = m->get_object();
            n.node_index = static_cast<int>(c.nodes.size());
            texts.push_back(n.description);
            c.nodes.push_back(std::move(n));
        }
        if (!texts.empty()) {
            auto vectors = embedder_.Embed(texts, embed::Priority::kBulk, embed::TextKind::kDocument);
            if (!vectors.ok()) return Unavailable("Embedding service unavailable");
            for (std::size_t i = 0; i < c.nodes.size(); ++i) {
                c.nodes[i].embedding = std::move((*vectors)[i]);
                c.nodes[i].model_id = embedder_.model_id();
            }
        }
        // No payload to re-ingest: the document's nodes are the content.
        json::array original;
        for (const auto* o : nodes) original.push_back(*o);
        c.record = {req.project_id, key, c.nodes.empty() ? "json" : c.nodes.front().data_format,
                    Sha256Hex("embeddings\n" + ToJson(original)), original,
                    static_cast<int>(c.nodes.size()), 0, clock_.Now()};
        embeddings_imported += static_cast<std::int64_t>(c.nodes.size());
        nodes_rebuilt += static_cast<std::int64_t>(c.nodes.size());
        contents.push_back(std::move(c));
    }
    struct ImportedAgent {
        storage::AgentRecord record;
        std::vector<std::vector<float>> vectors;
    };
    std::vector<ImportedAgent> imported_agents;
    if (agents) {
        for (const auto& v : *agents) {
            const auto* o = v.if_object();
            if (!o) continue;
            const auto* id = o->if_contains("agent_id");
            if (!id || !id->is_string()) continue;
            const json::object empty;
            const auto* d = o->if_contains("data");
            const json::object& info = d && d->is_object() ? d->get_object() : empty;
            ImportedAgent a;
            a.record.agent_id = std::string(id->get_string());
            a.record.project_id = req.project_id;
            if (const auto* needs = info.if_contains("needs"); needs && needs->is_array()) {
                for (const auto& n : needs->get_array()) {
                    if (n.is_string()) a.record.needs.emplace_back(n.get_string());
                }
            }
            a.record.needs = DistinctNeeds(a.record.needs);
            auto str = [&](const char* field, const char* fallback) {
                const auto* v2 = info.if_contains(field);
                return v2 && v2->is_string() ? std::string(v2->get_string()) : std::string(fallback);
            };
            a.record.notification_method = str("notification_method", "redis");
            a.record.response_format = str("response_format", "json");
            a.record.notification_channel =
                str("notification_channel", ("agent:" + a.record.agent_id + ":updates").c_str());
            if (const auto* w = info.if_contains("webhook_url"); w && w->is_string()) {
                a.record.webhook_url = std::string(w->get_string());
            }
            if (const auto* ls = o->if_contains("last_sequence")) {
                a.record.last_sequence = DigitsValue(*ls).value_or(0);
            }
            a.record.created_at = a.record.updated_at = clock_.Now();
            a.record.data = json::object{{"webhook_secret_encrypted", false}};
            if (!a.record.needs.empty()) {
                auto vectors = embedder_.Embed(a.record.needs, embed::Priority::kBulk, embed::TextKind::kQuery);
                if (!vectors.ok()) return Unavailable("Embedding service unavailable");
                a.vectors = std::move(vectors).value();
            }
            imported_agents.push_back(std::move(a));
        }
    }

    CONTEX_ASSIGN_OR_RETURN(auto project, GetProject(req.project_id));
    std::lock_guard write(project->write_mutex);
    std::int64_t highest = parsed_events.empty() ? 0 : parsed_events.back().sequence;
    CONTEX_TRY(storage_.WithProjectTransaction(req.project_id, [&](storage::ProjectTransaction& tx) -> Status {
        CONTEX_TRY(tx.LockProject());
        if (req.overwrite) CONTEX_TRY(tx.DeleteProjectContent());
        std::vector<storage::EventRecord> rows;
        for (const auto& e : parsed_events) rows.push_back(e.record);
        CONTEX_TRY(tx.InsertEvents(rows));
        for (auto& c : contents) {
            for (auto& n : c.nodes) n.project_id = req.project_id;
            CONTEX_TRY(tx.ReplaceNodes(c.record.data_key, {}, c.nodes));
            CONTEX_TRY(tx.UpsertDataKey(c.record));
        }
        for (const auto& a : imported_agents) {
            CONTEX_TRY(tx.UpsertAgent(a.record));
            std::vector<storage::AgentNeedRecord> needs;
            for (std::size_t i = 0; i < a.record.needs.size(); ++i) {
                needs.push_back({a.record.agent_id, static_cast<int>(i), a.record.needs[i],
                                 i < a.vectors.size() ? a.vectors[i] : std::vector<float>{},
                                 embedder_.model_id()});
            }
            CONTEX_TRY(tx.ReplaceAgentNeeds(a.record.agent_id, needs));
        }
        return tx.RaiseSequenceTo(highest);
    }));
    CONTEX_TRY(LoadProject(req.project_id, *project));

    // Interest sets of the imported agents against the imported content (no messages).
    if (!imported_agents.empty()) {
        CONTEX_TRY(storage_.WithProjectTransaction(req.project_id, [&](storage::ProjectTransaction& tx) -> Status {
            for (const auto& a : imported_agents) {
                std::vector<std::map<std::string, Interest>> interest;
                SearchNeeds(*project, a.record.needs, a.vectors, settings_.max_matches,
                            settings_.similarity_threshold, false, &interest);
                std::vector<storage::AgentMatchRecord> rows;
                for (std::size_t i = 0; i < interest.size(); ++i) {
                    for (const auto& [key, m] : interest[i]) {
                        rows.push_back({a.record.agent_id, req.project_id, static_cast<int>(i), key,
                                        m.data_key, m.similarity, m.keyword_score});
                    }
                }
                CONTEX_TRY(tx.ReplaceAgentMatches(a.record.agent_id, rows));
            }
            return OkStatus();
        }));
        CONTEX_TRY(LoadProject(req.project_id, *project));
    }
    NotifyChange({req.project_id, highest, "", "import"});
    outcome.imported = true;
    outcome.stats["project_id"] = req.project_id;
    outcome.stats["events_imported"] = static_cast<std::int64_t>(parsed_events.size());
    outcome.stats["embeddings_imported"] = embeddings_imported;
    outcome.stats["agents_imported"] = static_cast<std::int64_t>(imported_agents.size());
    outcome.stats["nodes_rebuilt"] = nodes_rebuilt;
    return outcome;
}

// ---- background re-embedding (engine.md §2.7) -------------------------------------------

void ContextEngine::StartReembedding() {
    std::lock_guard lock(reembed_mutex_);
    if (reembed_stopping_) return;
    if (reembed_running_) {
        reembed_again_ = true;  // the running pass started on an older model: go round again
        return;
    }
    if (reembed_thread_.joinable()) reembed_thread_.join();
    reembed_running_ = true;
    reembed_thread_ = std::thread([this] { ReembedLoop(); });
}

void ContextEngine::HandleModelChange() {
    {
        std::lock_guard lock(projects_mutex_);
        for (auto& [id, project] : projects_) project->loaded = false;
    }
    StartReembedding();
}

void ContextEngine::StopBackgroundWork() {
    {
        std::lock_guard lock(reembed_mutex_);
        reembed_stopping_ = true;
    }
    lifecycle_wake_.notify_all();
    if (reembed_thread_.joinable()) reembed_thread_.join();
    if (lifecycle_thread_.joinable()) lifecycle_thread_.join();
}

void ContextEngine::StartIndexLifecycle() {
    std::lock_guard lock(reembed_mutex_);
    if (lifecycle_thread_.joinable() || reembed_stopping_) return;
    lifecycle_thread_ = std::thread([this] {
        if (settings_.index_preload) {
            auto projects = storage_.ListProjects();
            for (const auto& id : projects.ok() ? *projects : std::vector<std::string>{}) {
                if (ReembedStopping()) return;
                if (auto loaded = GetProject(id); !loaded.ok()) {
                    logger_.Warning(kLog, "Index preload failed",
                                    {{"project_id", id}, {"error", loaded.error().message}});
                }
            }
        }
        std::unique_lock lock(reembed_mutex_);
        while (!lifecycle_wake_.wait_for(lock, settings_.index_reconcile,
                                         [this] { return reembed_stopping_; })) {
            lock.unlock();
            if (auto marked = ReconcileProjects(); !marked.ok()) {
                logger_.Warning(kLog, "Index reconcile failed", {{"error", marked.error().message}});
            }
            lock.lock();
        }
    });
}

Result<std::size_t> ContextEngine::ReconcileProjects() {
    std::vector<std::pair<std::string, std::shared_ptr<Project>>> loaded;
    {
        std::lock_guard lock(projects_mutex_);
        for (const auto& [id, project] : projects_) {
            if (project->loaded) loaded.emplace_back(id, project);
        }
    }
    std::size_t marked = 0;
    for (const auto& [id, project] : loaded) {
        CONTEX_ASSIGN_OR_RETURN(std::int64_t stored, storage_.CurrentSequence(id));
        std::int64_t known;
        {
            std::shared_lock lock(project->mutex);
            known = project->sequence;
        }
        if (stored != known) {
            project->loaded = false;
            ++marked;
        }
    }
    return marked;
}

void ContextEngine::EvictOverBudget(const std::string& keep) {
    if (settings_.index_max_memory_bytes == 0) return;
    std::lock_guard lock(projects_mutex_);
    for (;;) {
        std::size_t total = 0;
        std::string victim;
        std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
        for (const auto& [id, project] : projects_) {
            if (!project->loaded) continue;
            total += project->index.snapshot()->memory_bytes();
            if (id != keep && project->last_used < oldest) {
                oldest = project->last_used;
                victim = id;
            }
        }
        if (total <= settings_.index_max_memory_bytes || victim.empty()) return;
        logger_.Info(kLog, "Project index evicted",
                     {{"project_id", victim},
                      {"memory_bytes", static_cast<std::int64_t>(projects_[victim]->index.snapshot()->memory_bytes())},
                      {"limit_bytes", static_cast<std::int64_t>(settings_.index_max_memory_bytes)}});
        // Holders of the runtime keep it alive; the next use loads a fresh one.
        projects_.erase(victim);
    }
}

bool ContextEngine::ReembedStopping() {
    std::lock_guard lock(reembed_mutex_);
    return reembed_stopping_;
}

void ContextEngine::ReembedLoop() {
    for (;;) {
        auto projects = storage_.ListProjects();
        if (!projects.ok()) {
            logger_.Warning(kLog, "Re-embedding could not list projects",
                            {{"error", projects.error().message}});
        } else {
            const std::string model = embedder_.model_id();
            std::int64_t done = 0, nodes = 0, needs = 0, failed = 0;
            bool announced = false;
            for (const auto& project_id : *projects) {
                if (ReembedStopping()) break;
                auto counts = ReembedProject(project_id, [&] {
                    if (announced) return;
                    announced = true;
                    embedder_.SetReembedding(true);
                    logger_.Info(kLog, "Re-embedding started",
                                 {{"model", model},
                                  {"projects", static_cast<std::int64_t>(projects->size())}});
                });
                ++done;
                if (!counts.ok()) {
                    ++failed;
                    logger_.Warning(kLog, "Re-embedding failed for a project",
                                    {{"project_id", project_id},
                                     {"error", counts.error().message}});
                    continue;
                }
                if (counts->first + counts->second == 0) continue;
                nodes += counts->first;
                needs += counts->second;
                logger_.Info(kLog, "Re-embedding progress",
                             {{"project_id", project_id},
                              {"nodes", counts->first},
                              {"needs", counts->second},
                              {"projects_done", done},
                              {"projects", static_cast<std::int64_t>(projects->size())}});
            }
            if (announced) {
                embedder_.SetReembedding(false);
                logger_.Info(kLog, "Re-embedding finished",
                             {{"model", model}, {"nodes", nodes}, {"needs", needs},
                              {"failed_projects", failed}});
            }
        }
        std::lock_guard lock(reembed_mutex_);
        if (!reembed_again_ || reembed_stopping_) {
            reembed_running_ = false;
            return;
        }
        reembed_again_ = false;
    }
}

Result<std::pair<std::int64_t, std::int64_t>> ContextEngine::ReembedProject(
    const std::string& project_id, const std::function<void()>& on_first_work) {
    const std::string model = embedder_.model_id();
    const int dim = embedder_.dim();
    auto current_need = [&](const storage::AgentNeedRecord& n) {
        return n.model_id == model && static_cast<int>(n.embedding.size()) == dim;
    };
    CONTEX_ASSIGN_OR_RETURN(auto nodes, storage_.ListNodes(project_id, std::nullopt, true));
    CONTEX_ASSIGN_OR_RETURN(auto needs, storage_.ListNeeds(project_id));
    std::vector<const storage::NodeRecord*> stale_nodes;
    for (const auto& n : nodes) {
        if (!UsableVector(n)) stale_nodes.push_back(&n);
    }
    std::vector<const storage::AgentNeedRecord*> stale_needs;
    for (const auto& n : needs) {
        if (!current_need(n)) stale_needs.push_back(&n);
    }
    if (stale_nodes.empty() && stale_needs.empty()) return std::make_pair(0L, 0L);
    on_first_work();

    // Embed outside any lock, at bulk priority, in slices the batcher can interleave with
    // interactive work. Keyed by node key + text hash: a node republished meanwhile with
    // other text is left to its publish.
    auto embed_in_slices = [&](std::vector<std::string> texts, embed::TextKind kind)
        -> Result<std::vector<std::vector<float>>> {
        constexpr std::size_t kSlice = 64;
        std::vector<std::vector<float>> out;
        for (std::size_t at = 0; at < texts.size(); at += kSlice) {
            if (ReembedStopping()) return Cancelled("stopping");
            std::vector<std::string> slice(
                texts.begin() + static_cast<std::ptrdiff_t>(at),
                texts.begin() + static_cast<std::ptrdiff_t>(std::min(texts.size(), at + kSlice)));
            CONTEX_ASSIGN_OR_RETURN(auto vectors,
                                    embedder_.Embed(slice, embed::Priority::kBulk, kind));
            for (auto& v : vectors) out.push_back(std::move(v));
        }
        return out;
    };
    std::vector<std::string> node_texts, need_texts;
    for (const auto* n : stale_nodes) node_texts.push_back(n->description);
    for (const auto* n : stale_needs) need_texts.push_back(n->need);
    CONTEX_ASSIGN_OR_RETURN(auto node_embeddings,
                            embed_in_slices(std::move(node_texts), embed::TextKind::kDocument));
    CONTEX_ASSIGN_OR_RETURN(auto need_embeddings,
                            embed_in_slices(std::move(need_texts), embed::TextKind::kQuery));
    std::map<std::string, std::pair<std::string, std::vector<float>>> node_vectors;
    for (std::size_t i = 0; i < stale_nodes.size(); ++i) {
        node_vectors[stale_nodes[i]->node_key] = {stale_nodes[i]->text_hash,
                                                  std::move(node_embeddings[i])};
    }
    std::map<std::pair<std::string, int>, std::pair<std::string, std::vector<float>>> need_vectors;
    for (std::size_t i = 0; i < stale_needs.size(); ++i) {
        need_vectors[{stale_needs[i]->agent_id, stale_needs[i]->need_index}] = {
            stale_needs[i]->need, std::move(need_embeddings[i])};
    }

    // Write back under the project's write lock (publishes and registrations on this
    // replica wait) and its storage lock (other replicas wait).
    CONTEX_ASSIGN_OR_RETURN(auto project, GetProject(project_id));
    std::lock_guard write(project->write_mutex);
    CONTEX_ASSIGN_OR_RETURN(auto fresh_needs, storage_.ListNeeds(project_id));
    std::map<std::string, std::vector<storage::AgentNeedRecord>> needs_by_agent;
    std::set<std::string> agents_updated;
    std::int64_t needs_updated = 0;
    for (auto& n : fresh_needs) {
        auto it = need_vectors.find({n.agent_id, n.need_index});
        if (!current_need(n) && it != need_vectors.end() && it->second.first == n.need) {
            n.embedding = it->second.second;
            n.model_id = model;
            ++needs_updated;
            agents_updated.insert(n.agent_id);
        }
        needs_by_agent[n.agent_id].push_back(std::move(n));
    }
    std::set<std::string> data_keys;
    for (const auto* n : stale_nodes) data_keys.insert(n->data_key);
    std::int64_t nodes_updated = 0, sequence = 0;
    CONTEX_TRY(storage_.WithProjectTransaction(project_id, [&](storage::ProjectTransaction& tx) -> Status {
        nodes_updated = 0;
        CONTEX_ASSIGN_OR_RETURN(sequence, tx.LockProject());
        for (const auto& data_key : data_keys) {
            CONTEX_ASSIGN_OR_RETURN(auto current, tx.GetNodes(data_key, true));
            std::vector<storage::NodeRecord> upserts;
            for (auto& n : current) {
                auto it = node_vectors.find(n.node_key);
                if (UsableVector(n) || it == node_vectors.end() || it->second.first != n.text_hash) {
                    continue;
                }
                n.embedding = it->second.second;
                n.model_id = model;
                upserts.push_back(std::move(n));
            }
            nodes_updated += static_cast<std::int64_t>(upserts.size());
            if (!upserts.empty()) CONTEX_TRY(tx.ReplaceNodes(data_key, {}, upserts));
        }
        for (const auto& agent_id : agents_updated) {
            CONTEX_TRY(tx.ReplaceAgentNeeds(agent_id, needs_by_agent[agent_id]));
        }
        return OkStatus();
    }));
    // The runtime reloads with the new vectors on next use; other replicas too.
    project->loaded = false;
    NotifyChange({project_id, sequence, "", "model"});
    return std::make_pair(nodes_updated, needs_updated);
}

}  // namespace contex::engine
