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

// The feature-major kernels: vector c of a matrix holds its column c for 16 rows (lanes).
class FeatureMajorKernelsTest : public KernelsTest {
protected:
    void SetUp() override {
        const Kernels& kk = k();
        const bool all = kk.pack_fm && kk.gemm_fm && kk.bias_fm && kk.layer_norm_fm && kk.attention_fm;
        const bool none =
            !kk.pack_fm && !kk.gemm_fm && !kk.bias_fm && !kk.layer_norm_fm && !kk.attention_fm;
        ASSERT_TRUE(all || none) << "the set comes whole or not at all";
        if (none) {
            EXPECT_NE(kk.name, "avx512") << "only the 512-bit set has it";
        }
    }
    // The tests below have nothing to check where the set is absent.
    bool absent() const { return k().gemm_fm == nullptr; }
};

TEST_P(FeatureMajorKernelsTest, PackTransposesRowsAndZeroesPaddingLanes) {
    if (absent()) return;
    const int k_dim = 37, lda = 41;  // one 16-column block in registers, then a scalar tail
    for (const int rows : {1, 7, 16}) {
        auto a = Random(static_cast<std::size_t>(rows) * lda, 1.0f, 30 + rows);
        std::vector<float> out(static_cast<std::size_t>(k_dim + 1) * 16, -1.0f);
        k().pack_fm(a.data(), lda, rows, k_dim, out.data());
        for (int c = 0; c < k_dim; ++c) {
            for (int l = 0; l < 16; ++l) {
                ASSERT_EQ(out[c * 16 + l], l < rows ? a[l * lda + c] : 0.0f)
                    << "rows " << rows << " feature " << c << " lane " << l;
            }
        }
        for (int l = 0; l < 16; ++l) EXPECT_EQ(out[k_dim * 16 + l], -1.0f) << "past the last feature";
    }
}

TEST_P(FeatureMajorKernelsTest, GemmMatchesReferenceOnTiledWeights) {
    if (absent()) return;
    const int k_dim = 40, k_padded = 48, cols = 40, tiles = 3;
    const std::size_t tile_stride = static_cast<std::size_t>(k_padded) * 16;
    auto w = Random(tile_stride * tiles, 1.0f, 31);
    for (int t = 0; t < tiles; ++t) {
        for (int kk = k_dim; kk < k_padded; ++kk) {
            for (int i = 0; i < 16; ++i) w[t * tile_stride + kk * 16 + i] = 1e30f;  // never read
        }
    }
    const auto weight = [&](int kk, int c) { return w[(c / 16) * tile_stride + kk * 16 + c % 16]; };
    auto x = Random(static_cast<std::size_t>(k_dim) * 16, 1.0f, 32);
    std::vector<float> out(static_cast<std::size_t>(cols + 1) * 16, -1.0f);
    k().gemm_fm(x.data(), k_dim, w.data(), tile_stride, cols, out.data());
    for (int c = 0; c < cols; ++c) {
        for (int l = 0; l < 16; ++l) {
            double want = 0;
            for (int kk = 0; kk < k_dim; ++kk)
                want += static_cast<double>(x[kk * 16 + l]) * weight(kk, c);
            ASSERT_NEAR(out[c * 16 + l], want, 1e-4) << "column " << c << " lane " << l;
        }
    }
    for (int l = 0; l < 16; ++l) EXPECT_EQ(out[cols * 16 + l], -1.0f) << "past the last column";
}

TEST_P(FeatureMajorKernelsTest, BiasAndGeluApplyPerFeature) {
    if (absent()) return;
    const int n = 7;
    auto x = Random(static_cast<std::size_t>(n) * 16, 3.0f, 33), bias = Random(n, 1.0f, 34);
    for (const bool gelu : {false, true}) {
        auto y = x;
        k().bias_fm(y.data(), bias.data(), n, gelu);
        for (int c = 0; c < n; ++c) {
            for (int l = 0; l < 16; ++l) {
                const double v = static_cast<double>(x[c * 16 + l]) + bias[c];
                const double want = gelu ? 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))) : v;
                ASSERT_NEAR(y[c * 16 + l], want, 1e-6 * (1 + std::fabs(want))) << c << "," << l;
            }
        }
    }
}

