#include "embed/embedder.hpp"

#include <cmath>

namespace contex::embed {

std::size_t ApproximateTokenCount(std::string_view text) {
    std::size_t words = 0;
    bool in_word = false;
    for (const char c : text) {
        const bool space =
            c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
        if (!space && !in_word) ++words;
        in_word = !space;
    }
    return (words * 4 + 2) / 3;
}

Status NormalizeInPlace(Vector& v, bool allow_zero) {
    double sum = 0;
    for (const float x : v) {
        if (!std::isfinite(x)) return Internal("embedding contains NaN or Inf");
        sum += static_cast<double>(x) * x;
    }
    if (sum == 0) {
        if (allow_zero) return OkStatus();
        return Internal("embedding is a zero vector");
    }
    const double inv = 1.0 / std::sqrt(sum);
    for (float& x : v) x = static_cast<float>(x * inv);
    return OkStatus();
}

}  // namespace contex::embed
