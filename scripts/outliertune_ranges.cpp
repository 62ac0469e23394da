// Per-channel ranges of one layer's norm outputs (inputs of q/k/v and of gate/up or fc1) before and after
// OutlierTune's symmetrization, measured on the FP model over calibration windows, as a markdown table.
// Built and run by scripts/results-outliertune.sh:  outliertune_ranges MODEL CALIB LAYER WINDOWS
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>

#include <fmt/format.h>

#include "io/tokenizer.h"
#include "calib/channel_stats.h"
#include "calib/layer_runner.h"
#include "transform/outliertune.h"

using namespace tameq;

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s MODEL CALIB LAYER WINDOWS\n", argv[0]);
        return 2;
    }
    const std::string model = argv[1], calib = argv[2];
    const int layer = std::stoi(argv[3]), windows = std::stoi(argv[4]);
    ModelReader reader(model);
    const auto tok = load_tokenizer(model);
    Model skeleton = reader.load_skeleton();
    LayerRunner runner(skeleton, calibration_windows(calib, *tok, 1024, windows, reader.config().bos_id));
    ChannelStatsTap stats;
    for (int i = 0; i <= layer; ++i) runner.run(reader.load_layer(i), i, i == layer ? &stats : nullptr, i < layer);

    fmt::print("#### {} layer {} ({} calibration windows of 1024)\n\n", model, layer, windows);
    for (Tap t : {Tap::AttnIn, Tap::MlpIn}) {
        const ChannelRange& r = stats.at(t);
        const std::vector<float> z = r.mean_midpoint(), before = r.absmax(), after = r.absmax_after_shift(z);
        std::vector<int> order(size_t(r.dim));
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](int a, int b) { return before[size_t(a)] > before[size_t(b)]; });
        std::vector<float> ratio(size_t(r.dim));
        for (size_t j = 0; j < ratio.size(); ++j) ratio[j] = after[j] / before[j];
        std::vector<float> sorted = ratio;
        std::sort(sorted.begin(), sorted.end());
        const float max_before = before[size_t(order[0])], max_after = *std::max_element(after.begin(), after.end());
        fmt::print("{} ({} channels): widest channel max|x| {:.3f} → {:.3f} after the shift; per-channel "
                   "max|x - z| / max|x|: median {:.3f}, 10th percentile {:.3f}, min {:.3f}\n\n",
                   tap_name(t), r.dim, max_before, max_after, sorted[sorted.size() / 2], sorted[sorted.size() / 10],
                   sorted[0]);
        fmt::print("| channel | min | max | z | max\\|x\\| | max\\|x − z\\| | ratio |\n|---|---|---|---|---|---|---|\n");
        for (int k = 0; k < 8; ++k) {
            const size_t j = size_t(order[size_t(k)]);
            fmt::print("| {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} |\n", j, r.min[j], r.max[j], z[j],
                       before[j], after[j], ratio[j]);
        }
        fmt::print("\n");
    }
    return 0;
}
