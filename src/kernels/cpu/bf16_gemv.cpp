#include "kernels/cpu/bf16_gemv.h"

#include <algorithm>

#include "common/error.h"
#include "common/half.h"
#include "kernels/cpu/bf16_gemv_paths.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/thread_pool.h"

namespace tameq::kern {

void bf16_gemv_rows_scalar(const float* x, int n, const uint16_t* w, int out, int in, const float* bias, float* y,
                           int r0, int r1) {
    for (int i = 0; i < n; ++i)
        for (int r = r0; r < r1; ++r) {
            const uint16_t* wr = w + size_t(r) * in;
            const float* xi = x + size_t(i) * in;
            float acc = 0.0f;
            for (int k = 0; k < in; ++k) acc += xi[k] * bf16_to_f32(wr[k]);
            y[size_t(i) * out + r] = bias ? acc + bias[r] : acc;
        }
}

void bf16_gemv_scalar(const float* x, int n, const uint16_t* w, int out, int in, const float* bias, float* y) {
    bf16_gemv_rows_scalar(x, n, w, out, in, bias, y, 0, out);
}

void bf16_gemv(const float* x, int n, const uint16_t* w, int out, int in, const float* bias, float* y) {
    if (n < 1 || n > kBf16GemvMaxRows) fail("bf16_gemv", "{} rows (1 to {} allowed)", n, kBf16GemvMaxRows);
    auto rows = active_path() == KernelPath::scalar ? bf16_gemv_rows_scalar : bf16_gemv_rows_avx2;
    // Chunks of 16 output rows keep each thread's share contiguous and the split independent of `in`.
    parallel_run([&](int t, int nt) {
        const int chunks = (out + 15) / 16;
        const int c0 = int(int64_t(chunks) * t / nt), c1 = int(int64_t(chunks) * (t + 1) / nt);
        const int r0 = c0 * 16, r1 = std::min(out, c1 * 16);
        if (r0 < r1) rows(x, n, w, out, in, bias, y, r0, r1);
    });
}

}  // namespace tameq::kern
