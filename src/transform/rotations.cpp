#include "transform/rotations.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <cblas.h>
#include <lapacke.h>

#include "common/error.h"
#include "common/rng.h"
#include "io/safetensors.h"
#include "numerics/hadamard.h"

namespace tameq {

namespace {

// Standard normal entries by Box–Muller in double, from the portable splitmix64 stream.
std::vector<double> gaussian(size_t count, uint64_t seed) {
    Rng rng(seed);
    std::vector<double> g(count);
    for (size_t i = 0; i < count; i += 2) {
        const double r = std::sqrt(-2.0 * std::log(1.0 - rng.uniform()));  // 1 - [0, 1) avoids log(0)
        const double t = 2.0 * std::numbers::pi * rng.uniform();
        g[i] = r * std::cos(t);
        if (i + 1 < count) g[i + 1] = r * std::sin(t);
    }
    return g;
}

}  // namespace

std::vector<float> random_orthogonal(int n, uint64_t seed) {
    if (n < 1) fail("rotation", "random orthogonal size must be positive, got {}", n);
    // Column-major A = the Gaussian stream; Q from Householder QR, columns flipped so diag(R) > 0
    // (without the flip the distribution is not Haar: LAPACK's R diagonal has a biased sign).
    std::vector<double> a = gaussian(size_t(n) * n, seed);
    std::vector<double> tau(n);
    if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, n, a.data(), n, tau.data()) != 0)
        fail("rotation", "QR of the {}x{} Gaussian matrix failed", n, n);
    std::vector<double> sign(n);
    for (int j = 0; j < n; j++) sign[j] = a[size_t(j) * n + j] < 0 ? -1.0 : 1.0;
    if (LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, n, n, a.data(), n, tau.data()) != 0)
        fail("rotation", "forming Q of the {}x{} Gaussian matrix failed", n, n);
    std::vector<float> r(size_t(n) * n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) r[size_t(i) * n + j] = float(a[size_t(j) * n + i] * sign[j]);
    return r;
}

std::vector<float> random_hadamard_r2(int head_dim, uint64_t seed) { return random_hadamard(head_dim, seed + 1); }

std::vector<float> random_signs(int n, uint64_t seed) {
    Rng rng(seed);
    std::vector<float> s(n);
    for (float& v : s) v = (rng.next_u64() >> 63) ? -1.0f : 1.0f;
    return s;
}

std::vector<float> random_hadamard(int n, uint64_t seed) {
    const auto s = random_signs(n, seed);
    const auto h = hadamard_matrix(n);  // H_n/√n
    std::vector<float> r(size_t(n) * n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) r[size_t(i) * n + j] = s[i] * h[size_t(j) * n + i];
    return r;
}

double check_orthogonal(const std::vector<float>& R, int n, const std::string& source) {
    if (n < 1 || R.size() != size_t(n) * n)
        fail("rotation", "{}: expected a {}x{} matrix ({} values), got {} values", source, n, n, size_t(n) * n,
             R.size());
    std::vector<float> g(size_t(n) * n);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, n, 1.0f, R.data(), n, 0.0f, g.data(), n);
    double worst = 0.0;
    bool nan = false;  // std::max would drop a NaN
    for (int i = 0; i < n; i++) {
        for (int j = i; j < n; j++) {
            const double d = std::fabs(double(g[size_t(i) * n + j]) - (i == j));
            nan = nan || std::isnan(d);
            worst = std::max(worst, d);
        }
    }
    if (nan) worst = std::nan("");
    if (!(worst <= 1e-4))
        fail("rotation", "{}: the {}x{} matrix is not orthogonal: max |R·Rᵀ - I| = {:.3g} (limit 1e-4)", source, n, n,
             worst);
    return worst;
}

std::vector<float> load_rotation(const std::string& path, int n) {
    const auto st = SafeTensors::open(path);
    const auto names = st.names();
    if (names.size() != 1)
        fail("rotation", "{}: expected exactly one tensor (the [{}, {}] rotation), found {}", path, n, n, names.size());
    const TensorView& t = st.get(names[0]);
    if (t.dtype != DType::F32)
        fail("rotation", "{}: tensor '{}' is {}, expected F32", path, t.name, dtype_name(t.dtype));
    if (t.shape != std::vector<int64_t>{n, n})
        fail("rotation", "{}: tensor '{}' has shape {}, expected [{}, {}]", path, t.name, shape_str(t.shape), n, n);
    auto r = t.to_f32();
    check_orthogonal(r, n, path);
    return r;
}

}  // namespace tameq
