#include "model/attention.h"

#include <cblas.h>
#include <cmath>
#include <limits>

#include "model/ops.h"

namespace tameq {

void causal_attention(const float* q, int n, int pos0, const float* k, const float* v, int n_heads, int n_kv_heads,
                      int hd, float* out, std::vector<float>& scores) {
    const int len = pos0 + n;  // keys visible to the last query
    const int q_stride = n_heads * hd, kv_stride = n_kv_heads * hd;
    const int group = n_heads / n_kv_heads;
    const float scale = 1.0f / std::sqrt(float(hd));
    scores.resize(size_t(n) * len);
    for (int h = 0; h < n_heads; ++h) {
        const int kvh = h / group;
        // scores[n x len] = scale · Q_h · K_hᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, len, hd, scale, q + h * hd, q_stride, k + kvh * hd,
                    kv_stride, 0.0f, scores.data(), len);
        for (int i = 0; i < n; ++i) {
            float* row = &scores[size_t(i) * len];
            const int visible = pos0 + i + 1;
            softmax_row(row, visible);
            std::fill(row + visible, row + len, 0.0f);
        }
        // out_h[n x hd] = P · V_h
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, len, 1.0f, scores.data(), len, v + kvh * hd,
                    kv_stride, 0.0f, out + h * hd, q_stride);
    }
}

}  // namespace tameq
