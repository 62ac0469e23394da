// Quantizer and GPTQ speed on gut-llama-27m's layer shapes (hidden 512, MLP 1536).
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "quant/gptq.h"
#include "numerics/quantizer.h"

using namespace tameq;

namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d;
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

QuantSpec w4(bool mse) {
    QuantSpec s;
    s.bits = 4;
    s.mse_search = mse;
    return s;
}

// Dynamic per-token 4-bit asymmetric activations: 1024 tokens x 512.
void BM_fake_quantize_tokens(benchmark::State& state) {
    QuantSpec s;
    s.bits = 4;
    s.symmetric = false;
    const auto x0 = randn(1024 * 512, 1);
    for (auto _ : state) {
        state.PauseTiming();
        auto x = x0;
        state.ResumeTiming();
        benchmark::DoNotOptimize(fake_quantize_rows(x.data(), 1024, 512, s));
    }
    state.SetItemsProcessed(state.iterations() * 1024 * 512);
}
BENCHMARK(BM_fake_quantize_tokens)->Unit(benchmark::kMillisecond);

// RTN of down_proj [512 x 1536] with and without the MSE clip search.
void BM_rtn_weights(benchmark::State& state) {
    const auto w0 = randn(512 * 1536, 2);
    for (auto _ : state) {
        auto w = w0;
        benchmark::DoNotOptimize(fake_quantize_rows(w.data(), 512, 1536, w4(state.range(0) != 0)));
    }
}
BENCHMARK(BM_rtn_weights)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The MSE clip search of 64 rows of 4096 (Llama-2-7B's q_proj width): arg 0 = the scalar oracle (every
// candidate's error through std::pow), 1 = find_qparams (the vector filter, then the oracle on the survivors).
void BM_clip_search_rows(benchmark::State& state) {
    const int rows = 64, cols = 4096;
    const auto w = randn(static_cast<size_t>(rows) * cols, 6);
    const QuantSpec s = w4(true);
    for (auto _ : state)
        for (int r = 0; r < rows; ++r) {
            const float* x = w.data() + static_cast<size_t>(r) * cols;
            benchmark::DoNotOptimize(state.range(0) ? find_qparams(x, cols, s) : find_qparams_oracle(x, cols, s));
        }
    state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_clip_search_rows)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// GPTQ of down_proj [512 x 1536] with a Hessian from 4096 calibration rows; arg = MSE search.
void BM_gptq_down_proj(benchmark::State& state) {
    const int rows = 512, cols = 1536;
    const auto x = randn(static_cast<size_t>(4096) * cols, 3), w0 = randn(static_cast<size_t>(rows) * cols, 4);
    HessianAccumulator acc(cols);
    acc.add(x.data(), 4096);
    for (auto _ : state) {
        auto w = w0;
        benchmark::DoNotOptimize(gptq_quantize(w.data(), rows, cols, acc.h().data(), w4(state.range(0) != 0), {}));
    }
}
BENCHMARK(BM_gptq_down_proj)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Hessian accumulation: 1024 rows of width 1536 per add.
void BM_hessian_add(benchmark::State& state) {
    const auto x = randn(static_cast<size_t>(1024) * 1536, 5);
    HessianAccumulator acc(1536);
    for (auto _ : state) acc.add(x.data(), 1024);
    state.SetItemsProcessed(state.iterations() * 1024);
}
BENCHMARK(BM_hessian_add)->Unit(benchmark::kMillisecond);

}  // namespace

