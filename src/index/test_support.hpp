// Helpers shared by the index tests (not part of the library).
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "index/project_index.hpp"

namespace contex::index::testing {

inline IndexEntry Entry(std::string node_key, std::string data_key, std::string text,
                        std::vector<float> vector = {}) {
    return IndexEntry{std::move(node_key), std::move(data_key), std::move(text), std::move(vector)};
}

inline void Normalize(std::vector<float>& v) {
    double norm = 0;
    for (float x : v) norm += double(x) * x;
    norm = std::sqrt(norm);
    for (float& x : v) x = static_cast<float>(x / norm);
}

inline std::vector<float> RandomUnit(std::mt19937& rng, int dim) {
    std::normal_distribution<float> normal;
    std::vector<float> v(static_cast<std::size_t>(dim));
    for (float& x : v) x = normal(rng);
    Normalize(v);
    return v;
}

// A unit vector near `center`: center + noise * gaussian, renormalised.
inline std::vector<float> Near(std::mt19937& rng, const std::vector<float>& center, float noise) {
    std::normal_distribution<float> normal;
    std::vector<float> v = center;
    for (float& x : v) x += noise * normal(rng);
    Normalize(v);
    return v;
}

// Params that return every eligible node of a small corpus (C >= corpus size).
inline SearchParams Wide(float tau, float kappa, int k = 1000) {
    SearchParams p;
    p.k = k;
    p.cosine_threshold = tau;
    p.keyword_threshold = kappa;
    return p;
}

}  // namespace contex::index::testing
