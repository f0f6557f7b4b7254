#include "server/sse.hpp"

namespace contex::server {

std::string SseStream::Frame(std::string_view id, std::string_view event, std::string_view data) {
    std::string out;
    out.reserve(data.size() + id.size() + event.size() + 24);
    if (!id.empty()) {
        out += "id: ";
        out += id;
        out += '\n';
    }
    if (!event.empty()) {
        out += "event: ";
        out += event;
        out += '\n';
    }
    out += "data: ";
    out += data;
    out += "\n\n";
    return out;
}

bool SseStream::Send(std::string frame) {
    std::function<void()> waker;
    {
        std::lock_guard lock(mutex_);
        if (finished_ || closing_) return false;
        if (queue_.size() >= max_queued_) {
            closing_ = true;  // slow consumer: end the stream, client resumes by cursor
            waker = waker_;
        } else {
            queue_.push_back(std::move(frame));
            waker = waker_;
        }
    }
    if (waker) waker();
    return true;
}

void SseStream::Close() {
    std::function<void()> waker;
    {
        std::lock_guard lock(mutex_);
        if (closing_ || finished_) return;
        closing_ = true;
        waker = waker_;
    }
    if (waker) waker();
}

bool SseStream::closed() const {
    std::lock_guard lock(mutex_);
    return closing_ || finished_;
}

void SseStream::SetOnFinished(std::function<void()> callback) {
    std::lock_guard lock(mutex_);
    on_finished_ = std::move(callback);
}

std::vector<std::string> SseStream::TakeFrames(bool& ending) {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out(std::make_move_iterator(queue_.begin()),
                                 std::make_move_iterator(queue_.end()));
    queue_.clear();
    ending = closing_;
    return out;
}

void SseStream::SetWaker(std::function<void()> waker) {
    std::lock_guard lock(mutex_);
    waker_ = std::move(waker);
}

void SseStream::Finish() {
    std::function<void()> callback;
    {
        std::lock_guard lock(mutex_);
        if (finished_) return;
        finished_ = true;
        queue_.clear();
        waker_ = nullptr;
        callback = std::move(on_finished_);
    }
    if (callback) callback();
}

}  // namespace contex::server
