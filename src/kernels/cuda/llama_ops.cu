// The CUDA engine's row-wise kernels (llama_ops.h). Simple first: one block per row for the norms and the
// quantizers (three passes over the row in registers and L1 instead of a shared-memory copy, so any width
// fits), one thread per element for the elementwise ops, and a key-tiled attention with an online softmax.
// Where the CPU oracle's rounding is to be matched bit for bit (norms, codes, epilogue), the arithmetic is
// written with the _rn intrinsics so that nvcc cannot contract a multiply and an add into one FMA.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cmath>

#include "kernels/cuda/llama_ops.h"

namespace tameq::cuda {

namespace {

constexpr int ROW_THREADS = 256;

__device__ __forceinline__ uint16_t bf16_bits(float v) { return __bfloat16_as_ushort(__float2bfloat16_rn(v)); }

// Block-wide reductions over ROW_THREADS threads; every thread gets the result.
__device__ double block_sum(double v) {
    __shared__ double part[ROW_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();  // part[] may still be read by a previous reduction
    if (lane == 0) part[warp] = v;
    __syncthreads();
    double t = 0.0;
    for (int i = 0; i < ROW_THREADS / 32; ++i) t += part[i];
    return t;
}

__device__ void block_min_max(float& lo, float& hi) {
    __shared__ float plo[ROW_THREADS / 32], phi[ROW_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1) {
        lo = fminf(lo, __shfl_xor_sync(0xffffffffu, lo, o));
        hi = fmaxf(hi, __shfl_xor_sync(0xffffffffu, hi, o));
    }
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();
    if (lane == 0) {
        plo[warp] = lo;
        phi[warp] = hi;
    }
    __syncthreads();
    lo = 0.0f;  // the range always holds 0 (numerics/quantizer.cpp clipped_range)
    hi = 0.0f;
    for (int i = 0; i < ROW_THREADS / 32; ++i) {
        lo = fminf(lo, plo[i]);
        hi = fmaxf(hi, phi[i]);
    }
}

// The grid of a row (numerics/quantizer.cpp grid_for with clip 1, and its all-zero fallback).
struct Grid {
    float scale, zero;
    int qmin, qmax, shift;
};

__device__ Grid row_grid(float lo, float hi, int bits, bool symmetric) {
    Grid g;
    g.qmin = symmetric ? -(1 << (bits - 1)) : 0;
    g.qmax = symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    g.shift = symmetric ? 128 : 0;
    if (__fsub_rn(hi, lo) < 1e-30f) {
        if (symmetric) {
            g.scale = 1.0f;
            g.zero = 0.0f;
            return g;
        }
        lo = -1.0f;
        hi = 1.0f;
    }
    if (symmetric) {
        g.scale = __fdiv_rn(fmaxf(-lo, hi), float(g.qmax));
        g.zero = 0.0f;
    } else {
        g.scale = __fdiv_rn(__fsub_rn(hi, lo), float(g.qmax));
        g.zero = rintf(__fdiv_rn(-lo, g.scale));
    }
    return g;
}

// u8 code − 128 of one value (quantize_code: rint(x / scale) + zero, clamped, + shift).
__device__ __forceinline__ int8_t code_of(float x, const Grid& g) {
    float q = __fadd_rn(rintf(__fdiv_rn(x, g.scale)), g.zero);
    q = fminf(fmaxf(q, float(g.qmin)), float(g.qmax));
    return int8_t(int(q) + g.shift - 128);
}

__device__ __forceinline__ void store_grid(const ActCodes& out, int row, const Grid& g, bool symmetric) {
    if (threadIdx.x == 0) {
        out.scale[row] = g.scale;
        out.zero[row] = symmetric ? 128 : int32_t(g.zero);
    }
}

// Per-row value producers for the three-pass quantizers: the value at column j of row i, recomputed each pass.
struct NormRow {
    const float *x, *w, *b;
    float inv;
    __device__ float operator()(int j) const {
        float v = __fmul_rn(__fmul_rn(x[j], inv), w[j]);
        return b ? __fadd_rn(v, b[j]) : v;
    }
};

struct PlainRow {
    const float* x;
    __device__ float operator()(int j) const { return x[j]; }
};

__device__ __forceinline__ float silu_mul_one(float g, float u) {
    return __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
}

struct SiluRow {
    const float *g, *u;
    __device__ float operator()(int j) const { return silu_mul_one(g[j], u[j]); }
};

template <class Row>
__device__ void quantize_row(const Row& row, int i, int dim, const ActCodes& out) {
    float lo = 0.0f, hi = 0.0f;
    for (int j = threadIdx.x; j < dim; j += ROW_THREADS) {
        const float v = row(j);
        lo = fminf(lo, v);
        hi = fmaxf(hi, v);
    }
    block_min_max(lo, hi);
    const Grid g = row_grid(lo, hi, out.bits, out.symmetric);
    int8_t* dst = out.codes + size_t(i) * dim;
    for (int j = threadIdx.x; j < dim; j += ROW_THREADS) dst[j] = code_of(row(j), g);
    store_grid(out, i, g, out.symmetric);
}

__device__ float rms_inv(const float* x, int dim, float eps) {
    double ss = 0.0;
    for (int j = threadIdx.x; j < dim; j += ROW_THREADS) ss += double(x[j]) * double(x[j]);
    ss = block_sum(ss);
    return __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(float(ss / dim), eps)));
}

__global__ void embed_kernel(const float* table, const int* tokens, int n, int dim, float* x) {
    const size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx >= size_t(n) * dim) return;
    const size_t i = idx / dim, j = idx % dim;
    x[idx] = table[size_t(tokens[i]) * dim + j];
}

