#pragma once
// Runs calibration windows through a model one decoder block at a time, holding only the hidden states
// of the windows and one layer's KV cache: the way quantization streams a large checkpoint.
#include <vector>

#include "io/windows.h"
#include "model/block_tap.h"
#include "model/engine.h"
#include "model/model.h"

namespace tameq {

class LayerRunner {
public:
    // Embeds every window with `skeleton`'s embeddings (already transformed, e.g. rotated).
    LayerRunner(const Model& skeleton, const std::vector<std::vector<int>>& windows);

    // Runs block `layer_index` over every window; `tap` observes; with `update` the outputs replace the states.
    void run(const Layer& layer, int layer_index, BlockTap* tap, bool update);
    // Online transforms of the blocks still to run (set as the recipe adds them).
    OnlineTransforms online;

    size_t windows() const { return states_.size(); }
    const std::vector<float>& state(size_t w) const { return states_[w]; }

private:
    const ModelConfig& cfg_;
    std::vector<std::vector<float>> states_;  // [window][ctx x hidden]
    std::vector<int> lengths_;
    RopeTable rope_, rope_sliding_;
    KvCache cache_;
    Scratch scratch_;
    std::vector<float> out_;
};

}  // namespace tameq
