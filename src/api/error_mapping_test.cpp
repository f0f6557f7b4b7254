#include "api/error_mapping.hpp"

#include <gtest/gtest.h>

namespace contex::api {
namespace {

TEST(ErrorMapping, EachCodeHasItsStatus) {
    EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidArgument), 400);
    EXPECT_EQ(HttpStatusFor(ErrorCode::kNotFound), 404);
    EXPECT_EQ(HttpStatusFor(ErrorCode::kConflict), 409);
    EXPECT_EQ(HttpStatusFor(ErrorCode::kTooLarge), 413);
    EXPECT_EQ(HttpStatusFor(ErrorCode::kUnauthenticated), 401);
    EXPECT_EQ(HttpStatusFor(ErrorCode::kPermissionDenied), 403);
    EXPECT_EQ(HttpStatusFor(ErrorCode::kQuotaExceeded), 429);
    EXPECT_EQ(HttpStatusFor(ErrorCode::kUnavailable), 503);
    EXPECT_EQ(HttpStatusFor(ErrorCode::kTimeout), 503);
    EXPECT_EQ(HttpStatusFor(ErrorCode::kInternal), 500);
}

TEST(ErrorMapping, UnavailableCarriesDetailAndRetryAfter) {
    server::Request req;
    req.request_id = "r1";
    auto r = ErrorToResponse(Unavailable("Database unavailable"), req);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.body, R"({"detail":"Database unavailable"})");
    EXPECT_EQ(r.headers.Get("Retry-After"), "1");
}

TEST(ErrorMapping, InternalErrorsNeverLeakTheMessage) {
    server::Request req;
    req.request_id = "abc123";
    auto r = ErrorToResponse(Internal("segfault in libfoo at 0xdead"), req);
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body, R"({"detail":"Internal Server Error","request_id":"abc123"})");
    auto nf = ErrorToResponse(NotFound("Agent not found"), req);
    EXPECT_EQ(nf.body, R"({"detail":"Agent not found"})");
}

}  // namespace
}  // namespace contex::api
