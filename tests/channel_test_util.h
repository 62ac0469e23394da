#pragma once
// Shared by the OutlierTune and SmoothQuant tests: a tiny random checkpoint with its calibration text,
// logits of a model on a fixed token sequence, and the per-channel ranges of one layer's norm outputs.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "model/engine.h"
#include "support/synthetic.h"
#include "calib/channel_stats.h"

namespace tameq::test {

struct TinyModel {
    std::string dir, calib;  // checkpoint directory and a calibration text beside it
};

// A tiny random model of `family` (BOS massive value `massive`, 0 = none) and 8 KB of pseudo-random words.
inline TinyModel make_tiny(ArchFamily family, const std::string& name, float massive = 0.0f, bool pre_ln = true) {
    TinyModel t;
    t.dir = (std::filesystem::temp_directory_path() / ("tameq_" + name)).string();
    SyntheticSpec spec;
    spec.cfg = tiny_config(family);
    spec.cfg.pre_layer_norm = pre_ln;
    spec.massive_value = massive;
    write_synthetic_model(t.dir, spec);
    t.calib = t.dir + "/calib.txt";
    std::ofstream out(t.calib);
    uint32_t s = 12345;
    for (int i = 0; i < 1500; ++i) {
        s = s * 1664525u + 1013904223u;
        const int len = 1 + int((s >> 24) % 7);
        for (int c = 0; c < len; ++c) out << char('a' + (s >> (c * 3 + 2)) % 26);
        out << ((s >> 20) % 9 == 0 ? ".\n" : " ");
    }
    return t;
}

inline std::vector<int> probe_tokens(int n = 48) {
    std::vector<int> t{1};
    for (int i = 1; i < n; ++i) t.push_back(4 + (i * 37) % 250);
    return t;
}

inline std::vector<float> logits_of(const Model& m, const std::vector<int>& tokens) {
    Engine e(m);
    std::vector<float> out(tokens.size() * size_t(m.cfg.vocab));
    e.forward(tokens.data(), int(tokens.size()), out.data());
    return out;
}

// max |a - b| / max |a|
inline double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0, m = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        d = std::max(d, double(std::abs(a[i] - b[i])));
        m = std::max(m, double(std::abs(a[i])));
    }
    return d / m;
}

// The ranges of one layer's linear inputs while the model runs `tokens` (one sample).
class OneLayerStats : public BlockTap {
public:
    explicit OneLayerStats(int layer) : layer_(layer) {}
    void on(int layer, Tap where, const float* x, int n, int dim) override {
        if (layer == layer_) stats.on(layer, where, x, n, dim);
    }
    ChannelStatsTap stats;

private:
    int layer_;
};

inline ChannelStatsTap layer_stats(const Model& m, int layer, const std::vector<int>& tokens) {
    Engine e(m);
    OneLayerStats tap(layer);
    e.tap = &tap;
    std::vector<float> logits(size_t(m.cfg.vocab));
    e.forward(tokens.data(), int(tokens.size()), logits.data(), Logits::Last);
    return tap.stats;
}

}  // namespace tameq::test
