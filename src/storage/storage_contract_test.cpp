// The Storage contract: one typed suite, instantiated on every back end. Compiled twice:
// storage_contract_sqlite_test (SQLite file + :memory:) and storage_contract_postgres_test
// (CONTEX_STORAGE_TEST_POSTGRES; a scratch database per test on CONTEX_TEST_POSTGRES_URL).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "storage/migrations/migrations.hpp"
#include "storage/storage.hpp"
#include "storage/storage_test_support.hpp"

namespace contex::storage {
namespace {

using namespace std::chrono_literals;
using testing::TestEnv;

struct SqliteFileBackend {
    static constexpr const char* kName = "SqliteFile";
    testing::TempDir dir;
    std::optional<std::string> Url(std::string* /*skip*/) {
        return "sqlite:///" + dir.path() + "/contex.db";
    }
};

struct SqliteMemoryBackend {
    static constexpr const char* kName = "SqliteMemory";
    std::optional<std::string> Url(std::string* /*skip*/) { return "sqlite:///:memory:"; }
};

struct PostgresBackend {
    static constexpr const char* kName = "Postgres";
    std::unique_ptr<testing::ScratchPostgresDatabase> db;
    std::optional<std::string> Url(std::string* skip) {
        auto server = testing::PostgresUrl();
        if (!server) {
            *skip = CONTEX_SKIP_MESSAGE_NO_PG;
            return std::nullopt;
        }
        db = std::make_unique<testing::ScratchPostgresDatabase>(*server);
        if (db->url().empty()) {
            ADD_FAILURE() << "cannot create a scratch database: " << db->error();
            return std::nullopt;
        }
        return db->url();
    }
};

template <typename B>
class StorageContract : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string skip;
        auto url = backend_.Url(&skip);
        if (!url) {
            if (!skip.empty()) GTEST_SKIP() << skip;
            return;
        }
        config_.database_url = *url;
        config_.pool_size = 4;
        config_.max_overflow = 8;
        config_.pool_timeout = 10s;
        auto s = OpenStorage(config_, env_.logger, env_.metrics, env_.clock);
        ASSERT_TRUE(s.ok()) << s.error().message;
        storage_ = std::move(s).value();
    }

    Storage& S() { return *storage_; }

    // Publishes `nodes` as the whole content of data_key in one transaction.
    int64_t Publish(const std::string& project, const std::string& data_key,
                    std::vector<NodeRecord> nodes) {
        int64_t seq = 0;
        auto st = S().WithProjectTransaction(project, [&](ProjectTransaction& t) -> Status {
            CONTEX_ASSIGN_OR_RETURN(seq, t.AllocateSequence());
            CONTEX_ASSIGN_OR_RETURN(auto old, t.GetNodes(data_key, false));
            std::vector<std::string> removed;
            for (const auto& n : old) {
                bool kept = std::any_of(nodes.begin(), nodes.end(),
                                        [&](const auto& m) { return m.node_key == n.node_key; });
                if (!kept) removed.push_back(n.node_key);
            }
            CONTEX_TRY(t.ReplaceNodes(data_key, removed, nodes));
            DataKeyRecord d;
            d.data_key = data_key;
            d.data_format = "json";
            d.content_hash = std::string(64, 'a');
            d.data_original = json::object{{"n", static_cast<int64_t>(nodes.size())}};
            d.node_count = static_cast<int>(nodes.size());
            d.sequence = seq;
            CONTEX_TRY(t.UpsertDataKey(d));
            EventRecord e;
            e.sequence = seq;
            e.event_type = data_key + "_updated";
            e.data =
                json::object{{data_key, json::object{{"n", static_cast<int64_t>(nodes.size())}}}};
            e.data_key = data_key;
            e.data_format = "json";
            e.content_hash = std::string(64, 'a');
            return t.InsertEvent(e);
        });
        EXPECT_TRUE(st.ok()) << st.error().message;
        return seq;
    }

    static NodeRecord Node(const std::string& data_key, const std::string& suffix, int index,
                           std::vector<float> vec = {}) {
        NodeRecord n;
        n.data_key = data_key;
        n.node_key = data_key + "." + suffix;
        n.node_path = suffix;
        n.node_type = "object";
        n.description = "text of " + suffix;
        n.data_format = "json";
        n.text_hash = std::string(64, 'b');
        n.model_id = vec.empty() ? "" : "test-model";
        n.data = json::object{{"k", suffix}};
        n.metadata = json::object{{"m", index}};
        n.node_index = index;
        n.embedding = std::move(vec);
        return n;
    }

    AgentRecord Agent(const std::string& id, const std::string& project) {
        AgentRecord a;
        a.agent_id = id;
        a.project_id = project;
        a.needs = {"tech stack", "deploy"};
        a.notification_method = "webhook";
        a.response_format = "json";
        a.notification_channel = "agent:" + id + ":updates";
        a.webhook_url = "https://example.com/hook";
        a.webhook_secret = "s3cret";
        a.data_keys = {"doc"};
        a.last_sequence = 3;
        a.data = json::object{{"webhook_secret_encrypted", false}};
        return a;
    }

    Status InProject(const std::string& project,
                     const std::function<Status(ProjectTransaction&)>& fn) {
        return S().WithProjectTransaction(project, fn);
    }

    NotificationRecord Notification(const std::string& agent, const std::string& project,
                                    int64_t seq, std::optional<std::string> status) {
        NotificationRecord n;
        n.message_id = "msg_" + RandomHex(32);
        n.agent_id = agent;
        n.project_id = project;
        n.sequence = seq;
        n.type = "data_update";
        n.payload = json::object{{"sequence", std::to_string(seq)}};
        n.delivery_status = std::move(status);
        return n;
    }

    B backend_;
    TestEnv env_;
    StorageConfig config_;
    std::unique_ptr<Storage> storage_;
};

struct BackendNames {
    template <typename T>
    static std::string GetName(int) {
        return T::kName;
    }
};

#ifdef CONTEX_STORAGE_TEST_POSTGRES
using Backends = ::testing::Types<PostgresBackend>;
#else
using Backends = ::testing::Types<SqliteFileBackend, SqliteMemoryBackend>;
#endif
TYPED_TEST_SUITE(StorageContract, Backends, BackendNames);

TYPED_TEST(StorageContract, MigrationsReachLatestVersionAndAreIdempotent) {
    auto v = this->S().SchemaVersion();
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(*v, LatestSchemaVersion());
    ASSERT_TRUE(this->S().Migrate().ok());
    EXPECT_EQ(*this->S().SchemaVersion(), LatestSchemaVersion());
    EXPECT_NE(this->env_.LogText().find("Migrations applied"), std::string::npos);
}

TYPED_TEST(StorageContract, BackendNameMatchesHealthComponent) {
    bool pg = std::string(TypeParam::kName) == "Postgres";
    EXPECT_EQ(this->S().backend(), pg ? "postgresql" : "sqlite");
}

