// v2 of the integer GEMM (lab only): wgmma.mma_async m64n256k32 s8 (sm_90a). A block of 2 warpgroups
// computes a 128x256 tile (each warpgroup 64x256, 128 int32 accumulators per thread); both operands come
// from shared memory through matrix descriptors, loaded by a 4-stage cp.async pipeline. The epilogue is v1's
// (same rounding, bit-exact against the oracle). Two switches, timed against each other by the lab:
// - layout: no swizzle (8-row x 16-byte core matrices stored [row / 8][k chunk], so the core matrix next in K
//   is 128 bytes away (LBO) and the next 8 rows 1024 bytes (SBO)), or 128-byte swizzle (rows of BK = 128
//   bytes at a 128-byte pitch, 16-byte chunk c of row r stored at chunk c ^ (r % 8), SBO 1024 bytes);
// - in flight: drain the wgmma queue every k-tile, or keep one k-tile's group in flight (the loads then run
//   one stage less ahead, so the stage they overwrite is never the one still being read).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "v2_wgmma.h"

namespace {

using tameq::cuda::check;
using tameq::cuda::check_launch;

constexpr int BM = 128, BN = 256, BK = 128, STAGES = 4, THREADS = 256;
constexpr int CORE = 128;  // bytes in one 8 x 16-byte core matrix
constexpr int SBO = 1024;  // next 8 rows, in both layouts
constexpr int TILE_A = BM * BK, TILE_B = BN * BK;
constexpr int SMEM = STAGES * (TILE_A + TILE_B);

__device__ __forceinline__ uint32_t smem_addr(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}

// Byte offset of (row, 16-byte k chunk) in a tile: no swizzle stores [row / 8][chunk][row % 8][16 bytes],
// the 128-byte swizzle [row][chunk ^ (row % 8)][16 bytes] (the tile base is 1024-byte aligned, so the
// hardware's XOR of address bits 4-6 with bits 7-9 lands on the same chunks).
template <bool SWIZZLE>
__device__ __forceinline__ int core_offset(int row, int chunk) {
    if constexpr (SWIZZLE) return row * BK + ((chunk ^ (row & 7)) << 4);
    return ((row >> 3) * (BK / 16) + chunk) * CORE + (row & 7) * 16;
}

// Matrix descriptor: start address, LBO (unused by the swizzled K-major layout: 1 as CUTLASS sets it), SBO,
// layout type in bits 62-63 (0 none, 1 128-byte swizzle).
template <bool SWIZZLE>
__device__ __forceinline__ uint64_t desc(uint32_t addr) {
    return uint64_t((addr & 0x3ffff) >> 4) | (uint64_t(SWIZZLE ? 1 : CORE >> 4) << 16) |
           (uint64_t(SBO >> 4) << 32) | (uint64_t(SWIZZLE ? 1 : 0) << 62);
}

// Byte offset of the ks-th 32-deep k step within a tile row group: two core matrices in the no-swizzle
// layout, 32 bytes along the (swizzled) row otherwise.
template <bool SWIZZLE>
__device__ __forceinline__ constexpr int kstep_offset(int ks) {
    return SWIZZLE ? ks * 32 : ks * 2 * CORE;
}

// rows x BK bytes of a row-major [rows_total x k] matrix, from row r0 and column kt * BK; rows past
// rows_total are zero-filled. No swizzle: consecutive threads take consecutive rows of one chunk, so each
// group of 8 threads fills one 128-byte core matrix. Swizzle: each group of 8 threads reads one 128-byte row.
template <int ROWS, bool SWIZZLE>
__device__ __forceinline__ void load_tile(uint32_t dst, const int8_t* src, int rows_total, int k, int r0, int kt) {
#pragma unroll
    for (int i = 0; i < ROWS * BK / 16 / THREADS; ++i) {
        int id = threadIdx.x + i * THREADS;
        int row = SWIZZLE ? id >> 3 : (id & 7) + ((id >> 6) << 3), chunk = SWIZZLE ? id & 7 : (id >> 3) & 7;
        int gr = r0 + row;
        const int8_t* p = src + size_t(gr < rows_total ? gr : 0) * k + size_t(kt) * BK + chunk * 16;
        cp_async16(dst + core_offset<SWIZZLE>(row, chunk), p, gr < rows_total ? 16 : 0);
    }
}

// Generated operand list: the 128 accumulators of one m64n256 tile, scale-d = 1 (accumulate onto d).
__device__ __forceinline__ void wgmma_m64n256k32_s8(int32_t (&d)[128], uint64_t desc_a, uint64_t desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 "
        "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"
        "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"
        "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"
        "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,"
        "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,"
        "%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,"
        "%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,"
        "%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}, %128, %129, p;\n}\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]),
          "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]),
          "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]),
          "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]),
          "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]),
          "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]),
          "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]),
          "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63]),
          "+r"(d[64]), "+r"(d[65]), "+r"(d[66]), "+r"(d[67]), "+r"(d[68]), "+r"(d[69]), "+r"(d[70]), "+r"(d[71]),
          "+r"(d[72]), "+r"(d[73]), "+r"(d[74]), "+r"(d[75]), "+r"(d[76]), "+r"(d[77]), "+r"(d[78]), "+r"(d[79]),
          "+r"(d[80]), "+r"(d[81]), "+r"(d[82]), "+r"(d[83]), "+r"(d[84]), "+r"(d[85]), "+r"(d[86]), "+r"(d[87]),
          "+r"(d[88]), "+r"(d[89]), "+r"(d[90]), "+r"(d[91]), "+r"(d[92]), "+r"(d[93]), "+r"(d[94]), "+r"(d[95]),
          "+r"(d[96]), "+r"(d[97]), "+r"(d[98]), "+r"(d[99]), "+r"(d[100]), "+r"(d[101]), "+r"(d[102]), "+r"(d[103]),
          "+r"(d[104]), "+r"(d[105]), "+r"(d[106]), "+r"(d[107]), "+r"(d[108]), "+r"(d[109]), "+r"(d[110]), "+r"(d[111]),
          "+r"(d[112]), "+r"(d[113]), "+r"(d[114]), "+r"(d[115]), "+r"(d[116]), "+r"(d[117]), "+r"(d[118]), "+r"(d[119]),
          "+r"(d[120]), "+r"(d[121]), "+r"(d[122]), "+r"(d[123]), "+r"(d[124]), "+r"(d[125]), "+r"(d[126]), "+r"(d[127])
        : "l"(desc_a), "l"(desc_b), "r"(1));
}