__global__ void rms_norm_bf16_kernel(const float* x, const float* w, const float* b, int dim, float eps,
                                     uint16_t* out) {
    const int i = blockIdx.x;
    const NormRow row{x + size_t(i) * dim, w, b, rms_inv(x + size_t(i) * dim, dim, eps)};
    for (int j = threadIdx.x; j < dim; j += ROW_THREADS) out[size_t(i) * dim + j] = bf16_bits(row(j));
}

__global__ void rms_norm_codes_kernel(const float* x, const float* w, const float* b, int dim, float eps,
                                      ActCodes out) {
    const int i = blockIdx.x;
    const NormRow row{x + size_t(i) * dim, w, b, rms_inv(x + size_t(i) * dim, dim, eps)};
    quantize_row(row, i, dim, out);
}

__global__ void quantize_rows_kernel(const float* x, int dim, ActCodes out) {
    const int i = blockIdx.x;
    quantize_row(PlainRow{x + size_t(i) * dim}, i, dim, out);
}

__global__ void silu_mul_codes_kernel(const float* g, const float* u, int dim, ActCodes out) {
    const int i = blockIdx.x;
    quantize_row(SiluRow{g + size_t(i) * dim, u + size_t(i) * dim}, i, dim, out);
}

__global__ void to_bf16_kernel(const float* x, size_t count, uint16_t* out) {
    const size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx < count) out[idx] = bf16_bits(x[idx]);
}

__global__ void silu_mul_bf16_kernel(const float* g, const float* u, size_t count, uint16_t* out) {
    const size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx < count) out[idx] = bf16_bits(silu_mul_one(g[idx], u[idx]));
}

__global__ void rope_kernel(float* x, int n, int n_heads, int head_dim, int pos0, const float* cos_t,
                            const float* sin_t) {
    const int half = head_dim / 2;
    const size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx >= size_t(n) * n_heads * half) return;
    const int i = int(idx % half);
    const size_t th = idx / half;  // token * n_heads + head
    const int t = int(th / n_heads);
    float* v = x + th * head_dim;
    const float c = cos_t[size_t(pos0 + t) * half + i], s = sin_t[size_t(pos0 + t) * half + i];
    const float a = v[i], b = v[i + half];
    v[i] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
    v[i + half] = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
}

__global__ void add_rows_kernel(float* x, const float* y, size_t count) {
    const size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx < count) x[idx] += y[idx];
}

__global__ void add_bias_kernel(float* y, const float* bias, int n, int dim) {
    const size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx < size_t(n) * dim) y[idx] += bias[idx % dim];
}

__global__ void dequant_codes_kernel(const int32_t* acc, const float* scale_a, const int32_t* zero_a,
                                     const float* scale_w, const int32_t* rowsum_w, const float* bias, int m, int n,
                                     float* y) {
    const size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx >= size_t(m) * n) return;
    const int i = int(idx / n), j = int(idx % n);
    const int32_t a = acc[idx] + (128 - zero_a[i]) * rowsum_w[j];
    y[idx] = __fmaf_rn(__fmul_rn(scale_a[i], scale_w[j]), float(a), bias ? bias[j] : 0.0f);
}

// Causal GQA attention. A block holds ATT_WARPS consecutive queries of one head, one warp each; the keys
// pass through shared memory in tiles of 32 (lane j scores key j of the tile), and each lane accumulates the
// output dims lane, lane + 32, ... (NPL of them) with an online softmax in fp32.
constexpr int ATT_WARPS = 8, KEY_TILE = 32;

