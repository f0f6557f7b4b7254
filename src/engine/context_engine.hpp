// ContextEngine: the Engine implementation over storage, the embedding service, ingest,
// the per-project index and a message fan-out. Storage is the truth; each project's
// runtime (index, node views, needs, interest sets) is derived from it lazily and kept
// current by the writes of this replica.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "common/clock.hpp"
#include "embed/embedding_service.hpp"
#include "engine/engine.hpp"
#include "engine/fanout.hpp"
#include "engine/messages.hpp"
#include "engine/settings.hpp"
#include "index/needs_index.hpp"
#include "index/project_index.hpp"
#include "ingest/ingest.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "storage/storage.hpp"

namespace contex::engine {

class ContextEngine final : public Engine {
public:
    // References must outlive the engine.
    ContextEngine(EngineSettings settings, storage::Storage& storage,
                  embed::EmbeddingService& embedder, MessageFanout& fanout, obs::Logger& logger,
                  obs::MetricsRegistry& metrics, const Clock& clock);
    ~ContextEngine() override;

    Result<PublishResult> Publish(const PublishRequest& request) override;
    Result<RegisterResult> Register(const RegisterRequest& request) override;
    Status Unregister(const std::string& agent_id) override;
    Result<QueryResult> Query(const QueryRequest& request) override;
    Result<json::array> ListEvents(const EventQuery& query) override;
    Result<std::vector<std::string>> ListAgents(std::optional<std::string> project_id) override;
    Result<json::object> GetAgent(const std::string& agent_id) override;
    Result<AgentContext> GetContext(const std::string& agent_id) override;
    Result<json::object> GetStatus(const std::string& agent_id) override;
    Result<std::unique_ptr<StreamSubscription>> OpenStream(
        const std::string& agent_id, std::optional<std::int64_t> cursor,
        std::function<void(const AgentMessage&)> deliver) override;
    Result<json::array> ListProjectNodes(const std::string& project_id,
                                         std::optional<std::string> data_key) override;
    Result<std::vector<std::string>> ListDataKeys(const std::string& project_id) override;
    Result<json::object> Export(const ExportRequest& request) override;
    Result<ImportOutcome> Import(const ImportRequest& request) override;

    // Background re-embedding (engine.md §2.7): one thread walks every project and
    // re-embeds, at bulk priority, stored node and need vectors whose model differs from the
    // active one, then reloads the project. Health reports embedding_model degraded
    // ("reindexing") while it works; progress is logged per project. Call at start-up;
    // calling while a pass runs queues one more pass.
    void StartReembedding();
    // The active embedding model changed (the lexical fallback was replaced): every
    // project reloads and re-embedding starts.
    void HandleModelChange();
    // Index lifecycle (engine.md §3.1, §6.5): one thread preloads every project when
    // index_preload is set, then every index_reconcile compares each loaded project's
    // sequence with storage and marks stale ones for reload (other replicas' changes whose
    // notice was lost). Eviction under index_max_memory_bytes happens as projects load.
    void StartIndexLifecycle();
    // Stops re-embedding between slices and the lifecycle thread, and joins them. Idempotent.
    void StopBackgroundWork();
    // Marks every loaded project whose recorded sequence differs from storage for reload.
    // Returns how many were marked.
    Result<std::size_t> ReconcileProjects();

    // search_index health component (projects loaded, nodes).
    obs::ComponentHealth CheckIndexHealth();

    // Change feed (engine.md §6.5): a notice from another replica marks the project's
    // runtime stale so the next use reloads it from storage. Own notices are ignored.
    void HandleChange(const storage::ChangeNotice& notice);

private:
    struct Interest {
        std::string data_key;
        float similarity = 0;
        float keyword_score = 0;
    };
    struct AgentState {
        storage::AgentRecord record;
        std::vector<std::string> needs;                         // distinct, in order
        std::vector<std::vector<float>> need_vectors;           // per need
        std::vector<std::map<std::string, Interest>> interest;  // per need: node_key -> match
    };
    struct DataKeyState {
        std::string format;
        std::int64_t sequence = 0;
        std::set<std::string> node_keys;
    };
    struct Project;
    struct Prepared;

