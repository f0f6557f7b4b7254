#include "observability/logging.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace contex::obs {
namespace {

TEST(Logger, JsonLineHasDocumentedKeysAndRenamesCollisions) {
    ManualClock clock;
    Logger logger({LogLevel::kDebug, true, stdout}, clock);
    std::string line = logger.Format(LogLevel::kWarning, "contex.http", "Redis publish failed",
                                     {{"request_id", "abc"}, {"message", "x\"y"}, {"n", 3}},
                                     std::source_location::current());
    ASSERT_EQ(line.back(), '\n');
    auto v = ParseJson(line.substr(0, line.size() - 1));
    ASSERT_TRUE(v.ok()) << line;
    auto& o = v->as_object();
    EXPECT_EQ(o.at("level").as_string(), "WARNING");
    EXPECT_EQ(o.at("service").as_string(), "contex");
    EXPECT_EQ(o.at("logger").as_string(), "contex.http");
    EXPECT_EQ(o.at("message").as_string(), "Redis publish failed");
    EXPECT_EQ(o.at("request_id").as_string(), "abc");
    EXPECT_EQ(o.at("field_message").as_string(), "x\"y");
    EXPECT_EQ(o.at("n").as_int64(), 3);
    EXPECT_TRUE(o.at("location").as_object().contains("line"));
    std::string ts(o.at("timestamp").as_string());
    EXPECT_EQ(ts.back(), 'Z');
    EXPECT_EQ(ts.size(), 27u);
}

TEST(Logger, InfoLinesCarryNoLocationAndLevelsFilter) {
    ManualClock clock;
    Logger logger({LogLevel::kInfo, true, stdout}, clock);
    std::string line = logger.Format(LogLevel::kInfo, "contex", "Contex starting", {},
                                     std::source_location::current());
    EXPECT_EQ(line.find("location"), std::string::npos);
    EXPECT_FALSE(logger.Enabled(LogLevel::kDebug));
    EXPECT_TRUE(logger.Enabled(LogLevel::kError));
    EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarning);
    EXPECT_EQ(ParseLogLevel("loud"), std::nullopt);
}

TEST(Logger, TextModeUsesDashSeparatedForm) {
    ManualClock clock;
    Logger logger({LogLevel::kInfo, false, stdout}, clock);
    std::string line = logger.Format(LogLevel::kInfo, "contex", "Contex starting",
                                     {{"version", "1.0.0"}}, std::source_location::current());
    EXPECT_NE(line.find(" - contex - INFO - Contex starting version=1.0.0\n"), std::string::npos);
}

}  // namespace
}  // namespace contex::obs
