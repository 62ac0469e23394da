// The DFRot problem at LLaMA scale (docs/results/dfrot-figures.md), synthetic: ROWS Gaussian rows of width C with a 1-sparse massive
// row (400 in one channel) every 2048 rows (the first token of each window), γ = 100, asymmetric 4-bit
// per-token targets, refined from RH. Prints one line per iteration (loss, s/iter), then the total wall time,
// peak RSS and, with FULL_EVAL = 1, the full-data loss of R0 and of the result (each one rows×C×C sgemm).
// Built and run by scripts/results-dfrot-synthetic.sh:  dfrot_synthetic C ROWS ITERS SAMPLE_ROWS FULL_EVAL
// (SAMPLE_ROWS 0 = refine on all rows).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "transform/dfrot.h"
#include "transform/rotations.h"

using namespace tameq;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s C ROWS ITERS SAMPLE_ROWS FULL_EVAL\n", argv[0]);
        return 2;
    }
    const int C = std::atoi(argv[1]), rows = std::atoi(argv[2]), iters = std::atoi(argv[3]);
    const int sample = std::atoi(argv[4]);
    const bool full_eval = std::atoi(argv[5]) != 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::mt19937 gen(1);
    std::normal_distribution<float> d;
    std::vector<float> x(size_t(rows) * C);
    for (auto& v : x) v = d(gen);
    std::vector<uint8_t> massive(rows, 0);
    for (int r = 0; r < rows; r += 2048) {
        float* row = x.data() + size_t(r) * C;
        std::fill(row, row + C, 0.0f);
        row[(7 + 97 * (r / 2048)) % C] = 400.0f;
        massive[r] = 1;
    }
    const auto w = massive_row_weights(massive, 100.0f);
    QuantSpec act;
    act.bits = 4;
    act.symmetric = false;
    act.granularity = Granularity::PerRow;
    const auto r0 = random_hadamard(C, 0);
    std::printf("C %d, rows %d, iterations %d, refined on %s, setup %.1f s\n", C, rows, iters,
                sample > 0 ? (std::to_string(sample) + " sampled rows").c_str() : "all rows", since(t0));

    auto tick = std::chrono::steady_clock::now();
    const auto progress = [&](int t, int total, double loss) {
        std::printf("iter %3d/%d  loss %.6e  %.2f s\n", t, total, loss, since(tick));
        std::fflush(stdout);
        tick = std::chrono::steady_clock::now();
    };
    const auto t_refine = std::chrono::steady_clock::now();
    DfrotResult res;
    if (sample > 0) {
        const DfrotSample s = dfrot_sample_rows(x.data(), rows, C, w, sample, 0);
        res = dfrot_refine(s.x.data(), s.rows, C, s.w, r0, act, iters, progress);
    } else {
        res = dfrot_refine(x.data(), rows, C, w, r0, act, iters, progress);
    }
    const double refine_s = since(t_refine);
    std::printf("refine %.1f s (%.2f s/iter), best iteration %d, loss %.6e -> %.6e, orthogonality %.2e\n", refine_s,
                refine_s / std::max(1, iters), res.best_iteration, res.losses.front(), res.losses[res.best_iteration],
                check_orthogonal(res.rotation, C, "refined"));
    if (full_eval) {
        const double l0 = dfrot_loss(x.data(), rows, C, w, r0.data(), act);
        const double l1 = dfrot_loss(x.data(), rows, C, w, res.rotation.data(), act);
        std::printf("full-data loss: R0 %.6e, refined %.6e (%.2f%% of R0)\n", l0, l1, 100.0 * l1 / l0);
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("total %.1f s, peak RSS %.0f MB\n", since(t0), ru.ru_maxrss / 1024.0);
    return 0;
}
