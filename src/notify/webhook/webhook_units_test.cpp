// Destination policy, signatures, retry policy and circuit breakers.
#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "common/crypto.hpp"
#include "notify/webhook/circuit_breaker.hpp"
#include "notify/webhook/curl_sender.hpp"
#include "notify/webhook/destination_policy.hpp"
#include "notify/webhook/retry_policy.hpp"
#include "notify/webhook/signing.hpp"

namespace contex::notify {
namespace {

using namespace std::chrono_literals;

TEST(DestinationPolicy, AlwaysRefusesLinkLocalUnspecifiedMulticastAndBroadcast) {
    DestinationPolicy policy({});
    for (const char* address : {"169.254.169.254", "fe80::1", "0.0.0.0", "0.1.2.3", "224.0.0.1",
                                "ff02::1", "255.255.255.255", "::ffff:169.254.169.254"}) {
        EXPECT_FALSE(policy.AllowsAddress("h", address)) << address;
    }
    for (const char* address : {"127.0.0.1", "10.1.2.3", "192.168.1.1", "93.184.216.34", "::1"}) {
        EXPECT_TRUE(policy.AllowsAddress("h", address)) << address;
    }
    EXPECT_FALSE(policy.AllowsAddress("h", "not-an-address"));
    EXPECT_FALSE(policy.AllowsAddress("h", ""));
}

TEST(DestinationPolicy, BlockPrivateAlsoRefusesLoopbackAndPrivateRanges) {
    DestinationPolicy policy({.block_private = true, .allowed_hosts = {}});
    for (const char* address : {"127.0.0.1", "::1", "10.0.0.1", "172.16.5.4", "172.31.255.255",
                                "192.168.0.10", "100.64.0.1", "fd00::1"}) {
        EXPECT_FALSE(policy.AllowsAddress("h", address)) << address;
    }
    EXPECT_TRUE(policy.AllowsAddress("h", "172.32.0.1"));
    EXPECT_TRUE(policy.AllowsAddress("h", "8.8.8.8"));
}

TEST(DestinationPolicy, AllowedHostsOverrideEveryBlock) {
    DestinationPolicy policy({.block_private = true,
                              .allowed_hosts = {"Hooks.Internal", "10.9.0.0/16", "169.254.1.1"}});
    EXPECT_TRUE(policy.AllowsAddress("hooks.internal", "10.1.1.1"));
    EXPECT_TRUE(policy.AllowsAddress("other", "10.9.3.3"));
    EXPECT_TRUE(policy.AllowsAddress("other", "169.254.1.1"));
    EXPECT_FALSE(policy.AllowsAddress("other", "10.8.3.3"));
}

TEST(DestinationPolicy, CheckUrlRefusesBlockedLiteralsAndResolvedNames) {
    DestinationPolicy open({});
    EXPECT_TRUE(open.CheckUrl("http://127.0.0.1:9000/hook").ok());
    EXPECT_TRUE(open.CheckUrl("https://agent.example/hook").ok());  // unresolvable now: passes
    auto metadata = open.CheckUrl("http://169.254.169.254/latest/meta-data");
    ASSERT_FALSE(metadata.ok());
    EXPECT_EQ(metadata.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(metadata.error().message, kBlockedAddressMessage);
    EXPECT_FALSE(open.CheckUrl("http://[fe80::1]:80/").ok());

    DestinationPolicy strict({.block_private = true, .allowed_hosts = {}});
    EXPECT_EQ(strict.CheckUrl("http://localhost:8080/").error().message, kBlockedAddressMessage);
    EXPECT_EQ(strict.CheckUrl("http://[::1]/").error().message, kBlockedAddressMessage);
    EXPECT_EQ(strict.CheckUrl("ftp://example.com/").error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(strict.CheckUrl("ftp://example.com/").error().message, kBlockedAddressMessage);
}

TEST(ParseWebhookUrl, GivesHostAndDefaultPorts) {
    EXPECT_EQ(ParseWebhookUrl("https://A.example/x")->host, "a.example");
    EXPECT_EQ(ParseWebhookUrl("https://a.example/x")->port, 443);
    EXPECT_EQ(ParseWebhookUrl("http://a.example/x")->port, 80);
    EXPECT_EQ(ParseWebhookUrl("http://[::1]:9/x")->host, "::1");
    EXPECT_EQ(ParseWebhookUrl("http://[::1]:9/x")->port, 9);
    EXPECT_FALSE(ParseWebhookUrl("mailto:x@example.com").ok());
    EXPECT_FALSE(ParseWebhookUrl("http:///path").ok());
    EXPECT_FALSE(ParseWebhookUrl("not a url").ok());
}

TEST(Signing, StandardWebhooksKeyDecodesWhsecSecrets) {
    EXPECT_EQ(StandardWebhookKey("plain-secret"), "plain-secret");
    EXPECT_EQ(StandardWebhookKey("whsec_" + Base64Encode("raw key bytes")), "raw key bytes");
    EXPECT_EQ(StandardWebhookKey("whsec_!!!not base64"), "whsec_!!!not base64");
}

TEST(Signing, HeadersCarryBothSchemesOnlyWithASecret) {
    const std::string body = R"({"type":"data_update","sequence":"3"})";
    WebhookHeaderInputs in{"msg_0123456789abcdef0123456789abcdef", "data_update",
                           "2f1c3c1e-0000-4000-8000-000000000000", "Contex-Webhook/1.0",
                           1767225600, std::nullopt};
    auto unsigned_headers = WebhookHeaders(in, body);
    auto find = [](const HttpHeaders& h, std::string_view name) -> std::string {
        for (const auto& [k, v] : h) {
            if (k == name) return v;
        }
        return "<absent>";
    };
    EXPECT_EQ(find(unsigned_headers, "webhook-id"), "msg_0123456789abcdef0123456789abcdef");
    EXPECT_EQ(find(unsigned_headers, "webhook-timestamp"), "1767225600");
    EXPECT_EQ(find(unsigned_headers, "X-Contex-Event"), "data_update");
    EXPECT_EQ(find(unsigned_headers, "User-Agent"), "Contex-Webhook/1.0");
    EXPECT_EQ(find(unsigned_headers, "webhook-signature"), "<absent>");
    EXPECT_EQ(find(unsigned_headers, "X-Contex-Signature"), "<absent>");

    in.secret = "s3cret";
    auto signed_headers = WebhookHeaders(in, body);
    // Reference values computed with Python's hmac/hashlib/base64 over the same inputs.
    EXPECT_EQ(find(signed_headers, "X-Contex-Signature"),
              "sha256=c58821ab6b1f710089888761646898803206fc6f3b29fda9a6c40ab9b6d4aa60");
    EXPECT_EQ(find(signed_headers, "webhook-signature"),
              "v1,tvvCT5DTNJpB5y9figBjvbpeQ3cdpAI5npUf6zYZRfA=");
    in.secret = "whsec_cmF3IGtleSBieXRlcw==";  // key = "raw key bytes"
    EXPECT_EQ(find(WebhookHeaders(in, body), "webhook-signature"),
              "v1,TqPjPoTVbhvY+uvjNXjO2C8eZ1XL2jSy0O940Avu3TU=");
}

TEST(RetryPolicy, ClassifiesOutcomes) {
    auto with_status = [](int s) {
        SendOutcome o;
        o.status = s;
        return Classify(o);
    };
    EXPECT_EQ(with_status(200), Verdict::kDelivered);
    EXPECT_EQ(with_status(204), Verdict::kDelivered);
    for (int s : {408, 425, 429, 500, 502, 503, 504}) EXPECT_EQ(with_status(s), Verdict::kRetry) << s;
    for (int s : {301, 302, 400, 401, 403, 404, 422}) EXPECT_EQ(with_status(s), Verdict::kFail) << s;
    EXPECT_EQ(with_status(410), Verdict::kDisable);
    SendOutcome refused;
    refused.error = "Couldn't connect to server";
    EXPECT_EQ(Classify(refused), Verdict::kRetry);
    SendOutcome blocked;
    blocked.blocked = true;
    EXPECT_EQ(Classify(blocked), Verdict::kFail);
}

TEST(RetryPolicy, BackoffGrowsFourfoldWithJitterCapAndRetryAfter) {
    RetryPolicy p{8, 1, 3600};
    EXPECT_EQ(RetryDelay(p, 1, 0.5, std::nullopt), 1000ms);
    EXPECT_EQ(RetryDelay(p, 2, 0.5, std::nullopt), 4000ms);
    EXPECT_EQ(RetryDelay(p, 3, 0.5, std::nullopt), 16000ms);
    EXPECT_EQ(RetryDelay(p, 7, 0.5, std::nullopt), 3600000ms);  // 4096 s capped
    EXPECT_EQ(RetryDelay(p, 1, 0.0, std::nullopt), 750ms);
    EXPECT_EQ(RetryDelay(p, 1, 1.0, std::nullopt), 1250ms);
    EXPECT_EQ(RetryDelay(p, 1, 0.5, 30s), 30000ms);
    EXPECT_EQ(RetryDelay(p, 3, 0.5, 2s), 16000ms);  // Retry-After is a minimum
    EXPECT_TRUE(MayRetry(p, 8));
    EXPECT_FALSE(MayRetry(p, 9));
}

TEST(RetryAfter, ParsesSecondsAndHttpDates) {
    EXPECT_EQ(ParseRetryAfter("120", 0), 120s);
    EXPECT_EQ(ParseRetryAfter(" 5 ", 0), 5s);
    // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480.
    EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 90), 90s);
    EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 + 90), 0s);
    EXPECT_FALSE(ParseRetryAfter("soon", 0).has_value());
    EXPECT_FALSE(ParseRetryAfter("-3", 0).has_value());
}

