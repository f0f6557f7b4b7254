// Dot-product kernels with runtime CPU dispatch (AVX-512F, AVX2+FMA, scalar). The
// library is compiled for the baseline x86-64 ISA; the wider kernels are selected at
// run time, so the binary runs on AVX2-only (and older) CPUs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

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

// Packed matrix product for reverse matching (AVX-512 only; callers fall back to BLAS).
bool PackedMatMulAvailable();
// Packs `count` rows of `dim` floats into panels of 16 rows stored dimension-major
// (panel p, dimension d: rows 16p..16p+15), zero-padded to a multiple of 16 rows.
std::vector<float> PackPanels(const float* rows, std::size_t count, std::size_t dim);
// Appends to `out`, sorted, every (i, j) with dot(a row i, packed row j) >= threshold,
// for i < rows and j < count. Requires PackedMatMulAvailable(). The summation order
// differs from Dot's, so callers decide near the threshold with Dot.
void MatMulPackedAbove(const float* a, std::size_t rows, const float* packed, std::size_t count,
                       std::size_t dim, float threshold,
                       std::vector<std::pair<uint32_t, uint32_t>>* out);

// Int8 first pass for reverse matching (AVX-512 VNNI): rows quantised with one scale
// each; the quantisation error is bounded per pair (Hoelder), so the candidates it
// returns provably include every pair whose float32 product reaches the threshold.
struct Int8Panels {
    std::size_t count = 0;   // rows packed
    std::size_t dim = 0;
    std::size_t groups = 0;  // ceil(dim / 4)
    std::vector<int8_t> codes;       // [panel][group][16 rows][4 dims]
    std::vector<float> scale;        // per row (padded to 16): code scale
    std::vector<float> max_abs;      // per row: max |v_i|
    std::vector<float> err_l1;       // per row: sum |v_i - scale * code_i| (rounded up)
    std::vector<int32_t> code_sum;   // per row: sum of codes
};
bool Int8MatMulAvailable();
Int8Panels PackInt8Panels(const float* rows, std::size_t count, std::size_t dim);
// Appends to `out`, sorted, a superset of the (i, j) with dot(a row i, packed row j) >=
// threshold (exact float32 products), for i < rows, j < b.count; every row of `a` must
// have b.dim floats. Requires Int8MatMulAvailable().
void Int8MatMulCandidates(const float* a, std::size_t rows, const Int8Panels& b, float threshold,
                          std::vector<std::pair<uint32_t, uint32_t>>* out);

// A query quantised for Int8UpperBounds: codes + 128 (zero padded to groups * 4), its
// scale, error L1 norm and a bound on |scale * code_i|.
struct Int8Query {
    std::vector<uint8_t> codes;
    float scale = 0;
    float err_l1 = 0;
    float code_bound = 0;
};
Int8Query PrepareInt8Query(const float* q, std::size_t dim, std::size_t groups);
// upper[i] >= dot(q, packed row first + i) (exact product; up to a few float ulps of
// |q| |row|, which callers cover with slack) for i < n. Requires Int8MatMulAvailable().
void Int8UpperBounds(const Int8Query& q, const Int8Panels& b, std::size_t first, std::size_t n,
                     float* upper);

// The kernel family in use ("avx512", "avx2", "scalar"), for logs and benchmarks.
std::string_view DotKernelName();

// Distance function with hnswlib's DISTFUNC signature: 1 - dot; `param` points to a
// std::size_t dimension.
float InnerProductDistance(const void* a, const void* b, const void* param);

}  // namespace contex::index
