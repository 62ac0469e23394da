#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "numerics/quantizer.h"

using namespace tameq;

namespace {

QuantSpec spec(int bits, bool sym, Granularity g = Granularity::PerRow, int group = 0) {
    QuantSpec s;
    s.bits = bits;
    s.symmetric = sym;
    s.granularity = g;
    s.group_size = group;
    return s;
}

std::vector<float> fq(std::vector<float> x, const QuantSpec& s, QParams* p = nullptr) {
    auto params = fake_quantize_rows(x.data(), 1, static_cast<int>(x.size()), s);
    if (p) *p = params[0];
    return x;
}

double norm24(const std::vector<float>& x, const std::vector<float>& y) {
    double e = 0;
    for (size_t i = 0; i < x.size(); ++i) e += std::pow(std::fabs(double(x[i]) - y[i]), 2.4);
    return e;
}

std::vector<float> randn(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

}  // namespace

TEST(Quantizer, RangesOfCodes) {
    EXPECT_EQ(qmin(spec(4, true)), -8);
    EXPECT_EQ(qmax(spec(4, true)), 7);
    EXPECT_EQ(qmin(spec(4, false)), 0);
    EXPECT_EQ(qmax(spec(4, false)), 15);
    EXPECT_EQ(qmin(spec(8, true)), -128);
    EXPECT_EQ(qmax(spec(8, true)), 127);
    EXPECT_EQ(qmax(spec(8, false)), 255);
    EXPECT_EQ(qmax(spec(2, true)), 1);
}

TEST(Quantizer, Symmetric4BitRoundsHalfToEven) {
    QParams p{};
    // max|x| = 7 -> scale 1; 2.5 -> 2, 3.5 -> 4, -0.5 -> 0, -1.5 -> -2.
    auto y = fq({7, 2.5f, 3.5f, -0.5f, -1.5f, 0.4f}, spec(4, true), &p);
    EXPECT_EQ(p.scale, 1.0f);
    EXPECT_EQ(p.zero, 0.0f);
    EXPECT_EQ(y, (std::vector<float>{7, 2, 4, 0, -2, 0}));
}

TEST(Quantizer, Symmetric8Bit) {
    QParams p{};
    auto y = fq({254, -1, 3, 5, -253}, spec(8, true), &p);
    EXPECT_EQ(p.scale, 2.0f);
    EXPECT_EQ(y, (std::vector<float>{254, 0, 4, 4, -252}));
    EXPECT_EQ(quantize_code(-253, p, spec(8, true)), -126);
}

TEST(Quantizer, Asymmetric4Bit) {
    QParams p{};
    // range [-3, 12] -> scale 1, zero 3; 0.5 -> 0, 5.5 -> 6, 1.5 -> 2.
    auto y = fq({-3, 12, 0.5f, 5.5f, 1.5f}, spec(4, false), &p);
    EXPECT_EQ(p.scale, 1.0f);
    EXPECT_EQ(p.zero, 3.0f);
    EXPECT_EQ(y, (std::vector<float>{-3, 12, 0, 6, 2}));
    EXPECT_EQ(quantize_code(5.5f, p, spec(4, false)), 9);
}

TEST(Quantizer, AsymmetricRangeAlwaysContainsZero) {
    QParams p{};
    fq({2, 15}, spec(4, false), &p);  // min is taken as 0, not 2
    EXPECT_EQ(p.scale, 1.0f);
    EXPECT_EQ(p.zero, 0.0f);
    fq({-30, -15}, spec(4, false), &p);  // max is taken as 0
    EXPECT_EQ(p.scale, 2.0f);
    EXPECT_EQ(p.zero, 15.0f);
}

TEST(Quantizer, AsymmetricZeroPointTieRoundsToEven) {
    QParams p{};
    // range 3.75 -> scale 0.25; -min/scale = 2.5 -> zero 2, so both ends move by half a step.
    auto y = fq({-0.625f, 3.125f}, spec(4, false), &p);
    EXPECT_EQ(p.scale, 0.25f);
    EXPECT_EQ(p.zero, 2.0f);
    EXPECT_EQ(y, (std::vector<float>{-0.5f, 3.0f}));
}

TEST(Quantizer, Asymmetric8Bit) {
    QParams p{};
    auto y = fq({-51, 204, 100.5f, -0.5f}, spec(8, false), &p);
    EXPECT_EQ(p.scale, 1.0f);
    EXPECT_EQ(p.zero, 51.0f);
    EXPECT_EQ(y, (std::vector<float>{-51, 204, 100, 0}));
}

TEST(Quantizer, CodesClampAtBothEnds) {
    QuantSpec s = spec(4, true);
    EXPECT_EQ(quantize_code(-9.0f, {1, 0}, s), -8);
    EXPECT_EQ(quantize_code(-8.4f, {1, 0}, s), -8);
    EXPECT_EQ(quantize_code(10.0f, {1, 0}, s), 7);
    EXPECT_EQ(quantize_dequantize(10.0f, {0.5f, 0}, s), 3.5f);
    QuantSpec a = spec(4, false);
    EXPECT_EQ(quantize_code(-5.0f, {1, 3}, a), 0);
    EXPECT_EQ(quantize_code(20.0f, {1, 3}, a), 15);
    EXPECT_EQ(quantize_dequantize(20.0f, {1, 3}, a), 12.0f);
}

TEST(Quantizer, ClipRatioShrinksTheRange) {
    QuantSpec s = spec(4, true);
    s.clip_ratio = 0.5f;
    QParams p{};
    auto y = fq({14, -3, 6.5f}, s, &p);
    EXPECT_EQ(p.scale, 1.0f);  // 14 * 0.5 / 7
    EXPECT_EQ(y, (std::vector<float>{7, -3, 6}));
    QuantSpec a = spec(4, false);
    a.clip_ratio = 0.5f;
    y = fq({-6, 24}, a, &p);  // clipped range [-3, 12]
    EXPECT_EQ(p.scale, 1.0f);
    EXPECT_EQ(p.zero, 3.0f);
    EXPECT_EQ(y, (std::vector<float>{-3, 12}));
}

TEST(Quantizer, AllZeroRowGetsFallbackGridAndNoNaN) {
    for (bool sym : {true, false}) {
        for (bool mse : {false, true}) {
            QuantSpec s = spec(4, sym);
            s.mse_search = mse;
            QParams p{};
            auto y = fq({0, 0, 0, 0}, s, &p);
            EXPECT_EQ(y, (std::vector<float>{0, 0, 0, 0}));
            if (sym) {
                EXPECT_EQ(p.scale, 1.0f);
                EXPECT_EQ(p.zero, 0.0f);
            } else {  // QuaRot/GPTQ: the range becomes [-1, 1]
                EXPECT_EQ(p.scale, 2.0f / 15.0f);
                EXPECT_EQ(p.zero, std::nearbyint(1.0f / (2.0f / 15.0f)));
            }
        }
    }
}

TEST(Quantizer, RequantizingIsIdempotent) {
    for (bool sym : {true, false}) {
        for (int bits : {3, 4, 8}) {
            QuantSpec s = spec(bits, sym);
            QParams p1{}, p2{};
            auto once = fq(randn(257, 7 + bits), s, &p1);
            auto twice = fq(once, s, &p2);
            EXPECT_NEAR(p2.scale, p1.scale, 1e-6f * p1.scale);
            EXPECT_EQ(p2.zero, p1.zero);
            for (size_t i = 0; i < once.size(); ++i) {
                EXPECT_EQ(quantize_code(once[i], p1, s), quantize_code(twice[i], p2, s));
                EXPECT_NEAR(twice[i], once[i], 1e-6f);
            }
        }
    }
}

TEST(Quantizer, ErrorAtMostHalfAStepInsideTheRange) {
    for (bool sym : {true, false}) {
        QuantSpec s = spec(4, sym);
        auto x = randn(1000, 3);
        QParams p{};
        auto y = fq(x, s, &p);
        float lo = p.scale * (qmin(s) - p.zero), hi = p.scale * (qmax(s) - p.zero);
        int inside = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            if (x[i] < lo || x[i] > hi) continue;
            ++inside;
            EXPECT_LE(std::fabs(x[i] - y[i]), 0.5f * p.scale * (1 + 1e-5f)) << i;
        }
        // Symmetric grids cover [-m, m] exactly; the asymmetric zero's rounding may leave a few values at one end out.
        EXPECT_GE(inside, sym ? 1000 : 990);
    }
}

