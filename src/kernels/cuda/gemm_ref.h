#pragma once
// CPU oracle for the CUDA integer GEMMs, and the packed int4 weight layout they read. Header-only so the
// tests check the oracle in builds without CUDA.
//
// Contract (all row-major): a [m x k] s8 activation codes, w [n x k] s8 weight codes (nn.Linear layout),
// acc [m x n] = a·wᵀ in int32, y[i,j] = bf16((scale_a[i] * scale_w[j]) * float(acc[i,j])): three float
// roundings in that order, then one to bf16, so a kernel that rounds the same way matches bit for bit.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/half.h"

namespace tameq::cuda {

inline void gemm_s8_ref(const int8_t* a, const int8_t* w, int m, int n, int k, int32_t* acc) {
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            int32_t s = 0;
            for (int p = 0; p < k; ++p) s += int32_t(a[size_t(i) * k + p]) * int32_t(w[size_t(j) * k + p]);
            acc[size_t(i) * n + j] = s;
        }
}

inline uint16_t dequant_bf16_one(int32_t acc, float scale_a, float scale_w) {
    float s = scale_a * scale_w;
    return f32_to_bf16(s * float(acc));
}

inline void dequant_bf16_ref(const int32_t* acc, const float* scale_a, const float* scale_w, int m, int n,
                             uint16_t* y) {
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j)
            y[size_t(i) * n + j] = dequant_bf16_one(acc[size_t(i) * n + j], scale_a[i], scale_w[j]);
}

// int4 weights for the GPU: [n x k/2] bytes, k % 8 == 0. Each run of 8 codes w[8q..8q+7] fills 4 bytes;
// byte j holds w[8q+j] in its low nibble and w[8q+j+4] in its high nibble, so one 32-bit load and two
// masks give two registers of 4 consecutive int8 codes each (what the MMA fragments want).
inline std::vector<uint8_t> pack_s4_gpu(const int8_t* w, int n, int k) {
    std::vector<uint8_t> out(size_t(n) * k / 2);
    for (size_t r = 0; r < size_t(n); ++r)
        for (int q = 0; q < k / 8; ++q)
            for (int j = 0; j < 4; ++j) {
                const int8_t* src = w + r * k + 8 * q;
                out[r * (k / 2) + 4 * q + j] = uint8_t((src[j] & 0x0f) | ((src[j + 4] & 0x0f) << 4));
            }
    return out;
}

inline std::vector<int8_t> unpack_s4_gpu(const uint8_t* p, int n, int k) {
    std::vector<int8_t> out(size_t(n) * k);
    auto sext = [](int nib) { return int8_t(nib >= 8 ? nib - 16 : nib); };
    for (size_t r = 0; r < size_t(n); ++r)
        for (int q = 0; q < k / 8; ++q)
            for (int j = 0; j < 4; ++j) {
                uint8_t b = p[r * (k / 2) + 4 * q + j];
                out[r * k + 8 * q + j] = sext(b & 0x0f);
                out[r * k + 8 * q + j + 4] = sext(b >> 4);
            }
    return out;
}

}  // namespace tameq::cuda
