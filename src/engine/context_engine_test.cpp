// ContextEngine end to end on real components: SQLite storage (a temp file), the lexical
// embedder, the real index and ingest, and a recording fan-out.
#include "engine/context_engine.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

namespace contex::engine {
namespace {

class RecordingFanout final : public MessageFanout {
public:
    struct Sent {
        Recipient recipient;
        AgentMessage message;
    };
    void Deliver(const Recipient& r, const AgentMessage& m) override {
        std::vector<std::function<void(const AgentMessage&)>> callbacks;
        {
            std::lock_guard lock(mutex_);
            sent_.push_back({r, m});
            for (auto& [agent, cb] : subscribers_) {
                if (agent == r.agent_id) callbacks.push_back(*cb);
            }
        }
        for (auto& cb : callbacks) cb(m);
    }
    void DeliverLocal(const Recipient& r, const AgentMessage& m) override { Deliver(r, m); }
    std::unique_ptr<StreamSubscription> Subscribe(
        const std::string& agent_id, std::function<void(const AgentMessage&)> cb) override {
        std::lock_guard lock(mutex_);
        auto shared = std::make_shared<std::function<void(const AgentMessage&)>>(std::move(cb));
        subscribers_.emplace_back(agent_id, shared);
        struct Handle final : StreamSubscription {
            RecordingFanout* owner;
            std::shared_ptr<std::function<void(const AgentMessage&)>> cb;
            ~Handle() override {
                std::lock_guard lock(owner->mutex_);
                std::erase_if(owner->subscribers_, [&](auto& s) { return s.second == cb; });
            }
        };
        auto h = std::make_unique<Handle>();
        h->owner = this;
        h->cb = shared;
        return h;
    }
    std::size_t open_streams() const override { return subscribers_.size(); }
    std::size_t streams_for(const std::string&) const override { return 0; }
    std::vector<std::string> streamed_agents() const override {
        std::lock_guard lock(mutex_);
        std::vector<std::string> agents;
        for (const auto& s : subscribers_) agents.push_back(s.first);
        return agents;
    }

    std::vector<Sent> For(const std::string& agent_id, const std::string& type) {
        std::lock_guard lock(mutex_);
        std::vector<Sent> out;
        for (const auto& s : sent_) {
            if (s.recipient.agent_id == agent_id && s.message.type == type) out.push_back(s);
        }
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<Sent> sent_;
    std::vector<std::pair<std::string, std::shared_ptr<std::function<void(const AgentMessage&)>>>>
        subscribers_;
};

class ContextEngineTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("contex-engine-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        log_ = std::fopen("/dev/null", "w");
        logger_ = std::make_unique<obs::Logger>(obs::LogOptions{obs::LogLevel::kError, true, log_}, clock_);
        storage::StorageConfig sc;
        sc.data_dir = dir_.string();
        auto opened = storage::OpenStorage(sc, *logger_, metrics_, clock_);
        ASSERT_TRUE(opened.ok()) << opened.error().message;
        storage_ = std::move(opened).value();
        ASSERT_TRUE(storage_->Migrate().ok());
        embed::EmbeddingConfig ec;
        ec.provider = embed::ProviderKind::kLexical;
        ec.threads = 1;
        auto service = embed::CreateEmbeddingService(ec, *logger_, metrics_, clock_);
        ASSERT_TRUE(service.ok()) << service.error().message;
        embedder_ = std::move(service).value();
        EngineSettings settings;
        settings.similarity_threshold = 0.2;
        engine_ = std::make_unique<ContextEngine>(settings, *storage_, *embedder_, fanout_,
                                                  *logger_, metrics_, clock_);
    }
    void TearDown() override {
        engine_.reset();
        embedder_.reset();
        storage_.reset();
        if (log_) std::fclose(log_);
        std::filesystem::remove_all(dir_);
    }

    PublishResult Publish(const std::string& key, const std::string& json_text,
                          std::optional<std::string> format = std::nullopt) {
        PublishRequest req{"proj", key, ParseJson(json_text).value(), std::move(format), std::nullopt};
        auto r = engine_->Publish(req);
        EXPECT_TRUE(r.ok()) << r.error().message;
        return r.ok() ? *r : PublishResult{};
    }

    RegisterResult Register(const std::string& agent, std::vector<std::string> needs,
                            std::int64_t last_seen = 0) {
        RegisterRequest req;
        req.agent_id = agent;
        req.project_id = "proj";
        req.data_needs = std::move(needs);
        req.last_seen_sequence = last_seen;
        auto r = engine_->Register(req);
        EXPECT_TRUE(r.ok()) << r.error().message;
        return r.ok() ? *r : RegisterResult{};
    }

