#include "numerics/massive.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace tameq {

std::vector<double> per_row_quant_error(const float* X, int rows, int C, const QuantSpec& act) {
    if (rows < 1 || C < 1) fail("massive", "empty activation matrix ({} rows x {} channels)", rows, C);
    if (act.granularity != Granularity::PerRow) fail("massive", "the activation quantizer must be per token");
    act.validate();
    std::vector<double> err(static_cast<size_t>(rows));
    std::vector<float> q(static_cast<size_t>(C));
    for (int i = 0; i < rows; i++) {
        const float* x = X + size_t(i) * C;
        std::copy(x, x + C, q.begin());
        fake_quantize_rows(q.data(), 1, C, act);
        double e = 0.0;
        for (int j = 0; j < C; j++) {
            const double d = double(x[j]) - q[size_t(j)];
            e += d * d;
        }
        err[size_t(i)] = e;
    }
    return err;
}

std::vector<uint8_t> mark_massive_by_magnitude(const float* residual, int rows, int C, float ratio) {
    if (rows < 1 || C < 1) fail("massive", "empty residual ({} rows x {} channels)", rows, C);
    if (!(ratio > 0.0f)) fail("massive", "massive-activation ratio must be positive, got {}", ratio);
    const size_t count = size_t(rows) * C;
    std::vector<float> mags(count);
    for (size_t i = 0; i < count; i++) mags[i] = std::fabs(residual[i]);
    auto mid = mags.begin() + count / 2;
    std::nth_element(mags.begin(), mid, mags.end());
    const float limit = ratio * *mid;
    std::vector<uint8_t> massive(rows, 0);
    for (int i = 0; i < rows; i++) {
        const float* row = residual + size_t(i) * C;
        float mx = 0.0f;
        for (int j = 0; j < C; j++) mx = std::max(mx, std::fabs(row[j]));
        massive[i] = mx > limit;
    }
    return massive;
}

float scaled_quant_error_threshold(int C, int bits, float threshold_4096_4bit) {
    const double size = std::sqrt(double(C) / 4096.0 * std::log(double(C)) / std::log(4096.0));
    return float(threshold_4096_4bit * size * 15.0 / double((1 << bits) - 1));
}

std::vector<uint8_t> mark_massive_by_quant_error(const float* X, int rows, int C, const QuantSpec& act,
                                                 float threshold) {
    return mark_massive_by_quant_error(per_row_quant_error(X, rows, C, act), threshold);
}

std::vector<uint8_t> mark_massive_by_quant_error(const std::vector<double>& squared_errors, float threshold) {
    std::vector<uint8_t> massive(squared_errors.size());
    for (size_t i = 0; i < massive.size(); i++) massive[i] = std::sqrt(squared_errors[i]) < threshold;
    return massive;
}

std::vector<uint8_t> mark_massive_by_norm(const float* residual, int rows, int C, float ratio) {
    std::vector<double> norms(static_cast<size_t>(rows));
    for (int i = 0; i < rows; ++i) {
        double s = 0;
        for (int j = 0; j < C; ++j) s += double(residual[size_t(i) * C + j]) * residual[size_t(i) * C + j];
        norms[size_t(i)] = std::sqrt(s);
    }
    std::vector<double> sorted = norms;
    std::nth_element(sorted.begin(), sorted.begin() + rows / 2, sorted.end());
    const double median = rows ? sorted[size_t(rows / 2)] : 0.0;
    std::vector<uint8_t> out(static_cast<size_t>(rows), 0);
    for (int i = 0; i < rows; ++i) out[size_t(i)] = norms[size_t(i)] > ratio * median ? 1 : 0;
    return out;
}

}  // namespace tameq
