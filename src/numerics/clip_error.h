#pragma once
// The MSE clip search's error, sum_i |Q(x_i) - x_i|^2.4, for many candidate grids of one row, fast and
// approximately: Q is computed exactly as quantize_dequantize does (a true division, round half to even,
// clamp), and only the power is approximated, as exp2(2.4 · log2|e|) with polynomials, summed in double.
// find_qparams uses it as a filter and decides among the candidates it cannot rule out with the exact
// scalar error, so the chosen grid is the oracle's (numerics/quantizer.cpp says why).
#include "numerics/quantizer.h"

namespace tameq {

// A bound on |approximate - exact| / approximate for every sum approx_grid_errors returns on finite input;
// tests/test_clip_search.cpp measures the per-term error against std::pow: below 3e-6 down to errors of 2^-40.
constexpr double kClipErrorTolerance = 1e-4;
// Plus this much per element, for terms that underflow to subnormal floats (relative accuracy ends there).
constexpr double kClipErrorSlackPerElement = 1e-40;

// True where the CPU runs the vector version (AVX-512F); elsewhere find_qparams computes every error exactly.
bool have_approx_grid_errors();

// out[k] ≈ sum over x[0..n) of |Q_k(x) - x|^2.4 for the grid grids[k], k < count. Needs have_approx_grid_errors().
void approx_grid_errors(const float* x, int n, const QParams* grids, int count, const QuantSpec& s, double* out);

// One term, |e|^2.4 computed the way approx_grid_errors does, for the accuracy test.
float approx_pow_2_4(float e);

}  // namespace tameq
