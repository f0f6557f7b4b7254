// Dot-product kernels with runtime CPU dispatch (AVX-512F, AVX2+FMA, scalar). The
// library is compiled for the baseline x86-64 ISA; the wider kernels are selected at
// run time, so the binary runs on AVX2-only (and older) CPUs.
#pragma once

#include <cstddef>
#include <string_view>

namespace contex::index {

// Inner product of two float32 arrays of length `n`. Symmetric bit for bit
// (Dot(a, b) == Dot(b, a)), so forward search and reverse matching agree exactly.
float Dot(const float* a, const float* b, std::size_t n);

// out[i] = Dot(query, rows + i * dim, dim) for i in [0, count).
void DotRows(const float* query, const float* rows, std::size_t count, std::size_t dim,
             float* out);

// The kernel family in use ("avx512", "avx2", "scalar"), for logs and benchmarks.
std::string_view DotKernelName();

// Distance function with hnswlib's DISTFUNC signature: 1 - dot; `param` points to a
// std::size_t dimension.
float InnerProductDistance(const void* a, const void* b, const void* param);

}  // namespace contex::index
