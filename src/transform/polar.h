#pragma once
// The orthogonal polar factor U·Vᵀ of a square matrix M = U·Σ·Vᵀ: the R maximizing tr(Rᵀ·M), i.e. the
// orthogonal Procrustes solution. Computed by Higham's scaled Newton iteration X ← (ζ·X + X⁻ᵀ/ζ)/2, which
// needs only LU inverses (BLAS-3 at ~2n³ flops each, ~8 of them for condition numbers up to 1e7) where an
// SVD spends most of its time in memory-bound bidiagonalization: at n = 4096 several times faster.
#include <vector>

namespace tameq {

struct PolarStats {
    int iterations = 0;
    double last_change = 0.0;  // ‖X_k − X_{k−1}‖₁ / ‖X_k‖₁ at the last step
};

// m: n×n (either storage order: polar(Mᵀ) = polar(M)ᵀ), replaced by its polar factor. Fails when M is
// singular to working precision. Stops when an unscaled step changes X by less than `tolerance` (relative,
// 1-norm) or after `max_iterations`: convergence is quadratic there, so the error left is about the square
// of the last change (1e-3 → ~1e-6, float round-off; further steps only stir round-off). A DFRot matrix with
// γ = 100 (condition ~1e12) takes 6 steps.
PolarStats polar_newton(std::vector<float>& m, int n, double tolerance = 1e-3, int max_iterations = 30);

// The same factor from LAPACK's divide-and-conquer SVD (sgesdd): the reference polar_newton is checked against.
void polar_svd(std::vector<float>& m, int n);

}  // namespace tameq
