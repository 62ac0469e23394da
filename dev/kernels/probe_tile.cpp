// Kernel lab probe: the int8 GEMM on L1-resident shapes vs the register-only vpdpbusd loop, in thread
// CPU time (the shared machine makes wall time noisy). Build from the repo root:
//   g++ -O3 -std=c++20 -Isrc dev/kernels/probe_tile.cpp build/libtameq_core.a -lfmt -lopenblas -o /tmp/probe
#include <immintrin.h>
#include <time.h>

#include <cstdio>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/thread_pool.h"

using namespace tameq::kern;

static double cpu_now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// 24 independent vpdpbusd chains on fixed registers, written in asm: with intrinsics GCC either
// spills the accumulators or, when they start equal, merges the chains into one.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static long peak(long iters) {
    for (long it = 0; it < iters; ++it)
        __asm__ volatile("vpdpbusd %%zmm1, %%zmm0, %%zmm8\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm9\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm10\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm11\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm12\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm13\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm14\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm15\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm16\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm17\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm18\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm19\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm20\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm21\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm22\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm23\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm24\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm25\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm26\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm27\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm28\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm29\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm30\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm31" ::: "xmm0", "xmm1", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
    return iters;
}

int main(int argc, char** argv) {
    set_num_threads(1);
    long iters = 20'000'000;
    double t = cpu_now();
    volatile long sink = peak(iters);
    (void)sink;
    double pk = 24.0 * 64 * 2 * iters / (cpu_now() - t);
    std::printf("peak %.2f TOPS (thread CPU time)\n", pk * 1e-12);
    for (int m : {1, 6, 12, 48}) {
        for (int k : {256, 1024, 4096}) {
            int n = 64;
            std::vector<int8_t> w(n * k, 3);
            std::vector<uint8_t> a(m * k, 7);
            std::vector<int32_t> c(m * n);
            PackedWeights pw = pack_weights_s8(w.data(), n, k);
            long reps = 2e9 / (double(m) * n * k);
            t = cpu_now();
            for (long r = 0; r < reps; ++r) gemm_u8_s32(a.data(), m, k, pw, c.data(), n);
            double ops = 2.0 * m * n * k * reps / (cpu_now() - t);
            std::printf("m=%3d n=%d k=%5d: %.2f TOPS = %.0f%% of peak\n", m, n, k, ops * 1e-12, 100 * ops / pk);
        }
    }
    (void)argc;
    (void)argv;
}
