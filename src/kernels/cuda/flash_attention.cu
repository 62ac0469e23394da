// flash_attention.h: FlashAttention-2's schedule with mma.sync.m16n8k16 (bf16 in, fp32 accumulate).
//
// A block of 4 warps owns 64 query rows of one head; each warp owns 16 of them and keeps their q fragments,
// their output rows (16 x hd in fp32) and their running max and sum in registers for the whole key loop. Per
// tile of 64 keys the block converts K (row-major) and V (transposed, so that the second product's B fragment
// is two contiguous bf16 along the keys) from the fp32 cache into shared memory; each warp then forms its
// 16 x 64 scores S = q·Kᵀ, masks the future, rescales its running output by exp(m_old − m_new), and adds
// P·V with P taken straight from the score registers: the C fragments of two adjacent 8-key tiles are the
// A fragment of one 16-key step, so P never goes through shared memory. Tiles wholly in a warp's future are
// skipped; the block stops at the last key its last row sees.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/flash_attention.h"

namespace tameq::cuda {

namespace {

constexpr int FA_WARPS = 4, FA_ROWS = 16 * FA_WARPS, FA_KEYS = 64;

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (the lower column) in the low half
    return *reinterpret_cast<const uint32_t*>(&v);
}

// d += a·b for one 16x8x16 tile. Fragments (PTX ISA, mma.m16n8k16 .bf16), g = lane/4, t = lane%4:
// a0 = A[g][2t..2t+1], a1 = A[g+8][2t..], a2 = A[g][2t+8..], a3 = A[g+8][2t+8..];
// b0 = B[2t..2t+1][g], b1 = B[2t+8..2t+9][g]; d0,d1 = D[g][2t..2t+1], d2,d3 = D[g+8][2t..2t+1].
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t load_pair(const __nv_bfloat16* p) { return *reinterpret_cast<const uint32_t*>(p); }

// Max and sum over the 4 threads (t = 0..3) that hold one row's columns.
__device__ __forceinline__ float quad_max(float v) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

template <int HD>
__global__ void __launch_bounds__(FA_WARPS * 32)
    flash_attention_kernel(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
                           int n, int pos0, int n_heads, int n_kv_heads, float scale_log2, float* __restrict__ out) {
    // +8 bf16 per row: 4 words, so the 8 rows a fragment load touches start on 8 different bank quads.
    constexpr int K_STRIDE = HD + 8, V_STRIDE = FA_KEYS + 8;
    __shared__ __align__(16) __nv_bfloat16 sk[FA_KEYS * K_STRIDE];   // [key][dim]
    __shared__ __align__(16) __nv_bfloat16 svt[HD * V_STRIDE];       // [dim][key]
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int h = blockIdx.y, kvh = h / (n_heads / n_kv_heads);
    const size_t q_stride = size_t(n_heads) * HD, kv_stride = size_t(n_kv_heads) * HD;
    const int block_row0 = int(blockIdx.x) * FA_ROWS, warp_row0 = block_row0 + warp * 16;
    const int row_a = warp_row0 + g, row_b = row_a + 8;  // the two query rows this thread's fragments hold

    uint32_t qf[HD / 16][4];
    {
        const float* qa = q + size_t(row_a) * q_stride + size_t(h) * HD;
        const float* qb = q + size_t(row_b) * q_stride + size_t(h) * HD;
        const bool in_a = row_a < n, in_b = row_b < n;
#pragma unroll
        for (int kk = 0; kk < HD / 16; ++kk) {
            const int d = kk * 16 + 2 * t;
            const float2 a0 = in_a ? *reinterpret_cast<const float2*>(qa + d) : float2{0.f, 0.f};
            const float2 a1 = in_a ? *reinterpret_cast<const float2*>(qa + d + 8) : float2{0.f, 0.f};
            const float2 b0 = in_b ? *reinterpret_cast<const float2*>(qb + d) : float2{0.f, 0.f};
            const float2 b1 = in_b ? *reinterpret_cast<const float2*>(qb + d + 8) : float2{0.f, 0.f};
            qf[kk][0] = pack_bf16(a0.x, a0.y);
            qf[kk][1] = pack_bf16(b0.x, b0.y);
            qf[kk][2] = pack_bf16(a1.x, a1.y);
            qf[kk][3] = pack_bf16(b1.x, b1.y);
        }
    }
    float o[HD / 8][4];
#pragma unroll
    for (int i = 0; i < HD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.0f, l_b = 0.0f;  // running max (log2 units) and partial sum
    const int pos_a = pos0 + row_a, pos_b = pos0 + row_b;
    const int keys = pos0 + min(n, block_row0 + FA_ROWS);                       // keys the block's last row sees
    const int warp_keys = warp_row0 < n ? pos0 + min(n, warp_row0 + 16) : 0;   // and the warp's

    for (int t0 = 0; t0 < keys; t0 += FA_KEYS) {
        __syncthreads();  // every warp is done with the previous tile
        // K: consecutive threads take consecutive float4 of one key row (coalesced reads, 8-byte stores).
        for (int e = threadIdx.x; e < FA_KEYS * HD / 4; e += FA_WARPS * 32) {
            const int j = e / (HD / 4), d = (e % (HD / 4)) * 4, key = t0 + j;
            float4 x = {0.f, 0.f, 0.f, 0.f};
            if (key < keys) x = *reinterpret_cast<const float4*>(k + size_t(key) * kv_stride + size_t(kvh) * HD + d);
            uint2 packed;
            packed.x = pack_bf16(x.x, x.y);
            packed.y = pack_bf16(x.z, x.w);
            *reinterpret_cast<uint2*>(sk + j * K_STRIDE + d) = packed;
        }
        // V transposed: consecutive threads take consecutive keys of one 4-dim slice (conflict-free stores).
        for (int e = threadIdx.x; e < FA_KEYS * HD / 4; e += FA_WARPS * 32) {
            const int j = e % FA_KEYS, d = (e / FA_KEYS) * 4, key = t0 + j;
            float4 x = {0.f, 0.f, 0.f, 0.f};
            if (key < keys) x = *reinterpret_cast<const float4*>(v + size_t(key) * kv_stride + size_t(kvh) * HD + d);
            svt[(d + 0) * V_STRIDE + j] = __float2bfloat16_rn(x.x);
            svt[(d + 1) * V_STRIDE + j] = __float2bfloat16_rn(x.y);
            svt[(d + 2) * V_STRIDE + j] = __float2bfloat16_rn(x.z);
            svt[(d + 3) * V_STRIDE + j] = __float2bfloat16_rn(x.w);
        }
        __syncthreads();
        if (t0 >= warp_keys) continue;  // the whole tile lies in this warp's future

        float s[FA_KEYS / 8][4];
#pragma unroll
        for (int nt = 0; nt < FA_KEYS / 8; ++nt) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
            const __nv_bfloat16* krow = sk + (nt * 8 + g) * K_STRIDE + 2 * t;
#pragma unroll
            for (int kk = 0; kk < HD / 16; ++kk) mma_bf16(s[nt], qf[kk], load_pair(krow + kk * 16), load_pair(krow + kk * 16 + 8));
        }
        // Scale into log2 units, mask keys after each row's position (and the zero-filled keys past the end).
        float mx_a = -INFINITY, mx_b = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < FA_KEYS / 8; ++nt)
#pragma unroll
            for (int c = 0; c < 2; ++c) {
                const int key = t0 + nt * 8 + 2 * t + c;
                s[nt][c] = key <= pos_a ? s[nt][c] * scale_log2 : -INFINITY;
                s[nt][2 + c] = key <= pos_b ? s[nt][2 + c] * scale_log2 : -INFINITY;
                mx_a = fmaxf(mx_a, s[nt][c]);
                mx_b = fmaxf(mx_b, s[nt][2 + c]);
            }
        const float new_a = fmaxf(m_a, quad_max(mx_a)), new_b = fmaxf(m_b, quad_max(mx_b));
        // A row that has seen no key yet (only rows past n, whose output is never stored) keeps −inf: subtract 0
        // there so that exp2 gives 0 rather than NaN.
        const float sub_a = new_a == -INFINITY ? 0.0f : new_a, sub_b = new_b == -INFINITY ? 0.0f : new_b;
        const float corr_a = exp2f(m_a - sub_a), corr_b = exp2f(m_b - sub_b);
        m_a = new_a;
        m_b = new_b;
        float sum_a = 0.0f, sum_b = 0.0f;
#pragma unroll
        for (int nt = 0; nt < FA_KEYS / 8; ++nt) {
            s[nt][0] = exp2f(s[nt][0] - sub_a);
            s[nt][1] = exp2f(s[nt][1] - sub_a);
            s[nt][2] = exp2f(s[nt][2] - sub_b);
            s[nt][3] = exp2f(s[nt][3] - sub_b);
            sum_a += s[nt][0] + s[nt][1];
            sum_b += s[nt][2] + s[nt][3];
        }
        l_a = l_a * corr_a + sum_a;  // this thread's columns only: the 4 partial sums are added at the end
        l_b = l_b * corr_b + sum_b;
#pragma unroll
        for (int dt = 0; dt < HD / 8; ++dt) {
            o[dt][0] *= corr_a;
            o[dt][1] *= corr_a;
            o[dt][2] *= corr_b;
            o[dt][3] *= corr_b;
        }
#pragma unroll
        for (int ks = 0; ks < FA_KEYS / 16; ++ks) {
            const uint32_t p[4] = {pack_bf16(s[2 * ks][0], s[2 * ks][1]), pack_bf16(s[2 * ks][2], s[2 * ks][3]),
                                   pack_bf16(s[2 * ks + 1][0], s[2 * ks + 1][1]),
                                   pack_bf16(s[2 * ks + 1][2], s[2 * ks + 1][3])};
#pragma unroll
            for (int dt = 0; dt < HD / 8; ++dt) {
                const __nv_bfloat16* vrow = svt + (dt * 8 + g) * V_STRIDE + ks * 16 + 2 * t;
                mma_bf16(o[dt], p, load_pair(vrow), load_pair(vrow + 8));
            }
        }
    }
    const float inv_a = 1.0f / quad_sum(l_a), inv_b = 1.0f / quad_sum(l_b);
    float* out_a = out + size_t(row_a) * q_stride + size_t(h) * HD + 2 * t;
    float* out_b = out + size_t(row_b) * q_stride + size_t(h) * HD + 2 * t;
#pragma unroll
    for (int dt = 0; dt < HD / 8; ++dt) {
        if (row_a < n) *reinterpret_cast<float2*>(out_a + dt * 8) = float2{o[dt][0] * inv_a, o[dt][1] * inv_a};
        if (row_b < n) *reinterpret_cast<float2*>(out_b + dt * 8) = float2{o[dt][2] * inv_b, o[dt][3] * inv_b};
    }
}

}  // namespace

