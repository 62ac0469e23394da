#pragma once
// The integer engine's Linear: packed s8/s4 weights, activations quantized per token to u8 codes (or
// OutlierTune's static codes), int32 accumulation on the dispatched kernel path, dequantizing epilogue
// with bias. Built from a simulated FakeQuantLinear and computing the same function: the codes are the
// quantizer module's codes, only the float summation order differs.
#include <memory>
#include <span>
#include <string>

#include "kernels/cpu/pack.h"
#include "kernels/scheme_kernels.h"
#include "model/model.h"
#include "model/fake_quant.h"

namespace tameq {

class IntLinear;

// The first of `readers` (the linears of one norm) when every one is an IntLinear on static 8-bit-or-narrower
// codes with the same code range and code_stride, so that one kern::norm_codes_u8 pass can feed them all;
// else null.
const IntLinear* shared_static_codes(std::span<const Linear* const> readers);

class IntLinear : public Linear {
public:
    // Returns null (with the reason in *why) when the layer's recipe has no integer kernel: weights kept in
    // floating point, a weight scheme without a CPU kernel (kern::cpu_weight_kernel: asymmetric, act-order,
    // per-tensor, groups not a multiple of 8), activations not quantized, clipped per-token activations,
    // static steps not folded to 1, or an input wider than kern::max_k.
    static std::unique_ptr<IntLinear> from(const FakeQuantLinear& sim, std::string* why);

    void forward(const float* x, int n, float* y) const override;
    std::string kind() const override;
    // Whether forward can apply the online Walsh–Hadamard transform (QuaRot's R4) to its input, fused with
    // the per-token quantization: the input is quantized per token and its width has a fast transform
    // (block 0: the whole row, m·2^k; block B: I ⊗ H_B/√B, B a power of two dividing the width).
    bool accepts_input_hadamard(int block = 0) const;
    void fuse_input_hadamard(int block = 0) {
        hadamard_input_ = accepts_input_hadamard(block);
        hadamard_block_ = block;
    }
    // OutlierTune's static codes (symmetric, every step folded to 1 into the norm before this linear): the spec
    // whose [qmin, qmax] clamps them; null when the input is quantized per token. Readers of one norm with the
    // same range and code_stride can share the codes the norm emits (kern::norm_codes_u8).
    const QuantSpec* static_code_spec() const {
        return act_.mode == ActQuant::Mode::PerChannelStatic ? &act_.spec : nullptr;
    }
    // Row stride of the codes forward_codes reads: the packed width (columns past in_features meet zero weights).
    int code_stride() const { return w_.k_pad; }
    // y [n x out] from static codes codes [n x code_stride()] (u8, +128-shifted, step 1): forward without its
    // own quantization pass. Only for static_code_spec() linears; columns in_features .. code_stride()-1 must
    // be readable (their value never counts).
    void forward_codes(const uint8_t* codes, int n, float* y) const;
    // Resident bytes: packed weights, their scales and the bias.
    size_t weight_bytes() const { return w_.bytes() + (scale_w_.size() + bias_.size()) * sizeof(float); }

private:
    IntLinear(int in, int out) : Linear(in, out) {}
    kern::PackedWeights w_;
    kern::GemmFn gemm_ = nullptr;  // the scheme's CPU GEMM (per-channel or grouped scales)
    std::vector<float> scale_w_;  // [out], or [in/group x out] for grouped weights
    std::vector<float> bias_;
    ActQuant act_;
    int wbits_ = 8;
    bool hadamard_input_ = false;
    int hadamard_block_ = 0;  // OnlineTransforms::had_down_block
    mutable std::vector<uint8_t> codes_;
    mutable std::vector<float> scale_a_;
    mutable std::vector<int32_t> zero_a_;
};

}  // namespace tameq