TEST(Quantizer, GroupWiseOnTwoRowsOfEight) {
    QuantSpec s = spec(4, true, Granularity::PerGroup, 4);
    std::vector<float> x = {1, 2, 3, 7, -14, 0, 7, 3.5f, 0, 0, 0, 0, 0.5f, -0.25f, 0.125f, 0.875f};
    auto p = fake_quantize_rows(x.data(), 2, 8, s);
    ASSERT_EQ(p.size(), 4u);
    EXPECT_EQ(p[0].scale, 1.0f);
    EXPECT_EQ(p[1].scale, 2.0f);
    EXPECT_EQ(p[2].scale, 1.0f);  // all-zero group
    EXPECT_EQ(p[3].scale, 0.125f);
    EXPECT_EQ(x, (std::vector<float>{1, 2, 3, 7, -14, 0, 8, 4, 0, 0, 0, 0, 0.5f, -0.25f, 0.125f, 0.875f}));
    EXPECT_EQ(groups_per_row(8, s), 2);
    EXPECT_THROW(groups_per_row(10, s), Error);
}

TEST(Quantizer, PerTensorUsesOneGrid) {
    std::vector<float> x = {1, -2, 3, 14};
    auto p = fake_quantize_rows(x.data(), 2, 2, spec(4, true, Granularity::PerTensor));
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0].scale, 2.0f);
    EXPECT_EQ(x, (std::vector<float>{0, -2, 4, 14}));
}