TYPED_TEST(StorageContract, UnknownProjectHasSequenceZero) {
    auto s = this->S().CurrentSequence("nope");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(*s, 0);
}

TYPED_TEST(StorageContract, AllocateSequenceCountsFromOnePerProject) {
    std::vector<int64_t> got;
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(this->InProject("p1",
                                    [&](ProjectTransaction& t) -> Status {
                                        CONTEX_ASSIGN_OR_RETURN(int64_t s, t.AllocateSequence());
                                        got.push_back(s);
                                        return OkStatus();
                                    })
                        .ok());
    }
    ASSERT_TRUE(this->InProject("p2",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_ASSIGN_OR_RETURN(int64_t s, t.AllocateSequence());
                                    got.push_back(s);
                                    return OkStatus();
                                })
                    .ok());
    EXPECT_EQ(got, (std::vector<int64_t>{1, 2, 3, 1}));
    EXPECT_EQ(*this->S().CurrentSequence("p1"), 3);
    EXPECT_EQ(*this->S().CurrentSequence("p2"), 1);
}

TYPED_TEST(StorageContract, FailedTransactionRollsBackEverythingAndReturnsFnError) {
    this->Publish("p", "doc", {this->Node("doc", "a", 0, {1, 2})});
    auto st = this->InProject("p", [&](ProjectTransaction& t) -> Status {
        CONTEX_ASSIGN_OR_RETURN(int64_t seq, t.AllocateSequence());
        EXPECT_EQ(seq, 2);
        std::vector<std::string> removed{"doc.a"};
        std::vector<NodeRecord> nodes{this->Node("doc", "b", 0)};
        CONTEX_TRY(t.ReplaceNodes("doc", removed, nodes));
        DataKeyRecord d;
        d.data_key = "doc";
        d.data_format = "yaml";
        d.content_hash = std::string(64, 'c');
        d.data_original = json::value(nullptr);
        d.node_count = 1;
        d.sequence = seq;
        CONTEX_TRY(t.UpsertDataKey(d));
        EventRecord e;
        e.sequence = seq;
        e.event_type = "x";
        e.data = json::object{{"doc", 1}};
        e.data_key = "doc";
        CONTEX_TRY(t.InsertEvent(e));
        return InvalidArgument("engine changed its mind");
    });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(st.error().message, "engine changed its mind");
    EXPECT_EQ(*this->S().CurrentSequence("p"), 1);
    auto nodes = this->S().ListNodes("p", std::nullopt, true);
    ASSERT_TRUE(nodes.ok());
    ASSERT_EQ(nodes->size(), 1u);
    EXPECT_EQ((*nodes)[0].node_key, "doc.a");
    EXPECT_EQ((*nodes)[0].embedding, (std::vector<float>{1, 2}));
    auto dk = this->S().GetDataKey("p", "doc");
    ASSERT_TRUE(dk.ok() && dk->has_value());
    EXPECT_EQ((*dk)->data_format, "json");
    EXPECT_EQ((*dk)->sequence, 1);
    EXPECT_EQ(this->S().ListEvents("p", 0, 100, std::nullopt, std::nullopt)->size(), 1u);
}

TYPED_TEST(StorageContract, EmptyProjectIdIsInvalid) {
    auto st = this->InProject("", [](ProjectTransaction&) { return OkStatus(); });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST(StorageContract, FreshProjectsNeedNoRebuild) {
    this->Publish("p", "doc", {});
    auto r = this->S().ListProjectsNeedingRebuild();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->empty());
    EXPECT_TRUE(
        this->InProject("p", [](ProjectTransaction& t) { return t.MarkProjectRebuilt(); }).ok());
}

TYPED_TEST(StorageContract, LockProjectReturnsCurrentSequenceAndCreatesProject) {
    int64_t seen = -1;
    ASSERT_TRUE(this->InProject("fresh",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_ASSIGN_OR_RETURN(seen, t.LockProject());
                                    EXPECT_EQ(t.project_id(), "fresh");
                                    return OkStatus();
                                })
                    .ok());
    EXPECT_EQ(seen, 0);
    auto projects = this->S().ListProjects();
    ASSERT_TRUE(projects.ok());
    EXPECT_EQ(*projects, std::vector<std::string>{"fresh"});
}

TYPED_TEST(StorageContract, EventRoundTripsEveryField) {
    EventRecord e;
    e.sequence = 1;
    e.event_type = "tech_stack_updated";
    e.data = json::object{{"tech_stack", json::object{{"backend", "FastAPI"}, {"n", 1.5}}}};
    e.data_key = "tech_stack";
    e.data_format = "json";
    e.content_hash = std::string(64, 'f');
    e.changed = false;
    e.created_at = TimePoint{std::chrono::microseconds{1767700800123456}};
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_ASSIGN_OR_RETURN(int64_t s, t.AllocateSequence());
                                    EXPECT_EQ(s, 1);
                                    return t.InsertEvent(e);
                                })
                    .ok());
    auto events = this->S().ListEvents("p", 0, 10, std::nullopt, std::nullopt);
    ASSERT_TRUE(events.ok()) << events.error().message;
    ASSERT_EQ(events->size(), 1u);
    const auto& g = (*events)[0];
    EXPECT_EQ(g.project_id, "p");
    EXPECT_EQ(g.sequence, 1);
    EXPECT_EQ(g.event_type, e.event_type);
    EXPECT_EQ(g.data, e.data);
    EXPECT_EQ(g.data_key, e.data_key);
    EXPECT_EQ(g.data_format, "json");
    EXPECT_EQ(g.content_hash, e.content_hash);
    EXPECT_FALSE(g.changed);
    EXPECT_EQ(g.created_at, e.created_at);
}

TYPED_TEST(StorageContract, EventWithoutTimestampGetsClockTime) {
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    EventRecord e;
                                    e.sequence = 1;
                                    e.event_type = "x";
                                    e.data = json::object{};
                                    return t.InsertEvent(e);
                                })
                    .ok());
    auto events = this->S().ListEvents("p", 0, 10, std::nullopt, std::nullopt);
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ((*events)[0].created_at, this->env_.clock.Now());
}

TYPED_TEST(StorageContract, DuplicateEventSequenceIsConflict) {
    EventRecord e;
    e.sequence = 7;
    e.event_type = "x";
    e.data = json::object{};
    ASSERT_TRUE(this->InProject("p", [&](ProjectTransaction& t) { return t.InsertEvent(e); }).ok());
    auto st = this->InProject("p", [&](ProjectTransaction& t) { return t.InsertEvent(e); });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kConflict);
    // The same sequence in another project is fine.
    EXPECT_TRUE(this->InProject("q", [&](ProjectTransaction& t) { return t.InsertEvent(e); }).ok());
}

