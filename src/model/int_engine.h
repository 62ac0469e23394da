#pragma once
// The integer engine as a whole-model configuration: which simulated linears become IntLinear, where the
// online Hadamard runs, whether the KV cache stores codes, and the BF16 head and embeddings.
#include <string>

#include "model/model.h"

namespace tameq {

struct IntegerReport {
    int integer = 0, simulated = 0;
    std::string first_reason;  // why the first simulated layer stayed simulated
    bool fused_hadamard = false;  // R4 runs inside every down_proj
    bool kv_codes = false;        // the KV cache stores codes
    bool head_bf16 = false;       // lm_head is held in BF16
    bool embed_bf16 = false;      // so are the embeddings (only when exact: unrotated BF16 checkpoints)
    int norm_code_groups = 0;     // pre-norms that emit static codes for all their readers (q/k/v, gate/up, fc1)
};

// Replaces every simulated linear of the model's blocks that an integer kernel can run; moves the online
// Hadamard before down_proj into the down linears when all of them are integer; makes a quantized KV
// cache store codes where the scheme table's KV column allows; lets each pre-norm whose readers all take the
// same static codes emit them (OnlineTransforms::norm_codes); once any block linear is integer, holds lm_head
// (and the embeddings where exact) in BF16: they stay unquantized, as QuaRot places quantization, at half the
// FP32 bytes.
IntegerReport use_integer_kernels(Model& m);

// Block linears that run simulated quantization (FakeQuantLinear).
int count_simulated_linears(const Model& m);

}  // namespace tameq
