#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "quant/gptq.h"
#include "numerics/quantizer.h"

using namespace tameq;

namespace {

using Mat = std::vector<float>;

Mat randn(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    Mat v(n);
    for (float& x : v) x = d(rng);
    return v;
}

// Correlated calibration inputs X = Z·A [n x k]: a random mixing A whose rows decay as exp(-i/16), so
// H = 2/n XᵀX is far from diagonal with a spread spectrum, as LLM activations are.
Mat correlated_inputs(int n, int k, uint32_t seed) {
    Mat z = randn(static_cast<size_t>(n) * k, seed), a = randn(static_cast<size_t>(k) * k, seed + 1), x(z.size(), 0.0f);
    for (int i = 0; i < k; ++i)
        for (int j = 0; j < k; ++j) a[static_cast<size_t>(i) * k + j] *= std::exp(-i / 16.0f);
    for (int r = 0; r < n; ++r)
        for (int i = 0; i < k; ++i)
            for (int j = 0; j < k; ++j) x[static_cast<size_t>(r) * k + j] += z[static_cast<size_t>(r) * k + i] * a[static_cast<size_t>(i) * k + j];
    return x;
}

Mat hessian(const Mat& x, int n, int k) {
    Mat h(static_cast<size_t>(k) * k);
    for (int i = 0; i < k; ++i)
        for (int j = 0; j < k; ++j) {
            double s = 0;
            for (int r = 0; r < n; ++r) s += double(x[static_cast<size_t>(r) * k + i]) * x[static_cast<size_t>(r) * k + j];
            h[static_cast<size_t>(i) * k + j] = static_cast<float>(2.0 * s / n);
        }
    return h;
}

// ‖X Wᵀ − X Ŵᵀ‖_F
double output_error(const Mat& x, int n, const Mat& w, const Mat& wq, int rows, int k) {
    double e = 0;
    for (int t = 0; t < n; ++t)
        for (int o = 0; o < rows; ++o) {
            double s = 0;
            for (int i = 0; i < k; ++i)
                s += double(x[static_cast<size_t>(t) * k + i]) * (w[static_cast<size_t>(o) * k + i] - wq[static_cast<size_t>(o) * k + i]);
            e += s * s;
        }
    return std::sqrt(e);
}

QuantSpec w4(bool sym = true, bool mse = true, int group = 0) {
    QuantSpec s;
    s.bits = 4;
    s.symmetric = sym;
    s.mse_search = mse;
    if (group) {
        s.granularity = Granularity::PerGroup;
        s.group_size = group;
    }
    return s;
}

// Every value sits on its grid: x̂/scale + zero is an integer code within [qmin, qmax].
void expect_on_grid(const Mat& wq, int rows, int cols, const std::vector<QParams>& p, const std::vector<int>& col_group,
                    const QuantSpec& s) {
    int groups = static_cast<int>(p.size()) / rows;
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const QParams& g = p[static_cast<size_t>(r) * groups + col_group[c]];
            float code = wq[static_cast<size_t>(r) * cols + c] / g.scale + g.zero;
            ASSERT_NEAR(code, std::nearbyint(code), 1e-3f) << r << "," << c;
            ASSERT_GE(std::nearbyint(code), qmin(s));
            ASSERT_LE(std::nearbyint(code), qmax(s));
            ASSERT_EQ(quantize_dequantize(wq[static_cast<size_t>(r) * cols + c], g, s), wq[static_cast<size_t>(r) * cols + c]);
        }
}

