#pragma once
// The kernels' columns of the scheme table (numerics/schemes.h), as ggml's type_traits_cpu: for each weight
// scheme the CPU integer path that runs it (the packer and GEMM IntLinear uses) or the reason it stays
// simulated, and what src/kernels/cuda has for it; for each KV scheme whether the code cache holds it.
#include <cstdint>
#include <string>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/pack.h"
#include "numerics/schemes.h"

namespace tameq::kern {

using PackFn = PackedWeights (*)(const int8_t* w, int n, int k, int group);
using GemmFn = void (*)(const uint8_t* a, int m, int lda, const PackedWeights& w, const Dequant& dq, float* y, int ldy);

struct CpuWeightKernel {
    PackFn pack = nullptr;       // null: no CPU integer kernel; why_not says why
    GemmFn gemm = nullptr;
    const char* why_not = nullptr;  // IntLinear's printed reason ("asymmetric weights", ...)
};

// The CPU column. The reasons are checked in this order: symmetry, act-order, granularity.
CpuWeightKernel cpu_weight_kernel(const WeightScheme& s);

// The CUDA column, as data: the kernels/cuda/gemm_int8.h GEMM that takes this scheme's weights (per-token
// symmetric s8 activations, bf16 epilogue; k % 64 == 0, n % 8 == 0), or null where there is none yet.
// Nothing in the engine calls CUDA; this says what a GPU engine would find.
const char* cuda_weight_kernel(const WeightScheme& s);

// Empty when the integer engine's KV cache can store `spec`'s codes for heads of head_dim (kv_encode_row /
// kv_decode_rows, kernels/cpu/kv_codes.h); else why not, as the cache's error says it.
std::string cpu_kv_codes_reason(const QuantSpec& spec, int head_dim);

}  // namespace tameq::kern