TYPED_TEST(StorageContract, EventFromAnotherProjectIsRejected) {
    EventRecord e;
    e.project_id = std::string("other");
    e.sequence = 1;
    e.event_type = "x";
    e.data = json::object{};
    auto st = this->InProject("p", [&](ProjectTransaction& t) { return t.InsertEvent(e); });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST(StorageContract, ListEventsPaginatesAndFilters) {
    for (int i = 0; i < 5; ++i) this->Publish("p", i % 2 ? "odd" : "even", {});
    auto all = this->S().ListEvents("p", 0, 100, std::nullopt, std::nullopt);
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ((*all)[i].sequence, i + 1);
    auto page = this->S().ListEvents("p", 2, 2, std::nullopt, std::nullopt);
    ASSERT_EQ(page->size(), 2u);
    EXPECT_EQ((*page)[0].sequence, 3);
    EXPECT_EQ((*page)[1].sequence, 4);
    auto odd = this->S().ListEvents("p", 0, 100, std::string("odd"), std::nullopt);
    ASSERT_EQ(odd->size(), 2u);
    EXPECT_EQ((*odd)[0].sequence, 2);
    auto typed = this->S().ListEvents("p", 0, 100, std::nullopt, std::string("even_updated"));
    EXPECT_EQ(typed->size(), 3u);
    auto none = this->S().ListEvents("p", 0, 100, std::string("odd"), std::string("even_updated"));
    EXPECT_TRUE(none->empty());
    auto bad = this->S().ListEvents("p", 0, 0, std::nullopt, std::nullopt);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST(StorageContract, NodesRoundTripWithVectorsAndOrder) {
    std::vector<float> v1{0.25f, -1.5f, 3.0e-8f, 42.0f};
    this->Publish(
        "p", "doc",
        {this->Node("doc", "b", 1, v1), this->Node("doc", "a", 0), this->Node("doc", "c", 2, {1})});
    this->Publish("p", "alpha", {this->Node("alpha", "x", 0, {9})});
    auto nodes = this->S().ListNodes("p", std::nullopt, true);
    ASSERT_TRUE(nodes.ok()) << nodes.error().message;
    ASSERT_EQ(nodes->size(), 4u);
    EXPECT_EQ((*nodes)[0].node_key, "alpha.x");
    EXPECT_EQ((*nodes)[1].node_key, "doc.a");
    EXPECT_EQ((*nodes)[2].node_key, "doc.b");
    EXPECT_EQ((*nodes)[3].node_key, "doc.c");
    const auto& b = (*nodes)[2];
    EXPECT_EQ(b.project_id, "p");
    EXPECT_EQ(b.data_key, "doc");
    EXPECT_EQ(b.node_path, "b");
    EXPECT_EQ(b.node_type, "object");
    EXPECT_EQ(b.description, "text of b");
    EXPECT_EQ(b.data_format, "json");
    EXPECT_EQ(b.text_hash, std::string(64, 'b'));
    EXPECT_EQ(b.model_id, "test-model");
    EXPECT_EQ(b.data, (json::object{{"k", "b"}}));
    EXPECT_EQ(b.metadata, (json::object{{"m", 1}}));
    EXPECT_EQ(b.node_index, 1);
    EXPECT_EQ(b.embedding, v1);
    EXPECT_TRUE((*nodes)[1].embedding.empty());

    auto no_vec = this->S().ListNodes("p", std::string("doc"), false);
    ASSERT_EQ(no_vec->size(), 3u);
    for (const auto& n : *no_vec) EXPECT_TRUE(n.embedding.empty());

    std::vector<NodeRecord> in_txn;
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_ASSIGN_OR_RETURN(in_txn, t.GetNodes("doc", true));
                                    return OkStatus();
                                })
                    .ok());
    ASSERT_EQ(in_txn.size(), 3u);
    EXPECT_EQ(in_txn[1].embedding, v1);
}

TYPED_TEST(StorageContract, ReplaceNodesRemovesAndUpdates) {
    this->Publish("p", "doc", {this->Node("doc", "a", 0, {1}), this->Node("doc", "b", 1, {2})});
    auto changed = this->Node("doc", "b", 0, {5, 6});
    changed.description = "new text";
    this->Publish("p", "doc", {changed, this->Node("doc", "c", 1)});
    auto nodes = this->S().ListNodes("p", std::string("doc"), true);
    ASSERT_EQ(nodes->size(), 2u);
    EXPECT_EQ((*nodes)[0].node_key, "doc.b");
    EXPECT_EQ((*nodes)[0].description, "new text");
    EXPECT_EQ((*nodes)[0].embedding, (std::vector<float>{5, 6}));
    EXPECT_EQ((*nodes)[1].node_key, "doc.c");
}

TYPED_TEST(StorageContract, NodeOfAnotherDataKeyOrProjectIsRejected) {
    auto st = this->InProject("p", [&](ProjectTransaction& t) -> Status {
        std::vector<NodeRecord> n{this->Node("other", "a", 0)};
        return t.ReplaceNodes("doc", {}, n);
    });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    st = this->InProject("p", [&](ProjectTransaction& t) -> Status {
        std::vector<NodeRecord> n{this->Node("doc", "a", 0)};
        n[0].project_id = std::string("q");
        return t.ReplaceNodes("doc", {}, n);
    });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST(StorageContract, DataKeysUpsertListAndDelete) {
    this->Publish("p", "b", {this->Node("b", "x", 0)});
    this->Publish("p", "a", {this->Node("a", "x", 0), this->Node("a", "y", 1)});
    this->Publish("p", "a", {this->Node("a", "x", 0)});
    auto keys = this->S().ListDataKeys("p");
    ASSERT_TRUE(keys.ok()) << keys.error().message;
    ASSERT_EQ(keys->size(), 2u);
    EXPECT_EQ((*keys)[0].data_key, "a");
    EXPECT_EQ((*keys)[0].node_count, 1);
    EXPECT_EQ((*keys)[0].sequence, 3);
    EXPECT_EQ((*keys)[0].content_hash, std::string(64, 'a'));
    EXPECT_EQ((*keys)[0].data_original, (json::object{{"n", 1}}));
    EXPECT_EQ((*keys)[0].updated_at, this->env_.clock.Now());
    EXPECT_EQ((*keys)[1].data_key, "b");
    auto missing = this->S().GetDataKey("p", "zzz");
    ASSERT_TRUE(missing.ok());
    EXPECT_FALSE(missing->has_value());

    ASSERT_TRUE(
        this->InProject("p", [](ProjectTransaction& t) { return t.DeleteDataKey("a"); }).ok());
    EXPECT_FALSE(this->S().GetDataKey("p", "a")->has_value());
    EXPECT_TRUE(this->S().ListNodes("p", std::string("a"), false)->empty());
    EXPECT_EQ(this->S().ListNodes("p", std::string("b"), false)->size(), 1u);
    auto st = this->InProject("p", [](ProjectTransaction& t) { return t.DeleteDataKey("a"); });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
    std::optional<DataKeyRecord> in_txn;
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_ASSIGN_OR_RETURN(in_txn, t.GetDataKey("b"));
                                    return OkStatus();
                                })
                    .ok());
    ASSERT_TRUE(in_txn.has_value());
    EXPECT_EQ(in_txn->sequence, 1);
}