TEST(CircuitBreakers, OpenHalfOpenAndClosed) {
    ManualClock clock;
    obs::MetricsRegistry metrics;
    CircuitBreakers breakers(3, 60s, clock, metrics);
    const std::string name = "webhook:hooks.example:443";
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(breakers.Admit(name).allowed);
        breakers.Record(name, true);
    }
    EXPECT_EQ(breakers.state(name), BreakerState::kClosed);
    ASSERT_TRUE(breakers.Admit(name).allowed);
    breakers.Record(name, true);
    EXPECT_EQ(breakers.state(name), BreakerState::kOpen);
    auto refused = breakers.Admit(name);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.retry_at, clock.Now() + 60s);

    clock.Advance(60s);
    ASSERT_TRUE(breakers.Admit(name).allowed);  // the half-open probe
    EXPECT_EQ(breakers.state(name), BreakerState::kHalfOpen);
    EXPECT_FALSE(breakers.Admit(name).allowed);  // one at a time
    breakers.Record(name, true);                 // the probe failed: open again
    EXPECT_EQ(breakers.state(name), BreakerState::kOpen);

    clock.Advance(60s);
    ASSERT_TRUE(breakers.Admit(name).allowed);
    breakers.Record(name, false);
    EXPECT_EQ(breakers.state(name), BreakerState::kHalfOpen);
    ASSERT_TRUE(breakers.Admit(name).allowed);
    breakers.Record(name, false);
    EXPECT_EQ(breakers.state(name), BreakerState::kClosed);

    const std::string text = metrics.Render();
    EXPECT_NE(text.find("contex_circuit_breaker_state{name=\"webhook:hooks.example:443\"} 0"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("contex_circuit_breaker_transitions_total{name=\"webhook:hooks.example:443\","
                        "from_state=\"closed\",to_state=\"open\"} 1"),
              std::string::npos)
        << text;
}

TEST(CircuitBreakers, SuccessResetsTheFailureCount) {
    ManualClock clock;
    obs::MetricsRegistry metrics;
    CircuitBreakers breakers(2, 60s, clock, metrics);
    breakers.Admit("d");
    breakers.Record("d", true);
    breakers.Admit("d");
    breakers.Record("d", false);
    breakers.Admit("d");
    breakers.Record("d", true);
    EXPECT_EQ(breakers.state("d"), BreakerState::kClosed);
    EXPECT_TRUE(breakers.Admit("other").allowed);  // breakers are per destination
}

}  // namespace
}  // namespace contex::notify
