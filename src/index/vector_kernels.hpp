// Dot-product kernels with runtime CPU dispatch (AVX-512F, AVX2+FMA, scalar). The
// library is compiled for the baseline x86-64 ISA; the wider kernels are selected at
// run time, so the binary runs on AVX2-only (and older) CPUs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace contex::index {

// Inner product of two float32 arrays of length `n`. Symmetric bit for bit
// (Dot(a, b) == Dot(b, a)), so forward search and reverse matching agree exactly.
float Dot(const float* a, const float* b, std::size_t n);

// out[i] = Dot(query, rows + i * dim, dim) for i in [0, count).
void DotRows(const float* query, const float* rows, std::size_t count, std::size_t dim,
             float* out);

// Half-precision shadow rows for a faster first pass over large matrices (half the
// bytes of float32). Available when the CPU has F16C (every AVX2 CPU does).
bool HalfKernelsAvailable();
// Converts `n` floats to IEEE half (round to nearest). Requires HalfKernelsAvailable().
void FloatToHalf(const float* in, uint16_t* out, std::size_t n);
// out[i] = dot(query, half row i) in float32 arithmetic. Requires HalfKernelsAvailable().
void DotRowsHalf(const float* query, const uint16_t* rows, std::size_t count, std::size_t dim,
                 float* out);
// Bound on |dot(q, v) - DotRowsHalf(q, half(v))| for |q|, |v| the L2 norms, when every
// |v_i| <= 65504: half rounding (2^-11 relative) plus float32 accumulation error, with a
// factor-2 safety margin.
inline float HalfDotErrorBound(float query_norm, float row_norm, std::size_t dim) {
    return 2.0f * query_norm * row_norm *
           (1.0f / 2048.0f + static_cast<float>(dim) * (1.0f / 16777216.0f) + 1e-6f);
}

// The kernel family in use ("avx512", "avx2", "scalar"), for logs and benchmarks.
std::string_view DotKernelName();

// Distance function with hnswlib's DISTFUNC signature: 1 - dot; `param` points to a
// std::size_t dimension.
float InnerProductDistance(const void* a, const void* b, const void* param);

}  // namespace contex::index
