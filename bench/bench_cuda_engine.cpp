// Prefill speed of the CUDA engine (model/cuda_engine.h) on a Llama-2-7B-shaped random model, the BF16 path
// (cuBLAS BF16) against the W8A8 path (fused per-token codes, cuBLASLt int8) in the same process: one batched
// forward of the prompt (logits of the last row only, as generation needs), timed on the host after the device
// synchronised (the logits copy waits for the GPU). The model is written on first use (speed does not depend on
// the weights) and quantized in memory with w=8,a=8 RTN (no clip search: the grids do not change the speed).
//   TAMEQ_CUDA_BENCH_DIR=/tmp/llama7b TAMEQ_CUDA_BENCH_LAYERS=4 build/tameq_bench --benchmark_filter=CudaPrefill
// CudaDecode: tokens/s of single-token steps after a 512-token prompt, both paths. CudaAttention: the attention
// kernels alone at the 7B shapes (32 heads of 128, causal prefill), the fp32 warp-per-query kernel against the
// tensor-core flash kernel in the same run.
// Skipped (no benchmark registered) without a usable GPU.
#ifdef TAMEQ_HAVE_CUDA
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/flash_attention.h"
#include "kernels/cuda/llama_ops.h"
#include "model/cuda_engine.h"
#include "quant/pipeline.h"
#include "quant/recipe.h"
#include "support/synthetic.h"

namespace {

using namespace tameq;

std::string bench_dir() {
    const char* d = std::getenv("TAMEQ_CUDA_BENCH_DIR");
    return d && *d ? d : "/tmp/tameq-cuda-bench-7b";
}

int bench_layers() {
    const char* v = std::getenv("TAMEQ_CUDA_BENCH_LAYERS");
    return v && *v ? std::atoi(v) : 4;
}

// The two engines, built once (uploading a 7B-shaped model takes seconds).
CudaEngine& engine_for(bool w8a8) {
    static std::unique_ptr<CudaEngine> engines[2];
    auto& slot = engines[w8a8 ? 1 : 0];
    if (slot) return *slot;
    const std::string dir = bench_dir();
    if (!std::filesystem::exists(dir + "/config.json")) {
        SyntheticSpec s;
        s.cfg = llama2_7b_shaped(bench_layers());
        s.bf16 = true;
        write_synthetic_model(dir, s);
    }
    if (w8a8) {
        auto tok = load_tokenizer(dir);
        const Model m = quantize_in_memory(dir, parse_recipe("w=8,a=8,w-clip-search=0"), *tok);
        slot = std::make_unique<CudaEngine>(m, 4096);
    } else {
        const Model m = load_checkpoint(dir);
        slot = std::make_unique<CudaEngine>(m, 4096);
    }
    return *slot;
}

void CudaPrefill(benchmark::State& state, bool w8a8) {
    const int n = int(state.range(0));
    CudaEngine& e = engine_for(w8a8);
    std::vector<int> tokens(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) tokens[size_t(i)] = 4 + (i * 7919) % 31000;
    std::vector<float> logits(32000);
    e.reset();
    e.forward(tokens.data(), n, logits.data(), true);  // warm-up: cuBLAS plans, first launches
    for (auto _ : state) {
        e.reset();
        const auto t0 = std::chrono::steady_clock::now();
        e.forward(tokens.data(), n, logits.data(), true);
        state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    state.counters["tokens/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
    state.SetLabel(e.describe().substr(0, 9) + ", " + std::to_string(bench_layers()) + " layers");
}

void CudaDecode(benchmark::State& state, bool w8a8) {
    const int prompt = 512, steps = 64;
    CudaEngine& e = engine_for(w8a8);
    std::vector<int> tokens(static_cast<size_t>(prompt + steps));
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = 4 + int(i * 7919) % 31000;
    std::vector<float> logits(32000);
    for (auto _ : state) {
        e.reset();
        e.forward(tokens.data(), prompt, logits.data(), true);
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < steps; ++i) e.forward(tokens.data() + prompt + i, 1, logits.data(), true);
        state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    state.counters["tokens/s"] = benchmark::Counter(double(steps), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["peak GiB"] = double(cuda::peak_device_bytes()) / double(1u << 30);
    state.SetLabel(e.describe().substr(0, 9) + ", " + std::to_string(bench_layers()) + " layers, after 512");
}

// A device buffer of `count` floats ~ U(−1, 1) (the attention's speed does not depend on the values).
struct DevFloats {
    float* p = nullptr;
    explicit DevFloats(size_t count) {
        std::vector<float> h(count);
        uint32_t x = 12345;
        for (float& f : h) f = float((x = x * 1664525u + 1013904223u) >> 8) / float(1u << 24) * 2.0f - 1.0f;
        p = static_cast<float*>(cuda::device_alloc(count * sizeof(float), "bench"));
        cuda::copy_to_device(p, h.data(), count * sizeof(float));
    }
    ~DevFloats() { cuda::device_free(p); }
};

void CudaAttention(benchmark::State& state, bool flash) {
    const int n = int(state.range(0)), heads = 32, hd = 128;
    const size_t rows = size_t(n) * heads * hd;
    DevFloats q(rows), k(rows), v(rows), out(rows);
    auto run = [&] {
        if (flash) cuda::flash_attention(q.p, k.p, v.p, n, 0, heads, heads, hd, out.p);
        else cuda::causal_attention(q.p, k.p, v.p, n, 0, heads, heads, hd, out.p);
        cuda::synchronize("attention bench");
    };
    run();
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        run();
        state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    // Causal: half of the n x n scores, two products of 2·hd flops each.
    const double flops = 4.0 * hd * heads * double(n) * double(n + 1) / 2.0;
    state.counters["TFLOP/s"] = benchmark::Counter(flops * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

// Host-timed (manual time), milliseconds, the median and spread of 5 repetitions.
void timed(benchmark::internal::Benchmark* b) {
    b->UseManualTime()->Unit(benchmark::kMillisecond)->Repetitions(5)->ReportAggregatesOnly(true);
}

const int registered = [] {
    if (!cuda::device_available()) return 0;
    for (const bool w8a8 : {false, true}) {
        timed(benchmark::RegisterBenchmark(w8a8 ? "CudaPrefill/w8a8" : "CudaPrefill/bf16", CudaPrefill, w8a8)
                  ->Arg(512)
                  ->Arg(2048));
        timed(benchmark::RegisterBenchmark(w8a8 ? "CudaDecode/w8a8" : "CudaDecode/bf16", CudaDecode, w8a8));
    }
    for (const bool flash : {false, true})
        timed(benchmark::RegisterBenchmark(flash ? "CudaAttention/flash" : "CudaAttention/fp32", CudaAttention, flash)
                  ->Arg(512)
                  ->Arg(2048));
    return 1;
}();

}  // namespace
#endif  // TAMEQ_HAVE_CUDA
