#pragma once
// Integer GEMM/GEMV: u8 activations A [m x k] (row stride lda) times packed s8/s4 weights W [n x k],
// int32 accumulation, on the dispatched path (dispatch.h), split over the kernel thread pool by panels
// of 64 output channels.
//
// Activations are always u8 codes with a per-row zero point za: asymmetric codes directly, symmetric
// s8 codes shifted by +128 (za = 128, FBGEMM's trick so vpdpbusd's u8 × s8 form serves both). The
// true product is Σ_k (a − za)·w = acc − za·rowsum_w, with rowsum_w precomputed at pack time.
// W4A4 is this same kernel: 4-bit activation codes are held as u8 and the dot product is unchanged.
#include <cstdint>

#include "kernels/cpu/pack.h"

namespace tameq::kern {

// The raw accumulators c[i, j] = Σ_k a[i, k]·w[j, k] (row stride ldc), no correction.
void gemm_u8_s32(const uint8_t* a, int m, int lda, const PackedWeights& w, int32_t* c, int ldc);

// What turns the accumulators into floats. scale_a and zero_a have m entries, scale_w and bias n;
// bias may be null.
struct Dequant {
    const float* scale_a;
    const int32_t* zero_a;
    const float* scale_w;
    const float* bias;
};

// y[i, j] = fma(scale_a[i]·scale_w[j], float(acc − zero_a[i]·rowsum_w[j]), bias[j] or 0).
void gemm_u8_f32(const uint8_t* a, int m, int lda, const PackedWeights& w, const Dequant& dq, float* y, int ldy);

// Per-group weight scales (e.g. W4 with groups of 128): w packed with group > 0, dq.scale_w is
// [k / group x n] (group-major). Per output, over the groups g in order, from f = 0:
//   f = fma(scale_w[g, j], float(acc_g − zero_a[i]·groupsum_w[g, j]), f);  y = fma(scale_a[i], f, bias[j]).
// Runs on the AVX-512 path, and on the scalar path for every other one.
void gemm_u8_f32_grouped(const uint8_t* a, int m, int lda, const PackedWeights& w, const Dequant& dq, float* y, int ldy);

// Symmetric s8 activations: shifted to u8 (+128) into a scratch copy, then gemm_u8_f32 with
// zero_a = 128 for every row; dq.zero_a is ignored.
void gemm_s8_f32(const int8_t* a, int m, int lda, const PackedWeights& w, const Dequant& dq, float* y, int ldy);

// References over plain row-major weights [n x k] (codes, one per byte), for the tests: the same
// formulas as above, written as the obvious loops.
void gemm_ref_s32(const uint8_t* a, int m, int lda, const int8_t* w, int n, int k, int32_t* c, int ldc);
void gemm_ref_f32(const uint8_t* a, int m, int lda, const int8_t* w, int n, int k, const Dequant& dq, float* y, int ldy);
void gemm_ref_f32_grouped(const uint8_t* a, int m, int lda, const int8_t* w, int n, int k, int group, const Dequant& dq,
                          float* y, int ldy);

}  // namespace tameq::kern
