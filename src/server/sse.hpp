// A Server-Sent Events stream: producers on any thread queue frames, the server's
// connection coroutine writes them. Bounded: a client that falls more than
// `max_queued` frames behind is disconnected (it resumes with Last-Event-ID) instead of
// growing memory without bound.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace contex::server {

class SseStream {
public:
    explicit SseStream(std::size_t max_queued = 10000) : max_queued_(max_queued) {}

    // Formats one event frame; `data` must be a single line (compact JSON).
    static std::string Frame(std::string_view id, std::string_view event, std::string_view data);

    // Queues a preformatted frame. False when the stream is closed (client gone,
    // closed by Close(), or overflow). Thread-safe.
    bool Send(std::string frame);
    // Ends the stream after the queued frames are written. Thread-safe, idempotent.
    void Close();
    bool closed() const;
    // Runs once when the stream ends for any reason (client disconnect, Close, shutdown),
    // on the server's thread. Set before the response is returned.
    void SetOnFinished(std::function<void()> callback);

    // --- used by the server ---
    // Moves out the queued frames; `ending` tells whether Close() was requested.
    std::vector<std::string> TakeFrames(bool& ending);
    void SetWaker(std::function<void()> waker);
    // The connection is gone: refuse further frames and run the finish callback.
    void Finish();

private:
    std::size_t max_queued_;
    mutable std::mutex mutex_;
    std::deque<std::string> queue_;     // guarded by mutex_
    bool closing_ = false;              // guarded by mutex_
    bool finished_ = false;             // guarded by mutex_
    std::function<void()> waker_;       // guarded by mutex_
    std::function<void()> on_finished_; // guarded by mutex_
};

}  // namespace contex::server
