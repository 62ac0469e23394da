#include "calib/layer_runner.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "io/windows.h"
#include "io/tokenizer.h"
#include "model/family.h"

namespace tameq {

LayerRunner::LayerRunner(const Model& skeleton, const std::vector<std::vector<int>>& windows) : cfg_(skeleton.cfg) {
    int longest = 1;
    for (const auto& w : windows) {
        states_.emplace_back(w.size() * size_t(cfg_.hidden));
        embed_tokens(skeleton, w.data(), int(w.size()), 0, states_.back().data());
        lengths_.push_back(int(w.size()));
        longest = std::max(longest, int(w.size()));
    }
    if (family_of(cfg_).rope) rope_ = RopeTable(cfg_, longest);
    if (family_of(cfg_).rope && cfg_.rope_theta_sliding > 0) rope_sliding_ = RopeTable(cfg_, longest, cfg_.rope_theta_sliding);
    cache_ = KvCache(1, longest, cfg_.n_kv_heads * cfg_.head_dim);
    scratch_.ensure(cfg_, longest);
}

void LayerRunner::run(const Layer& layer, int layer_index, BlockTap* tap, bool update) {
    for (size_t w = 0; w < states_.size(); ++w) {
        const int n = lengths_[w];
        float* x = states_[w].data();
        if (!update) {  // the block works in place: run it on a copy
            out_.assign(states_[w].begin(), states_[w].end());
            x = out_.data();
        }
        BlockContext ctx{.cfg = cfg_, .rope = cfg_.local_rope(layer_index) ? rope_sliding_ : rope_, .cache = cache_, .s = scratch_, .layer = layer_index,
                         .cache_layer = 0, .pos0 = 0, .n = n, .online = online, .tap = tap};
        family_of(cfg_).forward_block(layer, x, ctx);
    }
}

}  // namespace tameq
