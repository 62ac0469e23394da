// v1 of our integer GEMM: mma.sync.m16n8k32 s8 with a 4-stage cp.async pipeline (dev/cuda/NOTES.md has the
// plan and the numbers). A block computes a 128x128 tile of acc = a·wᵀ with 8 warps of 64x32 each.
//
// K order inside each 32-wide MMA step is permuted the same way for both operands (so the dot product is
// unchanged): a thread's fragment registers {r0, r1} hold actual k 8t..8t+3 and 8t+4..8t+7 (t = lane % 4)
// where the MMA reads k 4t..4t+3 and 16+4t..16+4t+3. That makes every fragment one 8-byte shared-memory
// load for s8, and one 4-byte load of 8 int4 codes for W4 (pack_s4_gpu puts k j and j+4 in one byte).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/launch.h"

namespace tameq::cuda::detail {

namespace {

constexpr int BM = 128, BN = 128, BK = 64, STAGES = 4, THREADS = 256;
// Row pitches in shared memory (bytes). 96 = 64 + 32: the 4 rows a half-warp's 8-byte loads touch land on
// distinct 8-bank groups. 48 = 32 + 16: the 8 rows of a warp's 4-byte W4 loads land on distinct 4-bank groups.
constexpr int PITCH_A = 96, PITCH_W8 = 96, PITCH_W4 = 48;

template <bool W4>
constexpr int smem_bytes() {
    return STAGES * (BM * PITCH_A + BN * (W4 ? PITCH_W4 : PITCH_W8));
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return uint32_t(__cvta_generic_to_shared(p));
}

// 16-byte async copy; src_bytes == 0 zero-fills (rows past m or n).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
                 "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void mma_s8(int32_t (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// 4 int4 codes per nibble lane -> 4 int8: (v ^ 8) + 120 = v + 128 fits a byte with no carry, ^ 0x80 = v.
__device__ __forceinline__ uint32_t s4_to_s8(uint32_t nibbles) {
    return ((nibbles ^ 0x08080808u) + 0x78787878u) ^ 0x80808080u;
}

// Issues the copies of k-tile kt into shared-memory stage `st`.
template <bool W4>
__device__ __forceinline__ void load_tile(uint8_t* sa, uint8_t* sw, const int8_t* a, const uint8_t* w, int m,
                                          int n, int k, int row0, int col0, int kt) {
    const int tid = threadIdx.x;
    // A: 128 rows x 64 bytes = 512 chunks of 16 bytes, 2 per thread.
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        int c = tid + i * THREADS, r = c >> 2, off = (c & 3) * 16;
        int gr = row0 + r;
        const int8_t* src = a + size_t(gr < m ? gr : 0) * k + size_t(kt) * BK + off;
        cp_async16(sa + r * PITCH_A + off, src, gr < m ? 16 : 0);
    }
    if constexpr (W4) {
        // 128 rows x 32 bytes = 256 chunks, 1 per thread.
        int r = tid >> 1, off = (tid & 1) * 16, gr = col0 + r;
        const uint8_t* src = w + size_t(gr < n ? gr : 0) * (k / 2) + size_t(kt) * (BK / 2) + off;
        cp_async16(sw + r * PITCH_W4 + off, src, gr < n ? 16 : 0);
    } else {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            int c = tid + i * THREADS, r = c >> 2, off = (c & 3) * 16;
            int gr = col0 + r;
            const uint8_t* src = w + size_t(gr < n ? gr : 0) * k + size_t(kt) * BK + off;
            cp_async16(sw + r * PITCH_W8 + off, src, gr < n ? 16 : 0);
        }
    }
}

