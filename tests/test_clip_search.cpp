// The MSE clip search's vector filter (numerics/clip_error.h): its power and sums against std::pow, and the
// grid find_qparams chooses against the scalar oracle's on the real weights of gut-llama-27m.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "model/family.h"
#include "model/linear.h"
#include "model/model.h"
#include "numerics/clip_error.h"
#include "numerics/quantizer.h"
#include "test_util.h"

using namespace tameq;

namespace {

#define REQUIRE_FILTER() \
    if (!have_approx_grid_errors()) GTEST_SKIP() << "this CPU lacks AVX-512F: find_qparams runs the oracle only"

QuantSpec weight_spec(int bits, bool sym, int group = 0) {
    QuantSpec s;
    s.bits = bits;
    s.symmetric = sym;
    s.mse_search = true;
    if (group) {
        s.granularity = Granularity::PerGroup;
        s.group_size = group;
    }
    return s;
}

bool same_bits(QParams a, QParams b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(ClipError, PowerWithinATenthOfTheTolerance) {
    REQUIRE_FILTER();
    EXPECT_EQ(approx_pow_2_4(0.0f), 0.0f);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> mant(1.0f, 2.0f);
    double worst = 0;
    // Every binade a weight's rounding error can fall in (and far beyond), 2000 mantissas each.
    for (int k = -40; k <= 10; ++k)
        for (int i = 0; i < 2000; ++i) {
            const float e = std::ldexp(mant(rng), k);
            const double exact = std::pow(e, 2.4f);
            worst = std::max(worst, std::abs(double(approx_pow_2_4(e)) - exact) / exact);
        }
    EXPECT_LT(worst, 1e-5) << "kClipErrorTolerance (1e-4) relies on this per-term bound";
}

TEST(ClipError, SumsWithinTheToleranceOfTheExactError) {
    REQUIRE_FILTER();
    std::mt19937 rng(3);
    std::normal_distribution<float> d(0.0f, 0.02f);
    for (int n : {1, 15, 16, 17, 500, 4096}) {
        std::vector<float> x(static_cast<size_t>(n));
        for (float& v : x) v = d(rng);
        x[0] = 0.3f;  // an outlier, as real rows have
        for (bool sym : {true, false}) {
            const QuantSpec s = weight_spec(4, sym);
            std::vector<QParams> grids;
            for (float p : {1.0f, 0.8f, 0.5f, 0.21f}) grids.push_back({0.3f * p / float(qmax(s)), sym ? 0.0f : 7.0f});
            std::vector<double> approx(grids.size());
            approx_grid_errors(x.data(), n, grids.data(), int(grids.size()), s, approx.data());
            for (size_t k = 0; k < grids.size(); ++k) {
                double exact = 0;
                for (float v : x) exact += std::pow(std::fabs(quantize_dequantize(v, grids[k], s) - v), 2.4f);
                EXPECT_LE(std::abs(approx[k] - exact), 0.1 * kClipErrorTolerance * exact + kClipErrorSlackPerElement * n)
                    << "n " << n << " grid " << k;
            }
        }
    }
}

TEST(ClipSearch, SameGridAsTheOracleOnConstructedTies) {
    // Rows where several candidates have equal (or nearly equal) error: the first one must win, as in the oracle.
    for (const std::vector<float>& x : {std::vector<float>(64, 0.5f), std::vector<float>{1.0f, -1.0f},
                                        std::vector<float>{0.0f, 0.0f, 1e-3f}, std::vector<float>(33, -2.0f)})
        for (const QuantSpec& s : {weight_spec(4, true), weight_spec(4, false), weight_spec(8, true), weight_spec(2, false)}) {
            const QParams a = find_qparams(x.data(), int(x.size()), s), b = find_qparams_oracle(x.data(), int(x.size()), s);
            EXPECT_TRUE(same_bits(a, b)) << a.scale << " vs " << b.scale;
        }
}

TEST(ClipSearch, SameGridAsTheOracleOnRealWeights) {
    TAMEQ_REQUIRE_SHARED();
    REQUIRE_FILTER();
    ModelReader reader(test::shared_path("models/gut-llama-27m"));
    const ModelConfig& cfg = reader.config();
    int rows_checked = 0;
    for (int li : {0, cfg.n_layers - 1}) {
        const Layer l = reader.load_layer(li);
        for (const BlockRow& r : family_of(cfg).block) {
            if (!r.linear) continue;
            const DenseLinear& d = as_dense(*(l.*r.linear));
            const int cols = d.in_features();
            for (const QuantSpec& s : {weight_spec(4, true), weight_spec(4, false, 128), weight_spec(8, true)}) {
                const int groups = groups_per_row(cols, s), width = cols / groups;
                // Every 4th row keeps the oracle's cost (80 scalar passes per row) to seconds.
                for (int row = 0; row < d.out_features(); row += 4)
                    for (int g = 0; g < groups; ++g) {
                        const float* x = d.weight.data() + size_t(row) * cols + size_t(g) * width;
                        const QParams a = find_qparams(x, width, s), b = find_qparams_oracle(x, width, s);
                        ASSERT_TRUE(same_bits(a, b)) << "layer " << li << " " << r.canonical << " row " << row << " group " << g;
                        ++rows_checked;
                    }
            }
        }
    }
    EXPECT_GT(rows_checked, 1000);
}

}  // namespace
