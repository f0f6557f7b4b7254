#include "server/sse.hpp"

#include <gtest/gtest.h>

namespace contex::server {
namespace {

TEST(SseStream, FramesCarryIdEventAndData) {
    EXPECT_EQ(SseStream::Frame("7", "initial_context", "{\"a\":1}"),
              "id: 7\nevent: initial_context\ndata: {\"a\":1}\n\n");
}

TEST(SseStream, QueuesUntilTakenAndWakesTheWriter) {
    SseStream stream;
    int wakes = 0;
    stream.SetWaker([&] { ++wakes; });
    EXPECT_TRUE(stream.Send("a"));
    EXPECT_TRUE(stream.Send("b"));
    bool ending = true;
    auto frames = stream.TakeFrames(ending);
    EXPECT_EQ(frames, (std::vector<std::string>{"a", "b"}));
    EXPECT_FALSE(ending);
    EXPECT_EQ(wakes, 2);
}

TEST(SseStream, OverflowEndsTheStreamAndFinishRunsCallbackOnce) {
    SseStream stream(2);
    int finished = 0;
    stream.SetOnFinished([&] { ++finished; });
    EXPECT_TRUE(stream.Send("1"));
    EXPECT_TRUE(stream.Send("2"));
    EXPECT_TRUE(stream.Send("3"));  // overflow: accepted as a close request
    EXPECT_TRUE(stream.closed());
    EXPECT_FALSE(stream.Send("4"));
    stream.Finish();
    stream.Finish();
    EXPECT_EQ(finished, 1);
}

}  // namespace
}  // namespace contex::server