TYPED_TEST(StorageContract, StreamNodesVisitsEveryStoredNodeWithItsVector) {
    this->Publish("p", "doc", {this->Node("doc", "a", 0, {1, 2}), this->Node("doc", "b", 1, {3})});
    this->Publish("q", "doc", {this->Node("doc", "a", 0, {4})});
    std::multiset<std::string> seen;
    size_t floats = 0;
    ASSERT_TRUE(this->S()
                    .StreamNodes(std::nullopt,
                                 [&](NodeRecord&& n) {
                                     seen.insert(n.project_id + "/" + n.node_key);
                                     floats += n.embedding.size();
                                 })
                    .ok());
    EXPECT_EQ(seen, (std::multiset<std::string>{"p/doc.a", "p/doc.b", "q/doc.a"}));
    EXPECT_EQ(floats, 4u);
    seen.clear();
    ASSERT_TRUE(
        this->S()
            .StreamNodes(std::string("q"),
                         [&](NodeRecord&& n) { seen.insert(n.project_id + "/" + n.node_key); })
            .ok());
    EXPECT_EQ(seen, (std::multiset<std::string>{"q/doc.a"}));
}

TYPED_TEST(StorageContract, AgentRoundTripsAndReplaceKeepsCreatedAt) {
    auto a = this->Agent("coder", "p");
    a.tenant_id = "t1";
    a.last_seen = TimePoint{std::chrono::microseconds{1767700800000001}};
    ASSERT_TRUE(this->InProject("p", [&](ProjectTransaction& t) { return t.UpsertAgent(a); }).ok());
    auto got = this->S().GetAgent("coder");
    ASSERT_TRUE(got.ok()) << got.error().message;
    ASSERT_TRUE(got->has_value());
    const auto& g = **got;
    EXPECT_EQ(g.project_id, "p");
    EXPECT_EQ(g.tenant_id, std::optional<std::string>("t1"));
    EXPECT_EQ(g.needs, a.needs);
    EXPECT_EQ(g.notification_method, "webhook");
    EXPECT_EQ(g.response_format, "json");
    EXPECT_EQ(g.notification_channel, a.notification_channel);
    EXPECT_EQ(g.webhook_url, a.webhook_url);
    EXPECT_EQ(g.webhook_secret, a.webhook_secret);
    EXPECT_EQ(g.data_keys, a.data_keys);
    EXPECT_EQ(g.last_sequence, 3);
    EXPECT_EQ(g.last_seen, a.last_seen);
    EXPECT_EQ(g.created_at, this->env_.clock.Now());
    EXPECT_EQ(g.data, a.data);

    auto created = g.created_at;
    this->env_.clock.Advance(5s);
    auto b = this->Agent("coder", "p2");
    b.needs = {};
    b.data_keys = {};
    b.webhook_url.reset();
    b.webhook_secret.reset();
    b.notification_method = "redis";
    ASSERT_TRUE(
        this->InProject("p2", [&](ProjectTransaction& t) { return t.UpsertAgent(b); }).ok());
    auto again = this->S().GetAgent("coder");
    ASSERT_TRUE(again.ok() && again->has_value());
    EXPECT_EQ((*again)->project_id, "p2");
    EXPECT_TRUE((*again)->needs.empty());
    EXPECT_TRUE((*again)->data_keys.empty());
    EXPECT_FALSE((*again)->webhook_url.has_value());
    EXPECT_FALSE((*again)->tenant_id.has_value());
    EXPECT_EQ((*again)->created_at, created);
    EXPECT_EQ((*again)->updated_at, this->env_.clock.Now());

    EXPECT_FALSE(this->S().GetAgent("nobody")->has_value());
    ASSERT_TRUE(
        this->InProject("p",
                        [&](ProjectTransaction& t) { return t.UpsertAgent(this->Agent("z", "p")); })
            .ok());
    auto in_p = this->S().ListAgents(std::string("p"));
    ASSERT_EQ(in_p->size(), 1u);
    EXPECT_EQ((*in_p)[0].agent_id, "z");
    auto all = this->S().ListAgents(std::nullopt);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].agent_id, "coder");
}

TYPED_TEST(StorageContract, AgentsStampCountsAndTracksTheLatestUpdate) {
    auto empty = this->S().GetAgentsStamp("p");
    ASSERT_TRUE(empty.ok()) << empty.error().message;
    EXPECT_EQ(*empty, Storage::AgentsStamp{});
    auto a = this->Agent("a", "p");
    a.updated_at = this->env_.clock.Now();
    auto b = this->Agent("b", "p");
    b.updated_at = a.updated_at + 3s;
    auto other = this->Agent("c", "q");
    other.updated_at = a.updated_at + 9s;
    ASSERT_TRUE(this->InProject("p", [&](ProjectTransaction& t) -> Status {
                        CONTEX_TRY(t.UpsertAgent(a));
                        CONTEX_TRY(t.UpsertAgent(b));
                        return t.UpsertAgent(other);
                    }).ok());
    auto stamp = this->S().GetAgentsStamp("p");
    ASSERT_TRUE(stamp.ok());
    EXPECT_EQ(stamp->count, 2);
    EXPECT_EQ(stamp->latest_update, std::optional<TimePoint>(b.updated_at));
    ASSERT_TRUE(this->InProject("p", [&](ProjectTransaction& t) { return t.DeleteAgent("b"); }).ok());
    EXPECT_EQ(*this->S().GetAgentsStamp("p"),
              (Storage::AgentsStamp{1, std::optional<TimePoint>(a.updated_at)}));
}

