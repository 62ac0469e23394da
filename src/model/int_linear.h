#pragma once
// The integer engine's Linear: packed s8/s4 weights, activations quantized per token to u8 codes (or
// OutlierTune's static codes), int32 accumulation on the dispatched kernel path, dequantizing epilogue
// with bias. Built from a simulated FakeQuantLinear and computing the same function: the codes are the
// quantizer module's codes, only the float summation order differs.
#include <memory>
#include <string>

#include "kernels/cpu/pack.h"
#include "model/model.h"
#include "model/fake_quant.h"

namespace tameq {

class IntLinear : public Linear {
public:
    // Returns null (with the reason in *why) when the layer's recipe has no integer kernel: weights kept in
    // floating point, asymmetric or act-order-grouped weights, activations not quantized, clipped per-token
    // activations, or static steps not folded to 1.
    static std::unique_ptr<IntLinear> from(const FakeQuantLinear& sim, std::string* why);

    void forward(const float* x, int n, float* y) const override;
    std::string kind() const override;
    // Whether forward can apply the online Walsh–Hadamard transform (QuaRot's R4) to its input, fused with
    // the per-token quantization: the input is quantized per token and its width has a fast transform.
    bool accepts_input_hadamard() const;
    void fuse_input_hadamard() { hadamard_input_ = accepts_input_hadamard(); }
    // Resident bytes: packed weights, their scales and the bias.
    size_t weight_bytes() const { return w_.bytes() + (scale_w_.size() + bias_.size()) * sizeof(float); }

private:
    IntLinear(int in, int out) : Linear(in, out) {}
    kern::PackedWeights w_;
    std::vector<float> scale_w_;  // [out], or [in/group x out] for grouped weights
    std::vector<float> bias_;
    ActQuant act_;
    int wbits_ = 8;
    bool hadamard_input_ = false;
    mutable std::vector<uint8_t> codes_;
    mutable std::vector<float> scale_a_;
    mutable std::vector<int32_t> zero_a_;
};

struct IntegerReport {
    int integer = 0, simulated = 0;
    std::string first_reason;  // why the first simulated layer stayed simulated
    bool fused_hadamard = false;  // R4 runs inside every down_proj
    bool kv_codes = false;        // the KV cache stores codes
    bool head_bf16 = false;       // lm_head is held in BF16
    bool embed_bf16 = false;      // so are the embeddings (only when exact: unrotated BF16 checkpoints)
};

// Replaces every simulated linear of the model's blocks that an integer kernel can run; moves the online
// Hadamard before down_proj into the down linears when all of them are integer; makes a quantized KV
// cache store codes; once any block linear is integer, holds lm_head (and the embeddings where exact) in BF16:
// they stay unquantized, as QuaRot places quantization, at half the FP32 bytes.
IntegerReport use_integer_kernels(Model& m);

// Block linears that run simulated quantization (FakeQuantLinear).
int count_simulated_linears(const Model& m);

}  // namespace tameq