template <bool W4, bool DEQUANT>
__global__ void __launch_bounds__(THREADS, 2)
    mma_gemm_kernel(const int8_t* __restrict__ a, const uint8_t* __restrict__ w, const float* __restrict__ scale_a,
                    const float* __restrict__ scale_w, int32_t* __restrict__ acc_out,
                    __nv_bfloat16* __restrict__ y, int m, int n, int k) {
    extern __shared__ __align__(16) uint8_t smem[];
    constexpr int PITCH_W = W4 ? PITCH_W4 : PITCH_W8;
    uint8_t* sa_base = smem;
    uint8_t* sw_base = smem + STAGES * BM * PITCH_A;

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int warp_m = warp >> 2, warp_n = warp & 3;  // 2 x 4 warps, 64 x 32 each
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    const int ktiles = k / BK;

    int32_t acc[4][4][4] = {};

#pragma unroll
    for (int st = 0; st < STAGES - 1; ++st) {
        if (st < ktiles)
            load_tile<W4>(sa_base + st * BM * PITCH_A, sw_base + st * BN * PITCH_W, a, w, m, n, k, row0, col0, st);
        cp_async_commit();
    }

    for (int kt = 0; kt < ktiles; ++kt) {
        cp_async_wait<STAGES - 2>();  // tile kt has landed (this thread's copies) ...
        __syncthreads();              // ... everyone's, and stage (kt-1) % STAGES is free to overwrite
        int next = kt + STAGES - 1;
        if (next < ktiles) {
            int st = next % STAGES;
            load_tile<W4>(sa_base + st * BM * PITCH_A, sw_base + st * BN * PITCH_W, a, w, m, n, k, row0, col0,
                          next);
        }
        cp_async_commit();

        const int st = kt % STAGES;
        const uint8_t* sa = sa_base + st * BM * PITCH_A + (warp_m * 64 + g) * PITCH_A;
        const uint8_t* sw = sw_base + st * BN * PITCH_W + (warp_n * 32 + g) * PITCH_W;
#pragma unroll
        for (int ks = 0; ks < BK / 32; ++ks) {
            uint32_t af[4][4], bf[4][2];
#pragma unroll
            for (int mi = 0; mi < 4; ++mi) {
                uint2 lo = *reinterpret_cast<const uint2*>(sa + (mi * 16) * PITCH_A + ks * 32 + 8 * t);
                uint2 hi = *reinterpret_cast<const uint2*>(sa + (mi * 16 + 8) * PITCH_A + ks * 32 + 8 * t);
                af[mi][0] = lo.x;
                af[mi][1] = hi.x;
                af[mi][2] = lo.y;
                af[mi][3] = hi.y;
            }
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) {
                if constexpr (W4) {
                    uint32_t p = *reinterpret_cast<const uint32_t*>(sw + (ni * 8) * PITCH_W + ks * 16 + 4 * t);
                    bf[ni][0] = s4_to_s8(p & 0x0f0f0f0fu);
                    bf[ni][1] = s4_to_s8((p >> 4) & 0x0f0f0f0fu);
                } else {
                    uint2 v = *reinterpret_cast<const uint2*>(sw + (ni * 8) * PITCH_W + ks * 32 + 8 * t);
                    bf[ni][0] = v.x;
                    bf[ni][1] = v.y;
                }
            }
#pragma unroll
            for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) mma_s8(acc[mi][ni], af[mi], bf[ni]);
        }
    }

    // Accumulator fragment: c0, c1 at (row g, cols 2t, 2t+1), c2, c3 at row g + 8. n % 8 == 0, so a pair
    // is either wholly inside n or wholly outside.
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            int row = row0 + warp_m * 64 + mi * 16 + g + half * 8;
            if (row >= m) continue;
            float sa_row = DEQUANT ? scale_a[row] : 0.0f;
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) {
                int col = col0 + warp_n * 32 + ni * 8 + 2 * t;
                if (col >= n) continue;
                int32_t v0 = acc[mi][ni][2 * half], v1 = acc[mi][ni][2 * half + 1];
                if constexpr (DEQUANT) {
                    // Same rounding sequence as dequant_bf16_one: scale product, product, bf16.
                    float2 f;
                    f.x = __fmul_rn(__fmul_rn(sa_row, scale_w[col]), __int2float_rn(v0));
                    f.y = __fmul_rn(__fmul_rn(sa_row, scale_w[col + 1]), __int2float_rn(v1));
                    *reinterpret_cast<__nv_bfloat162*>(y + size_t(row) * n + col) = __float22bfloat162_rn(f);
                } else {
                    *reinterpret_cast<int2*>(acc_out + size_t(row) * n + col) = make_int2(v0, v1);
                }
            }
        }
}

__global__ void dequant_kernel(const int32_t* __restrict__ acc, const float* __restrict__ scale_a,
                               const float* __restrict__ scale_w, __nv_bfloat16* __restrict__ y, int m, int n) {
    size_t pairs = size_t(m) * n / 2;
    for (size_t p = blockIdx.x * size_t(blockDim.x) + threadIdx.x; p < pairs; p += size_t(gridDim.x) * blockDim.x) {
        size_t i = 2 * p;
        int row = int(i / n), col = int(i % n);
        int2 v = *reinterpret_cast<const int2*>(acc + i);
        float sa = scale_a[row];
        float2 f;
        f.x = __fmul_rn(__fmul_rn(sa, scale_w[col]), __int2float_rn(v.x));
        f.y = __fmul_rn(__fmul_rn(sa, scale_w[col + 1]), __int2float_rn(v.y));
        *reinterpret_cast<__nv_bfloat162*>(y + i) = __float22bfloat162_rn(f);
    }
}

template <bool W4, bool DEQUANT>
void launch(const int8_t* a, const void* w, const float* scale_a, const float* scale_w, int32_t* acc,
            uint16_t* y, int m, int n, int k, Stream s) {
    auto kernel = mma_gemm_kernel<W4, DEQUANT>;
    constexpr int smem = smem_bytes<W4>();
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem),
          "cudaFuncSetAttribute(mma_gemm_kernel)");
    dim3 grid((n + BN - 1) / BN, (m + BM - 1) / BM);
    kernel<<<grid, THREADS, smem, s>>>(a, static_cast<const uint8_t*>(w), scale_a, scale_w, acc,
                                       reinterpret_cast<__nv_bfloat16*>(y), m, n, k);
    check_launch("mma_gemm_kernel");
}

}  // namespace

void launch_mma_gemm(const int8_t* a, const void* w, bool w4, const float* scale_a, const float* scale_w,
                     int32_t* acc, uint16_t* y, int m, int n, int k, Stream s) {
    if (w4)
        y ? launch<true, true>(a, w, scale_a, scale_w, acc, y, m, n, k, s)
          : launch<true, false>(a, w, scale_a, scale_w, acc, y, m, n, k, s);
    else
        y ? launch<false, true>(a, w, scale_a, scale_w, acc, y, m, n, k, s)
          : launch<false, false>(a, w, scale_a, scale_w, acc, y, m, n, k, s);
}

void launch_dequant(const int32_t* acc, const float* scale_a, const float* scale_w, uint16_t* y, int m, int n,
                    Stream s) {
    size_t pairs = size_t(m) * n / 2;
    unsigned blocks = unsigned(pairs / 256 + 1 < 132 * 16 ? pairs / 256 + 1 : 132 * 16);
    dequant_kernel<<<blocks, 256, 0, s>>>(acc, scale_a, scale_w, reinterpret_cast<__nv_bfloat16*>(y), m, n);
    check_launch("dequant_kernel");
}

}  // namespace tameq::cuda::detail
