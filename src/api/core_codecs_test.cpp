#include "api/core_codecs.hpp"

#include <gtest/gtest.h>

namespace contex::api {
namespace {

struct UrlCase {
    std::string url;
    std::string type;    // "" when valid
    std::string reason;  // ctx.error for url_parsing
};

TEST(WebhookUrl, FollowsPydanticHttpUrlRules) {
    const UrlCase kCases[] = {
        {"https://agent.example/hook", "", ""},
        {"http://127.0.0.1:8080/x?y=1#f", "", ""},
        {"HTTPS://EXAMPLE.COM", "", ""},
        {"http://user:pw@host/", "", ""},
        {"http://[::1]:9000/hook", "", ""},
        {"not a url", "url_parsing", "relative URL without a base"},
        {"/relative/path", "url_parsing", "relative URL without a base"},
        {"", "url_parsing", "relative URL without a base"},
        {"ftp://host/file", "url_scheme", ""},
        {"mailto:someone@example.com", "url_scheme", ""},
        {"http://", "url_parsing", "empty host"},
        {"http://host:99999/", "url_parsing", "invalid port number"},
        {"http://host:port/", "url_parsing", "invalid port number"},
        {"http://" + std::string(2100, 'a') + ".com", "url_too_long", ""},
    };
    for (const auto& c : kCases) {
        ValidationErrors errors;
        auto url = ValidateWebhookUrl(json::value(json::string(c.url)),
                                      LocOf("body", "webhook_url"), errors);
        if (c.type.empty()) {
            EXPECT_EQ(url, c.url);
            EXPECT_TRUE(errors.empty()) << c.url << ToJson(errors.items());
            continue;
        }
        EXPECT_FALSE(url) << c.url;
        ASSERT_EQ(errors.items().size(), 1u) << c.url;
        const auto& item = errors.items()[0].as_object();
        EXPECT_EQ(item.at("type").as_string(), c.type) << c.url;
        if (!c.reason.empty()) {
            EXPECT_EQ(item.at("ctx").at("error").as_string(), c.reason) << c.url;
            EXPECT_EQ(item.at("msg").as_string(), "Input should be a valid URL, " + c.reason);
        }
        if (c.type == "url_too_long") {
            EXPECT_EQ(ToJson(item.at("ctx")), R"({"max_length":2083})");
            EXPECT_EQ(item.at("msg").as_string(), "URL should have at most 2083 characters");
        }
    }
    ValidationErrors errors;
    EXPECT_FALSE(ValidateWebhookUrl(json::value(5), LocOf("body", "webhook_url"), errors));
    EXPECT_EQ(errors.items()[0].as_object().at("type").as_string(), "string_type");
}

TEST(SequenceCursor, DigitsLegacyIdsAndGarbage) {
    EXPECT_EQ(ParseSequenceCursor("0"), 0);
    EXPECT_EQ(ParseSequenceCursor("42"), 42);
    EXPECT_EQ(ParseSequenceCursor(""), 0);
    EXPECT_EQ(ParseSequenceCursor("1767710171000-0"), 0);
    EXPECT_EQ(ParseSequenceCursor("-5"), 0);
    EXPECT_FALSE(ParseSequenceCursor("+5"));
    EXPECT_FALSE(ParseSequenceCursor("5.0"));
    EXPECT_FALSE(ParseSequenceCursor("x"));
    EXPECT_FALSE(ParseSequenceCursor("99999999999999999999"));  // beyond int64
}

TEST(Encoders, PathSegmentsAndSequences) {
    EXPECT_EQ(EncodePathSegment("code-reviewer_1.x~"), "code-reviewer_1.x~");
    EXPECT_EQ(EncodePathSegment("a b/c?é"), "a%20b%2Fc%3F%C3%A9");
    EXPECT_EQ(SequenceString(0), "0");
    EXPECT_EQ(SequenceString(9007199254740993), "9007199254740993");
}

TEST(Encoders, PublishedKeepsTheDocumentedKeyOrder) {
    engine::PublishResult r;
    r.project_id = "my-app";
    r.data_key = "tech_stack";
    r.sequence = 3;
    r.format = "json";
    r.node_count = 1;
    EXPECT_EQ(
        ToJson(EncodePublished(r)),
        R"({"status":"published","project_id":"my-app","data_key":"tech_stack","sequence":"3","changed":true,"format":"json","node_count":1,"warnings":[]})");
}

TEST(Encoders, MatchedNeedsKeepRequestOrder) {
    EXPECT_EQ(ToJson(MatchedNeeds({{"zeta", 2}, {"alpha", 0}})), R"({"zeta":2,"alpha":0})");
    EXPECT_EQ(ToJson(MatchedNeeds({})), "{}");
}

}  // namespace
}  // namespace contex::api
