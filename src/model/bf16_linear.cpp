#include "model/bf16_linear.h"

#include <algorithm>

#include <cblas.h>

#include "common/half.h"
#include "kernels/cpu/bf16_gemv.h"

namespace tameq {

Bf16Linear::Bf16Linear(const DenseLinear& dense)
    : Linear(dense.in_features(), dense.out_features()), weight_(dense.weight.size()), bias_(dense.bias) {
    std::transform(dense.weight.begin(), dense.weight.end(), weight_.begin(), f32_to_bf16);
}

void Bf16Linear::forward(const float* x, int n, float* y) const {
    const int in = in_features(), out = out_features();
    const float* bias = bias_.empty() ? nullptr : bias_.data();
    if (n <= kern::kBf16GemvMaxRows) return kern::bf16_gemv(x, n, weight_.data(), out, in, bias, y);
    // Batches (prefill, perplexity windows) are compute-bound: widen blocks of weight rows to FP32 (exact) and
    // let sgemm do the arithmetic; an 8 MB block amortizes the widening over all n rows.
    const int block = std::clamp((2 << 20) / std::max(in, 1), 1, out);
    std::vector<float> wf(size_t(block) * in);
    for (int r0 = 0; r0 < out; r0 += block) {
        const int rows = std::min(block, out - r0);
        const uint16_t* src = weight_.data() + size_t(r0) * in;
        std::transform(src, src + size_t(rows) * in, wf.begin(), bf16_to_f32);
        float beta = 0.0f;
        if (bias) {
            for (int i = 0; i < n; ++i) std::copy(bias + r0, bias + r0 + rows, y + size_t(i) * out + r0);
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, rows, in, 1.0f, x, in, wf.data(), in, beta, y + r0,
                    out);
    }
}

}  // namespace tameq
