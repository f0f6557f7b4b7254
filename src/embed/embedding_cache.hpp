// EmbeddingCache: in-process LRU of vectors (engine.md §9) with an optional TTL.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.hpp"
#include "embed/embedder.hpp"

namespace contex::embed {

// Thread-safe (one mutex; lookups are short). Capacity 0 disables the cache: Get always
// misses and Put does nothing. `clock` must outlive the cache.
class EmbeddingCache {
  public:
    EmbeddingCache(std::size_t capacity, std::chrono::seconds ttl, const Clock& clock);

    // SHA-256 (raw 32 bytes) of model_id + "\0" + prefix + text.
    static std::string Key(std::string_view model_id, std::string_view prefix,
                           std::string_view text);

    // The vector for `key`, refreshing its recency; nullopt when absent or expired.
    std::optional<Vector> Get(const std::string& key);
    // Inserts or replaces; evicts the least recently used entry beyond capacity.
    void Put(const std::string& key, Vector vector);
    // Drops every entry (model switch).
    void Clear();

    std::size_t size() const;
    std::size_t capacity() const { return capacity_; }

  private:
    struct Entry {
        std::string key;
        Vector vector;
        Clock::MonoTime expires;
    };
    const std::size_t capacity_;
    const std::chrono::seconds ttl_;
    const Clock& clock_;
    mutable std::mutex mutex_;
    std::list<Entry> lru_;  // front = most recent; guarded by mutex_
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mutex_
};

}  // namespace contex::embed
