// The CUDA GEMMs (src/cuda): the CPU oracle and the int4 GPU layout always; the kernels against the oracle
// when the build has TAMEQ_CUDA and a Hopper GPU is present (skipped otherwise, with the reason).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/half.h"
#include "kernels/cuda/gemm_ref.h"
#include "kernel_cases.h"
#include "kernels_test_util.h"

#ifdef TAMEQ_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "common/error.h"
#include "kernels/cuda/blas.h"
#include "kernels/cuda/gemm_int8.h"
#endif

using namespace tameq;
using namespace tameq::cuda;

TEST(CudaGemmRef, AccumulatorsByHand) {
    const int8_t a[] = {1, 2, 3, -4, 5, -6};                                  // 2 x 3
    const int8_t w[] = {7, 8, 9, -1, 0, 127, -128, -128, -128};               // 3 x 3
    int32_t acc[6];
    gemm_s8_ref(a, w, 2, 3, 3, acc);
    const int32_t want[] = {50, 380, -768, -42, -758, 640};
    for (int i = 0; i < 6; ++i) EXPECT_EQ(acc[i], want[i]) << i;
}

TEST(CudaGemmRef, DequantRoundsScaleThenProductThenBf16) {
    EXPECT_EQ(bf16_to_f32(dequant_bf16_one(-42, 0.5f, 0.25f)), -5.25f);
    EXPECT_EQ(bf16_to_f32(dequant_bf16_one(257, 1.0f, 1.0f)), 256.0f);  // tie to even
    EXPECT_EQ(bf16_to_f32(dequant_bf16_one(259, 1.0f, 1.0f)), 260.0f);
    const int32_t acc[] = {3, -7, 100, 1};
    const float sa[] = {2.0f, 0.5f}, sw[] = {0.125f, 3.0f};
    uint16_t y[4];
    dequant_bf16_ref(acc, sa, sw, 2, 2, y);
    const float want[] = {0.75f, -42.0f, 6.25f, 1.5f};
    for (int i = 0; i < 4; ++i) EXPECT_EQ(bf16_to_f32(y[i]), want[i]) << i;
}

TEST(CudaGemmRef, Int4LayoutPairsKWithKPlus4) {
    const int8_t w[] = {1, -1, 2, -2, 3, -3, -8, 7};
    auto p = pack_s4_gpu(w, 1, 8);
    ASSERT_EQ(p.size(), 4u);
    EXPECT_EQ(p[0], 0x31);
    EXPECT_EQ(p[1], 0xdf);
    EXPECT_EQ(p[2], 0x82);
    EXPECT_EQ(p[3], 0x7e);
    auto codes = test::random_codes<int8_t>(3 * 64, -8, 7, 41);
    EXPECT_EQ(unpack_s4_gpu(pack_s4_gpu(codes.data(), 3, 64).data(), 3, 64), codes);
}

#ifdef TAMEQ_HAVE_CUDA

#define TAMEQ_REQUIRE_GPU()                                                                   \
    do {                                                                                      \
        std::string why;                                                                      \
        if (!device_available(&why)) GTEST_SKIP() << "no usable CUDA device (" << why << ")"; \
    } while (0)