TYPED_TEST(StorageContract, AgentNeedsAndInterestSet) {
    ASSERT_TRUE(
        this->InProject("p",
                        [&](ProjectTransaction& t) -> Status {
                            CONTEX_TRY(t.UpsertAgent(this->Agent("a1", "p")));
                            CONTEX_TRY(t.UpsertAgent(this->Agent("a2", "p")));
                            std::vector<AgentNeedRecord> needs{{"a1", 0, "tech", {1, 0}, "m"},
                                                               {"a1", 1, "deploy", {}, "m"}};
                            CONTEX_TRY(t.ReplaceAgentNeeds("a1", needs));
                            std::vector<AgentNeedRecord> needs2{{"", 0, "other", {0.5f}, "m"}};
                            CONTEX_TRY(t.ReplaceAgentNeeds("a2", needs2));
                            std::vector<AgentMatchRecord> m{
                                {"a1", "p", 0, "doc.a", "doc", 0.9f, 1.5f},
                                {"a1", "p", 1, "doc.b", "doc", 0.5f, 0}};
                            return t.ReplaceAgentMatches("a1", m);
                        })
            .ok());
    auto needs = this->S().ListNeeds("p");
    ASSERT_TRUE(needs.ok()) << needs.error().message;
    ASSERT_EQ(needs->size(), 3u);
    EXPECT_EQ((*needs)[0].agent_id, "a1");
    EXPECT_EQ((*needs)[0].need, "tech");
    EXPECT_EQ((*needs)[0].embedding, (std::vector<float>{1, 0}));
    EXPECT_EQ((*needs)[0].model_id, "m");
    EXPECT_TRUE((*needs)[1].embedding.empty());
    EXPECT_EQ((*needs)[2].agent_id, "a2");

    auto matches = this->S().ListMatches("p");
    ASSERT_TRUE(matches.ok()) << matches.error().message;
    ASSERT_EQ(matches->size(), 2u);
    EXPECT_EQ((*matches)[0].node_key, "doc.a");
    EXPECT_FLOAT_EQ((*matches)[0].similarity, 0.9f);
    EXPECT_FLOAT_EQ((*matches)[0].keyword_score, 1.5f);

    ASSERT_TRUE(
        this->InProject(
                "p",
                [&](ProjectTransaction& t) -> Status {
                    std::vector<AgentMatchRecord> removed{{"a1", "p", 0, "doc.a", "doc", 0, 0}};
                    std::vector<AgentMatchRecord> added{
                        {"a2", "p", 0, "doc.c", "doc", 0.7f, 0},
                        {"a1", "p", 1, "doc.b", "doc", 0.6f, 0}};  // update in place
                    return t.ApplyAgentMatchDelta(removed, added);
                })
            .ok());
    matches = this->S().ListMatches("p");
    ASSERT_EQ(matches->size(), 2u);
    EXPECT_EQ((*matches)[0].agent_id, "a1");
    EXPECT_EQ((*matches)[0].node_key, "doc.b");
    EXPECT_FLOAT_EQ((*matches)[0].similarity, 0.6f);
    EXPECT_EQ((*matches)[1].agent_id, "a2");
    auto of_a2 = this->S().ListAgentMatches("a2");
    ASSERT_TRUE(of_a2.ok()) << of_a2.error().message;
    ASSERT_EQ(of_a2->size(), 1u);
    EXPECT_EQ((*of_a2)[0].node_key, "doc.c");
    EXPECT_EQ((*of_a2)[0].project_id, "p");
    EXPECT_FLOAT_EQ((*of_a2)[0].similarity, 0.7f);
    EXPECT_TRUE(this->S().ListAgentMatches("ghost")->empty());

    // Replacing needs of an unknown agent, or adding matches for one, is kNotFound.
    auto st = this->InProject("p", [&](ProjectTransaction& t) {
        return t.ReplaceAgentNeeds("ghost", std::span<const AgentNeedRecord>{});
    });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
    st = this->InProject("p", [&](ProjectTransaction& t) {
        return t.ReplaceAgentMatches("ghost", std::span<const AgentMatchRecord>{});
    });
    EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
    st = this->InProject("p", [&](ProjectTransaction& t) {
        std::vector<AgentMatchRecord> added{{"ghost", "p", 0, "doc.c", "doc", 0.7f, 0}};
        return t.ApplyAgentMatchDelta({}, added);
    });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
}

TYPED_TEST(StorageContract, DeleteAgentCascadesAndUnknownIsNotFound) {
    ASSERT_TRUE(
        this->InProject(
                "p",
                [&](ProjectTransaction& t) -> Status {
                    CONTEX_TRY(t.UpsertAgent(this->Agent("a1", "p")));
                    std::vector<AgentNeedRecord> needs{{"a1", 0, "tech", {1}, "m"}};
                    CONTEX_TRY(t.ReplaceAgentNeeds("a1", needs));
                    std::vector<AgentMatchRecord> m{{"a1", "p", 0, "doc.a", "doc", 0.9f, 0}};
                    CONTEX_TRY(t.ReplaceAgentMatches("a1", m));
                    std::vector<NotificationRecord> n{this->Notification("a1", "p", 1, "pending")};
                    return t.InsertNotifications(n);
                })
            .ok());
    ASSERT_TRUE(
        this->InProject("p", [](ProjectTransaction& t) { return t.DeleteAgent("a1"); }).ok());
    EXPECT_FALSE(this->S().GetAgent("a1")->has_value());
    EXPECT_TRUE(this->S().ListNeeds("p")->empty());
    EXPECT_TRUE(this->S().ListMatches("p")->empty());
    EXPECT_TRUE(this->S().ListNotifications("a1", 0, 10)->empty());
    auto claimed =
        this->S().ClaimDueDeliveries(this->env_.clock.Now(), 10, this->env_.clock.Now() + 40s);
    EXPECT_TRUE(claimed->empty());
    auto st = this->InProject("p", [](ProjectTransaction& t) { return t.DeleteAgent("a1"); });
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
}

TYPED_TEST(StorageContract, NotificationsListInOrderAndRejectDuplicates) {
    auto n1 = this->Notification("a1", "p", 1, std::nullopt);
    auto n2 = this->Notification("a1", "p", 2, std::nullopt);
    auto n3 = this->Notification("a1", "p", 2, std::nullopt);
    n3.type = "initial_context";
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_TRY(t.UpsertAgent(this->Agent("a1", "p")));
                                    std::vector<NotificationRecord> rows{n1, n2, n3};
                                    CONTEX_TRY(t.InsertNotifications(rows));
                                    auto progress = this->Agent("a1", "p");
                                    progress.last_sequence = 2;
                                    progress.data_keys = {"k1", "k2"};
                                    progress.updated_at = this->env_.clock.Now() + 7s;
                                    progress.needs = {"ignored"};
                                    return t.UpdateAgentProgress(progress);
                                })
                    .ok());
    auto all = this->S().ListNotifications("a1", 0, 10);
    ASSERT_TRUE(all.ok()) << all.error().message;
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0].message_id, n1.message_id);
    EXPECT_EQ((*all)[1].message_id, n2.message_id);
    EXPECT_EQ((*all)[2].message_id, n3.message_id);
    EXPECT_EQ((*all)[2].type, "initial_context");
    EXPECT_EQ((*all)[0].payload, n1.payload);
    EXPECT_EQ((*all)[0].created_at, this->env_.clock.Now());
    EXPECT_FALSE((*all)[0].delivery_status.has_value());
    auto after1 = this->S().ListNotifications("a1", 1, 1);
    ASSERT_EQ(after1->size(), 1u);
    EXPECT_EQ((*after1)[0].message_id, n2.message_id);
    auto progressed = *this->S().GetAgent("a1");
    EXPECT_EQ(progressed->last_sequence, 2);
    EXPECT_EQ(progressed->data_keys, (std::vector<std::string>{"k1", "k2"}));
    EXPECT_EQ(progressed->updated_at, this->env_.clock.Now() + 7s);
    EXPECT_EQ(progressed->needs, this->Agent("a1", "p").needs);  // other columns untouched
    EXPECT_EQ(this->S().ListNotifications("a1", 0, 0).error().code, ErrorCode::kInvalidArgument);

    auto dup = this->InProject("p", [&](ProjectTransaction& t) {
        std::vector<NotificationRecord> rows{n1};
        return t.InsertNotifications(rows);
    });
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
    auto ghost = this->InProject("p", [&](ProjectTransaction& t) {
        std::vector<NotificationRecord> rows{this->Notification("ghost", "p", 1, std::nullopt)};
        return t.InsertNotifications(rows);
    });
    ASSERT_FALSE(ghost.ok());
    EXPECT_EQ(ghost.error().code, ErrorCode::kNotFound);
    auto seq = this->InProject(
        "p", [&](ProjectTransaction& t) { return t.UpdateAgentProgress(this->Agent("ghost", "p")); });
    EXPECT_EQ(seq.error().code, ErrorCode::kNotFound);
}

