#include "kernels/cpu/attend_one.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/attend_one_paths.h"
#include "kernels/cpu/dispatch.h"

namespace tameq::kern {

void attend_one_query_scalar(const float* q, const float* k, int k_stride, const float* v, int v_stride, int len,
                             int hd, float scale, float* scores, float* out) {
    float mx = -INFINITY;
    for (int j = 0; j < len; ++j) {
        const float* kj = k + size_t(j) * k_stride;
        float dot = 0.0f;
        for (int d = 0; d < hd; ++d) dot += q[d] * kj[d];
        scores[j] = scale * dot;
        mx = std::max(mx, scores[j]);
    }
    float sum = 0.0f;
    for (int j = 0; j < len; ++j) {
        scores[j] = std::exp(scores[j] - mx);
        sum += scores[j];
    }
    const float inv = 1.0f / sum;
    std::fill(out, out + hd, 0.0f);
    for (int j = 0; j < len; ++j) {
        const float p = scores[j] * inv;
        const float* vj = v + size_t(j) * v_stride;
        for (int d = 0; d < hd; ++d) out[d] += p * vj[d];
    }
}

void attend_one_query(const float* q, const float* k, int k_stride, const float* v, int v_stride, int len, int hd,
                      float scale, float* scores, float* out) {
    if (active_path() == KernelPath::scalar || hd % 8 != 0)
        return attend_one_query_scalar(q, k, k_stride, v, v_stride, len, hd, scale, scores, out);
    attend_one_query_avx2(q, k, k_stride, v, v_stride, len, hd, scale, scores, out);
}

}  // namespace tameq::kern
