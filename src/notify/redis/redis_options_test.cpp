#include "notify/redis/redis_options.hpp"

#include <gtest/gtest.h>

#include "notify/redis/redis_connection.hpp"

namespace contex::notify {
namespace {

TEST(RedisUrl, ParsesHostPortPasswordAndDb) {
    auto url = ParseRedisUrl("redis://:s%40cret@cache.internal:6380/3");
    ASSERT_TRUE(url.ok()) << url.error().message;
    EXPECT_FALSE(url->tls);
    EXPECT_EQ(url->host, "cache.internal");
    EXPECT_EQ(url->port, 6380);
    EXPECT_EQ(url->password, "s@cret");
    EXPECT_EQ(url->username, std::nullopt);
    EXPECT_EQ(url->db, 3);
}

TEST(RedisUrl, DefaultsAndVariants) {
    auto bare = ParseRedisUrl("redis://");
    ASSERT_TRUE(bare.ok());
    EXPECT_EQ(bare->host, "127.0.0.1");
    EXPECT_EQ(bare->port, 6379);
    EXPECT_EQ(bare->db, 0);

    auto user = ParseRedisUrl("rediss://alice:pw@[::1]:7000?db=5");
    ASSERT_TRUE(user.ok()) << user.error().message;
    EXPECT_TRUE(user->tls);
    EXPECT_EQ(user->host, "::1");
    EXPECT_EQ(user->port, 7000);
    EXPECT_EQ(user->username, "alice");
    EXPECT_EQ(user->password, "pw");
    EXPECT_EQ(user->db, 5);

    auto host_only = ParseRedisUrl("REDIS://redis");
    ASSERT_TRUE(host_only.ok());
    EXPECT_EQ(host_only->host, "redis");
}

TEST(RedisUrl, RejectsMalformedInput) {
    for (const char* bad : {"http://x", "redis://h:notaport", "redis://h:70000", "redis://h/x",
                            "redis://:%zz@h", "redis://[::1"}) {
        auto url = ParseRedisUrl(bad);
        ASSERT_FALSE(url.ok()) << bad;
        EXPECT_EQ(url.error().code, ErrorCode::kInvalidArgument) << bad;
    }
}

TEST(RedisUrl, MaskHidesPasswordsOnly) {
    EXPECT_EQ(MaskRedisUrl("redis://:secret@h:6379/0"), "redis://:***@h:6379/0");
    EXPECT_EQ(MaskRedisUrl("redis://alice:secret@h"), "redis://alice:***@h");
    EXPECT_EQ(MaskRedisUrl("redis://secret@h"), "redis://***@h");
    EXPECT_EQ(MaskRedisUrl("redis://h:6379/1"), "redis://h:6379/1");
    EXPECT_EQ(MaskRedisUrl("garbage"), "redis://***");
}

TEST(SentinelHosts, DefaultPortAndErrors) {
    auto hosts = ParseSentinelHosts({"s1:26380", " s2 ", "[::1]"});
    ASSERT_TRUE(hosts.ok());
    ASSERT_EQ(hosts->size(), 3u);
    EXPECT_EQ((*hosts)[0].port, 26380);
    EXPECT_EQ((*hosts)[1].host, "s2");
    EXPECT_EQ((*hosts)[1].port, 26379);
    EXPECT_EQ((*hosts)[2].host, "::1");
    EXPECT_EQ(ParseSentinelHosts({}).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(ParseSentinelHosts({"h:0"}).error().code, ErrorCode::kInvalidArgument);
}

TEST(RedisTarget, StandaloneUsesUrlThenOptions) {
    RedisOptions options;
    options.url = "redis://h:1234";
    options.password = "fallback";
    options.db = 2;
    auto target = ResolveRedisTarget(options);
    ASSERT_TRUE(target.ok());
    EXPECT_FALSE(target->sentinel);
    EXPECT_EQ(target->endpoint.host, "h");
    EXPECT_EQ(target->endpoint.port, 1234);
    EXPECT_EQ(target->password, "fallback");
    EXPECT_EQ(target->db, 2);

    options.url = "redis://:fromurl@h/4";
    target = ResolveRedisTarget(options);
    ASSERT_TRUE(target.ok());
    EXPECT_EQ(target->password, "fromurl");
    EXPECT_EQ(target->db, 4);
}

TEST(RedisTarget, SentinelUsesMasterPasswordAndDbOptions) {
    RedisOptions options;
    options.url = "redis://:ignored@h/4";
    options.mode = "sentinel";
    options.sentinel_hosts = {"s1", "s2:26390"};
    options.sentinel_master = "primary";
    options.sentinel_password = "sp";
    options.password = "mp";
    options.db = 7;
    auto target = ResolveRedisTarget(options);
    ASSERT_TRUE(target.ok()) << target.error().message;
    EXPECT_TRUE(target->sentinel);
    EXPECT_EQ(target->sentinels.size(), 2u);
    EXPECT_EQ(target->master_name, "primary");
    EXPECT_EQ(target->sentinel_password, "sp");
    EXPECT_EQ(target->password, "mp");
    EXPECT_EQ(target->db, 7);
}

TEST(RedisTarget, TlsSettingsComeFromTheUrl) {
    RedisOptions options;
    options.url = "rediss://h:6380/0?ssl_cert_reqs=none&ssl_ca_certs=%2Fetc%2Fca.pem";
    auto target = ResolveRedisTarget(options);
    ASSERT_TRUE(target.ok()) << target.error().message;
    EXPECT_TRUE(target->tls);
    EXPECT_FALSE(target->tls_verify);
    EXPECT_EQ(target->tls_ca_file, "/etc/ca.pem");
    options.url = "rediss://h?ssl_cert_reqs=sometimes";
    EXPECT_EQ(ResolveRedisTarget(options).error().code, ErrorCode::kInvalidArgument);
    options.url = "redis://h";
    target = ResolveRedisTarget(options);
    ASSERT_TRUE(target.ok());
    EXPECT_FALSE(target->tls);
}

TEST(RedisTarget, RejectsBadModeAndMissingSentinels) {
    RedisOptions options;
    options.url = "redis://h";
    options.mode = "cluster";
    EXPECT_EQ(ResolveRedisTarget(options).error().code, ErrorCode::kInvalidArgument);
    options.mode = "sentinel";
    EXPECT_EQ(ResolveRedisTarget(options).error().code, ErrorCode::kInvalidArgument);
    options.mode = "standalone";
    options.url = "";
    EXPECT_EQ(ResolveRedisTarget(options).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace contex::notify
