#include "server/router.hpp"

#include <gtest/gtest.h>

namespace contex::server {
namespace {

Handler Named(std::string name) {
    return [name](Request&) { return Response::Text(200, name, "text/plain"); };
}

std::string Call(const Router::Match& m) {
    Request req;
    return m.route->handler(req).body;
}

class RouterTest : public ::testing::Test {
protected:
    void SetUp() override {
        router.AddApi("POST", "/agents/register", Named("register"));
        router.AddApi("GET", "/agents/{agent_id}", Named("get_agent"));
        router.AddApi("DELETE", "/agents/{agent_id}", Named("delete_agent"));
        router.AddApi("GET", "/agents/{agent_id}/context", Named("context"));
        router.AddApi("GET", "", Named("root"), {.legacy = true});
        router.Add("GET", "/health", Named("bare_health"));
    }
    Router router;
};

TEST_F(RouterTest, LiteralSegmentsWinOnlyWhenTheMethodMatches) {
    auto post = router.Find("POST", "/api/v1/agents/register");
    ASSERT_EQ(post.outcome, Router::Outcome::kFound);
    EXPECT_EQ(Call(post), "register");
    // GET of the literal path is a lookup of an agent named "register".
    auto get = router.Find("GET", "/api/v1/agents/register");
    ASSERT_EQ(get.outcome, Router::Outcome::kFound);
    EXPECT_EQ(Call(get), "get_agent");
    EXPECT_EQ(get.params.at("agent_id"), "register");
}

TEST_F(RouterTest, PathParametersArePercentDecodedPerSegment) {
    auto m = router.Find("GET", "/api/v1/agents/a%2Fb%20c/context");
    ASSERT_EQ(m.outcome, Router::Outcome::kFound);
    EXPECT_EQ(m.params.at("agent_id"), "a/b c");
    EXPECT_EQ(m.route->pattern, "/api/v1/agents/{agent_id}/context");
}

TEST_F(RouterTest, TrailingSlashIsIgnoredAndLegacyPrefixWorks) {
    EXPECT_EQ(Call(router.Find("GET", "/api/v1/agents/x/")), "get_agent");
    EXPECT_EQ(Call(router.Find("GET", "/api/v1/")), "root");
    EXPECT_EQ(Call(router.Find("GET", "/api/v1")), "root");
    auto legacy = router.Find("GET", "/api/agents/x");
    ASSERT_EQ(legacy.outcome, Router::Outcome::kFound);
    EXPECT_EQ(legacy.route->pattern, "/api/agents/{agent_id}");
}

TEST_F(RouterTest, WrongMethodGives405WithAllow) {
    auto m = router.Find("PUT", "/api/v1/agents/x");
    EXPECT_EQ(m.outcome, Router::Outcome::kMethodNotAllowed);
    EXPECT_EQ(m.allow, "DELETE, GET, HEAD, OPTIONS");
}

TEST_F(RouterTest, HeadMatchesGetRoutesAndUnknownPathsAreNotFound) {
    EXPECT_EQ(Call(router.Find("HEAD", "/health")), "bare_health");
    EXPECT_EQ(router.Find("GET", "/nope").outcome, Router::Outcome::kNotFound);
    EXPECT_EQ(router.Find("GET", "/api/v1/agents//context").outcome, Router::Outcome::kNotFound);
    EXPECT_EQ(router.Find("GET", "/api/v1/agents/%zz").outcome, Router::Outcome::kNotFound);
    EXPECT_EQ(router.Find("GET", "relative").outcome, Router::Outcome::kNotFound);
}

}  // namespace
}  // namespace contex::server
