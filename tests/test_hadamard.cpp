#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "numerics/hadamard.h"
#include "numerics/hadamard_small.h"
#include "kernel_cases.h"

using namespace tameq;

namespace {

std::vector<float> random_rows(int rows, int n, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(size_t(rows) * n);
    for (auto& v : x) v = dist(gen);
    return x;
}

double norm2(const float* x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += double(x[i]) * x[i];
    return s;
}

}  // namespace

TEST(HadamardSmall, EveryOrderIsHadamardExactly) {
    std::vector<int> orders = {1, 2, 4};
    for (int m : hadamard_small_orders()) orders.push_back(m);
    for (int m : orders) {
        const auto& h = hadamard_small(m);
        ASSERT_EQ(h.size(), size_t(m) * m) << m;
        for (int8_t v : h) ASSERT_TRUE(v == 1 || v == -1) << m;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                int dot = 0;
                for (int k = 0; k < m; k++) dot += h[size_t(i) * m + k] * h[size_t(j) * m + k];
                ASSERT_EQ(dot, i == j ? m : 0) << "order " << m << " rows " << i << "," << j;
            }
        }
    }
}

TEST(HadamardSmall, RequiredOrdersAreListed) {
    EXPECT_EQ(hadamard_small_orders(),
              (std::vector<int>{12, 20, 28, 36, 40, 44, 52, 60, 68, 76, 84, 100, 108, 124, 132, 140, 148, 156, 172}));
}

TEST(Hadamard, FactorSplitsSizes) {
    EXPECT_EQ(hadamard_factor(4096), 1);
    EXPECT_EQ(hadamard_factor(1), 1);
    EXPECT_EQ(hadamard_factor(1536), 12);
    EXPECT_EQ(hadamard_factor(11008), 172);
    EXPECT_EQ(hadamard_factor(14336), 28);
    EXPECT_EQ(hadamard_factor(13824), 108);
    EXPECT_EQ(hadamard_factor(18944), 148);
    EXPECT_EQ(hadamard_factor(40), 20);
    EXPECT_TRUE(hadamard_size_supported(5120));
    EXPECT_FALSE(hadamard_size_supported(6));
    EXPECT_TRUE(hadamard_size_supported(44 * 8));
    EXPECT_FALSE(hadamard_size_supported(92 * 8));  // 92 = 4·23: neither Paley construction (91, 45) reaches it
}

// The FFN, hidden and head sizes of the real checkpoints issue 16 names (and a few of their siblings), from their
// config.json files, with the factor each one's Hadamard is built from. Every one is supported except
// Qwen2.5-72B's FFN (29568 = 231·128), whose error names the nearest sizes and the block-diagonal R4.
TEST(Hadamard, RealCheckpointSizes) {
    struct Size {
        const char* what;
        int n, factor;
    };
    const Size sizes[] = {
        {"Qwen3-8B ffn", 12288, 12},        {"Qwen3-8B hidden", 4096, 1},        {"Qwen3 head_dim", 128, 1},
        {"Qwen3-4B ffn", 9728, 76},         {"Qwen3-4B hidden", 2560, 20},       {"Qwen3-14B ffn", 17408, 68},
        {"Qwen3-14B hidden", 5120, 20},     {"Qwen3-32B ffn", 25600, 100},       {"Qwen2.5-7B ffn", 18944, 148},
        {"Qwen2.5-7B hidden", 3584, 28},    {"Qwen2.5-3B ffn", 11008, 172},      {"Qwen2.5-3B hidden", 2048, 1},
        {"Qwen2.5-1.5B ffn", 8960, 140},    {"Qwen2.5-1.5B hidden", 1536, 12},   {"Qwen2.5-0.5B ffn", 4864, 76},
        {"Qwen2.5-0.5B hidden", 896, 28},   {"Phi-3-mini ffn", 8192, 1},         {"Phi-3-mini hidden", 3072, 12},
        {"Phi-3-mini head_dim", 96, 12},    {"Mixtral-8x7B ffn", 14336, 28},     {"Mixtral-8x7B hidden", 4096, 1},
        {"Gemma-2-9B ffn", 14336, 28},      {"Gemma-2-9B hidden (7·512)", 3584, 28}, {"Gemma-2-9B head_dim", 256, 1},
        {"Gemma-3-4B ffn", 10240, 20},      {"Gemma-3-4B hidden", 2560, 20},
    };
    for (const Size& s : sizes) {
        EXPECT_TRUE(hadamard_size_supported(s.n)) << s.what << " " << s.n;
        EXPECT_EQ(hadamard_factor(s.n), s.factor) << s.what << " " << s.n;
    }
    EXPECT_FALSE(hadamard_size_supported(29568));  // Qwen2.5-72B ffn = 231·128
    EXPECT_EQ(hadamard_size_below(29568), 28672);  // 28·1024
    EXPECT_EQ(hadamard_size_above(29568), 30720);  // 60·512
}