    std::filesystem::path dir_;
    std::FILE* log_ = nullptr;
    ManualClock clock_;
    obs::MetricsRegistry metrics_;
    std::unique_ptr<obs::Logger> logger_;
    std::unique_ptr<storage::Storage> storage_;
    std::unique_ptr<embed::EmbeddingService> embedder_;
    RecordingFanout fanout_;
    std::unique_ptr<ContextEngine> engine_;
};

TEST_F(ContextEngineTest, PublishAllocatesSequencesAndDetectsIdenticalRepublish) {
    auto first = Publish("tech_stack", R"({"frontend":"React","backend":"FastAPI","database":"PostgreSQL"})");
    EXPECT_EQ(first.sequence, 1);
    EXPECT_TRUE(first.changed);
    EXPECT_EQ(first.format, "json");
    EXPECT_EQ(first.node_count, 1);
    auto again = Publish("tech_stack", R"({"frontend":"React","backend":"FastAPI","database":"PostgreSQL"})");
    EXPECT_EQ(again.sequence, 2);
    EXPECT_FALSE(again.changed);
    auto events = engine_->ListEvents({"proj", 0, 100, std::nullopt, std::nullopt});
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 2u);
    EXPECT_EQ(events->at(1).as_object().at("changed").as_bool(), false);
    EXPECT_EQ(ToJson(events->at(0).as_object().at("data")),
              R"({"tech_stack":{"frontend":"React","backend":"FastAPI","database":"PostgreSQL"}})");
}

TEST_F(ContextEngineTest, QueryFindsThePublishedKey) {
    Publish("tech_stack", R"({"frontend":"React","backend":"FastAPI","database":"PostgreSQL"})");
    auto r = engine_->Query({"proj", "What frontend framework is used?", 5, 0.0, std::nullopt, false});
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->matches.empty());
    auto& m = r->matches[0].as_object();
    EXPECT_EQ(m.at("data_key").as_string(), "tech_stack");
    EXPECT_EQ(m.at("node_key").as_string(), "tech_stack.root");
    EXPECT_GT(m.at("similarity").as_double(), 0);
    auto empty = engine_->Query({"never-used", "anything", 5, std::nullopt, std::nullopt, false});
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->matches.empty());
}

TEST_F(ContextEngineTest, RegistrationDeliversCatchUpThenInitialContext) {
    Publish("database", R"({"engine":"PostgreSQL","database_host":"db.internal","port":5432})");
    Publish("ui", R"({"theme":"dark"})");
    auto reg = Register("dba", {"database configuration", "database configuration"});
    EXPECT_EQ(reg.current_sequence, 2);
    ASSERT_EQ(reg.matched_needs.size(), 1u);  // needs de-duplicated
    EXPECT_EQ(reg.matched_needs[0].first, "database configuration");
    EXPECT_GE(reg.matched_needs[0].second, 1);
    EXPECT_EQ(reg.caught_up_events, 1);  // only the matched key's event
    EXPECT_EQ(reg.notification_channel, "agent:dba:updates");
    auto initial = fanout_.For("dba", "initial_context");
    ASSERT_EQ(initial.size(), 1u);
    EXPECT_EQ(initial[0].message.sequence, 2);
    auto events = fanout_.For("dba", "event");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].message.sequence, 1);
}

TEST_F(ContextEngineTest, MatchingPublishUnderNewKeyNotifiesAndUnrelatedDoesNot) {
    Register("dba", {"database configuration"});
    Publish("frontend", R"({"css":"tailwind","icons":"lucide"})");
    EXPECT_TRUE(fanout_.For("dba", "data_update").empty());
    auto r = Publish("db_settings", R"({"database":"PostgreSQL","database_pool_size":20,"configuration":"primary"})");
    auto updates = fanout_.For("dba", "data_update");
    ASSERT_EQ(updates.size(), 1u);
    EXPECT_EQ(updates[0].message.sequence, r.sequence);
    auto msg = ParseJson(updates[0].message.json).value().as_object();
    EXPECT_EQ(msg.at("data_key").as_string(), "db_settings");
    EXPECT_EQ(msg.at("node_changes").as_object().at("added").as_array().size(), 1u);
    EXPECT_FALSE(msg.at("matches").as_object().at("database configuration").as_array().empty());
    // An identical republish notifies nobody.
    Publish("db_settings", R"({"database":"PostgreSQL","database_pool_size":20,"configuration":"primary"})");
    EXPECT_EQ(fanout_.For("dba", "data_update").size(), 1u);
}

