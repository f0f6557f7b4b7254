// HnswGraph: hnswlib behind the index's own dispatched distance kernel.
//
// Kept in its own translation unit so that sanitizer builds can exempt hnswlib's code:
// hnswlib 0.6.2 prefetches one element past the end of a link list (a benign read that
// AddressSanitizer reports as a heap-buffer-overflow), see CMakeLists.txt.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "index/segment.hpp"
#include "index/vector_kernels.hpp"

namespace contex::index {
namespace {

// hnswlib space whose distance is 1 - dot, computed by the dispatched SIMD kernel (the
// library's own kernels are chosen at compile time, and we may not use -march=native).
class DotSpace final : public hnswlib::SpaceInterface<float> {
public:
    explicit DotSpace(std::size_t dim) : dim_(dim) {}
    std::size_t get_data_size() override { return dim_ * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return &InnerProductDistance; }
    void* get_dist_func_param() override { return &dim_; }

private:
    std::size_t dim_;
};

}  // namespace

#if defined(__SANITIZE_THREAD__)
// hnswlib's addPoint takes per-node link-list locks in graph order, which TSan reports as
// a potential lock-order inversion even in a single-threaded build; hnswlib relies on
// that ordering being benign. Read by the TSan runtime only.
extern "C" const char* __tsan_default_suppressions() {
    return "deadlock:hnswlib::HierarchicalNSW\n";
}
#endif

struct HnswGraph::Impl {
    explicit Impl(std::size_t dim) : space(dim) {}
    DotSpace space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
    std::size_t memory = 0;
};

HnswGraph::HnswGraph(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HnswGraph::~HnswGraph() = default;

Result<std::unique_ptr<HnswGraph>> HnswGraph::Build(const float* vectors,
                                                    const uint8_t* has_vector, std::size_t count,
                                                    std::size_t dim, const HnswParams& params) {
    auto impl = std::make_unique<Impl>(dim);
    std::vector<uint32_t> rows;
    rows.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        if (has_vector[i]) rows.push_back(static_cast<uint32_t>(i));
    }
    try {
        impl->index = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            &impl->space, std::max<std::size_t>(rows.size(), 1), params.m,
            params.ef_construction, params.seed);
    } catch (const std::exception& e) {
        return Internal(std::string("hnsw allocation failed: ") + e.what());
    }
    auto* index = impl->index.get();
    std::atomic<std::size_t> next{0};
    std::mutex error_mutex;
    std::string error;
    auto worker = [&] {
        for (;;) {
            std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
            if (i >= rows.size()) return;
            try {
                index->addPoint(vectors + std::size_t(rows[i]) * dim, rows[i]);
            } catch (const std::exception& e) {
                std::lock_guard lock(error_mutex);
                error = e.what();
                next.store(rows.size());
                return;
            }
        }
    };
    // Insert the first points alone so that concurrent inserts start from a real graph.
    std::size_t threads = std::max<std::size_t>(1, params.threads);
    if (!rows.empty()) {
        try {
            index->addPoint(vectors + std::size_t(rows[0]) * dim, rows[0]);
        } catch (const std::exception& e) {
            return Internal(std::string("hnsw build failed: ") + e.what());
        }
        next.store(1);
    }
    if (threads == 1 || rows.size() < 1000) {
        worker();
    } else {
        std::vector<std::thread> pool;
        for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
        for (auto& th : pool) th.join();
    }
    if (!error.empty()) return Internal("hnsw build failed: " + error);

    std::size_t memory = index->max_elements_ * index->size_data_per_element_;
    for (std::size_t i = 0; i < index->cur_element_count; ++i) {
        if (index->element_levels_[i] > 0) {
            memory += index->size_links_per_element_ * std::size_t(index->element_levels_[i]);
        }
    }
    memory += index->max_elements_ * (sizeof(std::mutex) + sizeof(int) + sizeof(void*) + 48);
    impl->memory = memory;
    return std::unique_ptr<HnswGraph>(new HnswGraph(std::move(impl)));
}

std::vector<std::pair<uint32_t, float>> HnswGraph::Search(const float* query,
                                                          std::size_t k) const {
    std::vector<std::pair<uint32_t, float>> out;
    auto queue = impl_->index->searchKnn(query, k);
    out.resize(queue.size());
    for (std::size_t i = out.size(); i-- > 0;) {  // the queue pops the farthest first
        out[i] = {static_cast<uint32_t>(queue.top().second), queue.top().first};
        queue.pop();
    }
    return out;
}

std::size_t HnswGraph::memory_bytes() const { return impl_->memory; }

}  // namespace contex::index
