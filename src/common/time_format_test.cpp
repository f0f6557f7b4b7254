#include "common/time_format.hpp"

#include <gtest/gtest.h>

namespace contex {
namespace {

using namespace std::chrono;

TEST(TimeFormat, FormatsMicrosecondsInBothStyles) {
    system_clock::time_point t{seconds{1767709711} + microseconds{123456}};
    EXPECT_EQ(FormatIsoUtc(t), "2026-01-06T14:28:31.123456+00:00");
    EXPECT_EQ(FormatIsoUtcZ(t), "2026-01-06T14:28:31.123456Z");
}

TEST(TimeFormat, ParsesWhatItFormatsAndPostgresText) {
    system_clock::time_point t{seconds{1767709711} + microseconds{123456}};
    EXPECT_EQ(ParseIsoUtc(FormatIsoUtc(t)), t);
    EXPECT_EQ(ParseIsoUtc("2026-01-06 14:28:31.123456+00"), t);
    EXPECT_EQ(ParseIsoUtc("2026-01-06T16:28:31.123456+02:00"), t);
    EXPECT_EQ(ParseIsoUtc("2026-01-06T14:28:31Z"), system_clock::time_point{seconds{1767709711}});
    EXPECT_EQ(ParseIsoUtc("yesterday"), std::nullopt);
}

}  // namespace
}  // namespace contex
