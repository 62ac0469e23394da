#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/pack.h"
#include "kernels/cpu/thread_pool.h"
#include "kernel_cases.h"
#include "kernels_test_util.h"

using namespace tameq;
using namespace tameq::kern;

namespace {


PackedWeights pack(const std::vector<int8_t>& w, int n, int k, int bits) {
    return bits == 8 ? pack_weights_s8(w.data(), n, k) : pack_weights_s4(w.data(), n, k);
}

// Activations at the extremes of u8 and weights at the extremes of their range, so a saturating or
// wrapping dot product (vpmaddubsw without the split) would show.
std::vector<uint8_t> extreme_activations(size_t n, uint64_t seed) {
    auto v = test::random_codes<uint8_t>(n, 0, 255, seed);
    for (size_t i = 0; i < n; i += 3) v[i] = 255;
    return v;
}

void expect_accumulators_match(int bits) {
    int lim = bits == 8 ? 127 : 7;
    for (const tameq::test::GemmCase& s : tameq::test::kCpuGemmCases) {
        auto w = test::random_codes<int8_t>(static_cast<size_t>(s.n) * s.k, -lim - 1, lim, 11 + s.k);
        for (size_t i = 0; i < w.size(); i += 5) w[i] = static_cast<int8_t>(-lim - 1);
        int lda = s.k + 3;  // a row stride wider than K
        auto a = extreme_activations(static_cast<size_t>(s.m) * lda, 7 + s.n);
        std::vector<int32_t> want(static_cast<size_t>(s.m) * s.n);
        gemm_ref_s32(a.data(), s.m, lda, w.data(), s.n, s.k, want.data(), s.n);
        PackedWeights pw = pack(w, s.n, s.k, bits);
        for (KernelPath p : supported_paths()) {
            test::PathScope scope(p);
            std::vector<int32_t> got(static_cast<size_t>(s.m) * s.n, -1);
            gemm_u8_s32(a.data(), s.m, lda, pw, got.data(), s.n);
            EXPECT_EQ(got, want) << path_name(p) << " W" << bits << " m=" << s.m << " k=" << s.k << " n=" << s.n;
        }
    }
}

}  // namespace

TEST(KernelsGemm, W8AccumulatorsMatchReferenceOnEveryPath) { expect_accumulators_match(8); }

TEST(KernelsGemm, W4AccumulatorsMatchReferenceOnEveryPath) { expect_accumulators_match(4); }

TEST(KernelsGemm, DequantizedOutputCorrectsZeroPointsWithRowSums) {
    // Asymmetric activation codes with per-row zero points: the kernels use acc − za·Σw, the reference
    // Σ(a − za)·w directly; both are the same integer, so the floats must agree bit for bit.
    for (int bits : {8, 4}) {
        int lim = bits == 8 ? 127 : 7;
        for (const tameq::test::GemmCase& s : tameq::test::kCpuGemmCases) {
            auto w = test::random_codes<int8_t>(static_cast<size_t>(s.n) * s.k, -lim - 1, lim, 3 + s.n);
            auto a = test::random_codes<uint8_t>(static_cast<size_t>(s.m) * s.k, 0, 255, 5 + s.m);
            auto za = test::random_codes<int32_t>(s.m, 0, 255, 9);
            auto sa = test::random_floats(s.m, 1e-3f, 2e-2f, 13);
            auto sw = test::random_floats(s.n, 1e-3f, 2e-2f, 17);
            auto bias = test::random_floats(s.n, -1.0f, 1.0f, 19);
            for (bool with_bias : {true, false}) {
                Dequant dq{sa.data(), za.data(), sw.data(), with_bias ? bias.data() : nullptr};
                std::vector<float> want(static_cast<size_t>(s.m) * s.n);
                gemm_ref_f32(a.data(), s.m, s.k, w.data(), s.n, s.k, dq, want.data(), s.n);
                PackedWeights pw = pack(w, s.n, s.k, bits);
                for (KernelPath p : supported_paths()) {
                    test::PathScope scope(p);
                    std::vector<float> got(static_cast<size_t>(s.m) * s.n, -1.0f);
                    gemm_u8_f32(a.data(), s.m, s.k, pw, dq, got.data(), s.n);
                    ASSERT_EQ(got, want) << path_name(p) << " W" << bits << " m=" << s.m << " k=" << s.k << " n=" << s.n;
                }
            }
        }
    }
}

