#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "quant/recipe.h"
#include "transform/dfrot.h"
#include "transform/polar.h"
#include "transform/rotations.h"

using namespace tameq;

namespace {

constexpr int kC = 128;
constexpr int kOrdinary = 1024;
const std::vector<int> kMassiveRows = {0, 300, 700};  // 1-sparse rows: 100 in one channel

QuantSpec a4(bool symmetric = false) {
    QuantSpec s;
    s.bits = 4;
    s.symmetric = symmetric;
    s.granularity = Granularity::PerRow;
    return s;
}

// Gaussian rows with a few massive 1-sparse rows, like the first token of an LLM.
std::vector<float> synthetic_x(int rows, int C, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> d;
    std::vector<float> x(size_t(rows) * C);
    for (auto& v : x) v = d(gen);
    for (size_t k = 0; k < kMassiveRows.size(); k++) {
        if (kMassiveRows[k] >= rows) continue;  // short matrices hold only the massive rows that fit
        float* row = x.data() + size_t(kMassiveRows[k]) * C;
        std::fill(row, row + C, 0.0f);
        row[(17 + 40 * k) % C] = 100.0f;
    }
    return x;
}

std::vector<float> weights(int rows, float gamma) {
    std::vector<uint8_t> massive(rows, 0);
    for (int r : kMassiveRows)
        if (r < rows) massive[r] = 1;
    return massive_row_weights(massive, gamma);
}

double massive_error(const std::vector<float>& x, const std::vector<float>& r) {
    const auto err = per_token_quant_error(x.data(), kOrdinary, kC, r.data(), a4());
    double e = 0;
    for (int m : kMassiveRows) e += err[m];
    return e;
}

}  // namespace

TEST(Dfrot, HadamardKeepsOneSparseRowsOnTheGridRandomOrthogonalDoesNot) {
    // The paper's point: H maps a 1-sparse row to ±c (two grid levels), RO to a Gaussian-looking row.
    const int C = 1024;
    std::vector<float> x(C, 0.0f);
    x[5] = 100.0f;
    const auto rh = random_hadamard(C, 1);
    const auto ro = random_orthogonal(C, 1);
    const double e_rh = per_token_quant_error(x.data(), 1, C, rh.data(), a4())[0];
    const double e_ro = per_token_quant_error(x.data(), 1, C, ro.data(), a4())[0];
    // Asymmetric 4-bit: ±c needs zero point 7.5, rounded to 8, so each value is off by c/15: ‖x‖²/225.
    EXPECT_NEAR(e_rh, 100.0 * 100.0 / 225.0, 1e-2);
    EXPECT_GT(e_ro, 2.5 * e_rh);
    // Symmetric 4-bit represents ±c exactly.
    EXPECT_LT(per_token_quant_error(x.data(), 1, C, rh.data(), a4(true))[0], 1e-6);
    EXPECT_GT(per_token_quant_error(x.data(), 1, C, ro.data(), a4(true))[0], 100.0);
}

TEST(Dfrot, RefinementLowersTheLossAndStaysOrthogonal) {
    const auto x = synthetic_x(kOrdinary, kC, 3);
    const auto w = weights(kOrdinary, 100.0f);
    const auto r0 = random_hadamard(kC, 2);
    std::vector<double> seen;
    const auto res = dfrot_refine(x.data(), kOrdinary, kC, w, r0, a4(), 20,
                                  [&](int t, int total, double loss) {
                                      EXPECT_EQ(total, 20);
                                      EXPECT_EQ(t, int(seen.size()));
                                      seen.push_back(loss);
                                  });
    ASSERT_EQ(res.losses.size(), 21u);
    EXPECT_EQ(seen, res.losses);
    EXPECT_DOUBLE_EQ(res.losses[0], dfrot_loss(x.data(), kOrdinary, kC, w, r0.data(), a4()));
    EXPECT_GT(res.best_iteration, 0);
    const double final_loss = dfrot_loss(x.data(), kOrdinary, kC, w, res.rotation.data(), a4());
    EXPECT_DOUBLE_EQ(final_loss, res.losses[res.best_iteration]);
    // γ = 100 makes the three massive rows dominate; Procrustes steps cut their error ~30x (measured
    // 890193 -> 28237), decreasing at every early step. A transposed R (V·Uᵀ) wanders instead.
    EXPECT_LT(final_loss, 0.1 * res.losses[0]);
    for (int t = 1; t <= 5; t++) EXPECT_LE(res.losses[t], res.losses[t - 1]) << t;
    for (double l : res.losses) EXPECT_GE(l, final_loss);
    EXPECT_LT(check_orthogonal(res.rotation, kC, "refined"), 1e-4);
}

