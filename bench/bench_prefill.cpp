// FP32 prefill throughput of the engine on the shared models, against the machine's sgemm peak
// measured in the same run (machines here are shared and noisy: compare ratios, not absolutes).
//   build/tameq_bench --benchmark_filter='Prefill|Sgemm'
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "common/rng.h"
#include "model/engine.h"
#include "export/open_model.h"

namespace {

using namespace tameq;

std::vector<float> random_vector(size_t n, uint64_t seed) {
    Rng rng(seed);
    std::vector<float> v(n);
    for (float& x : v) x = float(rng.uniform() - 0.5);
    return v;
}

// OpenBLAS sgemm at a square size large enough to reach its peak: the ceiling the engine is measured against.
void BM_SgemmPeak(benchmark::State& state) {
    const int n = int(state.range(0));
    auto a = random_vector(size_t(n) * n, 1), b = random_vector(size_t(n) * n, 2);
    std::vector<float> c(size_t(n) * n);
    for (auto _ : state) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
        benchmark::DoNotOptimize(c.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
}
BENCHMARK(BM_SgemmPeak)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

// Best of a few 2048³ sgemms, in FLOP/s: the denominator of every "of_sgemm_peak" ratio below.
double sgemm_peak_flops() {
    static const double peak = [] {
        const int n = 2048;
        auto a = random_vector(size_t(n) * n, 1), b = random_vector(size_t(n) * n, 2);
        std::vector<float> c(size_t(n) * n);
        double best = 0;
        for (int rep = 0; rep < 4; ++rep) {
            auto t0 = std::chrono::steady_clock::now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            best = std::max(best, 2.0 * n * n * n / s);
        }
        return best;
    }();
    return peak;
}

// Multiply-adds of one prefill of n tokens: every linear layer and lm_head, plus causal attention.
double prefill_flops(const Model& m, int n) {
    const ModelConfig& c = m.cfg;
    double linear = 0;
    for (const Layer& l : m.layers)
        for (const Linear* p : {l.q.get(), l.k.get(), l.v.get(), l.o.get(), l.gate.get(), l.up.get(), l.down.get(),
                                l.fc1.get(), l.fc2.get()})
            if (p) linear += double(p->in_features()) * p->out_features();
    const double head = double(m.lm_head->in_features()) * m.lm_head->out_features();  // last row only
    const double attn = double(c.n_layers) * c.n_heads * c.head_dim * 2.0 * (double(n) * (n + 1) / 2.0);
    return 2.0 * (linear * n + head + attn);
}

const Model* shared_model(const std::string& name) {
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<Model>> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto& slot = cache[name];
    if (!slot) {
        const std::string path = std::string(TAMEQ_SHARED_DIR) + "/models/" + name;
        if (!std::filesystem::exists(path)) return nullptr;
        slot = std::make_unique<Model>(load_model(path));
    }
    return slot.get();
}

void BM_Prefill(benchmark::State& state, const std::string& name) {
    const Model* m = shared_model(name);
    if (!m) {
        state.SkipWithError(("../shared/models/" + name + " is absent").c_str());
        return;
    }
    const int n = int(state.range(0));
    std::vector<int> tokens(static_cast<size_t>(n));
    Rng rng(3);
    for (int& t : tokens) t = int(rng.next_u64() % uint64_t(m->cfg.vocab));
    const double peak = sgemm_peak_flops();
    Engine engine(*m, n);
    std::vector<float> logits(static_cast<size_t>(m->cfg.vocab));
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        engine.reset();
        engine.forward(tokens.data(), n, logits.data(), Logits::Last);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double flops_per_s = prefill_flops(*m, n) * double(state.iterations()) / seconds;
    state.counters["tokens/s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/s"] = flops_per_s / 1e9;
    state.counters["sgemm_peak_GFLOP/s"] = peak / 1e9;
    state.counters["of_peak"] = flops_per_s / peak;
}
BENCHMARK_CAPTURE(BM_Prefill, gut_llama_27m, std::string("gut-llama-27m"))->Arg(128)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Prefill, gut_opt_24m, std::string("gut-opt-24m"))->Arg(128)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