TEST_P(FeatureMajorKernelsTest, LayerNormNormalisesEachLane) {
    if (absent()) return;
    const int n = 389;
    auto x = Random(static_cast<std::size_t>(n) * 16, 3.0f, 35);
    auto a = Random(static_cast<std::size_t>(n) * 16, 1.0f, 36);
    auto bias = Random(n, 1.0f, 37), g = Random(n, 1.0f, 38), beta = Random(n, 1.0f, 39);
    auto y = x;
    k().layer_norm_fm(y.data(), a.data(), bias.data(), g.data(), beta.data(), n, 1e-12f);
    for (int l = 0; l < 16; ++l) {
        auto in = [&](int c) {
            return static_cast<double>(x[c * 16 + l]) + a[c * 16 + l] + bias[c];
        };
        double mean = 0, var = 0;
        for (int c = 0; c < n; ++c) mean += in(c);
        mean /= n;
        for (int c = 0; c < n; ++c) var += std::pow(in(c)-mean, 2);
        var /= n;
        for (int c = 0; c < n; ++c) {
            const double want = (in(c)-mean) / std::sqrt(var + 1e-12) * g[c] + beta[c];
            ASSERT_NEAR(y[c * 16 + l], want, 2e-5 * (1 + std::fabs(want)))
                << "lane " << l << " at " << c;
        }
    }
}

TEST_P(FeatureMajorKernelsTest, AttentionStaysWithinEachSequence) {
    if (absent()) return;
    // Three sequences of 3, 1 and 6 tokens, then six padding lanes (one group of their own).
    const std::vector<int32_t> group = {0, 0, 0, 1, 2, 2, 2, 2, 2, 2, -1, -1, -1, -1, -1, -1};
    for (const int dim : {16, 20, 32}) {
        auto q = Random(static_cast<std::size_t>(dim) * 16, 1.5f, 40 + dim);
        auto kv = Random(static_cast<std::size_t>(dim) * 16, 1.5f, 41 + dim);
        auto v = Random(static_cast<std::size_t>(dim) * 16, 1.5f, 42 + dim);
        std::vector<float> out(static_cast<std::size_t>(dim + 1) * 16, -1.0f);
        const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
        k().attention_fm(q.data(), kv.data(), v.data(), group.data(), dim, scale, out.data());
        for (int i = 0; i < 16; ++i) {
            std::vector<double> s(16, 0.0);
            double mx = -1e300, sum = 0;
            for (int j = 0; j < 16; ++j) {
                if (group[j] != group[i]) continue;
                for (int c = 0; c < dim; ++c)
                    s[j] += static_cast<double>(q[c * 16 + i]) * kv[c * 16 + j];
                s[j] *= scale;
                mx = std::max(mx, s[j]);
            }
            for (int j = 0; j < 16; ++j)
                sum += (s[j] = group[j] == group[i] ? std::exp(s[j] - mx) : 0.0);
            for (int c = 0; c < dim; ++c) {
                double o = 0;
                for (int j = 0; j < 16; ++j) o += s[j] / sum * v[c * 16 + j];
                ASSERT_NEAR(out[c * 16 + i], o, 1e-5)
                    << "dim " << dim << " lane " << i << " feature " << c;
            }
        }
        for (int l = 0; l < 16; ++l) EXPECT_EQ(out[dim * 16 + l], -1.0f) << "past the last feature";
    }
}

INSTANTIATE_TEST_SUITE_P(AllInstructionSets, FeatureMajorKernelsTest,
                         ::testing::Values(Isa::kAvx512, Isa::kAvx2, Isa::kGeneric),
                         [](const auto& info) {
                             return std::string(SelectKernels(info.param).name) + "_" +
                                    std::to_string(info.index);
                         });

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