TEST(Dfrot, GammaProtectsTheMassiveRows) {
    const auto x = synthetic_x(kOrdinary, kC, 4);
    const auto r0 = random_hadamard(kC, 5);
    const auto plain = dfrot_refine(x.data(), kOrdinary, kC, weights(kOrdinary, 1.0f), r0, a4(), 20);
    const auto heavy = dfrot_refine(x.data(), kOrdinary, kC, weights(kOrdinary, 100.0f), r0, a4(), 20);
    const double e_plain = massive_error(x, plain.rotation), e_heavy = massive_error(x, heavy.rotation);
    EXPECT_LT(e_heavy, 0.5 * e_plain) << "gamma 1: " << e_plain << ", gamma 100: " << e_heavy;
    EXPECT_LT(e_heavy, massive_error(x, r0));
}

TEST(Dfrot, ZeroIterationsReturnsTheStart) {
    const auto x = synthetic_x(64, kC, 6);
    const auto r0 = random_orthogonal(kC, 7);
    const auto res = dfrot_refine(x.data(), 64, kC, {}, r0, a4(), 0);
    EXPECT_EQ(res.rotation, r0);
    ASSERT_EQ(res.losses.size(), 1u);
    EXPECT_EQ(res.best_iteration, 0);
}

TEST(Dfrot, FewerRowsThanChannelsStillRefine) {
    // M = X_wᵀ·B has rank ≤ 64 < 128: the SVD path, since Newton's inverses need a nonsingular M.
    const auto x = synthetic_x(64, kC, 6);
    const auto res = dfrot_refine(x.data(), 64, kC, weights(64, 100.0f), random_hadamard(kC, 1), a4(), 3);
    EXPECT_LT(res.losses[res.best_iteration], 0.5 * res.losses[0]);
    EXPECT_LT(check_orthogonal(res.rotation, kC, "refined"), 1e-4);
}

TEST(Dfrot, RejectsBadInput) {
    const auto x = synthetic_x(64, kC, 6);
    const auto r0 = random_hadamard(kC, 1);
    QuantSpec tensor = a4();
    tensor.granularity = Granularity::PerTensor;
    EXPECT_THROW(dfrot_refine(x.data(), 64, kC, {}, r0, tensor, 1), Error);
    EXPECT_THROW(dfrot_refine(x.data(), 64, kC, std::vector<float>(3, 1.0f), r0, a4(), 1), Error);
    auto skew = r0;
    skew[0] += 0.1f;
    EXPECT_THROW(dfrot_refine(x.data(), 64, kC, {}, skew, a4(), 1), Error);
    EXPECT_THROW(massive_row_weights({1, 0}, 0.0f), Error);
}

TEST(DfrotMarking, MagnitudeAgainstTheMedianElement) {
    // 4 rows x 8 channels, median |x| = 1: row 1 peaks at 150 (> 100x), row 3 at 90 (not).
    std::vector<float> r = {1, -1, 1, 1, -1, 1, 1, 1,     //
                            1, 150, -1, 1, 1, 1, -1, 1,   //
                            -2, 1, 1, -1, 1, 1, 1, 1,     //
                            1, 1, 1, -90, 1, 1, 0.5, 1};  //
    EXPECT_EQ(mark_massive_by_magnitude(r.data(), 4, 8), (std::vector<uint8_t>{0, 1, 0, 0}));
    EXPECT_EQ(mark_massive_by_magnitude(r.data(), 4, 8, 50.0f), (std::vector<uint8_t>{0, 1, 0, 1}));
}

