#include "index/vector_kernels.hpp"

#include <immintrin.h>

namespace contex::index {
namespace {

float DotScalar(const float* a, const float* b, std::size_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
    }
    float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b,
                                                    std::size_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    }
    __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
    __m128 lo = _mm256_castps256_ps128(acc);
    __m128 hi = _mm256_extractf128_ps(acc, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    float sum = _mm_cvtss_f32(s);
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

__attribute__((target("avx512f"))) float DotAvx512(const float* a, const float* b,
                                                     std::size_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
    }
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    }
    if (i < n) {  // masked tail keeps the result independent of argument order
        __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1u);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i),
                               _mm512_maskz_loadu_ps(mask, b + i), acc1);
    }
    __m512 acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
    return _mm512_reduce_add_ps(acc);
}

__attribute__((target("avx2,fma,f16c"))) void DotRowsHalfAvx2(const float* q,
                                                               const uint16_t* rows,
                                                               std::size_t count,
                                                               std::size_t dim, float* out) {
    for (std::size_t r = 0; r < count; ++r) {
        const uint16_t* row = rows + r * dim;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        std::size_t i = 0;
        for (; i + 16 <= dim; i += 16) {
            __m256 h0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i)));
            __m256 h1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i + 8)));
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), h0, acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), h1, acc1);
        }
        __m256 acc = _mm256_add_ps(acc0, acc1);
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        float sum = _mm_cvtss_f32(s);
        for (; i < dim; ++i) sum += q[i] * _cvtsh_ss(row[i]);
        out[r] = sum;
    }
}

__attribute__((target("avx512f,f16c"))) void DotRowsHalfAvx512(const float* q,
                                                             const uint16_t* rows,
                                                             std::size_t count, std::size_t dim,
                                                             float* out) {
    for (std::size_t r = 0; r < count; ++r) {
        const uint16_t* row = rows + r * dim;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        std::size_t i = 0;
        for (; i + 32 <= dim; i += 32) {
            __m512 h0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + i)));
            __m512 h1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + i + 16)));
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), h0, acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), h1, acc1);
        }
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        for (; i < dim; ++i) sum += q[i] * _cvtsh_ss(row[i]);
        out[r] = sum;
    }
}

__attribute__((target("avx2,f16c"))) void FloatToHalfF16c(const float* in, uint16_t* out,
                                                          std::size_t n) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
    }
    for (; i < n; ++i) out[i] = _cvtss_sh(in[i], _MM_FROUND_TO_NEAREST_INT);
}

using DotFn = float (*)(const float*, const float*, std::size_t);
using HalfRowsFn = void (*)(const float*, const uint16_t*, std::size_t, std::size_t, float*);

struct Kernel {
    DotFn fn;
    std::string_view name;
    HalfRowsFn half_rows;  // null without F16C
};

Kernel Select() {
    __builtin_cpu_init();
    // F16C has no __builtin_cpu_supports name in GCC 12; every AVX2 CPU (Haswell and
    // later, Zen and later) has it.
    if (__builtin_cpu_supports("avx512f")) return {&DotAvx512, "avx512", &DotRowsHalfAvx512};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return {&DotAvx2, "avx2", &DotRowsHalfAvx2};
    }
    return {&DotScalar, "scalar", nullptr};
}

const Kernel& Active() {
    static const Kernel kernel = Select();  // immutable after first use
    return kernel;
}

}  // namespace

float Dot(const float* a, const float* b, std::size_t n) { return Active().fn(a, b, n); }

void DotRows(const float* query, const float* rows, std::size_t count, std::size_t dim,
             float* out) {
    DotFn fn = Active().fn;
    for (std::size_t i = 0; i < count; ++i) out[i] = fn(query, rows + i * dim, dim);
}

std::string_view DotKernelName() { return Active().name; }

bool HalfKernelsAvailable() { return Active().half_rows != nullptr; }

void FloatToHalf(const float* in, uint16_t* out, std::size_t n) { FloatToHalfF16c(in, out, n); }

void DotRowsHalf(const float* query, const uint16_t* rows, std::size_t count, std::size_t dim,
                 float* out) {
    Active().half_rows(query, rows, count, dim, out);
}

float InnerProductDistance(const void* a, const void* b, const void* param) {
    std::size_t dim = *static_cast<const std::size_t*>(param);
    return 1.0f - Active().fn(static_cast<const float*>(a), static_cast<const float*>(b), dim);
}

}  // namespace contex::index
