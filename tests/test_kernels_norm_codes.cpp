// kern::norm_codes_u8: every path gives the scalar oracle's codes bit for bit, and the oracle gives the codes of
// the unfused path (model/ops.cpp's FP32 norm, then clamp(nearbyint(y))), on random rows of many widths and row
// counts (the AVX2 statistics run four and eight rows side by side, so every remainder of m mod 8 is covered).
#include <cmath>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/norm_codes.h"
#include "kernels_test_util.h"
#include "model/ops.h"

using namespace tameq;
using namespace tameq::kern;

namespace {

struct NormCase {
    RowNorm kind;
    bool bias;
};

// The unfused path: the FP32 norm of ops.cpp, then the static quantizer of IntLinear / ActQuant.
std::vector<uint8_t> unfused_codes(const std::vector<float>& x, int m, int k, int ldx, const Norm& norm, RowNorm kind,
                                   float eps, int lo, int hi) {
    std::vector<float> packed(size_t(m) * k), y(size_t(m) * k);
    for (int i = 0; i < m; ++i) std::memcpy(&packed[size_t(i) * k], &x[size_t(i) * ldx], sizeof(float) * k);
    if (kind == RowNorm::layer)
        layer_norm(packed.data(), m, k, norm, eps, y.data());
    else
        rms_norm(packed.data(), m, k, norm, eps, y.data());
    std::vector<uint8_t> q(y.size());
    for (size_t i = 0; i < y.size(); ++i)
        q[i] = uint8_t(int(std::clamp(std::nearbyint(y[i]), float(lo), float(hi))) + 128);
    return q;
}

}  // namespace

TEST(KernelsNormCodes, EveryPathEqualsTheUnfusedNormAndQuantizer) {
    int checked = 0, clamped = 0;
    for (int k : {1, 3, 7, 8, 9, 16, 31, 64, 100, 512, 768, 4099}) {
        for (int m : {1, 3, 4, 5, 8, 11, 17}) {
            const int ldx = k + 3, ldq = k + 5;
            // Residual-stream-like rows: mostly small, some channels large, one row with an offset (LayerNorm's
            // mean matters) and one constant row (variance 0: the eps-only scale).
            auto x = test::random_floats(size_t(m) * ldx, -2.0f, 2.0f, uint64_t(7 * k + m));
            for (size_t i = 0; i < x.size(); i += 13) x[i] *= 20.0f;
            if (m > 2)
                for (int j = 0; j < k; ++j) x[size_t(ldx) + j] += 5.0f;
            if (m > 4)
                for (int j = 0; j < k; ++j) x[size_t(3) * ldx + j] = 0.75f;
            Norm norm;
            // γ large enough that the codes span the grid and some clamp (OutlierTune's folded 1/Δ).
            norm.weight = test::random_floats(size_t(k), -60.0f, 60.0f, uint64_t(k + 100));
            const std::vector<float> beta = test::random_floats(size_t(k), -9.5f, 9.5f, uint64_t(k + 200));
            for (NormCase c : {NormCase{RowNorm::rms, false}, NormCase{RowNorm::rms, true}, NormCase{RowNorm::layer, true},
                               NormCase{RowNorm::layer, false}}) {
                norm.bias = c.bias ? beta : std::vector<float>{};
                if (c.kind == RowNorm::layer && !c.bias) norm.bias.assign(size_t(k), 0.0f);  // ops.cpp's LayerNorm needs one
                const float eps = 1e-5f;
                for (auto [lo, hi] : {std::pair{-128, 127}, std::pair{-127, 127}, std::pair{-32, 31}}) {
                    const auto want = unfused_codes(x, m, k, ldx, norm, c.kind, eps, lo, hi);
                    const NormAffine affine{c.kind, norm.weight.data(), c.bias ? norm.bias.data() : nullptr, eps};
                    for (KernelPath p : supported_paths()) {
                        test::PathScope scope(p);
                        std::vector<uint8_t> q(size_t(m) * ldq, 0xAB);
                        norm_codes_u8(x.data(), m, k, ldx, affine, lo, hi, q.data(), ldq);
                        for (int i = 0; i < m; ++i) {
                            for (int j = 0; j < k; ++j)
                                ASSERT_EQ(q[size_t(i) * ldq + j], want[size_t(i) * k + j])
                                    << path_name(p) << " k " << k << " m " << m << " row " << i << " col " << j << " layer "
                                    << (c.kind == RowNorm::layer) << " bias " << c.bias << " lo " << lo;
                            for (int j = k; j < ldq; ++j) ASSERT_EQ(q[size_t(i) * ldq + j], 0xAB) << "padding written";
                        }
                        ++checked;
                    }
                    for (uint8_t v : want) clamped += v == uint8_t(lo + 128) || v == uint8_t(hi + 128);
                }
            }
        }
    }
    EXPECT_GT(checked, 1000);
    EXPECT_GT(clamped, 1000);  // the clamp ran, not only the rounding
}

TEST(KernelsNormCodes, StatisticsAreOpsNorms) {
    // rms_inv_scale / layer_norm_stats are what rms_norm / layer_norm scale by: γ = 1, β = 0 gives x·inv and (x − mean)·inv.
    const int k = 96;
    const auto x = test::random_floats(size_t(k), -3.0f, 7.0f, 5);
    Norm norm;
    norm.weight.assign(size_t(k), 1.0f);
    norm.bias.assign(size_t(k), 0.0f);
    std::vector<float> y(x.size());
    layer_norm(x.data(), 1, k, norm, 1e-5f, y.data());
    float mean = 0, inv = 0;
    layer_norm_stats(x.data(), k, 1e-5f, &mean, &inv);
    double sum = 0;
    for (float v : x) sum += v;
    EXPECT_FLOAT_EQ(mean, float(sum / k));
    for (int j = 0; j < k; ++j) ASSERT_EQ(y[size_t(j)], (x[size_t(j)] - mean) * inv);
    norm.bias.clear();
    rms_norm(x.data(), 1, k, norm, 1e-6f, y.data());
    const float rinv = rms_inv_scale(x.data(), k, 1e-6f);
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    EXPECT_FLOAT_EQ(rinv, float(1.0 / std::sqrt(ss / k + 1e-6)));
    for (int j = 0; j < k; ++j) ASSERT_EQ(y[size_t(j)], x[size_t(j)] * rinv);
}

TEST(KernelsNormCodes, RefusesBadShapesAndRanges) {
    std::vector<float> x(8, 1.0f), g(8, 1.0f);
    std::vector<uint8_t> q(8);
    const NormAffine affine{RowNorm::rms, g.data(), nullptr, 1e-5f};
    EXPECT_THROW(norm_codes_u8(x.data(), 1, 8, 4, affine, -128, 127, q.data(), 8), std::exception);
    EXPECT_THROW(norm_codes_u8(x.data(), 1, 8, 8, affine, -129, 127, q.data(), 8), std::exception);
    EXPECT_THROW(norm_codes_u8(x.data(), 1, 8, 8, affine, 1, 127, q.data(), 8), std::exception);
    EXPECT_THROW(norm_codes_u8(x.data(), 1, 8, 8, NormAffine{}, -128, 127, q.data(), 8), std::exception);
}