TYPED_TEST(StorageContract, TouchAgentSetsLastSeen) {
    ASSERT_TRUE(
        this->InProject(
                "p", [&](ProjectTransaction& t) { return t.UpsertAgent(this->Agent("a1", "p")); })
            .ok());
    auto when = TimePoint{std::chrono::microseconds{1767800000000000}};
    ASSERT_TRUE(this->S().TouchAgent("a1", when).ok());
    EXPECT_EQ((*this->S().GetAgent("a1"))->last_seen, std::optional<TimePoint>(when));
    auto st = this->S().TouchAgent("ghost", when);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kNotFound);
}

TYPED_TEST(StorageContract, OutboxClaimsDueRowsOnceAndReclaimsExpiredLeases) {
    auto now = this->env_.clock.Now();
    auto due = this->Notification("a1", "p", 1, "pending");
    auto later = this->Notification("a1", "p", 2, "pending");
    later.next_attempt_at = now + 60s;
    auto delivered = this->Notification("a1", "p", 3, "delivered");
    auto plain = this->Notification("a1", "p", 4, std::nullopt);
    ASSERT_TRUE(
        this->InProject("p",
                        [&](ProjectTransaction& t) -> Status {
                            CONTEX_TRY(t.UpsertAgent(this->Agent("a1", "p")));
                            std::vector<NotificationRecord> rows{due, later, delivered, plain};
                            return t.InsertNotifications(rows);
                        })
            .ok());
    auto lease = now + 40s;
    auto claimed = this->S().ClaimDueDeliveries(now, 10, lease);
    ASSERT_TRUE(claimed.ok()) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ((*claimed)[0].message_id, due.message_id);
    EXPECT_EQ((*claimed)[0].delivery_status, std::optional<std::string>("delivering"));
    EXPECT_EQ((*claimed)[0].locked_until, std::optional<TimePoint>(lease));
    // Leased: not claimable again until the lease expires.
    EXPECT_TRUE(this->S().ClaimDueDeliveries(now + 1s, 10, lease)->empty());
    auto after_lease = this->S().ClaimDueDeliveries(now + 41s, 10, now + 81s);
    ASSERT_EQ(after_lease->size(), 1u);
    EXPECT_EQ((*after_lease)[0].message_id, due.message_id);
    // The scheduled row becomes due at its time.
    auto scheduled = this->S().ClaimDueDeliveries(now + 60s, 10, now + 100s);
    ASSERT_EQ(scheduled->size(), 1u);
    EXPECT_EQ((*scheduled)[0].message_id, later.message_id);

    auto r = (*after_lease)[0];
    r.delivery_status = "delivered";
    r.attempts = 1;
    r.locked_until.reset();
    r.delivered_at = now + 42s;
    r.last_status_code = 200;
    r.last_error = std::nullopt;
    ASSERT_TRUE(this->S().UpdateDelivery(r).ok());
    auto rows = this->S().ListNotifications("a1", 0, 10);
    ASSERT_EQ(rows->size(), 4u);
    EXPECT_EQ((*rows)[0].delivery_status, std::optional<std::string>("delivered"));
    EXPECT_EQ((*rows)[0].attempts, 1);
    EXPECT_EQ((*rows)[0].delivered_at, r.delivered_at);
    EXPECT_EQ((*rows)[0].last_status_code, std::optional<int>(200));
    EXPECT_FALSE((*rows)[0].locked_until.has_value());
    EXPECT_TRUE(this->S().ClaimDueDeliveries(now + 1000s, 10, now + 2000s)->size() == 1u);

    auto ghost = r;
    ghost.message_id = "msg_" + std::string(32, '0');
    EXPECT_EQ(this->S().UpdateDelivery(ghost).error().code, ErrorCode::kNotFound);
    EXPECT_EQ(this->S().ClaimDueDeliveries(now, 0, lease).error().code,
              ErrorCode::kInvalidArgument);
}

