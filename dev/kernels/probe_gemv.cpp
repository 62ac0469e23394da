// Kernel lab probe: GEMV (M = 1) weight streaming rate per core in thread CPU time, L2- and
// L3-resident sizes: how far the kernel is from being the bottleneck of a memory-bound GEMV. Build:
//   g++ -O3 -std=c++20 -Isrc dev/kernels/probe_gemv.cpp build/libtameq_core.a -lfmt -lopenblas -o /tmp/probe_gemv
#include <time.h>
#include <cstdio>
#include <vector>
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/thread_pool.h"
using namespace tameq::kern;
static double cpu_now() { timespec ts; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }
int main() {
    set_num_threads(1);
    for (int bits : {8, 4}) for (int grouped : {0, 1}) for (int n : {256, 4096}) {
        int k = 4096;
        std::vector<int8_t> w(size_t(n) * k, bits == 8 ? 3 : -2);
        std::vector<uint8_t> a(k, 7);
        std::vector<float> y(n), sw(size_t(k / 128) * n, 0.01f), sa(1, 0.1f);
        int32_t za = 3;
        PackedWeights pw = bits == 8 ? pack_weights_s8(w.data(), n, k, grouped ? 128 : 0) : pack_weights_s4(w.data(), n, k, grouped ? 128 : 0);
        Dequant dq{sa.data(), &za, sw.data(), nullptr};
        long reps = 4e9 / pw.bytes();
        double t = cpu_now();
        for (long r = 0; r < reps; ++r) grouped ? gemm_u8_f32_grouped(a.data(), 1, k, pw, dq, y.data(), n) : gemm_u8_f32(a.data(), 1, k, pw, dq, y.data(), n);
        std::printf("W%d %s n=%5d k=%d (%6zu KiB): %.1f GB/s of weights per core\n", bits, grouped ? "g128" : "chan", n, k, pw.bytes() >> 10, pw.bytes() * reps / (cpu_now() - t) * 1e-9);
    }
}
