#include "kernels/cpu/norm_codes.h"

#include <cmath>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/norm_codes_paths.h"

namespace tameq::kern {

float rms_inv_scale(const float* x, int k, float eps) {
    double ss = 0.0;
    for (int j = 0; j < k; ++j) ss += double(x[j]) * x[j];
    return 1.0f / std::sqrt(float(ss / k) + eps);
}

void layer_norm_stats(const float* x, int k, float eps, float* mean, float* inv) {
    double sum = 0.0;
    for (int j = 0; j < k; ++j) sum += x[j];
    const double mu = sum / k;
    double var = 0.0;
    for (int j = 0; j < k; ++j) var += (x[j] - mu) * (x[j] - mu);
    var /= k;
    *inv = float(1.0 / std::sqrt(var + eps));
    *mean = float(mu);
}

void norm_stats_scalar(const float* x, int m, int k, int ldx, const NormAffine& norm, float* mean, float* inv) {
    for (int i = 0; i < m; ++i) {
        const float* row = x + size_t(i) * ldx;
        if (norm.kind == RowNorm::layer)
            layer_norm_stats(row, k, norm.eps, mean + i, inv + i);
        else
            inv[i] = rms_inv_scale(row, k, norm.eps);
    }
}

void norm_codes_row_scalar(const float* x, int k, const NormAffine& norm, float mean, float inv, int code_lo, int code_hi,
                           uint8_t* q) {
    for (int j = 0; j < k; ++j) q[j] = static_code(norm_value(x[j], j, norm, mean, inv), code_lo, code_hi);
}

void norm_codes_u8(const float* x, int m, int k, int ldx, const NormAffine& norm, int code_lo, int code_hi, uint8_t* q,
                   int ldq) {
    if (m < 0 || k <= 0 || ldx < k || ldq < k) fail("kernels", "norm_codes_u8: bad shape [{} x {}]", m, k);
    if (code_lo < -128 || code_lo > 0 || code_hi < 0 || code_hi > 127)
        fail("kernels", "norm_codes_u8: code range [{}, {}] is not a signed 8-bit grid around 0", code_lo, code_hi);
    if (!norm.gamma) fail("kernels", "norm_codes_u8: no norm weight");
    // Statistics of every row first (the SIMD path sums several rows side by side), then each row's codes.
    thread_local std::vector<float> mean, inv;
    mean.assign(size_t(m), 0.0f);
    inv.resize(size_t(m));
    const KernelPath path = active_path();
    if (path == KernelPath::scalar)
        norm_stats_scalar(x, m, k, ldx, norm, mean.data(), inv.data());
    else
        norm_stats_avx2(x, m, k, ldx, norm, mean.data(), inv.data());
    auto row = path == KernelPath::avx512vnni ? norm_codes_row_avx512
               : path == KernelPath::scalar   ? norm_codes_row_scalar
                                              : norm_codes_row_avx2;
    for (int i = 0; i < m; ++i)
        row(x + size_t(i) * ldx, k, norm, mean[size_t(i)], inv[size_t(i)], code_lo, code_hi, q + size_t(i) * ldq);
}

}  // namespace tameq::kern
