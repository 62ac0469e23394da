#include "kernels/cpu/gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/gemm_paths.h"
#include "kernels/cpu/thread_pool.h"

namespace tameq::kern {

namespace {

// Below this many multiply-adds a second thread costs more (wake-up) than it saves.
constexpr double kParallelMacs = 1 << 20;

using panels_fn = void (*)(const GemmTask&, int, int);

panels_fn select(KernelPath p) {
    switch (p) {
        case KernelPath::scalar: return gemm_panels_scalar;
        case KernelPath::avx2: return gemm_panels_avx2;
        case KernelPath::avxvnni: return gemm_panels_avxvnni;
        case KernelPath::avx512vnni: return gemm_panels_avx512vnni;
    }
    return gemm_panels_scalar;
}

void run(GemmTask t) {
    const PackedWeights& w = *t.w;
    if (t.m < 0 || t.lda < w.k) fail("kernels", "gemm: bad activation shape (m = {}, lda = {}, k = {})", t.m, t.lda, w.k);
    if (t.m == 0) return;
    // The kernels read whole groups of 4 or 8 bytes; a K tail gets a zero-padded copy of A.
    std::vector<uint8_t> padded;
    if (w.k != w.k_pad) {
        padded.assign(static_cast<size_t>(t.m) * w.k_pad, 0);
        for (int i = 0; i < t.m; ++i) std::memcpy(&padded[static_cast<size_t>(i) * w.k_pad], t.a + static_cast<size_t>(i) * t.lda, w.k);
        t.a = padded.data();
        t.lda = w.k_pad;
    }
    KernelPath path = active_path();
    panels_fn fn = select(t.grouped && path != KernelPath::avx512vnni ? KernelPath::scalar : path);
    int panels = w.panels();
    if (panels < 2 || static_cast<double>(t.m) * w.n * w.k < kParallelMacs) return fn(t, 0, panels);
    parallel_run([&](int tid, int nt) {
        int p0 = static_cast<int>(static_cast<long>(panels) * tid / nt);
        int p1 = static_cast<int>(static_cast<long>(panels) * (tid + 1) / nt);
        if (p0 < p1) fn(t, p0, p1);
    });
}

}  // namespace

void gemm_panels_scalar(const GemmTask& t, int p0, int p1) {
    const PackedWeights& w = *t.w;
    std::vector<int8_t> rows(static_cast<size_t>(block_n) * w.k_pad);
    for (int p = p0; p < p1; ++p) {
        for (int b = 0; b < w.blocks_in_panel(p); ++b) {
            int n0 = p * panel_n + b * block_n, count = std::min(block_n, w.n - n0);
            unpack_rows(w, n0, count, rows.data());
            for (int i = 0; i < t.m; ++i) {
                const uint8_t* ai = t.a + static_cast<size_t>(i) * t.lda;
                for (int j = 0; j < count; ++j) {
                    const int8_t* wj = &rows[static_cast<size_t>(j) * w.k_pad];
                    if (t.grouped) {
                        float f = 0.0f;
                        for (int g = 0; g < w.k / w.group; ++g) {
                            int32_t acc = 0;
                            for (int kk = g * w.group; kk < (g + 1) * w.group; ++kk) acc += static_cast<int32_t>(ai[kk]) * wj[kk];
                            f = group_step(t.dq, w, i, n0 + j, g, acc, f);
                        }
                        t.y[static_cast<size_t>(i) * t.ldc + n0 + j] = std::fma(t.dq.scale_a[i], f, t.dq.bias ? t.dq.bias[n0 + j] : 0.0f);
                        continue;
                    }
                    int32_t acc = 0;
                    for (int kk = 0; kk < w.k; ++kk) acc += static_cast<int32_t>(ai[kk]) * wj[kk];
                    if (t.c) t.c[static_cast<size_t>(i) * t.ldc + n0 + j] = acc;
                    else t.y[static_cast<size_t>(i) * t.ldc + n0 + j] = dequant_one(t.dq, w, i, n0 + j, acc);
                }
            }
        }
    }
}

void gemm_u8_s32(const uint8_t* a, int m, int lda, const PackedWeights& w, int32_t* c, int ldc) {
    run(GemmTask{a, m, lda, &w, c, nullptr, ldc, {}, false});
}

void gemm_u8_f32(const uint8_t* a, int m, int lda, const PackedWeights& w, const Dequant& dq, float* y, int ldy) {
    run(GemmTask{a, m, lda, &w, nullptr, y, ldy, dq, false});
}

void gemm_u8_f32_grouped(const uint8_t* a, int m, int lda, const PackedWeights& w, const Dequant& dq, float* y, int ldy) {
    if (w.group <= 0) fail("kernels", "gemm_u8_f32_grouped needs weights packed with a group size");
    run(GemmTask{a, m, lda, &w, nullptr, y, ldy, dq, true});
}

void gemm_s8_f32(const int8_t* a, int m, int lda, const PackedWeights& w, const Dequant& dq, float* y, int ldy) {
    std::vector<uint8_t> shifted(static_cast<size_t>(m) * w.k);
    for (int i = 0; i < m; ++i)
        for (int kk = 0; kk < w.k; ++kk)
            shifted[static_cast<size_t>(i) * w.k + kk] = static_cast<uint8_t>(a[static_cast<size_t>(i) * lda + kk] + 128);
    std::vector<int32_t> zero(m, 128);
    Dequant d = dq;
    d.zero_a = zero.data();
    gemm_u8_f32(shifted.data(), m, w.k, w, d, y, ldy);
}

void gemm_ref_s32(const uint8_t* a, int m, int lda, const int8_t* w, int n, int k, int32_t* c, int ldc) {
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            int32_t acc = 0;
            for (int kk = 0; kk < k; ++kk) acc += a[static_cast<size_t>(i) * lda + kk] * w[static_cast<size_t>(j) * k + kk];
            c[static_cast<size_t>(i) * ldc + j] = acc;
        }
}

void gemm_ref_f32(const uint8_t* a, int m, int lda, const int8_t* w, int n, int k, const Dequant& dq, float* y, int ldy) {
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            int32_t acc = 0;  // Σ (a − za)·w directly, not through the row-sum identity
            for (int kk = 0; kk < k; ++kk)
                acc += (a[static_cast<size_t>(i) * lda + kk] - dq.zero_a[i]) * w[static_cast<size_t>(j) * k + kk];
            y[static_cast<size_t>(i) * ldy + j] =
                std::fma(dq.scale_a[i] * dq.scale_w[j], static_cast<float>(acc), dq.bias ? dq.bias[j] : 0.0f);
        }
}

void gemm_ref_f32_grouped(const uint8_t* a, int m, int lda, const int8_t* w, int n, int k, int group, const Dequant& dq,
                          float* y, int ldy) {
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            float f = 0.0f;
            for (int g = 0; g < k / group; ++g) {
                int32_t acc = 0;
                for (int kk = g * group; kk < (g + 1) * group; ++kk)
                    acc += (a[static_cast<size_t>(i) * lda + kk] - dq.zero_a[i]) * w[static_cast<size_t>(j) * k + kk];
                f = std::fma(dq.scale_w[static_cast<size_t>(g) * n + j], static_cast<float>(acc), f);
            }
            y[static_cast<size_t>(i) * ldy + j] = std::fma(dq.scale_a[i], f, dq.bias ? dq.bias[j] : 0.0f);
        }
}

}  // namespace tameq::kern