TEST(DfrotMarking, QuantErrorRuleAndItsScaling) {
    EXPECT_FLOAT_EQ(scaled_quant_error_threshold(4096, 4), 8.5f);
    EXPECT_FLOAT_EQ(scaled_quant_error_threshold(4096, 8), 8.5f * 15.0f / 255.0f);
    EXPECT_NEAR(scaled_quant_error_threshold(512, 4), 8.5 * std::sqrt(0.125 * 0.75), 1e-5);
    // Ordinary tokens: uniformly random directions (Haar rows, Gaussian-like) with RMS 1. The scaled
    // threshold sits just below their median error at every size (0.86x at 4096, where 8.5 was tuned).
    for (int C : {128, 512}) {
        const auto haar = random_orthogonal(C, 11);
        std::vector<float> x(haar.size());
        for (size_t i = 0; i < x.size(); i++) x[i] = haar[i] * std::sqrt(float(C));
        auto err = per_token_quant_error(x.data(), C, C, nullptr, a4(true));
        std::nth_element(err.begin(), err.begin() + C / 2, err.end());
        const double ratio = std::sqrt(err[C / 2]) / scaled_quant_error_threshold(C, 4);
        EXPECT_GT(ratio, 1.05) << C;
        EXPECT_LT(ratio, 1.25) << C;
    }
    // A 1-sparse normalized row has error 0 (the rest sits on the zero point) and is marked; a massive
    // row with its energy over 8 channels plus noise is missed, although the magnitude rule sees it.
    const int C = 512;
    const auto haar = random_orthogonal(C, 12);
    std::vector<float> x(2 * size_t(C), 0.0f);
    x[3] = std::sqrt(float(C));
    for (int j = 0; j < C; j++) x[C + j] = 0.3f * haar[j] * std::sqrt(float(C));
    for (int j = 0; j < 8; j++) x[C + 40 * j] = 7.6f;
    const float threshold = scaled_quant_error_threshold(C, 4);
    const auto err = per_token_quant_error(x.data(), 2, C, nullptr, a4(true));
    EXPECT_EQ(err[0], 0.0);
    EXPECT_GT(std::sqrt(err[1]), threshold);
    EXPECT_EQ(mark_massive_by_quant_error(x.data(), 2, C, a4(true), threshold), (std::vector<uint8_t>{1, 0}));
    std::vector<float> with_ordinary(x.begin() + C, x.end());
    for (int j = 0; j < C; j++) with_ordinary.push_back(haar[C + j] * std::sqrt(float(C)));
    EXPECT_EQ(mark_massive_by_magnitude(with_ordinary.data(), 2, C, 20.0f), (std::vector<uint8_t>{1, 0}));
}

TEST(DfrotRows, TapNormalizesEveryResidualAndMarksByTheChosenRule) {
    // The magnitude test's rows: row 1 peaks at 150x the median element.
    const std::vector<float> r = {1, -1, 1, 1, -1, 1, 1, 1,     //
                                  1, 150, -1, 1, 1, 1, -1, 1,   //
                                  -2, 1, 1, -1, 1, 1, 1, 1,     //
                                  1, 1, 1, -90, 1, 1, 0.5, 1};  //
    for (ArchFamily family : {ArchFamily::Llama, ArchFamily::OPT}) {
        DfrotRowsOptions opt;
        opt.family = family;
        opt.eps = 1e-5f;
        DfrotRowsTap tap(opt);
        tap.on(0, Tap::AttnResidual, r.data(), 4, 8);
        tap.on(0, Tap::AttnIn, r.data(), 4, 8);  // not a residual: ignored
        tap.on(0, Tap::MlpResidual, r.data(), 2, 8);
        ASSERT_EQ(tap.rows.rows(), 6);
        EXPECT_EQ(tap.rows.cols, 8);
        EXPECT_EQ(tap.rows.massive, (std::vector<uint8_t>{0, 1, 0, 0, 0, 1}));
        EXPECT_EQ(tap.rows.massive_rows(), 2);
        // RMSNorm (Llama) or centered LayerNorm (OPT) with a unit scale, row by row.
        for (int i = 0; i < 6; ++i) {
            const float* x = &r[size_t(i % 4) * 8];
            double mean = 0, ms = 0;
            for (int j = 0; j < 8; ++j) mean += x[j] / 8.0;
            if (family == ArchFamily::Llama) mean = 0;
            for (int j = 0; j < 8; ++j) ms += (x[j] - mean) * (x[j] - mean) / 8.0;
            for (int j = 0; j < 8; ++j)
                EXPECT_NEAR(tap.rows.x[size_t(i) * 8 + j], (x[j] - mean) / std::sqrt(ms + 1e-5), 1e-5) << i << "," << j;
        }
    }
    // The public code's rule on the normalized rows: a 1-sparse row is marked, a Gaussian-like one is not.
    const int C = 512;
    const auto haar = random_orthogonal(C, 12);
    std::vector<float> x(2 * size_t(C), 0.0f);
    x[3] = 5.0f;
    for (int j = 0; j < C; j++) x[C + j] = 0.3f * haar[j];
    DfrotRowsOptions opt;
    opt.marking = MassiveMarking::QuantError;
    opt.act = a4(true);
    DfrotRowsTap tap(opt);
    tap.on(0, Tap::MlpResidual, x.data(), 2, C);
    EXPECT_EQ(tap.rows.massive, (std::vector<uint8_t>{1, 0}));
}