template <int NPL>
__global__ void __launch_bounds__(ATT_WARPS * 32)
    attention_kernel(const float* q, const float* k, const float* v, int n, int pos0, int n_heads, int n_kv_heads,
                     float scale, float* out) {
    constexpr int HD = NPL * 32;
    __shared__ float sk[KEY_TILE][HD + 1];  // +1: lanes reading one column of 32 rows hit 32 banks
    __shared__ float sv[KEY_TILE][HD];
    __shared__ float sq[ATT_WARPS][HD];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int h = blockIdx.y, kvh = h / (n_heads / n_kv_heads);
    const int qi = blockIdx.x * ATT_WARPS + warp;  // query row
    const int q_stride = n_heads * HD, kv_stride = n_kv_heads * HD;
    const bool active = qi < n;
    if (active)
        for (int d = lane; d < HD; d += 32) sq[warp][d] = q[size_t(qi) * q_stride + h * HD + d];
    const int last_q = min(n - 1, int(blockIdx.x) * ATT_WARPS + ATT_WARPS - 1);
    const int keys = pos0 + last_q + 1;  // keys some query of the block sees
    const int my_end = pos0 + qi + 1;    // one past this query's own key
    float m = -FLT_MAX, l = 0.0f, acc[NPL];
#pragma unroll
    for (int r = 0; r < NPL; ++r) acc[r] = 0.0f;
    for (int t0 = 0; t0 < keys; t0 += KEY_TILE) {
        __syncthreads();  // the previous tile is consumed (and sq written, the first time)
        for (int e = threadIdx.x; e < KEY_TILE * HD; e += ATT_WARPS * 32) {
            const int j = e / HD, d = e % HD, key = t0 + j;
            const bool in = key < keys;
            sk[j][d] = in ? k[size_t(key) * kv_stride + kvh * HD + d] : 0.0f;
            sv[j][d] = in ? v[size_t(key) * kv_stride + kvh * HD + d] : 0.0f;
        }
        __syncthreads();
        if (!active) continue;
        const int key = t0 + lane;
        float sc = -FLT_MAX;
        const bool visible = key < my_end;
        if (visible) {
            float dot = 0.0f;
#pragma unroll 8
            for (int d = 0; d < HD; ++d) dot = fmaf(sq[warp][d], sk[lane][d], dot);
            sc = dot * scale;
        }
        float tmax = sc;
        for (int o = 16; o > 0; o >>= 1) tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, o));
        if (tmax == -FLT_MAX) continue;  // the whole tile is in this query's future
        const float m_new = fmaxf(m, tmax);
        const float corr = expf(m - m_new);
        const float p = visible ? expf(sc - m_new) : 0.0f;
        float psum = p;
        for (int o = 16; o > 0; o >>= 1) psum += __shfl_xor_sync(0xffffffffu, psum, o);
        l = l * corr + psum;
        m = m_new;
#pragma unroll
        for (int r = 0; r < NPL; ++r) acc[r] *= corr;
        for (int j = 0; j < KEY_TILE; ++j) {
            const float pj = __shfl_sync(0xffffffffu, p, j);
#pragma unroll
            for (int r = 0; r < NPL; ++r) acc[r] = fmaf(pj, sv[j][lane + 32 * r], acc[r]);
        }
    }
    if (!active) return;
    const float inv = 1.0f / l;
#pragma unroll
    for (int r = 0; r < NPL; ++r) out[size_t(qi) * q_stride + h * HD + lane + 32 * r] = acc[r] * inv;
}

unsigned blocks_for(size_t count, int threads = 256) { return unsigned((count + threads - 1) / threads); }

void check_rows(const char* where, int n, int dim) {
    if (n < 0 || dim < 1) fail_shape(where, "bad row shape");
}

}  // namespace

void embed_rows(const float* table, const int* tokens, int n, int dim, float* x, Stream s) {
    check_rows("embed_rows", n, dim);
    if (n == 0) return;
    embed_kernel<<<blocks_for(size_t(n) * dim), 256, 0, s>>>(table, tokens, n, dim, x);
    check_launch("embed_rows");
}

void rms_norm_bf16(const float* x, const float* w, const float* b, int n, int dim, float eps, uint16_t* out,
                   Stream s) {
    check_rows("rms_norm_bf16", n, dim);
    if (n == 0) return;
    rms_norm_bf16_kernel<<<n, ROW_THREADS, 0, s>>>(x, w, b, dim, eps, out);
    check_launch("rms_norm_bf16");
}

void rms_norm_codes(const float* x, const float* w, const float* b, int n, int dim, float eps, const ActCodes& out,
                    Stream s) {
    check_rows("rms_norm_codes", n, dim);
    if (out.bits < 2 || out.bits > 8) fail_shape("rms_norm_codes", "bits must be in 2..8");
    if (n == 0) return;
    rms_norm_codes_kernel<<<n, ROW_THREADS, 0, s>>>(x, w, b, dim, eps, out);
    check_launch("rms_norm_codes");
}

