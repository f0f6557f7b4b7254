#include "common/address_ranges.hpp"

#include <gtest/gtest.h>

namespace contex {
namespace {

TEST(AddressRanges, MatchesCidrsForBothFamilies) {
    auto ranges = AddressRanges::Parse("10.0.0.0/8, 192.168.1.7, ::1/128, 2001:db8::/32");
    ASSERT_TRUE(ranges);
    EXPECT_TRUE(ranges->Contains("10.1.2.3"));
    EXPECT_TRUE(ranges->Contains("192.168.1.7"));
    EXPECT_FALSE(ranges->Contains("192.168.1.8"));
    EXPECT_TRUE(ranges->Contains("::1"));
    EXPECT_TRUE(ranges->Contains("2001:db8::5"));
    EXPECT_TRUE(ranges->Contains("::ffff:10.9.9.9"));
    EXPECT_FALSE(ranges->Contains("11.0.0.1"));
    EXPECT_FALSE(AddressRanges::Parse("10.0.0.0/33"));
    EXPECT_FALSE(AddressRanges::Parse("not-an-ip"));
}

}  // namespace
}  // namespace contex
