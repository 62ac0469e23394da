// DFRot refinement cost at hidden 4096, extrapolated to the synthetic problem (131072 rows =
// 2048 tokens x 32 layers x 2 norms, 100 iterations). One iteration = X·R (sgemm), per-token
// quantization, Xᵀ·B (sgemm) and one 4096x4096 polar decomposition (polar_newton); the GEMMs scale with
// the rows, the polar step does not.
// Measured here (seconds, wall clock):
//   loss_s      one loss evaluation (X·R + quantization)
//   refine1_s   dfrot_refine with 1 iteration = 2 loss evaluations + Xᵀ·B + polar step
//   svd_s       the same on 64 rows: the polar step alone, to within a few ms
// and derived: iter_s = refine1_s - loss_s, iter_s_at_131072 = svd_s + (iter_s - svd_s) · 131072 / rows,
// min_100_iters_at_131072 = 100 · iter_s_at_131072 / 60.
#include <chrono>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "transform/dfrot.h"
#include "transform/rotations.h"

using namespace tameq;

namespace {

constexpr int kC = 4096;
constexpr int kFullRows = 131072;

std::vector<float> synthetic(int rows) {
    std::mt19937 rng(1);
    std::normal_distribution<float> d;
    std::vector<float> x(size_t(rows) * kC);
    for (float& v : x) v = d(rng);
    for (int r = 0; r < rows; r += 2048) x[size_t(r) * kC + 7] = 400.0f;  // a massive first token per window
    return x;
}

double seconds(const std::function<void()>& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_dfrot_iteration_4096(benchmark::State& state) {
    const int rows = int(state.range(0));
    const auto x = synthetic(rows);
    std::vector<uint8_t> massive(rows, 0);
    for (int r = 0; r < rows; r += 2048) massive[r] = 1;
    const auto w = massive_row_weights(massive, 100.0f);
    const auto r0 = random_hadamard(kC, 1);
    QuantSpec act;
    act.bits = 4;
    act.symmetric = false;
    act.granularity = Granularity::PerRow;
    const std::vector<float> w64(w.begin(), w.begin() + 64);

    double loss_s = 0, refine1_s = 0, svd_s = 0;
    for (auto _ : state) {
        loss_s = seconds([&] { benchmark::DoNotOptimize(dfrot_loss(x.data(), rows, kC, w, r0.data(), act)); });
        refine1_s = seconds([&] { benchmark::DoNotOptimize(dfrot_refine(x.data(), rows, kC, w, r0, act, 1)); });
        svd_s = seconds([&] { benchmark::DoNotOptimize(dfrot_refine(x.data(), 64, kC, w64, r0, act, 1)); });
    }
    const double iter_s = refine1_s - loss_s;
    const double full_s = svd_s + (iter_s - svd_s) * double(kFullRows) / rows;
    state.counters["loss_s"] = loss_s;
    state.counters["refine1_s"] = refine1_s;
    state.counters["svd_s"] = svd_s;
    state.counters["iter_s"] = iter_s;
    state.counters["iter_s_at_131072"] = full_s;
    state.counters["min_100_iters_at_131072"] = 100.0 * full_s / 60.0;
    state.counters["gemm_GFLOPs"] = 4.0 * rows * double(kC) * kC / (iter_s - svd_s) / 1e9;
}

}  // namespace

BENCHMARK(BM_dfrot_iteration_4096)->ArgName("rows")->Arg(8192)->Arg(kFullRows / 8)->Iterations(1)
    ->UseRealTime()->Unit(benchmark::kSecond);