TEST_F(ContextEngineTest, UnregisterRemovesTheAgent) {
    Register("a1", {"anything"});
    EXPECT_TRUE(engine_->Unregister("a1").ok());
    auto again = engine_->Unregister("a1");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
    EXPECT_EQ(again.error().message, "Agent not found");
    auto agents = engine_->ListAgents(std::nullopt);
    ASSERT_TRUE(agents.ok());
    EXPECT_TRUE(agents->empty());
}

TEST_F(ContextEngineTest, StreamResumesFromCursorWithStoredMessages) {
    Register("dba", {"database configuration"});
    Publish("db", R"({"database":"PostgreSQL","configuration":"primary"})");
    std::vector<AgentMessage> got;
    auto sub = engine_->OpenStream("dba", 0, [&](const AgentMessage& m) { got.push_back(m); });
    ASSERT_TRUE(sub.ok()) << sub.error().message;
    // Cursor 0: every stored message with a higher sequence (the initial context of the
    // empty project had sequence 0).
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].type, "data_update");
    EXPECT_EQ(got[0].sequence, 1);
    // Live messages follow the backlog.
    Publish("db2", R"({"database":"MySQL","configuration":"replica"})");
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].type, "data_update");
    EXPECT_EQ(got[1].sequence, 2);
    // Without a cursor a fresh initial context comes first.
    std::vector<AgentMessage> fresh_stream;
    auto sub2 = engine_->OpenStream("dba", std::nullopt,
                                    [&](const AgentMessage& m) { fresh_stream.push_back(m); });
    ASSERT_TRUE(sub2.ok());
    ASSERT_EQ(fresh_stream.size(), 1u);
    EXPECT_EQ(fresh_stream[0].type, "initial_context");
    EXPECT_EQ(fresh_stream[0].sequence, 2);
    auto fresh = engine_->OpenStream("nobody", std::nullopt, [](const AgentMessage&) {});
    EXPECT_EQ(fresh.error().code, ErrorCode::kNotFound);
}

TEST_F(ContextEngineTest, ExportAndImportRoundTrip) {
    Publish("tech_stack", R"({"frontend":"React"})");
    Register("coder", {"frontend framework"});
    auto doc = engine_->Export({"proj", true, true, true, std::nullopt});
    ASSERT_TRUE(doc.ok());
    json::object copy = *doc;
    copy["project_id"] = "proj2";
    ImportRequest req{"proj2", copy, false, false};
    auto outcome = engine_->Import(req);
    ASSERT_TRUE(outcome.ok()) << outcome.error().message;
    EXPECT_TRUE(outcome->imported);
    EXPECT_EQ(outcome->stats.at("events_imported").as_int64(), 1);
    EXPECT_EQ(outcome->stats.at("agents_imported").as_int64(), 1);
    auto seq = storage_->CurrentSequence("proj2");
    EXPECT_EQ(*seq, 1);
    auto mismatch = engine_->Import({"proj3", copy, false, false});
    EXPECT_EQ(mismatch.error().code, ErrorCode::kInvalidArgument);
    auto existing = engine_->Import({"proj2", copy, false, false});
    EXPECT_EQ(existing.error().message, "Project proj2 already has data. Use overwrite=True to replace.");
    auto invalid = engine_->Import({"proj2", json::object{{"data", 1}}, false, false});
    ASSERT_TRUE(invalid.ok());
    EXPECT_FALSE(invalid->imported);
    EXPECT_EQ(ToJson(invalid->validation.at("errors")),
              R"(["Missing required field: project_id","'data' field must be a dictionary"])");
}

}  // namespace
}  // namespace contex::engine

