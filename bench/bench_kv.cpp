// The integer engine's R4 step and its quantized KV cache, each against the sequence it replaces, timed
// alternately inside one benchmark so the ratio comes from the same run (and the same load):
//   BM_hadamard_quant/M/K   fused hadamard_quantize_rows_u8 vs fwht_rows over the whole [M x K] block
//                           then quantize_rows_u8 (the engine's unfused order); K = down_proj widths
//   BM_hadamard_quant_blocks/M/K/B  the same fused step with block-R4 (I ⊗ H_B, B = block) vs full R4 (H_K)
//   BM_kv_attention/ctx/bits  one decode step of one layer's attention (32 heads of 128, 8 or 32 kv heads)
//                           over a code cache vs the FP32 cache; bytes per step are in the counters
#include <chrono>
#include <cstring>
#include <vector>

#include <benchmark/benchmark.h>

#include "common/rng.h"
#include "kernels/cpu/act_quant.h"
#include "model/attention.h"
#include "model/fake_quant.h"
#include "numerics/hadamard.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<float> random_floats(size_t n, uint64_t seed) {
    tameq::Rng rng(seed);
    std::vector<float> v(n);
    for (float& x : v) x = float(rng.uniform()) * 4.0f - 2.0f;
    return v;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void BM_hadamard_quant(benchmark::State& state) {
    const int m = int(state.range(0)), k = int(state.range(1));
    const auto x = random_floats(size_t(m) * k, 1);
    std::vector<float> work = x;
    std::vector<uint8_t> q(size_t(m) * k);
    std::vector<float> scale(m);
    std::vector<int32_t> zero(m);
    double fused = 0, unfused = 0;
    for (auto _ : state) {
        auto t0 = Clock::now();
        // The transform is orthonormal, so running it again on its own output keeps the values in range.
        tameq::fwht_rows(work.data(), m, k);
        tameq::kern::quantize_rows_u8(work.data(), m, k, k, 4, true, q.data(), k, scale.data(), zero.data());
        unfused += seconds_since(t0);
        benchmark::DoNotOptimize(q.data());
        t0 = Clock::now();
        tameq::kern::hadamard_quantize_rows_u8(x.data(), m, k, k, 4, true, q.data(), k, scale.data(), zero.data());
        const double t = seconds_since(t0);
        fused += t;
        benchmark::DoNotOptimize(q.data());
        state.SetIterationTime(t);
    }
    const double it = double(state.iterations());
    state.counters["unfused_us"] = unfused / it * 1e6;
    state.counters["fused_us"] = fused / it * 1e6;
    state.counters["speedup"] = unfused / fused;
}
BENCHMARK(BM_hadamard_quant)
    ->ArgsProduct({{1, 16, 128, 512}, {1536, 11008, 14336}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void BM_hadamard_quant_blocks(benchmark::State& state) {
    const int m = int(state.range(0)), k = int(state.range(1)), block = int(state.range(2));
    const auto x = random_floats(size_t(m) * k, 2);
    std::vector<uint8_t> q(size_t(m) * k);
    std::vector<float> scale(m);
    std::vector<int32_t> zero(m);
    double full = 0, blocks = 0;
    for (auto _ : state) {
        auto t0 = Clock::now();
        tameq::kern::hadamard_quantize_rows_u8(x.data(), m, k, k, 4, true, q.data(), k, scale.data(), zero.data());
        full += seconds_since(t0);
        benchmark::DoNotOptimize(q.data());
        t0 = Clock::now();
        tameq::kern::hadamard_quantize_rows_u8(x.data(), m, k, k, 4, true, q.data(), k, scale.data(), zero.data(), block);
        const double t = seconds_since(t0);
        blocks += t;
        benchmark::DoNotOptimize(q.data());
        state.SetIterationTime(t);
    }
    const double it = double(state.iterations());
    state.counters["full_us"] = full / it * 1e6;
    state.counters["blocks_us"] = blocks / it * 1e6;
    state.counters["speedup"] = full / blocks;
}
// gut-llama-27m's down_proj width (1536 = 3·512) and LLaMA-3-8B's (14336 = 28·512).
BENCHMARK(BM_hadamard_quant_blocks)
    ->ArgsProduct({{1, 128, 512}, {1536, 14336}, {128, 512}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void BM_kv_attention(benchmark::State& state) {
    const int ctx = int(state.range(0)), bits = int(state.range(1)), kvh = int(state.range(2)), heads = 32, hd = 128;
    tameq::QuantSpec spec;
    spec.bits = bits;
    spec.symmetric = false;
    const tameq::FakeQuantKv sim(spec), codes(spec, true);
    tameq::KvCache fp(1, ctx, kvh, hd, &sim), cq(1, ctx, kvh, hd, &codes);
    const int kv_dim = kvh * hd;
    for (tameq::KvCache* c : {&fp, &cq}) {
        const auto k = random_floats(size_t(ctx) * kv_dim, 2), v = random_floats(size_t(ctx) * kv_dim, 3);
        c->begin_write(0, ctx);
        std::memcpy(c->k(0, 0), k.data(), k.size() * 4);
        std::memcpy(c->v(0, 0), v.data(), v.size() * 4);
        c->commit(0, 0, ctx);
    }
    const auto q = random_floats(size_t(heads) * hd, 4);
    std::vector<float> out(size_t(heads) * hd), scratch;
    double t_fp = 0, t_cq = 0;
    for (auto _ : state) {
        auto t0 = Clock::now();
        tameq::causal_attention(q.data(), 1, ctx - 1, fp.keys(0), fp.values(0), heads, kvh, hd, out.data(), scratch);
        t_fp += seconds_since(t0);
        t0 = Clock::now();
        tameq::causal_attention(q.data(), 1, ctx - 1, cq.keys(0), cq.values(0), heads, kvh, hd, out.data(), scratch);
        const double t = seconds_since(t0);
        t_cq += t;
        benchmark::DoNotOptimize(out.data());
        state.SetIterationTime(t);
    }
    const double it = double(state.iterations());
    state.counters["fp32_us"] = t_fp / it * 1e6;
    state.counters["codes_us"] = t_cq / it * 1e6;
    state.counters["speedup"] = t_fp / t_cq;
    state.counters["fp32_MiB"] = double(fp.bytes()) / (1 << 20);
    state.counters["codes_MiB"] = double(cq.bytes()) / (1 << 20);
}
BENCHMARK(BM_kv_attention)
    ->ArgsProduct({{512, 2048}, {4, 8}, {8, 32}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
