#include "transform/dfrot.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <cblas.h>

#include "common/error.h"
#include "transform/polar.h"
#include "transform/rotations.h"

namespace tameq {

namespace {

// Rows per block: the rotated block and its quantized copy stay near 32 MB each, large enough for sgemm.
int block_rows(int rows, int C) { return std::clamp((8 << 20) / C, 1, rows); }

// One pass over X in row blocks: Y = diag(w)·X·R, returns Σ‖Y − Q(Y)‖² (per row into `per_row` when given),
// and when M is given sets M = Xᵀ·diag(w)·Q(Y) = X_wᵀ·B (C×C). R = nullptr rotates by the identity.
// `y` and `q` are the caller's block buffers (resized here), kept across DFRot iterations: fresh 32 MB
// vectors per pass cost a zero fill and page faults each time.
double rotate_quantize(const float* X, int rows, int C, const float* w, const float* R, const QuantSpec& act,
                       float* M, double* per_row, std::vector<float>& y, std::vector<float>& q) {
    const int nb = block_rows(rows, C);
    y.resize(size_t(nb) * C);
    q.resize(size_t(nb) * C);
    double total = 0.0;
    for (int r0 = 0; r0 < rows; r0 += nb) {
        const int n = std::min(nb, rows - r0);
        const float* xb = X + size_t(r0) * C;
        if (R) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, C, C, 1.0f, xb, C, R, C, 0.0f, y.data(), C);
        else std::copy(xb, xb + size_t(n) * C, y.begin());
        if (w)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < C; j++) y[size_t(i) * C + j] *= w[r0 + i];
        std::copy(y.begin(), y.begin() + size_t(n) * C, q.begin());
        fake_quantize_rows(q.data(), n, C, act);
        for (int i = 0; i < n; i++) {
            double e = 0.0;
            for (int j = 0; j < C; j++) {
                const double d = double(y[size_t(i) * C + j]) - q[size_t(i) * C + j];
                e += d * d;
            }
            total += e;
            if (per_row) per_row[r0 + i] = e;
        }
        if (M) {
            if (w)
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < C; j++) q[size_t(i) * C + j] *= w[r0 + i];
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, C, n, 1.0f, xb, C, q.data(), C, r0 == 0 ? 0.0f : 1.0f,
                        M, C);
        }
    }
    return total;
}

void check_problem(int rows, int C, const QuantSpec& act) {
    if (rows < 1 || C < 1) fail("dfrot", "empty calibration matrix ({} rows x {} channels)", rows, C);
    if (act.granularity != Granularity::PerRow)
        fail("dfrot", "the activation quantizer must be per token (PerRow granularity)");
    act.validate();
}

}  // namespace

std::vector<double> per_token_quant_error(const float* X, int rows, int C, const float* R, const QuantSpec& act) {
    check_problem(rows, C, act);
    std::vector<double> err(rows);
    std::vector<float> y, q;
    rotate_quantize(X, rows, C, nullptr, R, act, nullptr, err.data(), y, q);
    return err;
}

double dfrot_loss(const float* X, int rows, int C, const std::vector<float>& w, const float* R, const QuantSpec& act) {
    check_problem(rows, C, act);
    if (!w.empty() && w.size() != size_t(rows)) fail("dfrot", "{} row weights for {} rows", w.size(), rows);
    std::vector<float> y, q;
    return rotate_quantize(X, rows, C, w.empty() ? nullptr : w.data(), R, act, nullptr, nullptr, y, q);
}

