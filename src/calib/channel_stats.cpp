#include "calib/channel_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "common/stage_profile.h"

namespace tameq {

ChannelRange::ChannelRange(int d)
    : dim(d),
      max(size_t(d), -std::numeric_limits<float>::infinity()),
      min(size_t(d), std::numeric_limits<float>::infinity()),
      mid_sum(size_t(d), 0.0) {}

void ChannelRange::add(const float* x, int n, int keep_rows) {
    if (n <= 0) return;
    std::vector<float> hi(size_t(dim), -std::numeric_limits<float>::infinity());
    std::vector<float> lo(size_t(dim), std::numeric_limits<float>::infinity());
    for (int i = 0; i < n; ++i) {
        const float* row = x + size_t(i) * dim;
        for (int j = 0; j < dim; ++j) {
            hi[size_t(j)] = std::max(hi[size_t(j)], row[j]);
            lo[size_t(j)] = std::min(lo[size_t(j)], row[j]);
        }
    }
    for (size_t j = 0; j < size_t(dim); ++j) {
        max[j] = std::max(max[j], hi[j]);
        min[j] = std::min(min[j], lo[j]);
        mid_sum[j] += 0.5 * (double(hi[j]) + double(lo[j]));
    }
    ++samples;
    const size_t cap = size_t(std::max(keep_rows, 0)) * size_t(dim);
    if (values.size() < cap) values.insert(values.end(), x, x + std::min(cap - values.size(), size_t(n) * dim));
}

std::vector<float> ChannelRange::absmax() const { return absmax_after_shift({}); }

std::vector<float> ChannelRange::mean_midpoint() const {
    std::vector<float> z(size_t(dim), 0.0f);
    if (samples == 0) return z;
    for (size_t j = 0; j < z.size(); ++j) z[j] = float(mid_sum[j] / samples);
    return z;
}

std::vector<float> ChannelRange::absmax_after_shift(const std::vector<float>& shift) const {
    std::vector<float> m(size_t(dim), 0.0f);
    if (samples == 0) return m;
    for (size_t j = 0; j < m.size(); ++j) {
        const float z = shift.empty() ? 0.0f : shift[j];
        m[j] = std::max(std::abs(max[j] - z), std::abs(min[j] - z));
    }
    return m;
}

void ChannelStatsTap::on(int, Tap where, const float* x, int n, int dim) {
    if (where == Tap::AttnResidual || where == Tap::MlpResidual) return;
    ProfileScope stage("statistics/Hessian");
    auto it = ranges_.find(where);
    if (it == ranges_.end()) it = ranges_.emplace(where, ChannelRange(dim)).first;
    if (it->second.dim != dim) fail("calibration", "tap {} saw {} channels, then {}", tap_name(where), it->second.dim, dim);
    it->second.add(x, n, keep_.count(where) ? keep_rows_ : 0);
}

const ChannelRange& ChannelStatsTap::at(Tap t) const {
    auto it = ranges_.find(t);
    if (it == ranges_.end()) fail("calibration", "no statistics were gathered at {}", tap_name(t));
    return it->second;
}

std::vector<float> mse_clipped_range(const ChannelRange& r, const std::vector<float>& shift, int bits) {
    std::vector<float> m = r.absmax_after_shift(shift);
    if (r.values.empty()) fail("calibration", "the clip search needs the calibration rows (none were kept)");
    const size_t rows = r.values.size() / size_t(r.dim);
    const float qmax = float((1 << (bits - 1)) - 1), qmin = -qmax - 1.0f;
    std::vector<float> col(rows);
    for (size_t j = 0; j < size_t(r.dim); ++j) {
        if (m[j] == 0.0f) continue;
        const float z = shift.empty() ? 0.0f : shift[j];
        for (size_t i = 0; i < rows; ++i) col[i] = r.values[i * size_t(r.dim) + j] - z;
        double best = std::numeric_limits<double>::infinity();
        float best_range = m[j];
        for (int k = 0; k < 80; ++k) {
            const float range = (1.0f - 0.01f * float(k)) * m[j];
            const float step = range / qmax;
            double err = 0;
            for (float v : col) err += std::pow(std::abs(step * std::clamp(std::nearbyint(v / step), qmin, qmax) - v), 2.4);
            if (err < best) {
                best = err;
                best_range = range;
            }
        }
        m[j] = best_range;
    }
    return m;
}

}  // namespace tameq
