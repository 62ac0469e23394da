#include "model/attention.h"

#include <cblas.h>
#include <algorithm>
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

// The same rows from position `first` on.
KvRows from_position(const KvRows& r, int first, int n_kv_heads, int hd) {
    KvRows out = r;
    const size_t head_rows = size_t(first) * n_kv_heads;
    if (r.f32) {
        out.f32 = r.f32 + head_rows * hd;
    } else {
        out.codes = r.codes + head_rows * r.row_bytes;
        out.scale = r.scale + head_rows;
        out.zero = r.zero + head_rows;
    }
    return out;
}

}  // namespace

void causal_attention(const float* q, int n, int pos0, const KvRows& k_all, const KvRows& v_all, int n_heads,
                      int n_kv_heads, int hd, float* out, std::vector<float>& scratch, int window, float scale,
                      float softcap) {
    // Keys first..pos0+n-1 are the ones some query sees; indices below are relative to `first`.
    const int first = window > 0 ? std::max(0, pos0 - window + 1) : 0;
    const KvRows k = from_position(k_all, first, n_kv_heads, hd), v = from_position(v_all, first, n_kv_heads, hd);
    const int len = pos0 + n - first;  // keys visible to the last query
    const int q_stride = n_heads * hd;
    const int group = n_heads / n_kv_heads;
    if (!(scale > 0)) scale = 1.0f / std::sqrt(float(hd));
    const size_t tile = k.f32 ? 0 : size_t(len) * hd;
    scratch.resize(size_t(n) * len + 2 * tile);
    float* scores = scratch.data();
    for (int kvh = 0; kvh < n_kv_heads; ++kvh) {
        int ks = 0, vs = 0;
        const float* kh = head_rows(k, kvh, len, n_kv_heads, hd, scores + size_t(n) * len, &ks);
        const float* vh = head_rows(v, kvh, len, n_kv_heads, hd, scores + size_t(n) * len + tile, &vs);
        for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
            if (n == 1 && softcap <= 0) {  // decode: two GEMVs, done by the kernel rather than by two sgemm calls
                kern::attend_one_query(q + h * hd, kh, ks, vh, vs, len, hd, scale, scores, out + h * hd);
                continue;
            }
            // scores[n x len] = scale · Q_h · K_hᵀ
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, len, hd, scale, q + h * hd, q_stride, kh, ks, 0.0f,
                        scores, len);
            for (int i = 0; i < n; ++i) {
                float* row = &scores[size_t(i) * len];
                const int end = pos0 + i + 1 - first;                      // one past the query's own key
                const int begin = window > 0 ? std::max(0, end - window) : 0;  // its first visible key
                if (softcap > 0)
                    for (int j = begin; j < end; ++j) row[j] = softcap * std::tanh(row[j] / softcap);
                std::fill(row, row + begin, 0.0f);
                softmax_row(row + begin, end - begin);
                std::fill(row + end, row + len, 0.0f);
            }
            // out_h[n x hd] = P · V_h
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, len, 1.0f, scores, len, vh, vs, 0.0f,
                        out + h * hd, q_stride);
        }
    }
}

}  // namespace tameq
