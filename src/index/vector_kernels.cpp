#include "index/vector_kernels.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

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

namespace contex::index {
namespace {

constexpr std::size_t kPanel = 16;  // rows per packed panel (one AVX-512 register)

// R rows of `a` against panels p and p + 1 (32 packed rows): 2R accumulators. Appends
// (row, packed row) for every product >= threshold.
template <int R>
__attribute__((target("avx512f"))) void MicroKernel(const float* a, std::size_t dim,
                                                    const float* panel0, const float* panel1,
                                                    uint32_t row0, uint32_t col0, uint32_t cols,
                                                    float threshold,
                                                    std::vector<std::pair<uint32_t, uint32_t>>* out) {
    __m512 acc0[R], acc1[R];
    for (int r = 0; r < R; ++r) {
        acc0[r] = _mm512_setzero_ps();
        acc1[r] = _mm512_setzero_ps();
    }
    for (std::size_t d = 0; d < dim; ++d) {
        const __m512 b0 = _mm512_loadu_ps(panel0 + d * kPanel);
        const __m512 b1 = _mm512_loadu_ps(panel1 + d * kPanel);
        for (int r = 0; r < R; ++r) {
            const __m512 x = _mm512_set1_ps(a[r * dim + d]);
            acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
        }
    }
    const __m512 t = _mm512_set1_ps(threshold);
    // Columns past `cols` (padding, or the discarded twin of an odd last panel) are masked.
    const uint32_t valid = cols >= 2 * kPanel ? 0xffffffffu : (uint32_t(1) << cols) - 1u;
    for (int r = 0; r < R; ++r) {
        uint32_t mask = uint32_t(_mm512_cmp_ps_mask(acc0[r], t, _CMP_GE_OQ)) |
                        (uint32_t(_mm512_cmp_ps_mask(acc1[r], t, _CMP_GE_OQ)) << kPanel);
        mask &= valid;
        while (mask != 0) {
            const uint32_t bit = static_cast<uint32_t>(__builtin_ctz(mask));
            out->emplace_back(row0 + static_cast<uint32_t>(r), col0 + bit);
            mask &= mask - 1;
        }
    }
}

}  // namespace

bool PackedMatMulAvailable() { return DotKernelName() == "avx512"; }

std::vector<float> PackPanels(const float* rows, std::size_t count, std::size_t dim) {
    const std::size_t panels = (count + kPanel - 1) / kPanel;
    std::vector<float> packed(panels * kPanel * dim, 0.0f);
    for (std::size_t i = 0; i < count; ++i) {
        float* panel = packed.data() + (i / kPanel) * kPanel * dim;
        for (std::size_t d = 0; d < dim; ++d) panel[d * kPanel + i % kPanel] = rows[i * dim + d];
    }
    return packed;
}

__attribute__((target("avx512f"))) void MatMulPackedAbove(
    const float* a, std::size_t rows, const float* packed, std::size_t count, std::size_t dim,
    float threshold, std::vector<std::pair<uint32_t, uint32_t>>* out) {
    const std::size_t panels = (count + kPanel - 1) / kPanel;
    // Panel pairs outermost: 2 x 16 packed rows x dim stay in cache while every row of
    // `a` (small) passes over them.
    for (std::size_t p = 0; p < panels; p += 2) {
        const float* panel0 = packed + p * dim * kPanel;
        const float* panel1 = p + 1 < panels ? panel0 + dim * kPanel : panel0;
        const uint32_t col0 = static_cast<uint32_t>(p * kPanel);
        const uint32_t cols = static_cast<uint32_t>(std::min<std::size_t>(2 * kPanel, count - col0));
        std::size_t r = 0;
        auto group = [&](auto rows_in_group) {
            constexpr int kR = decltype(rows_in_group)::value;
            MicroKernel<kR>(a + r * dim, dim, panel0, panel1, static_cast<uint32_t>(r), col0, cols,
                            threshold, out);
            r += kR;
        };
        while (r + 8 <= rows) group(std::integral_constant<int, 8>{});
        switch (rows - r) {
            case 7: group(std::integral_constant<int, 7>{}); break;
            case 6: group(std::integral_constant<int, 6>{}); break;
            case 5: group(std::integral_constant<int, 5>{}); break;
            case 4: group(std::integral_constant<int, 4>{}); break;
            case 3: group(std::integral_constant<int, 3>{}); break;
            case 2: group(std::integral_constant<int, 2>{}); break;
            case 1: group(std::integral_constant<int, 1>{}); break;
            default: break;
        }
    }
    std::sort(out->begin(), out->end());
}

}  // namespace contex::index

