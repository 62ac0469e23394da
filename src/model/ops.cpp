#include "model/ops.h"

#include <cmath>

#include "common/error.h"
#include "kernels/cpu/norm_codes.h"

namespace tameq {

void rms_norm(const float* x, int n, int dim, const Norm& norm, float eps, float* out) {
    for (int i = 0; i < n; ++i) {
        const float* xi = x + size_t(i) * dim;
        float* oi = out + size_t(i) * dim;
        const float inv = kern::rms_inv_scale(xi, dim, eps);  // the statistic kern::norm_codes_u8 uses
        for (int j = 0; j < dim; ++j) oi[j] = xi[j] * inv * norm.weight[size_t(j)];
        if (!norm.bias.empty())
            for (int j = 0; j < dim; ++j) oi[j] += norm.bias[size_t(j)];
    }
}

void layer_norm(const float* x, int n, int dim, const Norm& norm, float eps, float* out) {
    for (int i = 0; i < n; ++i) {
        const float* xi = x + size_t(i) * dim;
        float* oi = out + size_t(i) * dim;
        float m = 0.0f, inv = 0.0f;
        kern::layer_norm_stats(xi, dim, eps, &m, &inv);  // the statistics kern::norm_codes_u8 uses
        for (int j = 0; j < dim; ++j) oi[j] = (xi[j] - m) * inv * norm.weight[size_t(j)] + norm.bias[size_t(j)];
    }
}

RopeTable::RopeTable(const ModelConfig& cfg, int max_positions, float theta)
    : head_dim_(cfg.head_dim), max_pos_(max_positions) {
    if (!(theta > 0)) theta = cfg.rope_theta;
    const int half = head_dim_ / 2;
    std::vector<float> inv_freq(static_cast<size_t>(half));
    for (int i = 0; i < half; ++i)
        inv_freq[size_t(i)] = 1.0f / std::pow(theta, float(2 * i) / float(head_dim_));
    const RopeScaling& s = cfg.rope_scaling;
    if (s.type == "llama3") {
        // transformers' _compute_llama3_parameters: long wavelengths slowed by `factor`, short ones kept,
        // a smooth blend in between.
        const float low_wavelen = float(s.original_max_position) / s.low_freq_factor;
        const float high_wavelen = float(s.original_max_position) / s.high_freq_factor;
        for (float& f : inv_freq) {
            const float wavelen = 2.0f * float(M_PI) / f;
            float g = wavelen > low_wavelen ? f / s.factor : f;
            if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
                const float smooth = (float(s.original_max_position) / wavelen - s.low_freq_factor) /
                                     (s.high_freq_factor - s.low_freq_factor);
                g = (1.0f - smooth) * g / s.factor + smooth * g;
            }
            f = g;
        }
    }
    float amplitude = 1.0f;
    if (s.type == "longrope") {
        // transformers' _compute_longrope_parameters, with its choice of factors made once for the table: the
        // long ones when this context exceeds the original one (transformers decides per forward, by the
        // sequence length so far; the two agree for any sequence that stays on one side of it).
        const std::vector<float>& ext = max_positions > s.original_max_position ? s.long_factor : s.short_factor;
        for (int i = 0; i < half; ++i)
            inv_freq[size_t(i)] = 1.0f / (ext[size_t(i)] * std::pow(theta, float(2 * i) / float(head_dim_)));
        amplitude = s.attention_factor;
    }
    cos_.resize(size_t(max_pos_) * half);
    sin_.resize(size_t(max_pos_) * half);
    for (int p = 0; p < max_pos_; ++p)
        for (int i = 0; i < half; ++i) {
            const float angle = float(p) * inv_freq[size_t(i)];
            cos_[size_t(p) * half + i] = float(std::cos(double(angle))) * amplitude;
            sin_[size_t(p) * half + i] = float(std::sin(double(angle))) * amplitude;
        }
}

void RopeTable::apply(float* x, int n, int n_heads, int pos0) const {
    const int half = head_dim_ / 2;
    if (pos0 < 0 || pos0 + n > max_pos_) fail("rope", "position {} beyond the context of {}", pos0 + n, max_pos_);
    for (int t = 0; t < n; ++t) {
        const float* c = &cos_[size_t(pos0 + t) * half];
        const float* s = &sin_[size_t(pos0 + t) * half];
        for (int h = 0; h < n_heads; ++h) {
            float* v = x + (size_t(t) * n_heads + h) * head_dim_;
            for (int i = 0; i < half; ++i) {
                const float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}

void silu_mul(float* gate, const float* up, size_t n) {
    for (size_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void gelu_tanh_mul(float* gate, const float* up, size_t n) {
    const float k = float(std::sqrt(2.0 / M_PI));
    for (size_t i = 0; i < n; ++i) {
        const float x = gate[i];
        gate[i] = 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x))) * up[i];
    }
}

void soft_cap(float* x, size_t n, float cap) {
    for (size_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

void relu(float* x, size_t n) {
    for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void add_rows(float* x, const float* y, size_t n) {
    for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

void softmax_row(float* x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; ++i) mx = std::max(mx, x[i]);
    float sum = 0.0f;
    for (int i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - mx);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace tameq