// Textbook OBS order of GPTQ in double: quantize column c, spread its error through the inverse Hessian,
// then eliminate c from the inverse. The library's blocked Cholesky version must agree with it.
Mat gptq_oracle(Mat w, int rows, int k, const Mat& hf, const QuantSpec& s, double damp) {
    std::vector<QParams> p(rows);
    for (int r = 0; r < rows; ++r) p[r] = find_qparams(&w[static_cast<size_t>(r) * k], k, s);
    std::vector<double> h(hf.begin(), hf.end()), inv(static_cast<size_t>(k) * k, 0.0);
    double mean = 0;
    for (int i = 0; i < k; ++i) mean += h[static_cast<size_t>(i) * k + i] / k;
    for (int i = 0; i < k; ++i) h[static_cast<size_t>(i) * k + i] += damp * mean, inv[static_cast<size_t>(i) * k + i] = 1;
    for (int c = 0; c < k; ++c) {  // Gauss-Jordan (H is positive definite: no pivoting needed)
        double piv = h[static_cast<size_t>(c) * k + c];
        for (int j = 0; j < k; ++j) h[static_cast<size_t>(c) * k + j] /= piv, inv[static_cast<size_t>(c) * k + j] /= piv;
        for (int i = 0; i < k; ++i) {
            if (i == c) continue;
            double f = h[static_cast<size_t>(i) * k + c];
            for (int j = 0; j < k; ++j)
                h[static_cast<size_t>(i) * k + j] -= f * h[static_cast<size_t>(c) * k + j], inv[static_cast<size_t>(i) * k + j] -= f * inv[static_cast<size_t>(c) * k + j];
        }
    }
    std::vector<double> wd(w.begin(), w.end());
    for (int c = 0; c < k; ++c) {
        double d = inv[static_cast<size_t>(c) * k + c];
        for (int r = 0; r < rows; ++r) {
            double q = quantize_dequantize(static_cast<float>(wd[static_cast<size_t>(r) * k + c]), p[r], s);
            double e = (wd[static_cast<size_t>(r) * k + c] - q) / d;
            for (int j = c + 1; j < k; ++j) wd[static_cast<size_t>(r) * k + j] -= e * inv[static_cast<size_t>(c) * k + j];
            wd[static_cast<size_t>(r) * k + c] = q;
        }
        for (int i = c + 1; i < k; ++i)
            for (int j = c + 1; j < k; ++j) inv[static_cast<size_t>(i) * k + j] -= inv[static_cast<size_t>(i) * k + c] * inv[static_cast<size_t>(c) * k + j] / d;
    }
    return Mat(wd.begin(), wd.end());
}

struct Problem {
    int n = 512, rows = 64, k = 128;
    Mat x, w, h;
    Problem() : x(correlated_inputs(n, k, 11)), w(randn(static_cast<size_t>(rows) * k, 42)), h(hessian(x, n, k)) {}
};

const Problem& problem() {
    static const Problem p;
    return p;
}

}  // namespace

TEST(GptqHessian, RunningAverageMatchesDirectSum) {
    const Problem& pb = problem();
    HessianAccumulator acc(pb.k);
    acc.add(pb.x.data(), 100);
    acc.add(pb.x.data() + 100 * pb.k, 1);
    acc.add(pb.x.data() + 101 * pb.k, pb.n - 101);
    EXPECT_EQ(acc.count(), pb.n);
    ASSERT_EQ(acc.h().size(), pb.h.size());
    float max_abs = 0;
    for (float v : pb.h) max_abs = std::max(max_abs, std::fabs(v));
    for (size_t i = 0; i < pb.h.size(); ++i) ASSERT_NEAR(acc.h()[i], pb.h[i], 1e-5f * max_abs) << i;
    for (int i = 0; i < pb.k; ++i)
        for (int j = 0; j < pb.k; ++j) ASSERT_EQ(acc.h()[static_cast<size_t>(i) * pb.k + j], acc.h()[static_cast<size_t>(j) * pb.k + i]);
}