namespace contex::index {
namespace {

// Quantises `v` (n floats) to int8 codes with one scale: code = round(v / scale),
// scale = max |v| / 127. Returns the scale; *max_abs = max |v|, *err_l1 = sum of
// |v_i - scale * code_i| (double arithmetic, rounded up), *code_sum = sum of codes.
float QuantizeRow(const float* v, std::size_t n, int8_t* codes, float* max_abs, float* err_l1,
                  int32_t* code_sum) {
    float m = 0;
    for (std::size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(v[i]));
    const float scale = m > 0 ? m / 127.0f : 0.0f;
    double err = 0;
    int32_t sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const float q = scale > 0 ? std::nearbyint(v[i] / scale) : 0.0f;
        const int8_t c = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
        codes[i] = c;
        sum += c;
        err += std::fabs(static_cast<double>(v[i]) - static_cast<double>(scale) * c);
    }
    *max_abs = m;
    *err_l1 = static_cast<float>(err * (1.0 + 1e-6));
    *code_sum = sum;
    return scale;
}

float QuantizeRowForQuery(const float* v, std::size_t n, int8_t* codes, float* max_abs,
                          float* err_l1, int32_t* code_sum) {
    return QuantizeRow(v, n, codes, max_abs, err_l1, code_sum);
}

template <int R>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void Int8MicroKernel(
    const uint8_t* a, std::size_t groups, const int8_t* panel0, const int8_t* panel1,
    __m512i (&acc0)[R], __m512i (&acc1)[R]) {
    for (int r = 0; r < R; ++r) {
        acc0[r] = _mm512_setzero_si512();
        acc1[r] = _mm512_setzero_si512();
    }
    for (std::size_t g = 0; g < groups; ++g) {
        const __m512i b0 = _mm512_loadu_si512(panel0 + g * 64);
        const __m512i b1 = _mm512_loadu_si512(panel1 + g * 64);
        for (int r = 0; r < R; ++r) {
            int32_t four;
            __builtin_memcpy(&four, a + r * groups * 4 + g * 4, 4);
            const __m512i x = _mm512_set1_epi32(four);
            acc0[r] = _mm512_dpbusd_epi32(acc0[r], x, b0);
            acc1[r] = _mm512_dpbusd_epi32(acc1[r], x, b1);
        }
    }
}

// One pair of int8 panels with their per-row (packed side) bound terms.
struct Int8PanelPair {
    const int8_t* panel0;
    const int8_t* panel1;
    uint32_t col0;
    uint32_t valid;  // mask of real columns among the 32
    __m512 sb[2], mb[2], eb[2];
    __m512i cs[2];   // 128 * code sums
    __m512 t;        // threshold - slack
};

template <int R>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void Int8Group(
    const uint8_t* ua, std::size_t groups, const std::vector<float>& sa,
    const std::vector<float>& ea, const std::vector<float>& ka, std::size_t r,
    const Int8PanelPair& pp, std::vector<std::pair<uint32_t, uint32_t>>* out) {
    __m512i acc0[R], acc1[R];
    Int8MicroKernel<R>(ua + r * groups * 4, groups, pp.panel0, pp.panel1, acc0, acc1);
    for (int i = 0; i < R; ++i) {
        const std::size_t row = r + static_cast<std::size_t>(i);
        uint32_t mask = 0;
        for (int h = 0; h < 2; ++h) {
            const __m512i q = _mm512_sub_epi32(h == 0 ? acc0[i] : acc1[i], pp.cs[h]);
            __m512 upper = _mm512_mul_ps(_mm512_cvtepi32_ps(q),
                                         _mm512_mul_ps(_mm512_set1_ps(sa[row]), pp.sb[h]));
            upper = _mm512_fmadd_ps(_mm512_set1_ps(ea[row]), pp.mb[h], upper);
            upper = _mm512_fmadd_ps(_mm512_set1_ps(ka[row]), pp.eb[h], upper);
            mask |= uint32_t(_mm512_cmp_ps_mask(upper, pp.t, _CMP_GE_OQ)) << (h * kPanel);
        }
        mask &= pp.valid;
        while (mask != 0) {
            const uint32_t bit = static_cast<uint32_t>(__builtin_ctz(mask));
            out->emplace_back(static_cast<uint32_t>(row), pp.col0 + bit);
            mask &= mask - 1;
        }
    }
}

}  // namespace