TEST(Hadamard, UnsupportedSizeNamesTheSupportedOnes) {
    try {
        hadamard_factor(29568);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(),
                     "hadamard: size 29568 is not supported; supported: 2^k and m·2^k for m in "
                     "{12, 20, 28, 36, 40, 44, 52, 60, 68, 76, 84, 100, 108, 124, 132, 140, 148, 156, 172}; nearest "
                     "supported sizes: 28672 and 30720; or a block-diagonal R4: r4=block=B, B a power of two up to 128");
    }
    std::vector<float> x(6);
    EXPECT_THROW(fwht_rows(x.data(), 1, 6), Error);
}

TEST(Hadamard, FastMatchesDenseReference) {
    for (int n : {8, 64, 512, 24, 1536, 11008, 14336}) {
        const int rows = n > 4096 ? 2 : 5;
        auto fast = random_rows(rows, n, uint32_t(n));
        auto ref = fast;
        fwht_rows(fast.data(), rows, n);
        fwht_rows_ref(ref.data(), rows, n);
        double err = 0, mag = 0;
        for (size_t i = 0; i < fast.size(); i++) {
            err = std::max(err, double(std::fabs(fast[i] - ref[i])));
            mag = std::max(mag, double(std::fabs(ref[i])));
        }
        EXPECT_LE(err, tameq::test::kFwhtRelTol * mag) << "n=" << n;
    }
}

TEST(Hadamard, PreservesNormAndScalesWithoutNormalization) {
    for (int n : {4096, 1536, 14336}) {
        auto x = random_rows(3, n, 7);
        auto raw = x;
        const double before = norm2(x.data(), x.size());
        fwht_rows(x.data(), 3, n);
        EXPECT_NEAR(norm2(x.data(), x.size()) / before, 1.0, 1e-5) << n;
        fwht_rows(raw.data(), 3, n, false);
        const float s = std::sqrt(float(n));
        for (size_t i = 0; i < x.size(); i += 97) EXPECT_NEAR(raw[i], x[i] * s, 1e-3f * s) << n;
    }
}

TEST(Hadamard, OneSparseBecomesFlat) {
    // The property DFRot relies on: a massive 1-sparse token becomes ±c in every channel.
    for (int n : {512, 1536, 11008}) {
        std::vector<float> x(n, 0.0f);
        x[n / 3] = 100.0f;
        fwht_rows(x.data(), 1, n);
        const float c = 100.0f / std::sqrt(float(n));
        for (int i = 0; i < n; i++) ASSERT_NEAR(std::fabs(x[i]), c, 1e-5f * c) << "n=" << n << " i=" << i;
    }
}

TEST(Hadamard, ExplicitMatrixIsTheTransform) {
    // fwht_rows(x) = H·x, so transforming the identity's rows gives Hᵀ.
    for (int n : {16, 24, 112, 1536}) {
        const auto h = hadamard_matrix(n);
        std::vector<float> eye(size_t(n) * n, 0.0f);
        for (int i = 0; i < n; i++) eye[size_t(i) * n + i] = 1.0f;
        fwht_rows(eye.data(), n, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) ASSERT_NEAR(eye[size_t(i) * n + j], h[size_t(j) * n + i], 1e-6f) << n;
    }
}

// Block-R4: y = x·(I_{n/B} ⊗ H_B/√B)ᵀ, checked against the dense Kronecker product built from H_B's explicit
// matrix, in double (1536 = 3·512, the gut-llama intermediate size; 768 = the demo model's).
TEST(Hadamard, RowBlocksAreTheKroneckerProduct) {
    for (auto [n, b] : {std::pair{1536, 128}, {1536, 512}, {768, 256}, {192, 64}, {8, 2}}) {
        const int rows = 3;
        auto x = random_rows(rows, n, 17 + b);
        auto y = x;
        fwht_row_blocks(y.data(), rows, n, b);
        const auto h = hadamard_matrix(b);
        double worst = 0;
        for (int r = 0; r < rows; ++r)
            for (int i = 0; i < n; ++i) {
                const int blk = i / b, ii = i % b;
                double acc = 0;
                for (int j = 0; j < b; ++j) acc += double(h[size_t(ii) * b + j]) * x[size_t(r) * n + blk * b + j];
                worst = std::max(worst, std::fabs(acc - y[size_t(r) * n + i]));
            }
        EXPECT_LT(worst, 1e-5) << n << " in blocks of " << b;
        // Orthonormal, and not the full transform (which mixes across blocks).
        EXPECT_NEAR(norm2(y.data(), y.size()), norm2(x.data(), x.size()), 1e-3 * norm2(x.data(), x.size()));
        auto full = x;
        fwht_rows(full.data(), rows, n);
        EXPECT_NE(full, y);
    }
    // Block 0 and block n are the full transform.
    auto x = random_rows(2, 1536, 5), a = x, c = x;
    fwht_row_blocks(a.data(), 2, 1536, 0);
    fwht_rows(c.data(), 2, 1536);
    EXPECT_EQ(a, c);
    auto d = random_rows(2, 256, 6), e = d;
    fwht_row_blocks(d.data(), 2, 256, 256);
    fwht_rows(e.data(), 2, 256);
    EXPECT_EQ(d, e);
}

TEST(Hadamard, RowBlocksRefuseBadBlocks) {
    std::vector<float> x(768);
    for (int b : {512, 96, 1, -4}) EXPECT_THROW(fwht_row_blocks(x.data(), 1, 768, b), Error) << b;
}
