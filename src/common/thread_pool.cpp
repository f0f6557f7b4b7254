#include "common/thread_pool.hpp"

#include <pthread.h>

namespace contex {

BoundedThreadPool::BoundedThreadPool(std::string name, std::size_t threads,
                                     std::size_t queue_limit)
    : name_(std::move(name)), queue_limit_(queue_limit) {
    if (threads == 0) threads = 1;
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
        workers_.emplace_back([this, i] { WorkerLoop(i); });
    }
}

BoundedThreadPool::~BoundedThreadPool() { Shutdown(); }

Status BoundedThreadPool::Submit(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return Unavailable(name_ + " pool is shutting down");
        if (queue_.size() >= queue_limit_) return Unavailable(name_ + " pool queue is full");
        queue_.push_back(std::move(task));
    }
    cv_.notify_one();
    return OkStatus();
}

void BoundedThreadPool::Shutdown() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && workers_.empty()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) {
        if (t.joinable()) t.join();
    }
    workers_.clear();
}

std::size_t BoundedThreadPool::queue_depth() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

std::size_t BoundedThreadPool::busy() const {
    std::lock_guard lock(mutex_);
    return busy_;
}

void BoundedThreadPool::WorkerLoop(std::size_t index) {
    std::string thread_name = (name_ + "-" + std::to_string(index)).substr(0, 15);
    pthread_setname_np(pthread_self(), thread_name.c_str());
    while (true) {
        std::function<void()> task;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping and drained
            task = std::move(queue_.front());
            queue_.pop_front();
            ++busy_;
        }
        task();
        std::lock_guard lock(mutex_);
        --busy_;
    }
}

}  // namespace contex