TYPED_TEST(StorageContract, DeliverySummaryCountsAndListsNewestFirst) {
    std::vector<NotificationRecord> rows{
        this->Notification("a1", "p", 1, "delivered"), this->Notification("a1", "p", 2, "failed"),
        this->Notification("a1", "p", 3, "pending"),   this->Notification("a1", "p", 3, "failed"),
        this->Notification("a1", "p", 4, "pending"),   this->Notification("a2", "p", 5, "pending")};
    rows.push_back(this->Notification("a1", "p", 6, std::nullopt));  // SSE/Redis: no delivery
    ASSERT_TRUE(this->InProject("p", [&](ProjectTransaction& t) -> Status {
                        CONTEX_TRY(t.UpsertAgent(this->Agent("a1", "p")));
                        CONTEX_TRY(t.UpsertAgent(this->Agent("a2", "p")));
                        return t.InsertNotifications(rows);
                    }).ok());
    ASSERT_EQ(this->S().ClaimDueDeliveries(this->env_.clock.Now(), 1, this->env_.clock.Now() + 40s)
                  ->size(),
              1u);  // one pending row of a1 or a2 becomes delivering: still counted as pending

    auto summary = this->S().GetDeliverySummary("a1", 3);
    ASSERT_TRUE(summary.ok()) << summary.error().message;
    const int64_t a2_pending = this->S().GetDeliverySummary("a2", 0)->pending;
    EXPECT_EQ(a2_pending, 1);
    EXPECT_EQ(summary->pending, 2);
    EXPECT_EQ(summary->failed, 2);
    ASSERT_EQ(summary->recent.size(), 3u);
    EXPECT_EQ(summary->recent[0].message_id, rows[4].message_id);  // sequence 4
    EXPECT_EQ(summary->recent[1].message_id, rows[3].message_id);  // 3, inserted second
    EXPECT_EQ(summary->recent[2].message_id, rows[2].message_id);  // 3, inserted first
    EXPECT_TRUE(this->S().GetDeliverySummary("a1", 0)->recent.empty());
    EXPECT_EQ(this->S().GetDeliverySummary("a1", 100)->recent.size(), 5u) << "not the SSE row";
    auto nobody = this->S().GetDeliverySummary("nobody", 10);
    ASSERT_TRUE(nobody.ok());
    EXPECT_EQ(nobody->pending, 0);
    EXPECT_TRUE(nobody->recent.empty());
    EXPECT_EQ(this->S().GetDeliverySummary("a1", -1).error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST(StorageContract, ReleaseDeliveryLeasesMakesLeasedRowsDueAgain) {
    auto now = this->env_.clock.Now();
    auto leased = this->Notification("a1", "p", 1, "pending");
    auto scheduled = this->Notification("a1", "p", 2, "pending");
    scheduled.next_attempt_at = now + 60s;
    ASSERT_TRUE(this->InProject("p", [&](ProjectTransaction& t) -> Status {
                        CONTEX_TRY(t.UpsertAgent(this->Agent("a1", "p")));
                        std::vector<NotificationRecord> rows{leased, scheduled};
                        return t.InsertNotifications(rows);
                    }).ok());
    ASSERT_EQ(this->S().ClaimDueDeliveries(now, 10, now + 40s)->size(), 1u);
    EXPECT_TRUE(this->S().ClaimDueDeliveries(now + 1s, 10, now + 40s)->empty());

    EXPECT_EQ(*this->S().CountPendingDeliveries(), 2);  // one delivering, one pending
    auto released = this->S().ReleaseDeliveryLeases();
    ASSERT_TRUE(released.ok()) << released.error().message;
    EXPECT_EQ(*released, 1);
    auto again = this->S().ClaimDueDeliveries(now + 1s, 10, now + 40s);
    ASSERT_EQ(again->size(), 1u);
    EXPECT_EQ((*again)[0].message_id, leased.message_id);
    // The scheduled row keeps its time.
    EXPECT_TRUE(this->S().ClaimDueDeliveries(now + 2s, 10, now + 40s)->empty());
}

TYPED_TEST(StorageContract, CancelPendingDeliveriesLeavesFinalRowsAlone) {
    auto pending = this->Notification("a1", "p", 1, "pending");
    auto delivered = this->Notification("a1", "p", 2, "delivered");
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_TRY(t.UpsertAgent(this->Agent("a1", "p")));
                                    std::vector<NotificationRecord> rows{pending, delivered};
                                    CONTEX_TRY(t.InsertNotifications(rows));
                                    return t.CancelPendingDeliveries("a1");
                                })
                    .ok());
    auto rows = this->S().ListNotifications("a1", 0, 10);
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0].delivery_status, std::optional<std::string>("cancelled"));
    EXPECT_EQ((*rows)[1].delivery_status, std::optional<std::string>("delivered"));
    EXPECT_TRUE(
        this->S()
            .ClaimDueDeliveries(this->env_.clock.Now() + 1h, 10, this->env_.clock.Now() + 2h)
            ->empty());
}

TYPED_TEST(StorageContract, ConcurrentClaimersNeverShareARow) {
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_TRY(t.UpsertAgent(this->Agent("a1", "p")));
                                    std::vector<NotificationRecord> rows;
                                    for (int i = 0; i < 200; ++i) {
                                        rows.push_back(
                                            this->Notification("a1", "p", i + 1, "pending"));
                                    }
                                    return t.InsertNotifications(rows);
                                })
                    .ok());
    std::mutex mu;
    std::vector<std::string> all;
    std::vector<std::thread> threads;
    auto now = this->env_.clock.Now();
    for (int w = 0; w < 4; ++w) {
        threads.emplace_back([&] {
            while (true) {
                auto got = this->S().ClaimDueDeliveries(now, 7, now + 60s);
                ASSERT_TRUE(got.ok()) << got.error().message;
                if (got->empty()) return;
                std::lock_guard lock(mu);
                for (auto& r : *got) all.push_back(r.message_id);
            }
        });
    }
    for (auto& t : threads) t.join();
    std::set<std::string> unique(all.begin(), all.end());
    EXPECT_EQ(all.size(), 200u);
    EXPECT_EQ(unique.size(), 200u);
}

TYPED_TEST(StorageContract, ImportOverwriteKeepsCounterAndRaiseNeverLowers) {
    this->Publish("p", "doc", {this->Node("doc", "a", 0, {1})});
    this->Publish("p", "doc", {this->Node("doc", "a", 0, {1})});
    ASSERT_TRUE(
        this->InProject(
                "p", [&](ProjectTransaction& t) { return t.UpsertAgent(this->Agent("a1", "p")); })
            .ok());
    this->Publish("other", "doc", {this->Node("doc", "a", 0, {1})});
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_TRY(t.DeleteProjectContent());
                                    std::vector<EventRecord> events;
                                    for (int64_t s : {5, 9}) {
                                        EventRecord e;
                                        e.sequence = s;
                                        e.event_type = "imported";
                                        e.data = json::object{{"doc", s}};
                                        e.data_key = "doc";
                                        events.push_back(e);
                                    }
                                    CONTEX_TRY(t.InsertEvents(events));
                                    CONTEX_TRY(t.RaiseSequenceTo(9));
                                    return t.RaiseSequenceTo(4);
                                })
                    .ok());
    EXPECT_EQ(*this->S().CurrentSequence("p"), 9);
    auto events = this->S().ListEvents("p", 0, 10, std::nullopt, std::nullopt);
    ASSERT_EQ(events->size(), 2u);
    EXPECT_EQ((*events)[0].sequence, 5);
    EXPECT_TRUE(this->S().ListNodes("p", std::nullopt, false)->empty());
    EXPECT_TRUE(this->S().ListDataKeys("p")->empty());
    EXPECT_TRUE(this->S().ListAgents(std::string("p"))->empty());
    EXPECT_EQ(this->S().ListNodes("other", std::nullopt, false)->size(), 1u);
    // Sequences continue after the import.
    EXPECT_EQ(this->Publish("p", "doc", {}), 10);
    // Import into a counter already above the imported maximum leaves it alone.
    ASSERT_TRUE(
        this->InProject("p", [](ProjectTransaction& t) { return t.RaiseSequenceTo(3); }).ok());
    EXPECT_EQ(*this->S().CurrentSequence("p"), 10);
    auto dup = this->InProject("p", [&](ProjectTransaction& t) {
        std::vector<EventRecord> events(1);
        events[0].sequence = 5;
        events[0].event_type = "imported";
        events[0].data = json::object{};
        return t.InsertEvents(events);
    });
    EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
}