namespace {

template <typename T>
T* to_device(const std::vector<T>& h) {
    void* p = nullptr;
    check(cudaMalloc(&p, h.size() * sizeof(T)), "cudaMalloc");
    check(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
    return static_cast<T*>(p);
}

template <typename T>
T* poisoned(size_t count) {
    void* p = nullptr;
    check(cudaMalloc(&p, count * sizeof(T)), "cudaMalloc");
    check(cudaMemset(p, 0xff, count * sizeof(T)), "cudaMemset");
    return static_cast<T*>(p);
}

template <typename T>
std::vector<T> to_host(const T* d, size_t count) {
    check_launch("kernel", true);
    std::vector<T> h(count);
    check(cudaMemcpy(h.data(), d, count * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
    return h;
}


}  // namespace

TEST(CudaGemm, RejectsShapesTheKernelsCannotTile) {
    EXPECT_THROW(gemm_s8_s32(nullptr, nullptr, nullptr, 4, 8, 96, nullptr), Error);   // k % 64
    EXPECT_THROW(gemm_w4a8_bf16(nullptr, nullptr, nullptr, nullptr, nullptr, 4, 12, 64, nullptr), Error);  // n % 8
}

TEST(CudaGemm, IntegerPathsMatchOracleBitForBit) {
    TAMEQ_REQUIRE_GPU();
    Blas blas;
    uint64_t seed = 7;
    for (const tameq::test::GemmCase& s : tameq::test::kCudaGemmCases) {
        SCOPED_TRACE(::testing::Message() << s.m << "x" << s.n << "x" << s.k);
        size_t mn = size_t(s.m) * s.n;
        auto a = test::random_codes<int8_t>(size_t(s.m) * s.k, -128, 127, ++seed);
        auto w = test::random_codes<int8_t>(size_t(s.n) * s.k, -128, 127, ++seed);
        auto w4 = test::random_codes<int8_t>(size_t(s.n) * s.k, -8, 7, ++seed);
        auto sa = test::random_floats(s.m, 1e-3f, 2e-2f, ++seed);
        auto sw = test::random_floats(s.n, 1e-3f, 2e-2f, ++seed);
        std::vector<int32_t> acc8(mn), acc4(mn);
        std::vector<uint16_t> y8(mn), y4(mn);
        gemm_s8_ref(a.data(), w.data(), s.m, s.n, s.k, acc8.data());
        gemm_s8_ref(a.data(), w4.data(), s.m, s.n, s.k, acc4.data());
        dequant_bf16_ref(acc8.data(), sa.data(), sw.data(), s.m, s.n, y8.data());
        dequant_bf16_ref(acc4.data(), sa.data(), sw.data(), s.m, s.n, y4.data());

        int8_t *da = to_device(a), *dw = to_device(w);
        uint8_t* dw4 = to_device(pack_s4_gpu(w4.data(), s.n, s.k));
        float *dsa = to_device(sa), *dsw = to_device(sw);

        int32_t* acc = poisoned<int32_t>(mn);
        gemm_s8_s32(da, dw, acc, s.m, s.n, s.k);
        EXPECT_EQ(to_host(acc, mn), acc8) << "mma s8";
        check(cudaMemset(acc, 0xff, mn * 4), "cudaMemset");
        gemm_s4s8_s32(da, dw4, acc, s.m, s.n, s.k);
        EXPECT_EQ(to_host(acc, mn), acc4) << "mma w4";
        check(cudaMemset(acc, 0xff, mn * 4), "cudaMemset");
        blas.gemm_s8_s32(da, dw, acc, s.m, s.n, s.k);
        EXPECT_EQ(to_host(acc, mn), acc8) << "cublasLt s8";

        uint16_t* y = poisoned<uint16_t>(mn);
        dequant_bf16(acc, dsa, dsw, y, s.m, s.n);
        EXPECT_EQ(to_host(y, mn), y8) << "dequant pass";
        check(cudaMemset(y, 0xff, mn * 2), "cudaMemset");
        gemm_w8a8_bf16(da, dw, dsa, dsw, y, s.m, s.n, s.k);
        EXPECT_EQ(to_host(y, mn), y8) << "mma w8a8 fused";
        check(cudaMemset(y, 0xff, mn * 2), "cudaMemset");
        gemm_w4a8_bf16(da, dw4, dsa, dsw, y, s.m, s.n, s.k);
        EXPECT_EQ(to_host(y, mn), y4) << "mma w4a8 fused";

        for (void* p : {(void*)da, (void*)dw, (void*)dw4, (void*)dsa, (void*)dsw, (void*)acc, (void*)y}) cudaFree(p);
    }
}

TEST(CudaGemm, Bf16BaselineWithinOneBf16Rounding) {
    TAMEQ_REQUIRE_GPU();
    const int m = 77, n = 136, k = 192;
    auto a = test::random_codes<int8_t>(size_t(m) * k, -8, 8, 3);
    auto w = test::random_codes<int8_t>(size_t(n) * k, -8, 8, 4);
    std::vector<int32_t> acc(size_t(m) * n);
    gemm_s8_ref(a.data(), w.data(), m, n, k, acc.data());
    std::vector<uint16_t> a16(a.size()), w16(w.size());
    for (size_t i = 0; i < a.size(); ++i) a16[i] = f32_to_bf16(float(a[i]));
    for (size_t i = 0; i < w.size(); ++i) w16[i] = f32_to_bf16(float(w[i]));
    uint16_t *da = to_device(a16), *dw = to_device(w16), *dy = poisoned<uint16_t>(acc.size());
    Blas().gemm_bf16(da, dw, dy, m, n, k);
    auto y = to_host(dy, acc.size());
    // Small integer products accumulate exactly in fp32; only the final bf16 rounding remains.
    for (size_t i = 0; i < acc.size(); ++i) EXPECT_EQ(y[i], f32_to_bf16(float(acc[i]))) << i;
    for (void* p : {(void*)da, (void*)dw, (void*)dy}) cudaFree(p);
}

#else

TEST(CudaGemm, SkippedWithoutCudaBuild) {
    GTEST_SKIP() << "built without TAMEQ_CUDA (no nvcc found, or -DTAMEQ_CUDA=OFF): skipping the GPU GEMM tests";
}

#endif