bool Int8MatMulAvailable() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}

Int8Panels PackInt8Panels(const float* rows, std::size_t count, std::size_t dim) {
    Int8Panels p;
    p.count = count;
    p.dim = dim;
    p.groups = (dim + 3) / 4;
    const std::size_t panels = (count + kPanel - 1) / kPanel;
    p.codes.assign(panels * p.groups * 64, 0);
    p.scale.assign(panels * kPanel, 0.0f);
    p.max_abs.assign(panels * kPanel, 0.0f);
    p.err_l1.assign(panels * kPanel, 0.0f);
    p.code_sum.assign(panels * kPanel, 0);
    std::vector<int8_t> codes(dim);
    for (std::size_t i = 0; i < count; ++i) {
        p.scale[i] = QuantizeRow(rows + i * dim, dim, codes.data(), &p.max_abs[i], &p.err_l1[i],
                                 &p.code_sum[i]);
        int8_t* panel = p.codes.data() + (i / kPanel) * p.groups * 64;
        for (std::size_t d = 0; d < dim; ++d) panel[(d / 4) * 64 + (i % kPanel) * 4 + d % 4] = codes[d];
    }
    return p;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void Int8MatMulCandidates(
    const float* a, std::size_t rows, const Int8Panels& b, float threshold,
    std::vector<std::pair<uint32_t, uint32_t>>* out) {
    const std::size_t groups = b.groups, dim = b.dim;
    // Rows of `a` as unsigned codes (code + 128, zero padded: 128) for vpdpbusd, and
    // per row: scale, error L1 norm, and a bound on |scale * code_i|.
    std::vector<uint8_t> ua(rows * groups * 4, 128);
    std::vector<float> sa(rows), ea(rows), ka(rows);
    std::vector<int8_t> codes(dim);
    for (std::size_t r = 0; r < rows; ++r) {
        float max_abs = 0;
        int32_t sum = 0;
        sa[r] = QuantizeRow(a + r * dim, dim, codes.data(), &max_abs, &ea[r], &sum);
        ka[r] = 127.0f * sa[r] * (1.0f + 1e-6f);
        for (std::size_t d = 0; d < dim; ++d) ua[r * groups * 4 + d] = static_cast<uint8_t>(codes[d] + 128);
    }
    // dot(a, b) = sa * sb * Q + sum e_a,i b_i + sum sa qa_i e_b,i, and Hoelder bounds the
    // last two by ea * max|b| + ka * eb. Q (int32) is exact and converts exactly below
    // dim 1040 (within 2^-24 relative above); the float products and sums add a few ulps
    // (absolute slack below, for unit-length vectors). A pair is a candidate unless even its upper bound is below threshold.
    const float slack = 1e-5f;
    const std::size_t panels = (b.count + kPanel - 1) / kPanel;
    for (std::size_t p = 0; p < panels; p += 2) {
        const bool pair = p + 1 < panels;
        const int8_t* panel0 = b.codes.data() + p * groups * 64;
        const int8_t* panel1 = pair ? panel0 + groups * 64 : panel0;
        const uint32_t col0 = static_cast<uint32_t>(p * kPanel);
        const uint32_t cols = static_cast<uint32_t>(std::min<std::size_t>(2 * kPanel, b.count - col0));
        const uint32_t valid = cols >= 2 * kPanel ? 0xffffffffu : (uint32_t(1) << cols) - 1u;
        __m512 sb[2], mb[2], eb[2];
        __m512i cs[2];
        for (int h = 0; h < 2; ++h) {
            const std::size_t at = (pair ? p + h : p) * kPanel;
            sb[h] = _mm512_loadu_ps(b.scale.data() + at);
            mb[h] = _mm512_loadu_ps(b.max_abs.data() + at);
            eb[h] = _mm512_loadu_ps(b.err_l1.data() + at);
            cs[h] = _mm512_slli_epi32(_mm512_loadu_si512(b.code_sum.data() + at), 7);  // 128 * sum
        }
        const __m512 t = _mm512_set1_ps(threshold - slack);
        Int8PanelPair pp{panel0, panel1, col0, valid, {sb[0], sb[1]}, {mb[0], mb[1]}, {eb[0], eb[1]},
                         {cs[0], cs[1]}, t};
        std::size_t r = 0;
        for (; r + 8 <= rows; r += 8) Int8Group<8>(ua.data(), groups, sa, ea, ka, r, pp, out);
        switch (rows - r) {
            case 7: Int8Group<7>(ua.data(), groups, sa, ea, ka, r, pp, out); break;
            case 6: Int8Group<6>(ua.data(), groups, sa, ea, ka, r, pp, out); break;
            case 5: Int8Group<5>(ua.data(), groups, sa, ea, ka, r, pp, out); break;
            case 4: Int8Group<4>(ua.data(), groups, sa, ea, ka, r, pp, out); break;
            case 3: Int8Group<3>(ua.data(), groups, sa, ea, ka, r, pp, out); break;
            case 2: Int8Group<2>(ua.data(), groups, sa, ea, ka, r, pp, out); break;
            case 1: Int8Group<1>(ua.data(), groups, sa, ea, ka, r, pp, out); break;
            default: break;
        }
    }
    std::sort(out->begin(), out->end());
}

}  // namespace contex::index

