#pragma once
// Next-token choice: greedy at temperature 0, else temperature + nucleus (top-p) sampling as
// llama.cpp and transformers do it.
#include <cstdint>
#include <vector>

#include "common/rng.h"

namespace tameq {

class Sampler {
public:
    Sampler(float temperature, float top_p, uint64_t seed);
    int sample(const float* logits, int vocab);

private:
    float temperature_, top_p_;
    Rng rng_;
    std::vector<std::pair<float, int>> probs_;
};

}  // namespace tameq
