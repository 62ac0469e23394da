#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/act_quant.h"
#include "numerics/quantizer.h"
#include "kernels_test_util.h"
#include "numerics/hadamard.h"

using namespace tameq;
using namespace tameq::kern;

namespace {

// The quantizer module's codes for one row, shifted as act_quant.h documents.
void expect_row_matches(const float* x, int k, int bits, bool symmetric, const uint8_t* q, float scale, int32_t zero,
                        const char* path) {
    QuantSpec spec{bits, symmetric, Granularity::PerRow};
    QParams p = find_qparams(x, k, spec);
    ASSERT_EQ(scale, p.scale) << path;
    ASSERT_EQ(zero, symmetric ? 128 : static_cast<int32_t>(p.zero)) << path;
    for (int i = 0; i < k; ++i)
        ASSERT_EQ(q[i], quantize_code(x[i], p, spec) + (symmetric ? 128 : 0)) << path << " bits " << bits << " at " << i;
}

std::vector<float> rows_with_ties(int m, int k, uint64_t seed) {
    auto x = test::random_floats(static_cast<size_t>(m) * k, -3.0f, 5.0f, seed);
    // Exact halves of the grid step land on round-half-even decisions; one all-zero row takes the
    // zero-range fallback; one all-positive row has its zero point at 0.
    for (int i = 0; i < k; i += 7) x[i] = 0.5f * static_cast<float>(i % 9);
    if (m > 2) {
        std::fill(x.begin() + k, x.begin() + 2 * k, 0.0f);
        for (int i = 0; i < k; ++i) x[2 * k + i] = std::fabs(x[2 * k + i]) + 1.0f;
    }
    return x;
}

}  // namespace

TEST(KernelsActQuant, CodesEqualQuantizerOnEveryPath) {
    for (int k : {1, 15, 16, 37, 4096}) {
        const int m = 4;
        auto x = rows_with_ties(m, k, 31 + k);
        for (int bits : {8, 6, 4}) {
            for (bool symmetric : {false, true}) {
                for (KernelPath p : supported_paths()) {
                    test::PathScope scope(p);
                    std::vector<uint8_t> q(static_cast<size_t>(m) * k);
                    std::vector<float> scale(m);
                    std::vector<int32_t> zero(m);
                    quantize_rows_u8(x.data(), m, k, k, bits, symmetric, q.data(), k, scale.data(), zero.data());
                    for (int i = 0; i < m; ++i)
                        expect_row_matches(&x[static_cast<size_t>(i) * k], k, bits, symmetric, &q[static_cast<size_t>(i) * k],
                                           scale[i], zero[i], path_name(p));
                }
            }
        }
    }
}

TEST(KernelsActQuant, HadamardVariantIsFwhtThenQuantize) {
    for (int k : {64, 1536}) {  // a power of two, and 12·128 (a Paley factor)
        const int m = 3, ldx = k + 5;
        auto x = test::random_floats(static_cast<size_t>(m) * ldx, -2.0f, 2.0f, 41 + k);
        std::vector<float> rotated(static_cast<size_t>(m) * k);
        for (int i = 0; i < m; ++i) std::memcpy(&rotated[static_cast<size_t>(i) * k], &x[static_cast<size_t>(i) * ldx], sizeof(float) * k);
        fwht_rows(rotated.data(), m, k);
        auto before = x;
        for (KernelPath p : supported_paths()) {
            test::PathScope scope(p);
            std::vector<uint8_t> q(static_cast<size_t>(m) * k);
            std::vector<float> scale(m);
            std::vector<int32_t> zero(m);
            hadamard_quantize_rows_u8(x.data(), m, k, ldx, 8, false, q.data(), k, scale.data(), zero.data());
            EXPECT_EQ(x, before);
            for (int i = 0; i < m; ++i)
                expect_row_matches(&rotated[static_cast<size_t>(i) * k], k, 8, false, &q[static_cast<size_t>(i) * k], scale[i],
                                   zero[i], path_name(p));
        }
    }
}

// Block-R4 fused with the per-token quantization: the codes are fwht_row_blocks' rows quantized, bit for bit,
// on every kernel path (the scalar one included), and x is left unchanged.
TEST(KernelsActQuant, BlockHadamardVariantIsBlockFwhtThenQuantize) {
    for (auto [k, block] : {std::pair{1536, 128}, {1536, 512}, {768, 256}, {64, 16}}) {
        const int m = 5, ldx = k + 3;
        auto x = test::random_floats(static_cast<size_t>(m) * ldx, -2.0f, 2.0f, 7 + k + block);
        x[5] = 40.0f;  // one outlier, as down_proj's inputs have
        std::vector<float> rotated(static_cast<size_t>(m) * k);
        for (int i = 0; i < m; ++i) std::memcpy(&rotated[static_cast<size_t>(i) * k], &x[static_cast<size_t>(i) * ldx], sizeof(float) * k);
        fwht_row_blocks(rotated.data(), m, k, block);
        auto before = x;
        for (KernelPath p : supported_paths()) {
            test::PathScope scope(p);
            for (int bits : {4, 8}) {
                for (bool symmetric : {false, true}) {
                    std::vector<uint8_t> q(static_cast<size_t>(m) * k);
                    std::vector<float> scale(m);
                    std::vector<int32_t> zero(m);
                    hadamard_quantize_rows_u8(x.data(), m, k, ldx, bits, symmetric, q.data(), k, scale.data(), zero.data(), block);
                    EXPECT_EQ(x, before);
                    for (int i = 0; i < m; ++i)
                        expect_row_matches(&rotated[static_cast<size_t>(i) * k], k, bits, symmetric, &q[static_cast<size_t>(i) * k],
                                           scale[i], zero[i], path_name(p));
                }
            }
        }
    }
}