TEST(Quantizer, MseSearchPicksTheBestShrinkAndNeverLoses) {
    for (bool sym : {true, false}) {
        for (int seed = 0; seed < 10; ++seed) {
            QuantSpec plain = spec(4, sym), mse = plain;
            mse.mse_search = true;
            auto x = randn(128, 100 + seed);
            QParams pm{};
            auto yp = fq(x, plain), ym = fq(x, mse, &pm);
            double best = norm24(x, ym);
            EXPECT_LE(best, norm24(x, yp));
            // The chosen grid is one of the 80 candidates and none of them does better.
            float lo = 0, hi = 0;
            for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
            bool found = false;
            for (int i = 0; i < 80; ++i) {
                float f = static_cast<float>(1.0 - i / 100.0);
                QParams c = sym ? QParams{std::max(-lo, hi) * f / 7.0f, 0.0f}
                                : QParams{(f * hi - f * lo) / 15.0f, std::nearbyint(-(f * lo) / ((f * hi - f * lo) / 15.0f))};
                std::vector<float> y(x.size());
                for (size_t k = 0; k < x.size(); ++k) y[k] = quantize_dequantize(x[k], c, plain);
                EXPECT_GE(norm24(x, y), best * (1 - 1e-9));
                found |= c.scale == pm.scale && c.zero == pm.zero;
            }
            EXPECT_TRUE(found);
        }
    }
}

TEST(Quantizer, MseSearchClipsAnOutlier) {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<float> x(256);
    for (float& v : x) v = u(rng);
    x[17] = 3.0f;
    QuantSpec plain = spec(4, true), mse = plain;
    mse.mse_search = true;
    QParams pp{}, pm{};
    double e_plain = norm24(x, fq(x, plain, &pp)), e_mse = norm24(x, fq(x, mse, &pm));
    EXPECT_LT(pm.scale, 0.95f * pp.scale);
    EXPECT_LT(e_mse, 0.85 * e_plain) << e_mse << " vs " << e_plain;
}

TEST(Quantizer, BadSpecsThrow) {
    for (int bits : {0, 1, 9, 16}) {
        QuantSpec s = spec(bits, true);
        EXPECT_THROW(s.validate(), Error) << bits;
        std::vector<float> x(4, 1.0f);
        EXPECT_THROW(fake_quantize_rows(x.data(), 1, 4, s), Error);
    }
    QuantSpec s = spec(4, true);
    s.clip_ratio = 0.0f;
    EXPECT_THROW(s.validate(), Error);
    s.clip_ratio = 1.5f;
    EXPECT_THROW(s.validate(), Error);
    s = spec(4, true, Granularity::PerGroup, 0);
    EXPECT_THROW(s.validate(), Error);
    try {
        spec(9, false).validate();
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "quantizer: bits must be in 2..8, got 9");
    }
}