namespace contex::engine {
namespace {

// Rewrites every stored node and need vector as if another model had produced it.
void MarkVectorsAsOtherModel(storage::Storage& storage, const std::string& project) {
    auto needs = storage.ListNeeds(project).value();
    auto nodes = storage.ListNodes(project, std::nullopt, true).value();
    ASSERT_TRUE(storage
                    .WithProjectTransaction(project,
                                            [&](storage::ProjectTransaction& tx) -> Status {
                                                for (auto& n : nodes) n.model_id = "old/model";
                                                std::map<std::string, std::vector<storage::NodeRecord>> by_key;
                                                for (auto& n : nodes) by_key[n.data_key].push_back(n);
                                                for (auto& [key, rows] : by_key) {
                                                    CONTEX_TRY(tx.ReplaceNodes(key, {}, rows));
                                                }
                                                std::map<std::string, std::vector<storage::AgentNeedRecord>> by_agent;
                                                for (auto n : needs) {
                                                    n.model_id = "old/model";
                                                    by_agent[n.agent_id].push_back(n);
                                                }
                                                for (auto& [agent, rows] : by_agent) {
                                                    CONTEX_TRY(tx.ReplaceAgentNeeds(agent, rows));
                                                }
                                                return OkStatus();
                                            })
                    .ok());
}

TEST_F(ContextEngineTest, ReembedsVectorsOfAnotherModelInTheBackground) {
    Publish("database", R"({"database":{"engine":"PostgreSQL","port":5432}})");
    Register("dba", {"database engine configuration"});
    engine_.reset();
    MarkVectorsAsOtherModel(*storage_, "proj");
    auto marked = storage_->ListNodes("proj", std::nullopt, true);
    for (const auto& n : marked.value()) ASSERT_EQ(n.model_id, "old/model");

    EngineSettings settings;
    settings.similarity_threshold = 0.2;
    engine_ = std::make_unique<ContextEngine>(settings, *storage_, *embedder_, fanout_, *logger_,
                                              metrics_, clock_);
    engine_->StartReembedding();
    const std::string model = embedder_->model_id();
    auto all_current = [&] {
        auto nodes = storage_->ListNodes("proj", std::nullopt, true);
        auto needs = storage_->ListNeeds("proj");
        for (const auto& n : nodes.value()) {
            if (n.model_id != model || n.embedding.empty()) return false;
        }
        for (const auto& n : needs.value()) {
            if (n.model_id != model || n.embedding.empty()) return false;
        }
        return true;
    };
    // Bounded wait for the background thread (real time; the work is a few embeddings).
    for (int i = 0; i < 500 && !all_current(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(all_current());
    engine_->StopBackgroundWork();

    // The reloaded project searches with vectors again.
    QueryRequest q;
    q.project_id = "proj";
    q.query = "database engine";
    auto r = engine_->Query(q);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_FALSE(r->matches.empty());
    EXPECT_GT(r->matches[0].as_object().at("similarity").to_number<double>(), 0.0);
    EXPECT_EQ(embedder_->CheckHealth().status, obs::HealthStatus::kHealthy);
}

TEST_F(ContextEngineTest, ReconcileMarksProjectsChangedBehindTheRuntimeForReload) {
    Publish("database", R"({"database":{"engine":"PostgreSQL"}})");
    auto fresh = engine_->ReconcileProjects();
    ASSERT_TRUE(fresh.ok());
    EXPECT_EQ(*fresh, 0u);
    // Another process (a second engine on the same storage) publishes; its notice is lost.
    EngineSettings settings;
    settings.similarity_threshold = 0.2;
    ContextEngine other(settings, *storage_, *embedder_, fanout_, *logger_, metrics_, clock_);
    storage_->SetChangeListener(nullptr);
    ASSERT_TRUE(other.Publish({"proj", "cache", ParseJson(R"({"cache":"Redis"})").value(),
                               std::nullopt, std::nullopt})
                    .ok());
    auto marked = engine_->ReconcileProjects();
    ASSERT_TRUE(marked.ok());
    EXPECT_EQ(*marked, 1u);
    QueryRequest q;
    q.project_id = "proj";
    q.query = "cache Redis";
    auto r = engine_->Query(q);  // reloads: sees the other process's key
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->matches.empty());
    EXPECT_EQ(r->matches[0].as_object().at("data_key").as_string(), "cache");
}

TEST_F(ContextEngineTest, EvictsLeastRecentlyUsedProjectsOverTheMemoryBudget) {
    engine_.reset();
    EngineSettings settings;
    settings.similarity_threshold = 0.2;
    settings.index_max_memory_bytes = 1;  // every project is over budget: keep only the newest
    engine_ = std::make_unique<ContextEngine>(settings, *storage_, *embedder_, fanout_, *logger_,
                                              metrics_, clock_);
    auto publish = [&](const std::string& project) {
        ASSERT_TRUE(engine_->Publish({project, "k", ParseJson(R"({"a":"b"})").value(),
                                      std::nullopt, std::nullopt})
                        .ok());
    };
    publish("one");
    clock_.Advance(std::chrono::seconds(1));
    publish("two");
    EXPECT_EQ(engine_->CheckIndexHealth().details.at("projects_loaded").as_int64(), 1);
    // The evicted project loads again on use, with its data.
    QueryRequest q;
    q.project_id = "one";
    q.query = "a b";
    auto r = engine_->Query(q);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->matches.empty());
    EXPECT_EQ(engine_->CheckIndexHealth().details.at("projects_loaded").as_int64(), 1);
}

}  // namespace
}  // namespace contex::engine
