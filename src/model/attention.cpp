#include "model/attention.h"

#include <cblas.h>
#include <cmath>
#include <limits>

#include "kernels/cpu/attend_one.h"
#include "kernels/cpu/kv_codes.h"
#include "model/ops.h"

namespace tameq {

namespace {

// Rows of kv head `kvh` for positions 0..len-1 and their row stride: the FP32 cache itself, or the head's
// codes decoded into `tile`.
const float* head_rows(const KvRows& r, int kvh, int len, int n_kv_heads, int hd, float* tile, int* stride) {
    if (r.f32) {
        *stride = n_kv_heads * hd;
        return r.f32 + size_t(kvh) * hd;
    }
    kern::kv_decode_rows(r.codes + size_t(kvh) * r.row_bytes, r.scale + kvh, r.zero + kvh, n_kv_heads, len, hd, r.bits,
                         tile);
    *stride = hd;
    return tile;
}

}  // namespace

void causal_attention(const float* q, int n, int pos0, const KvRows& k, const KvRows& v, int n_heads, int n_kv_heads,
                      int hd, float* out, std::vector<float>& scratch) {
    const int len = pos0 + n;  // keys visible to the last query
    const int q_stride = n_heads * hd;
    const int group = n_heads / n_kv_heads;
    const float scale = 1.0f / std::sqrt(float(hd));
    const size_t tile = k.f32 ? 0 : size_t(len) * hd;
    scratch.resize(size_t(n) * len + 2 * tile);
    float* scores = scratch.data();
    for (int kvh = 0; kvh < n_kv_heads; ++kvh) {
        int ks = 0, vs = 0;
        const float* kh = head_rows(k, kvh, len, n_kv_heads, hd, scores + size_t(n) * len, &ks);
        const float* vh = head_rows(v, kvh, len, n_kv_heads, hd, scores + size_t(n) * len + tile, &vs);
        for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
            if (n == 1) {  // decode: two GEMVs, done by the kernel rather than by two sgemm calls
                kern::attend_one_query(q + h * hd, kh, ks, vh, vs, len, hd, scale, scores, out + h * hd);
                continue;
            }
            // scores[n x len] = scale · Q_h · K_hᵀ
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, len, hd, scale, q + h * hd, q_stride, kh, ks, 0.0f,
                        scores, len);
            for (int i = 0; i < n; ++i) {
                float* row = &scores[size_t(i) * len];
                const int visible = pos0 + i + 1;
                softmax_row(row, visible);
                std::fill(row + visible, row + len, 0.0f);
            }
            // out_h[n x hd] = P · V_h
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, len, 1.0f, scores, len, vh, vs, 0.0f,
                        out + h * hd, q_stride);
        }
    }
}

}  // namespace tameq