template <bool DEQUANT, bool SWIZZLE, bool INFLIGHT>
__global__ void __launch_bounds__(THREADS, 1)
    wgmma_gemm_kernel(const int8_t* __restrict__ a, const int8_t* __restrict__ w, const float* __restrict__ scale_a,
                      const float* __restrict__ scale_w, int32_t* __restrict__ acc_out,
                      __nv_bfloat16* __restrict__ y, int m, int n, int k) {
    // Loads run AHEAD k-tiles ahead; with a group in flight, stage (kt - 1) % STAGES may still be read.
    constexpr int AHEAD = INFLIGHT ? STAGES - 2 : STAGES - 1;
    extern __shared__ __align__(1024) uint8_t smem[];
    const uint32_t sa0 = smem_addr(smem), sb0 = sa0 + STAGES * TILE_A;
    const int wg = threadIdx.x >> 7, lane = threadIdx.x & 31, warp = (threadIdx.x >> 5) & 3;
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN, ktiles = k / BK;

    int32_t d[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) d[i] = 0;

#pragma unroll
    for (int st = 0; st < AHEAD; ++st) {
        if (st < ktiles) {
            load_tile<BM, SWIZZLE>(sa0 + st * TILE_A, a, m, k, row0, st);
            load_tile<BN, SWIZZLE>(sb0 + st * TILE_B, w, n, k, col0, st);
        }
        asm volatile("cp.async.commit_group;\n" ::);
    }
    for (int kt = 0; kt < ktiles; ++kt) {
        asm volatile("cp.async.wait_group %0;\n" ::"n"(AHEAD - 1));
        // cp.async wrote through the generic proxy; wgmma reads through the async proxy.
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();
        int next = kt + AHEAD;
        if (next < ktiles) {
            load_tile<BM, SWIZZLE>(sa0 + (next % STAGES) * TILE_A, a, m, k, row0, next);
            load_tile<BN, SWIZZLE>(sb0 + (next % STAGES) * TILE_B, w, n, k, col0, next);
        }
        asm volatile("cp.async.commit_group;\n" ::);

        const int st = kt % STAGES;
        const uint32_t sa = sa0 + st * TILE_A + wg * 8 * SBO, sb = sb0 + st * TILE_B;
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
        for (int ks = 0; ks < BK / 32; ++ks)
            wgmma_m64n256k32_s8(d, desc<SWIZZLE>(sa + kstep_offset<SWIZZLE>(ks)),
                                desc<SWIZZLE>(sb + kstep_offset<SWIZZLE>(ks)));
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        // Before the next iteration's barrier lets a stage be overwritten, the group that read it is done.
        if constexpr (INFLIGHT)
            asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
        else
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    }
    if constexpr (INFLIGHT) asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    // Keep the compiler from reading the accumulators before the last wait.
#pragma unroll
    for (int i = 0; i < 128; ++i) asm volatile("" : "+r"(d[i])::"memory");

    // Accumulators: d[4j + {0,1}] at (row 16*warp + g, cols 8j + 2t + {0,1}), d[4j + {2,3}] at row + 8.
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        int row = row0 + wg * 64 + warp * 16 + g + half * 8;
        if (row >= m) continue;
        float sa_row = DEQUANT ? scale_a[row] : 0.0f;
#pragma unroll
        for (int j = 0; j < BN / 8; ++j) {
            int col = col0 + 8 * j + 2 * t;
            if (col >= n) continue;
            int32_t v0 = d[4 * j + 2 * half], v1 = d[4 * j + 2 * half + 1];
            if constexpr (DEQUANT) {
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

template <bool DEQUANT, bool SWIZZLE, bool INFLIGHT>
void launch(const int8_t* a, const int8_t* w, const float* scale_a, const float* scale_w, int32_t* acc, uint16_t* y,
            int m, int n, int k, tameq::cuda::Stream s) {
    auto kernel = wgmma_gemm_kernel<DEQUANT, SWIZZLE, INFLIGHT>;
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM),
          "cudaFuncSetAttribute(wgmma_gemm_kernel)");
    dim3 grid((n + BN - 1) / BN, (m + BM - 1) / BM);
    kernel<<<grid, THREADS, SMEM, s>>>(a, w, scale_a, scale_w, acc, reinterpret_cast<__nv_bfloat16*>(y), m, n, k);
    check_launch("wgmma_gemm_kernel");
}

template <bool DEQUANT>
void dispatch(LabWgmma v, const int8_t* a, const int8_t* w, const float* scale_a, const float* scale_w, int32_t* acc,
              uint16_t* y, int m, int n, int k, tameq::cuda::Stream s) {
    if (v.swizzle)
        v.inflight ? launch<DEQUANT, true, true>(a, w, scale_a, scale_w, acc, y, m, n, k, s)
                   : launch<DEQUANT, true, false>(a, w, scale_a, scale_w, acc, y, m, n, k, s);
    else
        v.inflight ? launch<DEQUANT, false, true>(a, w, scale_a, scale_w, acc, y, m, n, k, s)
                   : launch<DEQUANT, false, false>(a, w, scale_a, scale_w, acc, y, m, n, k, s);
}

}  // namespace

bool lab_wgmma_supports(int n, int k) { return k % BK == 0 && n % 8 == 0; }

void lab_wgmma_s8_s32(LabWgmma v, const int8_t* a, const int8_t* w, int32_t* acc, int m, int n, int k,
                      tameq::cuda::Stream s) {
    dispatch<false>(v, a, w, nullptr, nullptr, acc, nullptr, m, n, k, s);
}

void lab_wgmma_w8a8_bf16(LabWgmma v, const int8_t* a, const int8_t* w, const float* scale_a, const float* scale_w,
                         uint16_t* y, int m, int n, int k, tameq::cuda::Stream s) {
    dispatch<true>(v, a, w, scale_a, scale_w, nullptr, y, m, n, k, s);
}
