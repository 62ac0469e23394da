#include "numerics/quantizer.h"

#include <array>
#include <limits>

#include "common/error.h"
#include "numerics/clip_error.h"

namespace tameq {

namespace {

// GPTQ's clip search: grid 100, maxshrink 0.8 -> p = 1.00 .. 0.21; error norm 2.4.
constexpr int mse_grid = 100;
constexpr int mse_steps = 80;
constexpr float mse_norm = 2.4f;

// Ranges this small (or zero) are treated as an all-zero input: a scale that underflows would
// otherwise turn x / scale into inf or NaN.
constexpr float tiny_range = 1e-30f;

// The grid for the (already clipped) range [lo, hi], lo <= 0 <= hi.
QParams grid_for(float lo, float hi, const QuantSpec& s) {
    if (s.symmetric) {
        float m = std::max(-lo, hi);
        return {m / static_cast<float>(qmax(s)), 0.0f};
    }
    float scale = (hi - lo) / static_cast<float>(qmax(s));
    return {scale, std::nearbyint(-lo / scale)};
}

// Sum of |Q(x) - x|^2.4, or any value >= `stop` once the running sum reaches it: a candidate that bad
// cannot win, and the terms are non-negative, so stopping early changes no decision.
double grid_error(const float* x, int n, QParams p, const QuantSpec& s, double stop) {
    double err = 0.0;
    for (int i = 0; i < n && err < stop; ++i) err += std::pow(std::fabs(quantize_dequantize(x[i], p, s) - x[i]), mse_norm);
    return err;
}

// GPTQ's search over p = 1.00 .. 0.21 on the range [lo, hi]: the first grid of least error. With `filtered`,
// a fast approximate error A_k (|A_k - E_k| <= tol·A_k + slack for the exact error E_k: clip_error.h) rules out
// every candidate k with A_k(1 - tol) - slack > min_j A_j(1 + tol) + slack, since then E_k > E_j for that j:
// such a k is never the least, nor tied with it. The survivors (one or two on real weights) get the exact
// error in the oracle's order with its strict comparison, so the grid chosen is the oracle's, bit for bit.
QParams mse_search(const float* x, int n, float lo, float hi, const QuantSpec& s, bool filtered) {
    std::array<QParams, mse_steps> cands;
    for (int i = 0; i < mse_steps; ++i) {
        const float p = static_cast<float>(1.0 - static_cast<double>(i) / mse_grid);
        cands[i] = grid_for(p * lo, p * hi, s);
    }
    std::array<bool, mse_steps> open;
    open.fill(true);
    if (filtered) {
        std::array<double, mse_steps> approx;
        approx_grid_errors(x, n, cands.data(), mse_steps, s, approx.data());
        const double slack = kClipErrorSlackPerElement * n;
        double best_upper = std::numeric_limits<double>::infinity();
        for (double a : approx) best_upper = std::min(best_upper, a * (1.0 + kClipErrorTolerance) + slack);
        for (int i = 0; i < mse_steps; ++i) open[i] = approx[i] * (1.0 - kClipErrorTolerance) - slack <= best_upper;
    }
    // The first candidate (p = 1) is the plain grid; later ones replace it only if strictly better.
    QParams best{};
    double best_err = std::numeric_limits<double>::infinity();
    for (int i = 0; i < mse_steps; ++i) {
        if (!open[i]) continue;
        const double err = grid_error(x, n, cands[i], s, best_err);
        if (err < best_err) {
            best_err = err;
            best = cands[i];
        }
    }
    return best;
}

// The range [lo, hi] of x (always containing 0), with the clip ratio; false for an all-zero range.
bool clipped_range(const float* x, int n, const QuantSpec& s, float& lo, float& hi) {
    lo = 0.0f;
    hi = 0.0f;
    for (int i = 0; i < n; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    lo *= s.clip_ratio;
    hi *= s.clip_ratio;
    return !(hi - lo < tiny_range);
}

bool all_finite(const float* x, int n) {
    for (int i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) return false;
    return true;
}

QParams find_qparams_with(const float* x, int n, const QuantSpec& s, bool filtered) {
    float lo, hi;
    if (!clipped_range(x, n, s, lo, hi)) return s.symmetric ? QParams{1.0f, 0.0f} : grid_for(-1.0f, 1.0f, s);
    if (!s.mse_search) return grid_for(lo, hi, s);
    return mse_search(x, n, lo, hi, s, filtered && have_approx_grid_errors() && all_finite(x, n));
}

}  // namespace

QParams find_qparams(const float* x, int n, const QuantSpec& s) { return find_qparams_with(x, n, s, true); }
QParams find_qparams_oracle(const float* x, int n, const QuantSpec& s) { return find_qparams_with(x, n, s, false); }

void QuantSpec::validate() const {
    if (bits < 2 || bits > 8) fail("quantizer", "bits must be in 2..8, got {}", bits);
    if (!(clip_ratio > 0.0f && clip_ratio <= 1.0f)) fail("quantizer", "clip ratio must be in (0, 1], got {}", clip_ratio);
    if (granularity == Granularity::PerGroup && group_size <= 0)
        fail("quantizer", "group-wise quantization needs a positive group size, got {}", group_size);
}

int groups_per_row(int cols, const QuantSpec& s) {
    if (s.granularity != Granularity::PerGroup) return 1;
    if (s.group_size <= 0 || cols % s.group_size != 0)
        fail("quantizer", "group size {} does not divide the row length {}", s.group_size, cols);
    return cols / s.group_size;
}

std::vector<QParams> fake_quantize_rows(float* x, int rows, int cols, const QuantSpec& s) {
    s.validate();
    if (s.granularity == Granularity::PerTensor) {
        int n = rows * cols;
        QParams p = find_qparams(x, n, s);
        for (int i = 0; i < n; ++i) x[i] = quantize_dequantize(x[i], p, s);
        return {p};
    }
    std::vector<QParams> params(static_cast<size_t>(rows) * groups_per_row(cols, s));
    find_row_grids(x, cols, s, 0, rows, params.data());
    apply_row_grids(x, cols, s, 0, rows, params.data());
    return params;
}

void find_row_grids(const float* x, int cols, const QuantSpec& s, int row_begin, int row_end, QParams* grids) {
    if (s.granularity == Granularity::PerTensor) fail("quantizer", "a per-tensor grid is not a grid per row");
    const int groups = groups_per_row(cols, s);
    const int width = cols / groups;
    for (int r = row_begin; r < row_end; ++r)
        for (int g = 0; g < groups; ++g)
            grids[static_cast<size_t>(r) * groups + g] =
                find_qparams(x + static_cast<size_t>(r) * cols + static_cast<size_t>(g) * width, width, s);
}

void apply_row_grids(float* x, int cols, const QuantSpec& s, int row_begin, int row_end, const QParams* grids) {
    if (s.granularity == Granularity::PerTensor) fail("quantizer", "a per-tensor grid is not a grid per row");
    const int groups = groups_per_row(cols, s);
    const int width = cols / groups;
    for (int r = row_begin; r < row_end; ++r)
        for (int g = 0; g < groups; ++g) {
            float* v = x + static_cast<size_t>(r) * cols + static_cast<size_t>(g) * width;
            const QParams p = grids[static_cast<size_t>(r) * groups + g];
            for (int i = 0; i < width; ++i) v[i] = quantize_dequantize(v[i], p, s);
        }
}

}  // namespace tameq