    Result<std::shared_ptr<Project>> GetProject(const std::string& project_id);
    Status LoadProject(const std::string& project_id, Project& project);
    bool UsableVector(const storage::NodeRecord& node) const;
    Result<Prepared> Prepare(const std::string& data_key, const ingest::Document& doc,
                             const std::vector<storage::NodeRecord>& existing);
    // Forward retrieval for one need/query against a project's current state.
    NeedMatches SearchNeeds(const Project& project, const std::vector<std::string>& needs,
                            const std::vector<std::vector<float>>& vectors, int k,
                            double threshold, bool toon,
                            std::vector<std::map<std::string, Interest>>* interest) const;
    Result<AgentContext> ComputeContext(const std::string& agent_id, bool touch);
    storage::NotificationRecord MakeNotification(const storage::AgentRecord& agent,
                                                 std::int64_t sequence, std::string type,
                                                 const std::string& message_json) const;
    storage::NotificationRecord MakeNotification(const storage::AgentRecord& agent,
                                                 std::int64_t sequence, std::string type,
                                                 json::value message) const;
    void Fanout(const storage::AgentRecord& agent, std::int64_t sequence, const std::string& type,
                const std::string& message_json);
    std::string ProjectLabel(const std::string& project_id);
    void NotifyChange(storage::ChangeNotice notice);
    void PushToLocalStreams(const storage::ChangeNotice& notice);
    // True when the stored registrations may differ from the runtime's (another replica or
    // the webhook dispatcher changed them since the runtime was loaded).
    Result<bool> AgentsChanged(const std::string& project_id, const Project& project);
    index::SearchParams Params(int k, double threshold) const;
    void ReembedLoop();
    // Drops the least recently used project runtimes (never `keep`) while the loaded
    // indexes exceed index_max_memory_bytes.
    void EvictOverBudget(const std::string& keep);
    bool ReembedStopping();
    // (nodes, needs) re-embedded; on_first_work runs before the first embedding call.
    Result<std::pair<std::int64_t, std::int64_t>> ReembedProject(
        const std::string& project_id, const std::function<void()>& on_first_work);
    std::string MatchTypeOf(float similarity, float keyword_score) const;

    EngineSettings settings_;
    storage::Storage& storage_;
    embed::EmbeddingService& embedder_;
    MessageFanout& fanout_;
    obs::Logger& logger_;
    const Clock& clock_;

    std::mutex projects_mutex_;
    std::map<std::string, std::shared_ptr<Project>> projects_;  // guarded by projects_mutex_

    std::mutex own_notices_mutex_;
    std::multiset<std::string> own_notices_;  // guarded by own_notices_mutex_

    std::mutex reembed_mutex_;
    bool reembed_running_ = false;   // guarded by reembed_mutex_
    bool reembed_again_ = false;     // guarded by reembed_mutex_
    bool reembed_stopping_ = false;  // guarded by reembed_mutex_
    std::thread reembed_thread_;
    std::condition_variable lifecycle_wake_;  // with reembed_mutex_ / reembed_stopping_
    std::thread lifecycle_thread_;

    std::mutex labels_mutex_;
    std::set<std::string> project_labels_;  // guarded by labels_mutex_
    std::size_t project_label_limit_ = 100;

    obs::Family<obs::Counter>& events_published_;
    obs::Family<obs::Histogram>& publish_duration_;
    obs::Family<obs::Counter>& agents_registered_;
    obs::Family<obs::Counter>& agents_unregistered_;
    obs::Family<obs::Histogram>& registration_duration_;
    obs::Family<obs::Gauge>& registered_agents_;
    obs::Family<obs::Counter>& queries_;
    obs::Family<obs::Histogram>& query_duration_;
    obs::Histogram& reverse_match_duration_;
    obs::Family<obs::Counter>& errors_;
    obs::Gauge& index_nodes_;
    obs::Gauge& projects_loaded_;
};

}  // namespace contex::engine
