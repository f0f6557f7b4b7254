#include "common/result.hpp"

#include <gtest/gtest.h>

namespace contex {
namespace {

Result<int> Half(int x) {
    if (x % 2) return InvalidArgument("odd");
    return x / 2;
}

Result<int> Quarter(int x) {
    CONTEX_ASSIGN_OR_RETURN(int h, Half(x));
    return Half(h);
}

Status Check(int x) {
    CONTEX_TRY(Half(x));
    return OkStatus();
}

TEST(Result, PropagatesTheFirstError) {
    EXPECT_EQ(*Quarter(8), 2);
    auto r = Quarter(6);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, "odd");
    EXPECT_TRUE(Check(2).ok());
    EXPECT_FALSE(Check(3).ok());
    EXPECT_EQ(ErrorCodeName(ErrorCode::kUnavailable), "unavailable");
}

}  // namespace
}  // namespace contex
