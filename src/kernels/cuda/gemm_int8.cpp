#include "kernels/cuda/gemm_int8.h"

#include "common/error.h"
#include "kernels/cuda/launch.h"

namespace tameq::cuda {

namespace {

void check_shape(const char* where, int m, int n, int k) {
    if (m < 1 || n < 1 || k < 1) fail(where, "empty GEMM {}x{}x{}", m, n, k);
    if (k % 64 != 0) fail(where, "k = {} is not a multiple of 64", k);
    if (n % 8 != 0) fail(where, "n = {} is not a multiple of 8", n);
}

}  // namespace

void gemm_s8_s32(const int8_t* a, const int8_t* w, int32_t* acc, int m, int n, int k, Stream s) {
    check_shape("gemm_s8_s32", m, n, k);
    detail::launch_mma_gemm(a, w, false, nullptr, nullptr, acc, nullptr, m, n, k, s);
}

void gemm_w8a8_bf16(const int8_t* a, const int8_t* w, const float* scale_a, const float* scale_w, uint16_t* y,
                    int m, int n, int k, Stream s) {
    check_shape("gemm_w8a8_bf16", m, n, k);
    detail::launch_mma_gemm(a, w, false, scale_a, scale_w, nullptr, y, m, n, k, s);
}

void gemm_s4s8_s32(const int8_t* a, const uint8_t* w4, int32_t* acc, int m, int n, int k, Stream s) {
    check_shape("gemm_s4s8_s32", m, n, k);
    detail::launch_mma_gemm(a, w4, true, nullptr, nullptr, acc, nullptr, m, n, k, s);
}

void gemm_w4a8_bf16(const int8_t* a, const uint8_t* w4, const float* scale_a, const float* scale_w, uint16_t* y,
                    int m, int n, int k, Stream s) {
    check_shape("gemm_w4a8_bf16", m, n, k);
    detail::launch_mma_gemm(a, w4, true, scale_a, scale_w, nullptr, y, m, n, k, s);
}

void dequant_bf16(const int32_t* acc, const float* scale_a, const float* scale_w, uint16_t* y, int m, int n,
                  Stream s) {
    if (m < 1 || n < 1 || n % 2 != 0) fail("dequant_bf16", "bad shape {}x{} (n must be even)", m, n);
    detail::launch_dequant(acc, scale_a, scale_w, y, m, n, s);
}

}  // namespace tameq::cuda