TEST(Gptq, BeatsRtnOnCorrelatedInputs) {
    const Problem& pb = problem();
    for (bool sym : {true, false}) {
        QuantSpec s = w4(sym);
        Mat rtn = pb.w, gq = pb.w;
        fake_quantize_rows(rtn.data(), pb.rows, pb.k, s);
        auto p = gptq_quantize(gq.data(), pb.rows, pb.k, pb.h.data(), s, {});
        double e_rtn = output_error(pb.x, pb.n, pb.w, rtn, pb.rows, pb.k);
        double e_gptq = output_error(pb.x, pb.n, pb.w, gq, pb.rows, pb.k);
        std::printf("  %s W4 per-row: RTN %.2f  GPTQ %.2f  (ratio %.3f)\n", sym ? "sym" : "asym", e_rtn, e_gptq, e_gptq / e_rtn);
        EXPECT_LT(e_gptq, 0.5 * e_rtn);
        expect_on_grid(gq, pb.rows, pb.k, p, std::vector<int>(pb.k, 0), s);
    }
}

TEST(Gptq, MatchesTheColumnByColumnOracle) {
    const Problem& pb = problem();
    QuantSpec s = w4();
    Mat oracle = gptq_oracle(pb.w, pb.rows, pb.k, pb.h, s, 0.01);
    double e_oracle = output_error(pb.x, pb.n, pb.w, oracle, pb.rows, pb.k);
    for (int bs : {1, 16, 48, 128, 1000}) {
        GptqOptions o;
        o.block_size = bs;
        Mat gq = pb.w;
        gptq_quantize(gq.data(), pb.rows, pb.k, pb.h.data(), s, o);
        size_t same = 0;
        for (size_t i = 0; i < gq.size(); ++i) same += gq[i] == static_cast<float>(oracle[i]);
        double e = output_error(pb.x, pb.n, pb.w, gq, pb.rows, pb.k);
        std::printf("  block %d: %.2f%% of values equal to the oracle's, error %.3f vs %.3f\n", bs, 100.0 * same / gq.size(), e, e_oracle);
        // float vs double may flip a near-tie rounding, which then propagates along its row.
        EXPECT_GE(same, gq.size() * 99 / 100) << "block " << bs;
        EXPECT_NEAR(e, e_oracle, 0.01 * e_oracle) << "block " << bs;
    }
}

TEST(Gptq, IdentityHessianEqualsRtnExactly) {
    const Problem& pb = problem();
    Mat eye(static_cast<size_t>(pb.k) * pb.k, 0.0f);
    for (int i = 0; i < pb.k; ++i) eye[static_cast<size_t>(i) * pb.k + i] = 1.0f;
    QuantSpec per_tensor = w4(false, false);
    per_tensor.granularity = Granularity::PerTensor;
    for (QuantSpec s : {w4(true, true), w4(false, false), w4(true, false, 32), per_tensor}) {
        for (bool act_order : {false, true}) {
            GptqOptions o;
            o.act_order = act_order;
            Mat rtn = pb.w, gq = pb.w;
            auto pr = fake_quantize_rows(rtn.data(), pb.rows, pb.k, s);
            auto pg = gptq_quantize(gq.data(), pb.rows, pb.k, eye.data(), s, o);
            EXPECT_EQ(gq, rtn);
            ASSERT_EQ(pg.size(), pr.size());
            for (size_t i = 0; i < pr.size(); ++i) EXPECT_EQ(pg[i].scale, pr[i].scale);
        }
    }
}

TEST(Gptq, ActOrderGivesGridAlignedResult) {
    const Problem& pb = problem();
    QuantSpec s = w4();
    GptqOptions o;
    o.act_order = true;
    Mat gq = pb.w;
    auto p = gptq_quantize(gq.data(), pb.rows, pb.k, pb.h.data(), s, o);
    expect_on_grid(gq, pb.rows, pb.k, p, std::vector<int>(pb.k, 0), s);
    Mat rtn = pb.w;
    fake_quantize_rows(rtn.data(), pb.rows, pb.k, s);
    double e_rtn = output_error(pb.x, pb.n, pb.w, rtn, pb.rows, pb.k);
    double e = output_error(pb.x, pb.n, pb.w, gq, pb.rows, pb.k);
    std::printf("  act-order: GPTQ %.2f vs RTN %.2f\n", e, e_rtn);
    EXPECT_LT(e, 0.5 * e_rtn);
}