TEST(DfrotRows, RefinementStartsFromRhWeighsMassiveRowsAndSamplesWithTheSeed) {
    DfrotRows rows;
    rows.cols = kC;
    rows.x = synthetic_x(kOrdinary, kC, 5);
    rows.massive.assign(kOrdinary, 0);
    for (int m : kMassiveRows) rows.massive[size_t(m)] = 1;
    const DfrotR1Options opt{.gamma = 50.0f, .iterations = 3, .sample_rows = 0, .seed = 9, .act = a4()};
    const DfrotResult full = refine_dfrot_r1(rows, opt);
    const DfrotResult expect = dfrot_refine(rows.x.data(), kOrdinary, kC, weights(kOrdinary, 50.0f), random_hadamard(kC, 9), a4(), 3);
    EXPECT_EQ(full.rotation, expect.rotation);
    EXPECT_EQ(full.losses, expect.losses);

    DfrotR1Options sampled = opt;
    sampled.sample_rows = 256;
    const DfrotResult part = refine_dfrot_r1(rows, sampled);
    const DfrotSample s = dfrot_sample_rows(rows.x.data(), kOrdinary, kC, weights(kOrdinary, 50.0f), 256, 9);
    EXPECT_EQ(part.rotation, dfrot_refine(s.x.data(), s.rows, kC, s.w, random_hadamard(kC, 9), a4(), 3).rotation);
    EXPECT_NE(part.losses, full.losses);
}

namespace {

// The Procrustes matrix of one DFRot step, M = X_wᵀ·Q(X_w·R0), rebuilt from public pieces: per_token error
// is not enough, so quantize explicitly.
std::vector<float> procrustes_matrix(const std::vector<float>& x, int rows, int C, const std::vector<float>& w,
                                     const std::vector<float>& r0) {
    std::vector<float> y(size_t(rows) * C, 0.0f), m(size_t(C) * C, 0.0f);
    for (int i = 0; i < rows; i++)
        for (int k = 0; k < C; k++)
            for (int j = 0; j < C; j++) y[size_t(i) * C + j] += w[i] * x[size_t(i) * C + k] * r0[size_t(k) * C + j];
    fake_quantize_rows(y.data(), rows, C, a4());
    for (int i = 0; i < rows; i++)
        for (int k = 0; k < C; k++)
            for (int j = 0; j < C; j++) m[size_t(k) * C + j] += w[i] * x[size_t(i) * C + k] * y[size_t(i) * C + j];
    return m;
}

double trace_rt_m(const std::vector<float>& r, const std::vector<float>& m) {
    double t = 0;
    for (size_t i = 0; i < r.size(); i++) t += double(r[i]) * m[i];
    return t;
}

}  // namespace

TEST(DfrotPolar, NewtonMatchesTheSvdOnAWellConditionedMatrix) {
    const int n = 96;
    std::mt19937 gen(21);
    std::normal_distribution<float> d;
    std::vector<float> m(size_t(n) * n);
    for (auto& v : m) v = d(gen);
    for (int i = 0; i < n; i++) m[size_t(i) * n + i] += 25.0f;  // σ ≈ 25 ± 10: condition ~3
    auto newton = m, svd = m;
    const PolarStats st = polar_newton(newton, n);
    polar_svd(svd, n);
    EXPECT_LE(st.iterations, 6);
    double diff = 0;
    for (size_t i = 0; i < m.size(); i++) diff = std::max(diff, double(std::fabs(newton[i] - svd[i])));
    EXPECT_LT(diff, 1e-5);
    EXPECT_LT(check_orthogonal(newton, n, "newton"), 1e-5);
    // The factor is not the identity here (the Gaussian part rotates it), so matching it means something.
    EXPECT_GT(std::fabs(newton[1]), 1e-3);
}

TEST(DfrotPolar, NewtonReachesTheProcrustesOptimumOfADfrotStep) {
    // γ = 100 on 1-sparse rows of 100 makes M's condition number ~1e8: the small singular directions are
    // fixed only to round-off by either method, so compare what Procrustes maximizes, tr(Rᵀ·M), and the loss.
    const int rows = 512;
    const auto x = synthetic_x(rows, kC, 8);
    const auto w = weights(rows, 100.0f);
    const auto r0 = random_hadamard(kC, 9);
    const auto m = procrustes_matrix(x, rows, kC, w, r0);
    auto newton = m, svd = m;
    const PolarStats st = polar_newton(newton, kC);
    polar_svd(svd, kC);
    EXPECT_LE(st.iterations, 10);
    EXPECT_LT(check_orthogonal(newton, kC, "newton"), 1e-5);
    EXPECT_NEAR(trace_rt_m(newton, m) / trace_rt_m(svd, m), 1.0, 1e-6);
    // The massive rows dominate the trace: a better R raises it by only ~0.2 % (2.0007e8 -> 2.0051e8).
    EXPECT_GT(trace_rt_m(newton, m), (1 + 1e-3) * trace_rt_m(r0, m));
    const double l_newton = dfrot_loss(x.data(), rows, kC, w, newton.data(), a4());
    const double l_svd = dfrot_loss(x.data(), rows, kC, w, svd.data(), a4());
    EXPECT_NEAR(l_newton / l_svd, 1.0, 0.01);
    EXPECT_LT(l_newton, 0.5 * dfrot_loss(x.data(), rows, kC, w, r0.data(), a4()));
}

