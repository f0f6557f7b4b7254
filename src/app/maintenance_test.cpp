#include "app/maintenance.hpp"

#include <gtest/gtest.h>

#include "common/ids.hpp"
#include "storage/storage_test_support.hpp"

namespace contex::app {
namespace {

using namespace std::chrono_literals;

TEST(Maintenance, DeletesNotificationsPastRetentionAndCountsThem) {
    storage::testing::TempDir dir;
    storage::testing::TestEnv env;
    storage::StorageConfig config;
    config.data_dir = dir.path();
    auto storage = storage::OpenStorage(config, env.logger, env.metrics, env.clock).value();

    auto row = [&](std::int64_t sequence, std::optional<std::string> status) {
        storage::NotificationRecord n;
        n.message_id = "msg_" + RandomHex(32);
        n.agent_id = "a";
        n.project_id = "p";
        n.sequence = sequence;
        n.type = "data_update";
        n.payload = json::object{{"sequence", std::to_string(sequence)}};
        n.created_at = env.clock.Now();
        n.delivery_status = std::move(status);
        return n;
    };
    storage::AgentRecord agent;
    agent.agent_id = "a";
    agent.project_id = "p";
    agent.created_at = agent.updated_at = env.clock.Now();
    std::vector<storage::NotificationRecord> old_rows{row(1, std::nullopt), row(2, "pending")};
    ASSERT_TRUE(storage->WithProjectTransaction("p", [&](storage::ProjectTransaction& tx) -> Status {
                           CONTEX_TRY(tx.UpsertAgent(agent));
                           return tx.InsertNotifications(old_rows);
                       }).ok());
    env.clock.Advance(8 * 24h);
    std::vector<storage::NotificationRecord> new_rows{row(3, std::nullopt)};
    ASSERT_TRUE(storage->WithProjectTransaction("p", [&](storage::ProjectTransaction& tx) {
                           return tx.InsertNotifications(new_rows);
                       }).ok());

    Maintenance maintenance({std::chrono::seconds(300), 7, 1000}, *storage, env.clock, env.logger,
                            env.metrics);
    auto deleted = maintenance.RunOnce();
    ASSERT_TRUE(deleted.ok()) << deleted.error().message;
    EXPECT_EQ(*deleted, 1);  // the old plain row; the pending webhook row is kept
    auto left = storage->ListNotifications("a", 0, 10);
    ASSERT_TRUE(left.ok());
    ASSERT_EQ(left->size(), 2u);
    EXPECT_EQ((*left)[0].sequence, 2);
    EXPECT_EQ((*left)[1].sequence, 3);
    EXPECT_NE(env.metrics.Render().find(
                  "contex_retention_deleted_total{table=\"agent_notifications\"} 1"),
              std::string::npos);
}

}  // namespace
}  // namespace contex::app
