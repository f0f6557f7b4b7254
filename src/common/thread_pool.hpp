// BoundedThreadPool: a fixed set of worker threads and a bounded FIFO queue.
// Used for CPU work (parsing, indexing) and for blocking client libraries, so that
// no I/O thread ever blocks. Admission control: Submit fails with kUnavailable when
// the queue is full instead of growing without bound.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.hpp"

namespace contex {

class BoundedThreadPool {
public:
    // `name` shows up in thread names (top -H) and errors.
    BoundedThreadPool(std::string name, std::size_t threads, std::size_t queue_limit);
    ~BoundedThreadPool();  // drains the queue, then joins
    BoundedThreadPool(const BoundedThreadPool&) = delete;
    BoundedThreadPool& operator=(const BoundedThreadPool&) = delete;

    // Enqueues a task. Thread-safe. kUnavailable when the queue is full or the pool
    // is stopping; the task is then not run.
    Status Submit(std::function<void()> task);

    // Stops accepting work, runs what is queued, joins the workers. Idempotent.
    void Shutdown();

    std::size_t queue_depth() const;
    std::size_t busy() const;
    std::size_t threads() const { return workers_.size(); }
    const std::string& name() const { return name_; }

private:
    void WorkerLoop(std::size_t index);

    std::string name_;
    std::size_t queue_limit_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;  // guarded by mutex_
    std::size_t busy_ = 0;                     // guarded by mutex_
    bool stopping_ = false;                    // guarded by mutex_
    std::vector<std::thread> workers_;
};

}  // namespace contex