TEST(DfrotPolar, RejectsSingularMatrices) {
    std::vector<float> zero(16, 0.0f);
    EXPECT_THROW(polar_newton(zero, 4), Error);
    std::vector<float> wrong(15, 1.0f);
    EXPECT_THROW(polar_newton(wrong, 4), Error);
}

TEST(DfrotSample, KeepsMassiveRowsAndReweightsTheRestUnbiased) {
    const int rows = 8192, n = 1024;
    const auto x = synthetic_x(rows, kC, 10);
    const auto w = weights(rows, 100.0f);
    const auto s = dfrot_sample_rows(x.data(), rows, kC, w, n, 1);
    ASSERT_EQ(s.rows, n);
    ASSERT_EQ(s.x.size(), size_t(n) * kC);
    const float w_ord = std::sqrt(float(rows - 3) / float(n - 3));
    int massive = 0;
    for (int i = 0; i < n; i++) {
        if (s.w[i] == 100.0f) {
            massive++;
            EXPECT_FLOAT_EQ(*std::max_element(s.x.begin() + size_t(i) * kC, s.x.begin() + size_t(i + 1) * kC), 100.0f);
        } else {
            EXPECT_FLOAT_EQ(s.w[i], w_ord);
        }
    }
    EXPECT_EQ(massive, 3);
    // Without replacement: no ordinary row twice (Gaussian rows never coincide).
    std::vector<float> first;
    for (int i = 0; i < n; i++)
        if (s.w[i] != 100.0f) first.push_back(s.x[size_t(i) * kC + 1]);
    std::sort(first.begin(), first.end());
    EXPECT_EQ(std::adjacent_find(first.begin(), first.end()), first.end());
    // The sample's loss estimates the full loss (ordinary part: relative s.d. ≈ 0.4 % here).
    const auto r0 = random_hadamard(kC, 2);
    const double full = dfrot_loss(x.data(), rows, kC, w, r0.data(), a4());
    const double est = dfrot_loss(s.x.data(), s.rows, kC, s.w, r0.data(), a4());
    EXPECT_NEAR(est / full, 1.0, 0.02);
    // Another seed draws other rows; n >= rows returns everything; too few rows for the massive ones fails.
    EXPECT_NE(dfrot_sample_rows(x.data(), rows, kC, w, n, 2).x, s.x);
    EXPECT_EQ(dfrot_sample_rows(x.data(), rows, kC, w, rows, 1).x, x);
    EXPECT_THROW(dfrot_sample_rows(x.data(), rows, kC, w, 3, 1), Error);
}

TEST(DfrotSample, RefiningOnAQuarterOfTheRowsNearlyMatchesTheFullRun) {
    const int rows = 8192;
    const auto x = synthetic_x(rows, kC, 11);
    const auto w = weights(rows, 100.0f);
    const auto r0 = random_hadamard(kC, 12);
    const auto full = dfrot_refine(x.data(), rows, kC, w, r0, a4(), 20);
    const auto s = dfrot_sample_rows(x.data(), rows, kC, w, rows / 4, 3);
    const auto sampled = dfrot_refine(s.x.data(), s.rows, kC, s.w, r0, a4(), 20);
    const double l_full = full.losses[full.best_iteration];
    const double l_sampled = dfrot_loss(x.data(), rows, kC, w, sampled.rotation.data(), a4());
    EXPECT_LT(l_sampled, 0.2 * full.losses[0]);
    EXPECT_NEAR(l_sampled / l_full, 1.0, 0.03) << "full " << l_full << ", sampled " << l_sampled;
}

TEST(DfrotSample, RecipeKeyRoundTrips) {
    const Recipe r = parse_recipe("rotate=dfrot,dfrot-rows=16384");
    EXPECT_EQ(r.dfrot_rows, 16384);
    EXPECT_EQ(parse_recipe("rotate=dfrot").dfrot_rows, 0);  // default: all rows
    EXPECT_EQ(nlohmann::json(r).get<Recipe>().dfrot_rows, 16384);
    EXPECT_THROW(parse_recipe("rotate=dfrot,dfrot-rows=-1"), Error);
}
