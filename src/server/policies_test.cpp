#include "server/policies.hpp"

#include <gtest/gtest.h>

namespace contex::server {
namespace {

TEST(VersionHeaders, DependOnPrefix) {
    Response v1, legacy, bare;
    AddVersionHeaders("/api/v1/agents", v1);
    AddVersionHeaders("/api/agents", legacy);
    AddVersionHeaders("/health", bare);
    EXPECT_EQ(v1.headers.Get("X-API-Version"), "v1");
    EXPECT_FALSE(v1.headers.Has("X-API-Deprecation"));
    EXPECT_EQ(legacy.headers.Get("X-API-Version"), "legacy");
    EXPECT_EQ(legacy.headers.Get("X-API-Deprecation"),
              "This API version is deprecated. Use /api/v1 instead.");
    EXPECT_FALSE(bare.headers.Has("X-API-Version"));
}

TEST(SecurityHeaders, RelaxedCspOnlyForSandboxStaticDocs) {
    Response strict, relaxed;
    AddSecurityHeaders("/api/v1/health", false, strict);
    AddSecurityHeaders("/sandbox/x", true, relaxed);
    EXPECT_EQ(strict.headers.Get("X-Frame-Options"), "DENY");
    EXPECT_EQ(strict.headers.Get("Content-Security-Policy")->find("unsafe-inline"),
              std::string_view::npos);
    EXPECT_NE(relaxed.headers.Get("Content-Security-Policy")->find("unsafe-inline"),
              std::string_view::npos);
    EXPECT_FALSE(strict.headers.Has("Strict-Transport-Security"));
    EXPECT_TRUE(relaxed.headers.Has("Strict-Transport-Security"));
}

Request WithOrigin(std::string method, std::string origin, bool preflight) {
    Request r;
    r.method = std::move(method);
    r.headers.Set("Origin", std::move(origin));
    if (preflight) {
        r.headers.Set("Access-Control-Request-Method", "POST");
        r.headers.Set("Access-Control-Request-Headers", "x-api-key, content-type");
    }
    return r;
}

TEST(Cors, WildcardAllowsAnyOrigin) {
    CorsPolicy cors(CorsConfig{});
    auto pre = cors.HandlePreflight(WithOrigin("OPTIONS", "https://a.example", true));
    ASSERT_TRUE(pre);
    EXPECT_EQ(pre->status, 200);
    EXPECT_EQ(pre->body, "OK");
    EXPECT_EQ(pre->headers.Get("Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(pre->headers.Get("Access-Control-Allow-Headers"), "x-api-key, content-type");
    EXPECT_EQ(pre->headers.Get("Access-Control-Max-Age"), "600");
}

TEST(Cors, ExplicitListMirrorsAndRejects) {
    CorsPolicy cors(CorsConfig{{"https://ok.example"}, true});
    Response simple;
    cors.Decorate(WithOrigin("GET", "https://ok.example", false), simple);
    EXPECT_EQ(simple.headers.Get("Access-Control-Allow-Origin"), "https://ok.example");
    EXPECT_EQ(simple.headers.Get("Vary"), "Origin");
    EXPECT_EQ(simple.headers.Get("Access-Control-Allow-Credentials"), "true");
    EXPECT_TRUE(simple.headers.Has("Access-Control-Expose-Headers"));
    Response denied;
    cors.Decorate(WithOrigin("GET", "https://evil.example", false), denied);
    EXPECT_FALSE(denied.headers.Has("Access-Control-Allow-Origin"));
    auto pre = cors.HandlePreflight(WithOrigin("OPTIONS", "https://evil.example", true));
    ASSERT_TRUE(pre);
    EXPECT_EQ(pre->status, 400);
    EXPECT_EQ(pre->body, "{\"detail\":\"Disallowed CORS origin\"}");
    EXPECT_FALSE(cors.HandlePreflight(WithOrigin("OPTIONS", "https://ok.example", false)));
}

}  // namespace
}  // namespace contex::server