TEST(KernelsGemm, GroupedScalesMatchReferenceOnEveryPath) {
    struct Case {
        int m, k, n, group;
    };
    const Case cases[] = {{1, 256, 19, 128}, {3, 128, 67, 32}, {13, 384, 131, 128}, {5, 1024, 300, 128}, {17, 4096, 64, 128}, {7, 40, 16, 8}};
    for (int bits : {8, 4}) {
        int lim = bits == 8 ? 127 : 7;
        for (const Case& c : cases) {
            auto w = test::random_codes<int8_t>(static_cast<size_t>(c.n) * c.k, -lim - 1, lim, 29 + c.n);
            auto a = test::random_codes<uint8_t>(static_cast<size_t>(c.m) * c.k, 0, 255, 31 + c.m);
            auto za = test::random_codes<int32_t>(c.m, 0, 255, 37);
            auto sa = test::random_floats(c.m, 1e-3f, 2e-2f, 41);
            auto sw = test::random_floats(static_cast<size_t>(c.k / c.group) * c.n, 1e-3f, 2e-2f, 43);
            auto bias = test::random_floats(c.n, -1.0f, 1.0f, 47);
            Dequant dq{sa.data(), za.data(), sw.data(), bias.data()};
            std::vector<float> want(static_cast<size_t>(c.m) * c.n);
            gemm_ref_f32_grouped(a.data(), c.m, c.k, w.data(), c.n, c.k, c.group, dq, want.data(), c.n);
            PackedWeights pw = bits == 8 ? pack_weights_s8(w.data(), c.n, c.k, c.group) : pack_weights_s4(w.data(), c.n, c.k, c.group);
            for (KernelPath p : supported_paths()) {
                test::PathScope scope(p);
                std::vector<float> got(static_cast<size_t>(c.m) * c.n, -1.0f);
                gemm_u8_f32_grouped(a.data(), c.m, c.k, pw, dq, got.data(), c.n);
                ASSERT_EQ(got, want) << path_name(p) << " W" << bits << " m=" << c.m << " k=" << c.k << " n=" << c.n;
            }
        }
    }
    std::vector<int8_t> w(16 * 64, 1);
    EXPECT_THROW(pack_weights_s4(w.data(), 16, 64, 12), Error);   // not a multiple of 8
    EXPECT_THROW(pack_weights_s4(w.data(), 16, 64, 48), Error);   // does not divide k
    PackedWeights plain = pack_weights_s4(w.data(), 16, 64);
    std::vector<uint8_t> a(64);
    std::vector<float> y(16), s(64, 1.0f);
    int32_t z = 0;
    EXPECT_THROW(gemm_u8_f32_grouped(a.data(), 1, 64, plain, Dequant{s.data(), &z, s.data(), nullptr}, y.data(), 16), Error);
}

TEST(KernelsGemm, SignedActivationsAreShiftedBy128) {
    const int m = 4, k = 77, n = 33;
    auto w = test::random_codes<int8_t>(static_cast<size_t>(n) * k, -128, 127, 1);
    auto a = test::random_codes<int8_t>(static_cast<size_t>(m) * k, -128, 127, 2);
    auto sa = test::random_floats(m, 0.01f, 0.02f, 3);
    auto sw = test::random_floats(n, 0.01f, 0.02f, 4);
    // Σ a·w with signed a, in plain integers.
    PackedWeights pw = pack_weights_s8(w.data(), n, k);
    std::vector<float> got(static_cast<size_t>(m) * n);
    gemm_s8_f32(a.data(), m, k, pw, Dequant{sa.data(), nullptr, sw.data(), nullptr}, got.data(), n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            int32_t acc = 0;
            for (int kk = 0; kk < k; ++kk) acc += a[i * k + kk] * w[j * k + kk];
            EXPECT_EQ(got[i * n + j], sa[i] * sw[j] * static_cast<float>(acc)) << i << "," << j;
        }
}

