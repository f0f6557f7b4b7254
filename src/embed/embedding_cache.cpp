#include "embed/embedding_cache.hpp"

#include "common/crypto.hpp"

namespace contex::embed {

EmbeddingCache::EmbeddingCache(std::size_t capacity, std::chrono::seconds ttl, const Clock& clock)
    : capacity_(capacity), ttl_(ttl), clock_(clock) {}

std::string EmbeddingCache::Key(std::string_view model_id, std::string_view prefix,
                                std::string_view text) {
    std::string material;
    material.reserve(model_id.size() + 1 + prefix.size() + text.size());
    material.append(model_id);
    material.push_back('\0');
    material.append(prefix);
    material.append(text);
    return Sha256Raw(material);
}

std::optional<Vector> EmbeddingCache::Get(const std::string& key) {
    if (capacity_ == 0) return std::nullopt;
    std::lock_guard lock(mutex_);
    const auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    if (ttl_.count() > 0 && clock_.Monotonic() >= it->second->expires) {
        lru_.erase(it->second);
        index_.erase(it);
        return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->vector;
}

void EmbeddingCache::Put(const std::string& key, Vector vector) {
    if (capacity_ == 0) return;
    const Clock::MonoTime expires = clock_.Monotonic() + ttl_;
    std::lock_guard lock(mutex_);
    if (const auto it = index_.find(key); it != index_.end()) {
        it->second->vector = std::move(vector);
        it->second->expires = expires;
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    lru_.push_front(Entry{key, std::move(vector), expires});
    index_.emplace(key, lru_.begin());
    while (lru_.size() > capacity_) {
        index_.erase(lru_.back().key);
        lru_.pop_back();
    }
}

void EmbeddingCache::Clear() {
    std::lock_guard lock(mutex_);
    lru_.clear();
    index_.clear();
}

std::size_t EmbeddingCache::size() const {
    std::lock_guard lock(mutex_);
    return lru_.size();
}

}  // namespace contex::embed