bool flash_attention_supports(int head_dim) { return head_dim == 64 || head_dim == 128; }

void flash_attention(const float* q, const float* k, const float* v, int n, int pos0, int n_heads, int n_kv_heads,
                     int head_dim, float* out, Stream s) {
    if (!flash_attention_supports(head_dim)) fail_shape("flash_attention", "head_dim must be 64 or 128");
    if (n < 0 || pos0 < 0 || n_kv_heads < 1 || n_heads % n_kv_heads != 0)
        fail_shape("flash_attention", "bad shape (n_heads must be a multiple of n_kv_heads)");
    if (n == 0) return;
    const dim3 grid(unsigned((n + FA_ROWS - 1) / FA_ROWS), unsigned(n_heads));
    const float scale_log2 = float(M_LOG2E / std::sqrt(double(head_dim)));  // exp(x/√d) = 2^(x·log2(e)/√d)
    if (head_dim == 64)
        flash_attention_kernel<64><<<grid, FA_WARPS * 32, 0, s>>>(q, k, v, n, pos0, n_heads, n_kv_heads, scale_log2, out);
    else
        flash_attention_kernel<128><<<grid, FA_WARPS * 32, 0, s>>>(q, k, v, n, pos0, n_heads, n_kv_heads, scale_log2, out);
    check_launch("flash_attention");
}

}  // namespace tameq::cuda
