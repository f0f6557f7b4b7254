#include "observability/health.hpp"

#include <gtest/gtest.h>

#include <future>

namespace contex::obs {
namespace {

TEST(HealthRegistry, OverallIsWorstComponent) {
    ManualClock clock;
    HealthRegistry registry(clock, "1.0.0");
    registry.Register("a", [] { return ComponentHealth{HealthStatus::kHealthy, "fine", {}}; }, true);
    registry.Register("b", [] { return ComponentHealth{HealthStatus::kDegraded, "slow", {}}; }, false);
    auto report = registry.CheckAll();
    EXPECT_EQ(report.overall, HealthStatus::kDegraded);
    EXPECT_EQ(report.body.at("status").as_string(), "degraded");
    auto& components = report.body.at("components").as_object();
    EXPECT_EQ(components.at("b").as_object().at("message").as_string(), "slow");
    EXPECT_EQ(components.at("graceful_degradation").as_object().at("status").as_string(),
              "healthy");
    EXPECT_EQ(report.body.at("version").as_string(), "1.0.0");
}

TEST(HealthRegistry, SlowCheckIsReportedAsTimedOut) {
    ManualClock clock;
    HealthRegistry registry(clock, "1.0.0", std::chrono::milliseconds(50));
    std::promise<void> release;
    auto gate = release.get_future().share();
    registry.Register("stuck", [gate] {
        gate.wait();
        return ComponentHealth{};
    }, true);
    auto report = registry.CheckAll();
    release.set_value();
    EXPECT_EQ(report.overall, HealthStatus::kUnhealthy);
    EXPECT_EQ(report.body.at("components").as_object().at("stuck").as_object().at("message")
                  .as_string(),
              "check timed out");
}

TEST(HealthRegistry, ReadinessNeedsStartAndFlipsOnShutdown) {
    ManualClock clock;
    HealthRegistry registry(clock, "1.0.0");
    registry.Register("sqlite", [] { return ComponentHealth{}; }, true);
    registry.Register("redis", [] { return ComponentHealth{HealthStatus::kDegraded, "", {}}; }, false);
    EXPECT_FALSE(registry.CheckReady().body.at("ready").as_bool());
    registry.SetStarted();
    auto ready = registry.CheckReady();
    EXPECT_TRUE(ready.body.at("ready").as_bool());
    EXPECT_EQ(ready.body.at("checks").as_object().at("sqlite").as_string(), "healthy");
    registry.SetShuttingDown();
    ready = registry.CheckReady();
    EXPECT_FALSE(ready.body.at("ready").as_bool());
    EXPECT_TRUE(ready.body.at("shutting_down").as_bool());
    EXPECT_EQ(registry.CheckAll().overall, HealthStatus::kUnhealthy);
}

}  // namespace
}  // namespace contex::obs
