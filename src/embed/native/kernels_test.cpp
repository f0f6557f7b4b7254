#include "embed/native/kernels.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace contex::embed::native::internal {
namespace {

std::vector<float> Random(std::size_t n, float scale, unsigned seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(gen);
    return v;
}

class KernelsTest : public ::testing::TestWithParam<Isa> {
protected:
    const Kernels& k() const { return SelectKernels(GetParam()); }
};

TEST_P(KernelsTest, LayerNormMatchesDoubleReference) {
    const int n = 389;  // not a multiple of any vector width
    auto x = Random(n, 3.0f, 1), a = Random(n, 1.0f, 2), b = Random(n, 1.0f, 3);
    auto g = Random(n, 1.0f, 4), beta = Random(n, 1.0f, 5);
    std::vector<double> ref(n);
    double mean = 0, var = 0;
    for (int i = 0; i < n; ++i) mean += static_cast<double>(x[i]) + a[i] + b[i];
    mean /= n;
    for (int i = 0; i < n; ++i) var += std::pow(static_cast<double>(x[i]) + a[i] + b[i] - mean, 2);
    var /= n;
    for (int i = 0; i < n; ++i) {
        ref[i] = (static_cast<double>(x[i]) + a[i] + b[i] - mean) / std::sqrt(var + 1e-12) * g[i] + beta[i];
    }
    k().layer_norm(x.data(), a.data(), b.data(), g.data(), beta.data(), n, 1e-12f);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(x[i], ref[i], 2e-5 * (1 + std::fabs(ref[i]))) << i;
}

TEST_P(KernelsTest, GeluMatchesErfDefinition) {
    std::vector<float> x;
    for (float v = -12.0f; v <= 12.0f; v += 0.01f) x.push_back(v);
    const auto orig = x;
    const int n = static_cast<int>(x.size());
    std::vector<float> bias(x.size(), 0.25f);
    k().bias_gelu(x.data(), bias.data(), n);
    for (int i = 0; i < n; ++i) {
        const double v = static_cast<double>(orig[i]) + 0.25;
        const double want = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
        EXPECT_NEAR(x[i], want, 1e-6 * (1 + std::fabs(want))) << orig[i];
    }
}

TEST_P(KernelsTest, QuantizeRoundTripsWithinHalfAStep) {
    const int n = 301;
    auto x = Random(n, 2.0f, 9);
    std::vector<uint8_t> q(n);
    const float scale = k().quantize_u8(x.data(), q.data(), n);
    float amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(v));
    EXPECT_FLOAT_EQ(scale, amax / 127.0f);
    for (int i = 0; i < n; ++i) {
        EXPECT_GE(q[i], 1);
        EXPECT_NEAR((q[i] - 128) * scale, x[i], 0.5f * scale + 1e-6f);
    }
    std::vector<float> zeros(8, 0.0f);
    std::vector<uint8_t> qz(8);
    EXPECT_EQ(k().quantize_u8(zeros.data(), qz.data(), 8), 1.0f);
    EXPECT_EQ(qz[3], 128);
}

TEST_P(KernelsTest, DequantizeAppliesScalesCompensationAndBias) {
    const int n = 37;
    std::vector<int32_t> acc(n), comp(n);
    std::vector<float> col(n), bias(n), out(n);
    for (int i = 0; i < n; ++i) {
        acc[i] = 1000 * i - 7;
        comp[i] = 128 * (i - 5);
        col[i] = 0.01f * (i + 1);
        bias[i] = 0.5f * i;
    }
    k().dequantize(acc.data(), comp.data(), 0.25f, col.data(), bias.data(), out.data(), n);
    for (int i = 0; i < n; ++i) {
        const double want = static_cast<double>(acc[i] - comp[i]) * 0.25 * col[i] + bias[i];
        EXPECT_NEAR(out[i], want, 1e-4 * (1 + std::fabs(want)));
    }
}

