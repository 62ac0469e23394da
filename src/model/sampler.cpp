#include "model/sampler.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace tameq {

Sampler::Sampler(float temperature, float top_p, uint64_t seed) : temperature_(temperature), top_p_(top_p), rng_(seed) {
    if (!(temperature >= 0.0f)) fail("sampler", "temperature must be >= 0, got {}", temperature);
    if (!(top_p > 0.0f && top_p <= 1.0f)) fail("sampler", "top-p must be in (0, 1], got {}", top_p);
}

int Sampler::sample(const float* logits, int vocab) {
    if (temperature_ == 0.0f) return int(std::max_element(logits, logits + vocab) - logits);
    const float mx = *std::max_element(logits, logits + vocab);
    probs_.resize(size_t(vocab));
    double sum = 0.0;
    for (int i = 0; i < vocab; ++i) {
        const float p = std::exp((logits[i] - mx) / temperature_);
        probs_[size_t(i)] = {p, i};
        sum += p;
    }
    // Keep the smallest set of most likely tokens whose mass reaches top_p.
    std::sort(probs_.begin(), probs_.end(), [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    size_t keep = probs_.size();
    double kept_mass = sum;
    if (top_p_ < 1.0f) {
        double acc = 0.0;
        for (size_t i = 0; i < probs_.size(); ++i) {
            acc += probs_[i].first;
            if (acc >= top_p_ * sum) {
                keep = i + 1;
                kept_mass = acc;
                break;
            }
        }
    }
    double r = rng_.uniform() * kept_mass;
    for (size_t i = 0; i < keep; ++i) {
        r -= probs_[i].first;
        if (r < 0.0) return probs_[i].second;
    }
    return probs_[keep - 1].second;
}

}  // namespace tameq