TYPED_TEST(StorageContract, RecentEventsForCatchUpAreTheNewestInAscendingOrder) {
    for (int i = 0; i < 6; ++i) this->Publish("p", i % 3 == 0 ? "a" : (i % 3 == 1 ? "b" : "c"), {});
    // a: 1, 4   b: 2, 5   c: 3, 6
    std::vector<EventRecord> got;
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    std::vector<std::string> keys{"a", "b"};
                                    CONTEX_ASSIGN_OR_RETURN(got, t.ListRecentEvents(1, 5, keys, 2));
                                    return OkStatus();
                                })
                    .ok());
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].sequence, 4);
    EXPECT_EQ(got[1].sequence, 5);
    ASSERT_TRUE(
        this->InProject("p",
                        [&](ProjectTransaction& t) -> Status {
                            std::vector<std::string> keys{"a", "b"};
                            CONTEX_ASSIGN_OR_RETURN(got, t.ListRecentEvents(0, 6, keys, 100));
                            EXPECT_EQ(got.size(), 4u);
                            CONTEX_ASSIGN_OR_RETURN(got, t.ListRecentEvents(6, 6, keys, 100));
                            EXPECT_TRUE(got.empty());
                            CONTEX_ASSIGN_OR_RETURN(got, t.ListRecentEvents(0, 6, {}, 100));
                            EXPECT_TRUE(got.empty());
                            auto bad = t.ListRecentEvents(0, 6, keys, 0);
                            EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
                            return OkStatus();
                        })
            .ok());
}

TYPED_TEST(StorageContract, CountRowsReportsEventsNodesAndOpenDeliveries) {
    this->Publish("p", "doc", {this->Node("doc", "a", 0), this->Node("doc", "b", 1)});
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_TRY(t.UpsertAgent(this->Agent("a1", "p")));
                                    std::vector<NotificationRecord> rows{
                                        this->Notification("a1", "p", 1, "pending"),
                                        this->Notification("a1", "p", 1, "delivered"),
                                        this->Notification("a1", "p", 1, std::nullopt)};
                                    return t.InsertNotifications(rows);
                                })
                    .ok());
    auto counts = this->S().CountRows();
    ASSERT_TRUE(counts.ok()) << counts.error().message;
    EXPECT_EQ(counts->events, 1);
    EXPECT_EQ(counts->embeddings, 2);
    EXPECT_EQ(counts->pending_deliveries, 1);
}

TYPED_TEST(StorageContract, PruneNotificationsKeepsUndeliveredWebhookRows) {
    auto old_time = this->env_.clock.Now();
    std::vector<NotificationRecord> rows;
    for (int i = 1; i <= 5; ++i) rows.push_back(this->Notification("a1", "p", i, std::nullopt));
    rows[0].delivery_status = "pending";  // old but not final: kept
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) -> Status {
                                    CONTEX_TRY(t.UpsertAgent(this->Agent("a1", "p")));
                                    return t.InsertNotifications(rows);
                                })
                    .ok());
    this->env_.clock.Advance(std::chrono::hours(24 * 8));
    auto fresh = this->Notification("a1", "p", 6, std::nullopt);
    ASSERT_TRUE(this->InProject("p",
                                [&](ProjectTransaction& t) {
                                    std::vector<NotificationRecord> r{fresh};
                                    return t.InsertNotifications(r);
                                })
                    .ok());
    auto deleted = this->S().PruneNotifications(old_time + std::chrono::hours(1), 1000);
    ASSERT_TRUE(deleted.ok()) << deleted.error().message;
    EXPECT_EQ(*deleted, 4);
    auto left = this->S().ListNotifications("a1", 0, 100);
    ASSERT_EQ(left->size(), 2u);
    EXPECT_EQ((*left)[0].message_id, rows[0].message_id);
    EXPECT_EQ((*left)[1].message_id, fresh.message_id);
    // Per-agent cap 0: every final row goes; the undelivered one stays.
    deleted = this->S().PruneNotifications(old_time, 0);
    EXPECT_EQ(*deleted, 1);
    EXPECT_EQ(this->S().ListNotifications("a1", 0, 100)->size(), 1u);
    EXPECT_EQ(this->S().PruneNotifications(old_time, -1).error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST(StorageContract, EightWritersProduceGapFreeSequences) {
    constexpr int kThreads = 8;
    constexpr int kPerThread = 1000;
    std::vector<std::vector<int64_t>> got(kThreads);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kThreads; ++w) {
        threads.emplace_back([&, w] {
            for (int i = 0; i < kPerThread; ++i) {
                auto st =
                    this->S().WithProjectTransaction("race", [&](ProjectTransaction& t) -> Status {
                        CONTEX_ASSIGN_OR_RETURN(int64_t seq, t.AllocateSequence());
                        EventRecord e;
                        e.sequence = seq;
                        e.event_type = "append";
                        e.data = json::object{{"w", w}};
                        CONTEX_TRY(t.InsertEvent(e));
                        got[w].push_back(seq);
                        return OkStatus();
                    });
                if (!st.ok()) failures++;
            }
        });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(failures.load(), 0);
    std::vector<int64_t> all;
    for (auto& g : got) {
        EXPECT_TRUE(std::is_sorted(g.begin(), g.end()));
        all.insert(all.end(), g.begin(), g.end());
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
    for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], static_cast<int64_t>(i + 1));
    EXPECT_EQ(*this->S().CurrentSequence("race"), kThreads * kPerThread);
    auto events = this->S().ListEvents("race", 7990, 1000, std::nullopt, std::nullopt);
    ASSERT_EQ(events->size(), 10u);
    EXPECT_EQ(events->back().sequence, 8000);
}

TYPED_TEST(StorageContract, NotifyReachesTheChangeListener) {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<ChangeNotice> seen;
    this->S().SetChangeListener([&](const ChangeNotice& n) {
        std::lock_guard lock(mu);
        seen.push_back(n);
        cv.notify_all();
    });
    ASSERT_TRUE(this->S().Notify({"p", 12, "doc", "publish"}).ok());
    std::unique_lock lock(mu);
    // PostgreSQL delivers on the listener thread; the bound only guards a hang.
    bool got = cv.wait_for(lock, 10s, [&] {
        return std::any_of(seen.begin(), seen.end(),
                           [](const auto& n) { return n.kind == "publish"; });
    });
    ASSERT_TRUE(got);
    auto it =
        std::find_if(seen.begin(), seen.end(), [](const auto& n) { return n.kind == "publish"; });
    EXPECT_EQ(it->project_id, "p");
    EXPECT_EQ(it->sequence, 12);
    EXPECT_EQ(it->data_key, "doc");
    lock.unlock();
    this->S().SetChangeListener(nullptr);
}

TYPED_TEST(StorageContract, HealthIsHealthyWithDetails) {
    auto h = this->S().CheckHealth();
    EXPECT_NE(h.status, obs::HealthStatus::kUnhealthy) << h.message;
    EXPECT_TRUE(h.details.contains("latency_ms"));
    if (this->S().backend() == "postgresql") {
        ASSERT_TRUE(h.details.contains("pool"));
        EXPECT_EQ(h.details.at("pool").as_object().at("size").as_int64(), 4);
    } else {
        EXPECT_TRUE(h.details.contains("path"));
        EXPECT_TRUE(h.details.contains("size_bytes"));
        EXPECT_TRUE(h.details.contains("free_disk_bytes"));
    }
}

}  // namespace
}  // namespace contex::storage