namespace contex::index {

Int8Query PrepareInt8Query(const float* q, std::size_t dim, std::size_t groups) {
    Int8Query out;
    out.codes.assign(groups * 4, 128);
    std::vector<int8_t> codes(dim);
    float max_abs = 0;
    int32_t sum = 0;
    out.scale = QuantizeRowForQuery(q, dim, codes.data(), &max_abs, &out.err_l1, &sum);
    out.code_bound = 127.0f * out.scale * (1.0f + 1e-6f);
    for (std::size_t d = 0; d < dim; ++d) out.codes[d] = static_cast<uint8_t>(codes[d] + 128);
    return out;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void Int8UpperBounds(
    const Int8Query& q, const Int8Panels& b, std::size_t first, std::size_t n, float* upper) {
    const std::size_t groups = b.groups;
    const __m512 sa = _mm512_set1_ps(q.scale);
    const __m512 ea = _mm512_set1_ps(q.err_l1);
    const __m512 ka = _mm512_set1_ps(q.code_bound);
    const std::size_t end = first + n;
    for (std::size_t p = first / kPanel; p * kPanel < end; p += 2) {
        const bool pair = (p + 1) * kPanel < end;
        const int8_t* panel0 = b.codes.data() + p * groups * 64;
        const int8_t* panel1 = pair ? panel0 + groups * 64 : panel0;
        __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
        for (std::size_t g = 0; g < groups; ++g) {
            int32_t four;
            __builtin_memcpy(&four, q.codes.data() + g * 4, 4);
            const __m512i x = _mm512_set1_epi32(four);
            acc0 = _mm512_dpbusd_epi32(acc0, x, _mm512_loadu_si512(panel0 + g * 64));
            acc1 = _mm512_dpbusd_epi32(acc1, x, _mm512_loadu_si512(panel1 + g * 64));
        }
        for (int h = 0; h < (pair ? 2 : 1); ++h) {
            const std::size_t at = (p + static_cast<std::size_t>(h)) * kPanel;
            const __m512i cs = _mm512_slli_epi32(_mm512_loadu_si512(b.code_sum.data() + at), 7);
            const __m512i qq = _mm512_sub_epi32(h == 0 ? acc0 : acc1, cs);
            __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(qq),
                                     _mm512_mul_ps(sa, _mm512_loadu_ps(b.scale.data() + at)));
            u = _mm512_fmadd_ps(ea, _mm512_loadu_ps(b.max_abs.data() + at), u);
            u = _mm512_fmadd_ps(ka, _mm512_loadu_ps(b.err_l1.data() + at), u);
            float tmp[kPanel];
            _mm512_storeu_ps(tmp, u);
            for (std::size_t j = 0; j < kPanel; ++j) {
                const std::size_t row = at + j;
                if (row >= first && row < end) upper[row - first] = tmp[j];
            }
        }
    }
}

}  // namespace contex::index
