#pragma once
// The row-wise kernels of the CUDA engine's Llama-family block (model/cuda_engine.cpp), each the GPU twin of
// a CPU function named beside it, which is its oracle in tests/test_cuda_ops.cpp. No CUDA headers here.
//
// All pointers are device pointers; matrices are row-major [n x dim]. Activations between ops are fp32;
// the BF16 path rounds a linear's input to bf16 (bits in uint16_t) once, in the op that produces it.
//
// Activation codes of the W8A8 path: exactly the CPU integer engine's per-token u8 codes
// (kern::quantize_rows_u8: range always holding 0, true division, round half to even, clamp; asymmetric
// scale = (max − min)/(2^b − 1), zero = round(−min/scale); symmetric codes shifted by +128, zero 128), stored
// as s8 = u8 − 128 so that the int8 tensor cores take them; one scale and zero point per row.
#include <cstddef>
#include <cstdint>

#include "kernels/cuda/device.h"

namespace tameq::cuda {

struct ActCodes {
    int8_t* codes = nullptr;  // [n x dim], u8 code − 128
    float* scale = nullptr;   // [n]
    int32_t* zero = nullptr;  // [n], the u8 zero point (128 when symmetric)
    int bits = 8;             // 2..8
    bool symmetric = false;
};

// x[i] = table[tokens[i]] (fp32 rows of `dim`); the tokens were range-checked on the host.
void embed_rows(const float* table, const int* tokens, int n, int dim, float* x, Stream s = nullptr);

// model/ops.h rms_norm (sum of squares in double, 1/sqrt in float, x·inv·w (+ b)), to bf16 / fp32 / codes.
// b may be null.
void rms_norm_bf16(const float* x, const float* w, const float* b, int n, int dim, float eps, uint16_t* out,
                   Stream s = nullptr);
void rms_norm_codes(const float* x, const float* w, const float* b, int n, int dim, float eps, const ActCodes& out,
                    Stream s = nullptr);

// kern::quantize_rows_u8 of fp32 rows (the attention output before o_proj).
void quantize_rows(const float* x, int n, int dim, const ActCodes& out, Stream s = nullptr);
void to_bf16(const float* x, size_t count, uint16_t* out, Stream s = nullptr);

// model/ops.h silu_mul: silu(gate)·up, to bf16 or to codes (rows of dim).
void silu_mul_bf16(const float* gate, const float* up, size_t count, uint16_t* out, Stream s = nullptr);
void silu_mul_codes(const float* gate, const float* up, int n, int dim, const ActCodes& out, Stream s = nullptr);

// RopeTable::apply: x [n x n_heads·head_dim] at positions pos0.., cos/sin [max_pos x head_dim/2].
void rope_rows(float* x, int n, int n_heads, int head_dim, int pos0, const float* cos, const float* sin,
               Stream s = nullptr);

// model/attention.h causal_attention over an fp32 cache: q [n x n_heads·hd] for positions pos0..pos0+n−1,
// k and v [pos0+n x n_kv_heads·hd], out [n x n_heads·hd]. Tiled over keys with an online softmax in fp32.
// head_dim a multiple of 32, at most kMaxAttentionHeadDim (checked: the key tile lives in static shared memory).
constexpr int kMaxAttentionHeadDim = 160;
void causal_attention(const float* q, const float* k, const float* v, int n, int pos0, int n_heads,
                      int n_kv_heads, int head_dim, float* out, Stream s = nullptr);

void add_rows(float* x, const float* y, size_t count, Stream s = nullptr);                    // x += y
void add_bias(float* y, const float* bias, int n, int dim, Stream s = nullptr);             // y[i] += bias

// The CPU integer GEMM's epilogue (kern::gemm_u8_f32) over int32 accumulators of s8 codes:
// y[i,j] = fma(scale_a[i]·scale_w[j], float(acc[i,j] + (128 − zero_a[i])·rowsum_w[j]), bias[j] or 0),
// which is Σ (u8 − zero)·w of the CPU engine exactly (acc = Σ (u8 − 128)·w). bias may be null.
void dequant_codes_f32(const int32_t* acc, const float* scale_a, const int32_t* zero_a, const float* scale_w,
                       const int32_t* rowsum_w, const float* bias, int m, int n, float* y, Stream s = nullptr);

}  // namespace tameq::cuda