DfrotResult dfrot_refine(const float* X, int rows, int C, const std::vector<float>& w, const std::vector<float>& R0,
                         const QuantSpec& act, int iterations, const DfrotProgress& progress) {
    check_problem(rows, C, act);
    if (!w.empty() && w.size() != size_t(rows)) fail("dfrot", "{} row weights for {} rows", w.size(), rows);
    if (iterations < 0) fail("dfrot", "iterations must be >= 0, got {}", iterations);
    check_orthogonal(R0, C, "DFRot initial rotation");
    const float* wp = w.empty() ? nullptr : w.data();

    DfrotResult res;
    res.rotation = R0;
    std::vector<float> r = R0, m(size_t(C) * C), y, q;
    double best = 0.0;
    for (int t = 0; t <= iterations; t++) {
        // The last evaluation only scores R_T; it needs no Procrustes matrix.
        const bool step = t < iterations;
        const double loss = rotate_quantize(X, rows, C, wp, r.data(), act, step ? m.data() : nullptr, nullptr, y, q);
        res.losses.push_back(loss);
        if (t == 0 || loss < best) {
            best = loss;
            res.best_iteration = t;
            if (t > 0) res.rotation = r;
        }
        if (progress) progress(t, iterations, loss);
        // Procrustes: R_{t+1} = polar(M_t), the orthogonal R maximizing tr(Rᵀ·M_t).
        // With fewer rows than channels M is singular, Newton's inverses fail, and the SVD still gives a maximizer.
        if (step) {
            if (rows < C) polar_svd(m, C);
            else polar_newton(m, C);
            r.swap(m);
        }
    }
    return res;
}

DfrotSample dfrot_sample_rows(const float* X, int rows, int C, const std::vector<float>& w, int n, uint64_t seed) {
    if (rows < 1 || C < 1) fail("dfrot", "empty calibration matrix ({} rows x {} channels)", rows, C);
    if (!w.empty() && w.size() != size_t(rows)) fail("dfrot", "{} row weights for {} rows", w.size(), rows);
    std::vector<int> keep, ordinary;
    for (int i = 0; i < rows; i++) (!w.empty() && w[i] != 1.0f ? keep : ordinary).push_back(i);
    const int draw = n - int(keep.size());
    if (n < 1 || draw < 1)
        fail("dfrot", "dfrot-rows {} leaves no ordinary rows beside the {} massive ones", n, keep.size());
    DfrotSample s;
    if (draw >= int(ordinary.size())) {  // nothing to subsample: every row, original weights
        s.rows = rows;
        s.x.assign(X, X + size_t(rows) * C);
        s.w = w.empty() ? std::vector<float>(rows, 1.0f) : w;
        return s;
    }
    // Partial Fisher-Yates: the first `draw` entries become a uniform sample without replacement.
    std::mt19937_64 rng(seed);
    for (int i = 0; i < draw; i++) {
        std::uniform_int_distribution<int> pick(i, int(ordinary.size()) - 1);
        std::swap(ordinary[i], ordinary[pick(rng)]);
    }
    // Loss terms carry w², so √(N_ordinary / n_drawn) makes the sampled sum an unbiased estimate of the full one.
    const float w_ord = float(std::sqrt(double(ordinary.size()) / draw));
    std::vector<std::pair<int, float>> picked;
    for (int i : keep) picked.emplace_back(i, w[i]);
    for (int i = 0; i < draw; i++) picked.emplace_back(ordinary[i], w_ord);
    std::sort(picked.begin(), picked.end());  // X is then read in order
    s.rows = int(picked.size());
    s.x.resize(size_t(s.rows) * C);
    for (int k = 0; k < s.rows; k++) {
        std::copy_n(X + size_t(picked[k].first) * C, C, s.x.begin() + size_t(k) * C);
        s.w.push_back(picked[k].second);
    }
    return s;
}

std::vector<float> massive_row_weights(const std::vector<uint8_t>& massive, float gamma) {
    if (!(gamma > 0.0f)) fail("dfrot", "massive-row weight gamma must be positive, got {}", gamma);
    std::vector<float> w(massive.size());
    for (size_t i = 0; i < massive.size(); i++) w[i] = massive[i] ? gamma : 1.0f;
    return w;
}

DfrotResult refine_dfrot_r1(const DfrotRows& rows, const DfrotR1Options& opt, const DfrotProgress& progress) {
    const int n = rows.rows(), C = rows.cols;
    const std::vector<float> w = massive_row_weights(rows.massive, opt.gamma);
    const std::vector<float> rh = random_hadamard(C, opt.seed);
    if (opt.sample_rows > 0 && opt.sample_rows < n) {
        const DfrotSample s = dfrot_sample_rows(rows.x.data(), n, C, w, opt.sample_rows, opt.seed);
        return dfrot_refine(s.x.data(), s.rows, C, s.w, rh, opt.act, opt.iterations, progress);
    }
    return dfrot_refine(rows.x.data(), n, C, w, rh, opt.act, opt.iterations, progress);
}

}  // namespace tameq