TEST_P(KernelsTest, AttentionMatchesSoftmaxReference) {
    // 16, 32 and 64 take the fixed-size paths, 24 the generic one.
    for (const int dim : {16, 24, 32, 64}) {
        for (const int len : {1, 19, 40}) {
            const int ld_out = 4 * dim, ld = 3 * ld_out, off = dim;  // head 1 of 4
            auto qkv = Random(static_cast<std::size_t>(len) * ld, 1.5f, 21 + len + dim);
            std::vector<float> out(static_cast<std::size_t>(len) * ld_out, -1.0f);
            std::vector<float> scratch(static_cast<std::size_t>(dim + 4) * ((len + 15) / 16 * 16));
            const float* q = qkv.data() + off;
            const float* kk = qkv.data() + ld_out + off;
            const float* v = qkv.data() + 2 * ld_out + off;
            const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
            k().attention(q, kk, v, ld, len, dim, scale, out.data() + off, ld_out, scratch.data());
            for (int i = 0; i < len; ++i) {
                std::vector<double> s(len);
                double mx = -1e300, sum = 0;
                for (int j = 0; j < len; ++j) {
                    double d = 0;
                    for (int c = 0; c < dim; ++c) d += static_cast<double>(q[i * ld + c]) * kk[j * ld + c];
                    s[j] = d * scale;
                    mx = std::max(mx, s[j]);
                }
                for (auto& e : s) sum += (e = std::exp(e - mx));
                for (int c = 0; c < dim; ++c) {
                    double o = 0;
                    for (int j = 0; j < len; ++j) o += s[j] / sum * v[j * ld + c];
                    ASSERT_NEAR(out[i * ld_out + off + c], o, 1e-5)
                        << "dim " << dim << " len " << len << " at " << i << "," << c;
                }
                EXPECT_EQ(out[i * ld_out + off - 1], -1.0f);       // neighbouring heads
                EXPECT_EQ(out[i * ld_out + off + dim], -1.0f);     // untouched
            }
        }
    }
}

TEST_P(KernelsTest, SmallGemmMatchesReferenceOnTiledWeights) {
    ASSERT_EQ(k().small_gemm == nullptr, k().small_gemm_pack == nullptr);
    if (k().small_gemm == nullptr) {
        // Only the 512-bit set has it (16 vector accumulators would spill elsewhere).
        EXPECT_NE(k().name, "avx512");
        return;
    }
    // k and cols not multiples of 16: tiles are padded to 48 rows (the padding holds
    // values that must not be read) and the last tile is partial.
    const int k_dim = 40, k_padded = 48, cols = 40, tiles = 3, lda = 45, ldo = 43;
    const std::size_t tile_stride = static_cast<std::size_t>(k_padded) * 16;
    auto w = Random(tile_stride * tiles, 1.0f, 21);
    for (int t = 0; t < tiles; ++t) {
        for (int kk = k_dim; kk < k_padded; ++kk) {
            for (int i = 0; i < 16; ++i) w[t * tile_stride + kk * 16 + i] = 1e30f;
        }
    }
    const auto weight = [&](int kk, int c) { return w[(c / 16) * tile_stride + kk * 16 + c % 16]; };
    for (int rows : {1, 7, 16, 37}) {
        auto a = Random(static_cast<std::size_t>(rows) * lda, 1.0f, 22 + rows);
        std::vector<float> out(static_cast<std::size_t>(rows) * ldo, -1.0f);
        std::vector<float> packed(static_cast<std::size_t>((rows + 15) / 16 * 16) * k_dim);
        k().small_gemm_pack(a.data(), lda, rows, k_dim, packed.data());
        k().small_gemm(packed.data(), rows, k_dim, w.data(), tile_stride, cols, out.data(), ldo);
        for (int r = 0; r < rows; ++r) {
            for (int c = 0; c < cols; ++c) {
                double want = 0;
                for (int kk = 0; kk < k_dim; ++kk) {
                    want += static_cast<double>(a[r * lda + kk]) * weight(kk, c);
                }
                ASSERT_NEAR(out[r * ldo + c], want, 1e-4) << "rows " << rows << " at " << r << "," << c;
            }
            for (int c = cols; c < ldo; ++c) EXPECT_EQ(out[r * ldo + c], -1.0f) << "past the last column";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllInstructionSets, KernelsTest,
                         ::testing::Values(Isa::kAvx512, Isa::kAvx2, Isa::kGeneric),
                         [](const auto& info) {
                             return std::string(SelectKernels(info.param).name) + "_" +
                                    std::to_string(info.index);
                         });

TEST(Kernels, AutoPicksAnAvailableSet) {
    const auto name = SelectKernels(Isa::kAuto).name;
    EXPECT_TRUE(name == "avx512" || name == "avx2" || name == "generic") << name;
}

}  // namespace
}  // namespace contex::embed::native::internal