TEST(Gptq, GroupsOf32) {
    const Problem& pb = problem();
    QuantSpec s = w4(true, false, 32);
    Mat rtn = pb.w;
    fake_quantize_rows(rtn.data(), pb.rows, pb.k, s);
    double e_rtn = output_error(pb.x, pb.n, pb.w, rtn, pb.rows, pb.k);
    for (bool act_order : {false, true}) {
        for (bool static_groups : {false, true}) {
            GptqOptions o;
            o.act_order = act_order;
            o.static_groups = static_groups;
            o.block_size = 48;  // groups straddle blocks
            Mat gq = pb.w;
            std::vector<int> col_group;
            auto p = gptq_quantize(gq.data(), pb.rows, pb.k, pb.h.data(), s, o, &col_group);
            ASSERT_EQ(p.size(), static_cast<size_t>(pb.rows) * 4);
            ASSERT_EQ(col_group.size(), static_cast<size_t>(pb.k));
            std::vector<int> per_group(4, 0);
            for (int g : col_group) per_group[g]++;
            EXPECT_EQ(per_group, (std::vector<int>{32, 32, 32, 32}));
            if (!act_order || static_groups) {
                for (int c = 0; c < pb.k; ++c) EXPECT_EQ(col_group[c], c / 32);
            }
            expect_on_grid(gq, pb.rows, pb.k, p, col_group, s);
            double e = output_error(pb.x, pb.n, pb.w, gq, pb.rows, pb.k);
            std::printf("  group 32%s%s: GPTQ %.2f vs RTN %.2f\n", act_order ? " act-order" : "", static_groups ? " static" : "", e, e_rtn);
            EXPECT_LT(e, 0.5 * e_rtn);
        }
    }
}

TEST(Gptq, DeadColumnsBecomeZero) {
    const Problem& pb = problem();
    Mat x = pb.x;
    for (int t = 0; t < pb.n; ++t) x[static_cast<size_t>(t) * pb.k + 5] = x[static_cast<size_t>(t) * pb.k + 77] = 0.0f;
    Mat h = hessian(x, pb.n, pb.k);
    Mat gq = pb.w;
    gptq_quantize(gq.data(), pb.rows, pb.k, h.data(), w4(), {});
    for (int r = 0; r < pb.rows; ++r) {
        EXPECT_EQ(gq[static_cast<size_t>(r) * pb.k + 5], 0.0f);
        EXPECT_EQ(gq[static_cast<size_t>(r) * pb.k + 77], 0.0f);
    }
    for (float v : gq) ASSERT_TRUE(std::isfinite(v));
}

TEST(Gptq, BadHessianThrows) {
    Mat w = {1, 2, 3, 4};
    Mat indefinite = {1, 2, 2, 1};
    try {
        gptq_quantize(w.data(), 2, 2, indefinite.data(), w4(), {});
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("gptq: the Hessian is not positive definite"), std::string::npos) << e.what();
    }
    Mat nan_h = {1, 0, 0, std::nanf("")};
    EXPECT_THROW(gptq_quantize(w.data(), 2, 2, nan_h.data(), w4(), {}), Error);
    Mat eye = {1, 0, 0, 1};
    QuantSpec bad = w4();
    bad.bits = 1;
    EXPECT_THROW(gptq_quantize(w.data(), 2, 2, eye.data(), bad, {}), Error);
    GptqOptions o;
    o.block_size = 0;
    EXPECT_THROW(gptq_quantize(w.data(), 2, 2, eye.data(), w4(), o), Error);
    EXPECT_THROW(gptq_quantize(w.data(), 2, 2, eye.data(), w4(true, false, 3), {}), Error);
}
