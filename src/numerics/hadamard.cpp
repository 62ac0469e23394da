#include "numerics/hadamard.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

#include <cblas.h>

#include "common/error.h"
#include "numerics/hadamard_small.h"

namespace tameq {

namespace {

bool is_pow2(int n) { return n > 0 && (n & (n - 1)) == 0; }

std::string supported_list() {
    std::string s;
    for (int m : hadamard_small_orders()) s += (s.empty() ? "" : ", ") + std::to_string(m);
    return s;
}

// H_m as floats, for sgemm.
const std::vector<float>& small_as_float(int m) {
    static thread_local std::vector<float> cached;
    static thread_local int cached_m = 0;
    if (cached_m != m) {
        const auto& h = hadamard_small(m);
        cached.assign(h.begin(), h.end());
        cached_m = m;
    }
    return cached;
}

// The 2^k part of one row: butterflies between blocks of `len` contiguous floats, starting at len = m.
// Two levels per pass (radix 4) halve the loads and stores; the inner loops are contiguous, so the
// compiler vectorizes them, and target_clones picks AVX-512 / AVX2 / SSE2 at load time.
__attribute__((target_clones("avx512f", "avx2", "default"))) void butterflies(float* x, int n, int m, float scale) {
    int len = m;
    if (len == 1 && n >= 8) {
        // Strides 1, 2 and 4 are too short for vector loops: an 8-point transform per block.
        for (int i = 0; i < n; i += 8) {
            float* p = x + i;
            const float a0 = p[0] + p[1], a1 = p[0] - p[1], a2 = p[2] + p[3], a3 = p[2] - p[3];
            const float a4 = p[4] + p[5], a5 = p[4] - p[5], a6 = p[6] + p[7], a7 = p[6] - p[7];
            const float b0 = a0 + a2, b1 = a1 + a3, b2 = a0 - a2, b3 = a1 - a3;
            const float b4 = a4 + a6, b5 = a5 + a7, b6 = a4 - a6, b7 = a5 - a7;
            p[0] = b0 + b4, p[1] = b1 + b5, p[2] = b2 + b6, p[3] = b3 + b7;
            p[4] = b0 - b4, p[5] = b1 - b5, p[6] = b2 - b6, p[7] = b3 - b7;
        }
        len = 8;
    }
    for (; 4 * len <= n; len *= 4) {
        for (int i = 0; i < n; i += 4 * len) {
            float* __restrict p0 = x + i;
            float* __restrict p1 = p0 + len;
            float* __restrict p2 = p1 + len;
            float* __restrict p3 = p2 + len;
            for (int j = 0; j < len; j++) {
                const float a0 = p0[j] + p1[j], a1 = p0[j] - p1[j];
                const float a2 = p2[j] + p3[j], a3 = p2[j] - p3[j];
                p0[j] = a0 + a2, p1[j] = a1 + a3, p2[j] = a0 - a2, p3[j] = a1 - a3;
            }
        }
    }
    for (; 2 * len <= n; len *= 2) {
        for (int i = 0; i < n; i += 2 * len) {
            float* __restrict p0 = x + i;
            float* __restrict p1 = p0 + len;
            for (int j = 0; j < len; j++) {
                const float a = p0[j], b = p1[j];
                p0[j] = a + b, p1[j] = a - b;
            }
        }
    }
    if (scale != 1.0f)
        for (int j = 0; j < n; j++) x[j] *= scale;
}

}  // namespace

bool hadamard_size_supported(int n) {
    if (is_pow2(n)) return true;
    for (int m : hadamard_small_orders())
        if (n % m == 0 && is_pow2(n / m)) return true;
    return false;
}

int hadamard_size_below(int n) {
    while (n > 1 && !hadamard_size_supported(n)) --n;
    return std::max(n, 1);
}

int hadamard_size_above(int n) {
    n = std::max(n, 1);
    while (!hadamard_size_supported(n)) ++n;  // ends: every power of two is supported
    return n;
}

int hadamard_factor(int n) {
    if (is_pow2(n)) return 1;
    // The smallest factor whose cofactor is a power of two (40·2^k is also 20·2^(k+1)).
    for (int m : hadamard_small_orders())
        if (n % m == 0 && is_pow2(n / m)) return m;
    // A block-diagonal Hadamard of 2^k blocks fits any width the block divides (the recipe key r4=block=B).
    const int largest_block = n & -n;
    fail("hadamard", "size {} is not supported; supported: 2^k and m·2^k for m in {{{}}}; nearest supported sizes: "
                     "{} and {}{}",
         n, supported_list(), hadamard_size_below(n), hadamard_size_above(n),
         largest_block > 1 ? fmt::format("; or a block-diagonal R4: r4=block=B, B a power of two up to {}", largest_block)
                           : std::string());
}

void fwht_rows(float* x, int rows, int n, bool normalize) {
    const int m = hadamard_factor(n);
    const float scale = normalize ? float(1.0 / std::sqrt(double(n))) : 1.0f;
    if (m > 1) {
        // Every row is a (n/m)×m matrix X; the m part is X·H_mᵀ, one sgemm over a chunk of rows.
        const auto& hm = small_as_float(m);
        const int chunk = std::max(1, kFwhtChunkFloats / n);
        std::vector<float> tmp(size_t(std::min(chunk, rows)) * n);
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            const int nr = std::min(chunk, rows - r0);
            float* xs = x + size_t(r0) * n;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr * (n / m), m, m, 1.0f, xs, m, hm.data(), m, 0.0f,
                        tmp.data(), m);
            std::copy(tmp.begin(), tmp.begin() + size_t(nr) * n, xs);
        }
    }
    for (int r = 0; r < rows; r++) butterflies(x + size_t(r) * n, n, m, scale);
}

void fwht_row_blocks(float* x, int rows, int n, int block) {
    if (block == 0 || block == n) return fwht_rows(x, rows, n);
    if (block < 2 || !is_pow2(block) || n % block != 0)
        fail("hadamard", "block {} of a row of {}: blocks must be powers of two that divide the row", block, n);
    // The blocks of a row are contiguous, so [rows x n] is [rows·n/block x block] of independent rows.
    fwht_rows(x, rows * (n / block), block);
}

void fwht_rows_ref(float* x, int rows, int n, bool normalize) {
    const int m = hadamard_factor(n);
    const auto& hm = hadamard_small(m);
    const int blocks = n / m;
    const double scale = normalize ? 1.0 / std::sqrt(double(n)) : 1.0;
    std::vector<double> y(n);
    for (int r = 0; r < rows; r++) {
        float* row = x + size_t(r) * n;
        for (int i = 0; i < n; i++) {
            const int a = i / m, b = i % m;
            double acc = 0.0;
            for (int c = 0; c < blocks; c++) {
                double part = 0.0;
                for (int d = 0; d < m; d++) part += hm[size_t(b) * m + d] * double(row[c * m + d]);
                acc += (std::popcount(unsigned(a & c)) & 1) ? -part : part;
            }
            y[i] = acc * scale;
        }
        for (int i = 0; i < n; i++) row[i] = float(y[i]);
    }
}

std::vector<float> hadamard_matrix(int n) {
    const int m = hadamard_factor(n);
    const auto& hm = hadamard_small(m);
    const float scale = float(1.0 / std::sqrt(double(n)));
    std::vector<float> h(size_t(n) * n);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            const int s = (std::popcount(unsigned((i / m) & (j / m))) & 1) ? -1 : 1;
            h[size_t(i) * n + j] = float(s * hm[size_t(i % m) * m + j % m]) * scale;
        }
    }
    return h;
}

}  // namespace tameq