void quantize_rows(const float* x, int n, int dim, const ActCodes& out, Stream s) {
    check_rows("quantize_rows", n, dim);
    if (out.bits < 2 || out.bits > 8) fail_shape("quantize_rows", "bits must be in 2..8");
    if (n == 0) return;
    quantize_rows_kernel<<<n, ROW_THREADS, 0, s>>>(x, dim, out);
    check_launch("quantize_rows");
}

void to_bf16(const float* x, size_t count, uint16_t* out, Stream s) {
    if (count == 0) return;
    to_bf16_kernel<<<blocks_for(count), 256, 0, s>>>(x, count, out);
    check_launch("to_bf16");
}

void silu_mul_bf16(const float* gate, const float* up, size_t count, uint16_t* out, Stream s) {
    if (count == 0) return;
    silu_mul_bf16_kernel<<<blocks_for(count), 256, 0, s>>>(gate, up, count, out);
    check_launch("silu_mul_bf16");
}

void silu_mul_codes(const float* gate, const float* up, int n, int dim, const ActCodes& out, Stream s) {
    check_rows("silu_mul_codes", n, dim);
    if (out.bits < 2 || out.bits > 8) fail_shape("silu_mul_codes", "bits must be in 2..8");
    if (n == 0) return;
    silu_mul_codes_kernel<<<n, ROW_THREADS, 0, s>>>(gate, up, dim, out);
    check_launch("silu_mul_codes");
}

void rope_rows(float* x, int n, int n_heads, int head_dim, int pos0, const float* cos, const float* sin, Stream s) {
    if (n < 0 || n_heads < 1 || head_dim < 2 || head_dim % 2 != 0 || pos0 < 0) fail_shape("rope_rows", "bad shape");
    const size_t count = size_t(n) * n_heads * (head_dim / 2);
    if (count == 0) return;
    rope_kernel<<<blocks_for(count), 256, 0, s>>>(x, n, n_heads, head_dim, pos0, cos, sin);
    check_launch("rope_rows");
}

void causal_attention(const float* q, const float* k, const float* v, int n, int pos0, int n_heads, int n_kv_heads,
                      int head_dim, float* out, Stream s) {
    if (head_dim % 32 != 0 || head_dim < 32 || head_dim > kMaxAttentionHeadDim)
        fail_shape("causal_attention", "head_dim must be a multiple of 32 up to 160");
    if (n < 0 || pos0 < 0 || n_kv_heads < 1 || n_heads % n_kv_heads != 0)
        fail_shape("causal_attention", "bad shape (n_heads must be a multiple of n_kv_heads)");
    if (n == 0) return;
    const dim3 grid(unsigned((n + ATT_WARPS - 1) / ATT_WARPS), unsigned(n_heads));
    const float scale = 1.0f / sqrtf(float(head_dim));
    switch (head_dim / 32) {
#define TAMEQ_ATT_CASE(NPL)                                                                                       \
    case NPL:                                                                                                     \
        attention_kernel<NPL><<<grid, ATT_WARPS * 32, 0, s>>>(q, k, v, n, pos0, n_heads, n_kv_heads, scale, out); \
        break;
        TAMEQ_ATT_CASE(1)
        TAMEQ_ATT_CASE(2)
        TAMEQ_ATT_CASE(3)
        TAMEQ_ATT_CASE(4)
        TAMEQ_ATT_CASE(5)
#undef TAMEQ_ATT_CASE
    }
    check_launch("causal_attention");
}

void add_rows(float* x, const float* y, size_t count, Stream s) {
    if (count == 0) return;
    add_rows_kernel<<<blocks_for(count), 256, 0, s>>>(x, y, count);
    check_launch("add_rows");
}

void add_bias(float* y, const float* bias, int n, int dim, Stream s) {
    check_rows("add_bias", n, dim);
    if (n == 0) return;
    add_bias_kernel<<<blocks_for(size_t(n) * dim), 256, 0, s>>>(y, bias, n, dim);
    check_launch("add_bias");
}

void dequant_codes_f32(const int32_t* acc, const float* scale_a, const int32_t* zero_a, const float* scale_w,
                       const int32_t* rowsum_w, const float* bias, int m, int n, float* y, Stream s) {
    if (m < 0 || n < 1) fail_shape("dequant_codes_f32", "bad shape");
    if (m == 0) return;
    dequant_codes_kernel<<<blocks_for(size_t(m) * n), 256, 0, s>>>(acc, scale_a, zero_a, scale_w, rowsum_w, bias, m,
                                                                     n, y);
    check_launch("dequant_codes_f32");
}

}  // namespace tameq::cuda
