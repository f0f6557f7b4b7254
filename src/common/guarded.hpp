// Guarded<T>: a value and the mutex that protects it, kept together so the data
// cannot be touched without the lock (leveldb/userver style).
#pragma once

#include <mutex>
#include <shared_mutex>
#include <utility>

namespace contex {

template <typename T, typename Mutex = std::mutex>
class Guarded {
public:
    template <typename... Args>
    explicit Guarded(Args&&... args) : value_(std::forward<Args>(args)...) {}

    // Runs fn(T&) under an exclusive lock and returns its result.
    template <typename Fn>
    decltype(auto) With(Fn&& fn) {
        std::lock_guard lock(mutex_);
        return std::forward<Fn>(fn)(value_);
    }
    // Runs fn(const T&) under a shared lock (for std::shared_mutex) or the mutex.
    template <typename Fn>
    decltype(auto) WithShared(Fn&& fn) const {
        if constexpr (std::is_same_v<Mutex, std::shared_mutex>) {
            std::shared_lock lock(mutex_);
            return std::forward<Fn>(fn)(value_);
        } else {
            std::lock_guard lock(mutex_);
            return std::forward<Fn>(fn)(value_);
        }
    }

private:
    mutable Mutex mutex_;
    T value_;
};

}  // namespace contex
