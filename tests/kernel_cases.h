#pragma once
// One list of kernel cases for every harness (ggml's test-backend-ops pattern): the unit tests run the
// correctness cases on every CPU path and on CUDA, bench/ and the CUDA lab (dev/cuda/gemm_lab.cpp) time the
// performance shapes. Float kernels have a named error budget here, each with the reason for its size;
// integer kernels have none: they must equal their oracle bit for bit (docs/KERNELS.md, "The integer GEMM
// contract").
#include <cstddef>

namespace tameq::test {

struct GemmCase {
    int m, n, k;  // activations [m x k] times weights [n x k]ᵀ
};

// CPU integer GEMM: odd K and N (K tails of 1..7 bytes, partial 16-channel blocks and 64-channel panels),
// a long K, tiny shapes, and shapes big enough to run on both threads of the pool.
inline constexpr GemmCase kCpuGemmCases[] = {{1, 19, 37},    {3, 67, 130},   {17, 64, 4096}, {7, 16, 8},
                                             {2, 1, 1},      {13, 131, 259}, {5, 300, 1024}, {64, 200, 515}};

// CUDA integer GEMM (n % 8 == 0 and k % 64 == 0 by contract): one row, ragged m and n (partial 128-tiles,
// zero-filled rows), k of 2 and 16 pipeline tiles.
inline constexpr GemmCase kCudaGemmCases[] = {{1, 8, 64}, {77, 136, 192}, {130, 264, 128}, {256, 256, 1024}};

// The decoder linears tameq is timed on: Llama-2-7B (hidden 4096, FFN 11008) and Llama-3-8B (FFN 14336).
struct LinearShape {
    int n, k;
    const char* what;
};
inline constexpr LinearShape kLlamaLinearShapes[] = {{4096, 4096, "q/o"},
                                                    {14336, 4096, "gate/up, Llama-3-8B"},
                                                    {4096, 14336, "down, Llama-3-8B"},
                                                    {11008, 4096, "gate/up, Llama-2-7B"},
                                                    {4096, 11008, "down, Llama-2-7B"}};
// Batch rows timed on the CPU: decode (1), small batches, prefill chunks.
inline constexpr int kCpuBenchRows[] = {1, 16, 128, 512};
// Rows timed on the GPU: prefill of 2048 and 4096 tokens (plus the 8192³ square the lab starts with).
inline constexpr int kGpuBenchRows[] = {2048, 4096};

// Float budgets.
// Decode attention (exp by polynomial, fp32 sums in another order) against a double softmax·V.
inline constexpr double kAttendOneAbsTol = 2e-5;
// BF16 GEMV/GEMM against the double product of the same BF16 weights: 2 fp32 roundings per multiply-add
// (6e-8 each, relative) over `in` terms, times the magnitude of the terms.
inline constexpr double kBf16DotRelTolPerTerm = 2.0 * 6e-8;
// The fast Walsh–Hadamard transform against the dense Hadamard product: log2(n) fp32 butterflies.
inline constexpr double kFwhtRelTol = 1e-5;
// Attention over an 8-bit-code KV cache whose codes were chosen to be exact, against the FP32 cache.
inline constexpr float kKvCodesRelTol = 1e-6f;

}  // namespace tameq::test