TEST(KernelsPack, RoundTripsAndPadsWithZeros) {
    for (int bits : {8, 4}) {
        int lim = bits == 8 ? 127 : 7;
        for (const tameq::test::GemmCase& s : tameq::test::kCpuGemmCases) {
            auto w = test::random_codes<int8_t>(static_cast<size_t>(s.n) * s.k, -lim - 1, lim, 23 + s.n);
            PackedWeights pw = pack(w, s.n, s.k, bits);
            EXPECT_EQ(unpack_weights(pw), w);
            EXPECT_EQ(pw.k_pad % (bits == 8 ? 4 : 8), 0);
            for (int j = 0; j < s.n; ++j) {
                int32_t sum = 0;
                for (int kk = 0; kk < s.k; ++kk) sum += w[static_cast<size_t>(j) * s.k + kk];
                ASSERT_EQ(pw.row_sums[j], sum);
            }
        }
    }
    // W4 stores two codes per byte: 4096 × 4096 weights take 8 MiB.
    std::vector<int8_t> w(64 * 128, -8);
    EXPECT_EQ(pack_weights_s4(w.data(), 64, 128).bytes(), 64u * 128 / 2);
    EXPECT_EQ(pack_weights_s8(w.data(), 64, 128).bytes(), 64u * 128);
}

TEST(KernelsPack, RejectsCodesOutOfRangeAndBadShapes) {
    std::vector<int8_t> w = {0, 1, 8, -3};
    EXPECT_THROW(pack_weights_s4(w.data(), 2, 2), Error);
    EXPECT_NO_THROW(pack_weights_s8(w.data(), 2, 2));
    EXPECT_THROW(pack_weights_s8(w.data(), 0, 2), Error);
    EXPECT_THROW(pack_weights_s8(w.data(), 1, max_k + 1), Error);
}

TEST(KernelsDispatch, PathsAreNamedAndForcible) {
    auto paths = supported_paths();
    ASSERT_FALSE(paths.empty());
    EXPECT_EQ(paths.front(), KernelPath::scalar);
    for (KernelPath p : paths) EXPECT_EQ(parse_path(path_name(p)), p);
    EXPECT_THROW(parse_path("sse9"), Error);
    {
        test::PathScope scope(KernelPath::scalar);
        EXPECT_EQ(active_path(), KernelPath::scalar);
    }
}

TEST(KernelsThreads, EveryThreadRunsOnceAndResultsDoNotDependOnTheCount) {
    int before = num_threads();
    const int m = 9, k = 512, n = 520;  // 9 panels, enough work to use the pool
    auto w = test::random_codes<int8_t>(static_cast<size_t>(n) * k, -128, 127, 53);
    auto a = test::random_codes<uint8_t>(static_cast<size_t>(m) * k, 0, 255, 59);
    PackedWeights pw = pack_weights_s8(w.data(), n, k);
    std::vector<int32_t> want(static_cast<size_t>(m) * n);
    gemm_ref_s32(a.data(), m, k, w.data(), n, k, want.data(), n);
    for (int threads : {1, 3}) {
        set_num_threads(threads);
        std::vector<int> seen(threads, 0);
        parallel_run([&](int t, int count) {
            EXPECT_EQ(count, threads);
            ++seen[t];
        });
        EXPECT_EQ(seen, std::vector<int>(threads, 1));
        std::vector<int32_t> got(static_cast<size_t>(m) * n);
        gemm_u8_s32(a.data(), m, k, pw, got.data(), n);
        EXPECT_EQ(got, want) << threads << " threads";
    }
    set_num_threads(before);
}
