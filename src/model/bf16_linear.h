#pragma once
// A Linear whose weights are stored in bfloat16 and multiplied in FP32: what the integer engine keeps for
// lm_head, which QuaRot's placement leaves unquantized. Exact for a BF16 checkpoint's own weights; a rotated
// or norm-folded head is rounded once to BF16 (relative error ≤ 2⁻⁹ per weight). Half the bytes of FP32, and
// the lm_head is the largest matrix a small model's decode step reads.
#include <cstdint>
#include <vector>

#include "model/linear.h"

namespace tameq {

class Bf16Linear : public Linear {
public:
    // Rounds the dense weights to BF16 (nearest even); the bias stays FP32.
    explicit Bf16Linear(const DenseLinear& dense);
    void forward(const float* x, int n, float* y) const override;
    std::string kind() const override { return "bf16"; }
    size_t weight_bytes() const { return weight_.size() * sizeof(uint16_t) + bias_.size() * sizeof(float); }

private:
    std::vector<uint16_t> weight_;  // [out x in] row-major
    std::vector<float> bias_;       // [out] or empty
};

}  // namespace tameq
