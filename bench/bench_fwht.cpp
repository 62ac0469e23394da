// Fast Walsh–Hadamard transform throughput on the online-rotation sizes of real models:
// 4096 (2^12), 11008 = 172·64 (LLaMA-2-7B MLP), 14336 = 28·512 (LLaMA-3-8B MLP). Bytes = read + write.
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "numerics/hadamard.h"

using namespace tameq;

namespace {

void BM_fwht_rows(benchmark::State& state) {
    const int n = int(state.range(0)), rows = int(state.range(1));
    std::mt19937 rng(1);
    std::normal_distribution<float> d;
    std::vector<float> x(size_t(rows) * n);
    for (float& v : x) v = d(rng);
    // Normalized transforms are orthonormal, so repeated application keeps the values bounded.
    for (auto _ : state) {
        fwht_rows(x.data(), rows, n);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * rows * n * 2 * int64_t(sizeof(float)));
    state.counters["rows"] = rows;
}

}  // namespace

BENCHMARK(BM_fwht_rows)->ArgNames({"n", "rows"})
    ->Args({4096, 1})->Args({4096, 64})
    ->Args({11008, 1})->Args({11008, 64})
    ->Args({14336, 1})->Args({14336, 64})
    ->UseRealTime()->Unit(benchmark::kMicrosecond);
