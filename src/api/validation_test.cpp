#include "api/validation.hpp"

#include <gtest/gtest.h>

namespace contex::api {
namespace {

server::Request JsonRequest(std::string body, std::string content_type = "application/json") {
    server::Request r;
    r.method = "POST";
    if (!content_type.empty()) r.headers.Set("Content-Type", content_type);
    r.body = std::move(body);
    return r;
}

TEST(ValidationErrors, StringTooShortMatchesTheSpecExample) {
    ValidationErrors errors;
    json::value body = ParseJson(R"({"project_id":"p","data_key":""})").value();
    auto id = ValidateIdentifier(body.as_object().if_contains("data_key"),
                                 LocOf("body", "data_key"), errors, body);
    EXPECT_FALSE(id);
    EXPECT_EQ(errors.ToResponse().body,
              R"({"detail":[{"type":"string_too_short","loc":["body","data_key"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}}]})");
    EXPECT_EQ(errors.ToResponse().status, 422);
}

TEST(ValidationErrors, IdentifierRules) {
    ValidationErrors errors;
    json::value body = json::object{};
    json::value number = 0;
    json::value control = "a\x01";
    json::value long_id = json::string(std::string(256, 'x'));
    json::value unicode_255 = [] {
        std::string s;
        for (int i = 0; i < 255; ++i) s += "é";
        return json::value(json::string(s));
    }();
    EXPECT_FALSE(ValidateIdentifier(nullptr, LocOf("body", "agent_id"), errors, body));
    EXPECT_FALSE(ValidateIdentifier(&number, LocOf("body", "agent_id"), errors, body));
    EXPECT_FALSE(ValidateIdentifier(&control, LocOf("body", "agent_id"), errors, body));
    EXPECT_FALSE(ValidateIdentifier(&long_id, LocOf("body", "agent_id"), errors, body));
    EXPECT_TRUE(ValidateIdentifier(&unicode_255, LocOf("body", "agent_id"), errors, body));
    const auto& items = errors.items();
    ASSERT_EQ(items.size(), 4u);
    EXPECT_EQ(items[0].as_object().at("type").as_string(), "missing");
    EXPECT_EQ(items[0].as_object().at("msg").as_string(), "Field required");
    EXPECT_EQ(items[1].as_object().at("type").as_string(), "string_type");
    EXPECT_EQ(items[2].as_object().at("type").as_string(), "string_pattern_mismatch");
    EXPECT_EQ(ToJson(items[2].as_object().at("ctx")), R"({"pattern":"^[^\\x00-\\x1F\\x7F]*$"})");
    EXPECT_EQ(items[3].as_object().at("type").as_string(), "string_too_long");
}

TEST(ParseJsonBody, MediaTypeEmptyAndInvalidJson) {
    ValidationErrors errors;
    EXPECT_FALSE(ParseJsonBody(JsonRequest("hello", "text/plain"), errors));
    EXPECT_FALSE(ParseJsonBody(JsonRequest(""), errors));
    EXPECT_FALSE(ParseJsonBody(JsonRequest("{\"a\":"), errors));
    EXPECT_TRUE(ParseJsonBody(JsonRequest("{}", "application/vnd.api+json; charset=utf-8"), errors));
    EXPECT_TRUE(ParseJsonBody(JsonRequest("[1]", ""), errors));
    auto& items = errors.items();
    ASSERT_EQ(items.size(), 3u);
    EXPECT_EQ(ToJson(items[0]),
              R"({"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"hello"})");
    EXPECT_EQ(ToJson(items[1]),
              R"({"type":"missing","loc":["body"],"msg":"Field required","input":null})");
    EXPECT_EQ(items[2].as_object().at("type").as_string(), "json_invalid");
    EXPECT_EQ(items[2].as_object().at("loc").as_array().at(1).as_int64(), 5);
    EXPECT_EQ(ToJson(items[2].as_object().at("input")), "{}");
}

TEST(Coercion, IntegersFollowPydanticRules) {
    ValidationErrors errors;
    EXPECT_EQ(CoerceInt(json::value(5), LocOf("body", "top_k"), errors), 5);
    EXPECT_EQ(CoerceInt(json::value(5.0), LocOf("body", "top_k"), errors), 5);
    EXPECT_EQ(CoerceInt(json::value("5"), LocOf("body", "top_k"), errors), 5);
    EXPECT_FALSE(CoerceInt(json::value(5.5), LocOf("body", "top_k"), errors));
    EXPECT_FALSE(CoerceInt(json::value("x"), LocOf("body", "top_k"), errors));
    EXPECT_FALSE(CoerceInt(json::value(true), LocOf("body", "top_k"), errors));
    ASSERT_EQ(errors.items().size(), 3u);
    EXPECT_EQ(errors.items()[0].as_object().at("type").as_string(), "int_from_float");
    EXPECT_EQ(errors.items()[1].as_object().at("type").as_string(), "int_parsing");
    EXPECT_EQ(errors.items()[2].as_object().at("type").as_string(), "int_type");
}

TEST(ValidationErrors, BoundsLiteralsAndListLengths) {
    ValidationErrors errors;
    errors.GreaterThanEqual(LocOf("body", "top_k"), 0, 1);
    errors.LessThanEqual(LocOf("body", "top_k"), 101, 100);
    errors.Literal(LocOf("body", "notification_method"), "sms", {"redis", "webhook"});
    errors.TooLong(LocOf("body", "data_needs"), json::array{}, 100, 150);
    errors.ValueError(LocOf("body", "data"), nullptr, "data produces 12000 nodes; the limit is 10000");
    auto& i = errors.items();
    EXPECT_EQ(ToJson(i[0]), R"({"type":"greater_than_equal","loc":["body","top_k"],"msg":"Input should be greater than or equal to 1","input":0,"ctx":{"ge":1}})");
    EXPECT_EQ(i[1].as_object().at("msg").as_string(), "Input should be less than or equal to 100");
    EXPECT_EQ(ToJson(i[2]), R"({"type":"literal_error","loc":["body","notification_method"],"msg":"Input should be 'redis' or 'webhook'","input":"sms","ctx":{"expected":"'redis' or 'webhook'"}})");
    EXPECT_EQ(i[3].as_object().at("msg").as_string(),
              "List should have at most 100 items after validation, not 150");
    EXPECT_EQ(i[4].as_object().at("msg").as_string(),
              "Value error, data produces 12000 nodes; the limit is 10000");
}

TEST(QueryParams, BoolAndIntParsing) {
    ValidationErrors errors;
    EXPECT_EQ(QueryBool("Yes", LocOf("query", "overwrite"), errors), true);
    EXPECT_EQ(QueryBool("off", LocOf("query", "overwrite"), errors), false);
    EXPECT_FALSE(QueryBool("maybe", LocOf("query", "overwrite"), errors));
    EXPECT_EQ(QueryInt("42", LocOf("query", "count"), errors), 42);
    EXPECT_FALSE(QueryInt("4x", LocOf("query", "count"), errors));
    ASSERT_EQ(errors.items().size(), 2u);
    EXPECT_EQ(errors.items()[0].as_object().at("type").as_string(), "bool_parsing");
}

}  // namespace
}  // namespace contex::api
