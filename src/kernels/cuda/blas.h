#pragma once
// The library GEMMs we measure against and fall back to: cuBLAS BF16 (the baseline) and cuBLASLt
// int8 × int8 → int32 (IMMA). Same layout as gemm_int8.h: device pointers, row-major a [m x k],
// w [n x k], out [m x n].
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/cuda/device.h"

namespace tameq::cuda {

class Blas {
public:
    Blas();
    ~Blas();
    Blas(const Blas&) = delete;
    Blas& operator=(const Blas&) = delete;

    // y = a·wᵀ in bf16 (bits), fp32 accumulation.
    void gemm_bf16(const uint16_t* a, const uint16_t* w, uint16_t* y, int m, int n, int k, Stream s = nullptr);
    // The same with an fp32 output (the CUDA engine's BF16 linears: no rounding of the product to bf16).
    void gemm_bf16_f32(const uint16_t* a, const uint16_t* w, float* y, int m, int n, int k, Stream s = nullptr);
    // acc = a·wᵀ exactly; k % 4 == 0 (cuBLASLt's int8 alignment).
    void gemm_s8_s32(const int8_t* a, const int8_t* w, int32_t* acc, int m, int n, int k, Stream s = nullptr);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tameq::cuda
