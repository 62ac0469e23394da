#include "kernels/cpu/act_quant.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/act_quant_paths.h"
#include "kernels/cpu/dispatch.h"
#include "numerics/quantizer.h"
#include "numerics/hadamard.h"

namespace tameq::kern {

QParams row_grid(float lo, float hi, const QuantSpec& spec) {
    // find_qparams only looks at the range of its input, and the range of {lo, hi} is the row's.
    const float range[2] = {lo, hi};
    return find_qparams(range, 2, spec);
}

void quantize_row_scalar(const float* x, int k, const QuantSpec& spec, uint8_t* q, float* scale, int32_t* zero) {
    QParams p = find_qparams(x, k, spec);
    int shift = spec.symmetric ? 128 : 0;
    for (int i = 0; i < k; ++i) q[i] = static_cast<uint8_t>(quantize_code(x[i], p, spec) + shift);
    *scale = p.scale;
    *zero = spec.symmetric ? 128 : static_cast<int32_t>(p.zero);
}

void quantize_rows_u8(const float* x, int m, int k, int ldx, int bits, bool symmetric, uint8_t* q, int ldq,
                      float* scale, int32_t* zero) {
    QuantSpec spec{bits, symmetric, Granularity::PerRow};
    spec.validate();
    if (m < 0 || k <= 0 || ldx < k || ldq < k) fail("kernels", "quantize_rows_u8: bad shape [{} x {}]", m, k);
    KernelPath path = active_path();
    auto row = path == KernelPath::avx512vnni ? quantize_row_avx512
               : path == KernelPath::scalar   ? quantize_row_scalar
                                              : quantize_row_avx2;
    for (int i = 0; i < m; ++i)
        row(x + static_cast<size_t>(i) * ldx, k, spec, q + static_cast<size_t>(i) * ldq, scale + i, zero + i);
}

void hadamard_quantize_rows_u8(const float* x, int m, int k, int ldx, int bits, bool symmetric, uint8_t* q, int ldq,
                               float* scale, int32_t* zero, int block) {
    // Fused: rows go through a cache-sized block (transform in place there, then straight to codes), so the
    // [m x k] input is read once and no transformed copy of it is written back to memory. The block is
    // fwht_rows' own sgemm chunk (kFwhtChunkFloats): smaller blocks cost more in sgemm calls than they save.
    if (m < 0 || k <= 0 || ldx < k || ldq < k) fail("kernels", "hadamard_quantize_rows_u8: bad shape [{} x {}]", m, k);
    const int chunk = std::max(1, kFwhtChunkFloats / k);
    thread_local std::vector<float> buf;
    buf.resize(static_cast<size_t>(std::min(chunk, std::max(m, 1))) * k);
    for (int r0 = 0; r0 < m; r0 += chunk) {
        const int nr = std::min(chunk, m - r0);
        for (int i = 0; i < nr; ++i)
            std::memcpy(&buf[static_cast<size_t>(i) * k], x + static_cast<size_t>(r0 + i) * ldx, sizeof(float) * k);
        fwht_row_blocks(buf.data(), nr, k, block);
        quantize_rows_u8(buf.data(), nr, k, k, bits, symmetric, q + static_cast<size_t>(r0) * ldq, ldq, scale + r0,
                         zero + r0);
    }
}

}  // namespace tameq::kern
