#include "transform/polar.h"

#include <algorithm>
#include <cmath>

#include <cblas.h>
#include <lapacke.h>

#include "common/error.h"

namespace tameq {

namespace {

// ‖A‖₁ (max column sum) and ‖A‖∞ (max row sum) of an n×n row-major matrix, in one pass.
void norms_1_inf(const std::vector<float>& a, int n, double& one, double& inf) {
    std::vector<double> col(n, 0.0);
    inf = 0.0;
    for (int i = 0; i < n; i++) {
        double row = 0.0;
        const float* ai = a.data() + size_t(i) * n;
        for (int j = 0; j < n; j++) {
            const double v = std::fabs(ai[j]);
            row += v;
            col[j] += v;
        }
        inf = std::max(inf, row);
    }
    one = *std::max_element(col.begin(), col.end());
}

}  // namespace

PolarStats polar_newton(std::vector<float>& m, int n, double tolerance, int max_iterations) {
    if (n < 1 || m.size() != size_t(n) * n) fail("polar", "expected a {}x{} matrix, got {} values", n, n, m.size());
    std::vector<float> inv(m.size());
    std::vector<lapack_int> ipiv(n);
    // LAPACK runs on the buffer as a column-major matrix, i.e. on Mᵀ: the inverse of Mᵀ read row-major is
    // M⁻¹, the same buffer a row-major inversion gives, without LAPACKE's two n×n transposes and their
    // allocations per call (they took half of each step at n = 4096).
    float work_size = 0.0f;
    if (LAPACKE_sgetri_work(LAPACK_COL_MAJOR, n, inv.data(), n, ipiv.data(), &work_size, -1) != 0)
        fail("polar", "LAPACK workspace query for a {}x{} inverse failed", n, n);
    std::vector<float> work(std::max<size_t>(size_t(work_size), size_t(n)));
    PolarStats st;
    bool scaled = true;
    for (int k = 0; k < max_iterations; k++) {
        inv = m;
        lapack_int info = LAPACKE_sgetrf_work(LAPACK_COL_MAJOR, n, n, inv.data(), n, ipiv.data());
        if (info == 0)
            info = LAPACKE_sgetri_work(LAPACK_COL_MAJOR, n, inv.data(), n, ipiv.data(), work.data(),
                                       lapack_int(work.size()));
        if (info != 0) fail("polar", "the {}x{} matrix is singular (LAPACK info {})", n, n, info);
        // ζ = (‖X⁻¹‖₁‖X⁻¹‖∞ / ‖X‖₁‖X‖∞)^¼ balances the largest and smallest singular values; once X is
        // nearly orthogonal ζ ≈ 1 and plain Newton converges quadratically.
        double zeta = 1.0;
        if (scaled) {
            double x1, xi, y1, yi;
            norms_1_inf(m, n, x1, xi);
            norms_1_inf(inv, n, y1, yi);
            zeta = std::pow((y1 * yi) / (x1 * xi), 0.25);
            if (!std::isfinite(zeta)) fail("polar", "the {}x{} matrix is singular to working precision", n, n);
        }
        const float a = float(0.5 * zeta), b = float(0.5 / zeta);
        std::vector<double> dcol(n, 0.0), scol(n, 0.0);
        constexpr int kTile = 64;  // the transposed read of X⁻¹ goes tile by tile to stay in cache
        for (int i0 = 0; i0 < n; i0 += kTile)
            for (int j0 = 0; j0 < n; j0 += kTile)
                for (int i = i0; i < std::min(n, i0 + kTile); i++)
                    for (int j = j0; j < std::min(n, j0 + kTile); j++) {
                        float& x = m[size_t(i) * n + j];
                        const float next = a * x + b * inv[size_t(j) * n + i];
                        dcol[j] += std::fabs(double(next) - x);
                        scol[j] += std::fabs(next);
                        x = next;
                    }
        st.iterations = k + 1;
        st.last_change = *std::max_element(dcol.begin(), dcol.end()) / *std::max_element(scol.begin(), scol.end());
        if (!scaled && st.last_change < tolerance) break;
        // Scaling only slows the last, quadratically convergent steps down; drop it near the fixed point.
        if (st.last_change < 1e-2) scaled = false;
    }
    return st;
}

void polar_svd(std::vector<float>& m, int n) {
    if (n < 1 || m.size() != size_t(n) * n) fail("polar", "expected a {}x{} matrix, got {} values", n, n, m.size());
    std::vector<float> s(n), u(size_t(n) * n), vt(size_t(n) * n);
    const int info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, 'A', n, n, m.data(), n, s.data(), u.data(), n, vt.data(), n);
    if (info != 0) fail("polar", "SVD of the {}x{} matrix failed (LAPACK info {})", n, n, info);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, u.data(), n, vt.data(), n, 0.0f, m.data(), n);
}

}  // namespace tameq
