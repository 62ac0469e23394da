#pragma once
// Random-weight checkpoints in Hugging Face layout, for tests (tiny models) and benchmarks
// (Llama-2-7B layer shapes with few layers). Weights ~ N(0, init_std) from a seeded PRNG.
#include <cstdint>
#include <string>

#include "io/hf_config.h"

namespace tameq {

struct SyntheticSpec {
    ModelConfig cfg;          // family, sizes, biases, ties
    uint64_t seed = 1;
    float init_std = 0.02f;
    bool bf16 = false;        // store BF16 (as real checkpoints) instead of F32
    // Scale of the residual "massive activation" injected through one embedding row and channel (0 = none),
    // so rotation tests see the BOS-style outliers DFRot is about.
    float massive_value = 0.0f;
};

// Writes config.json, model.safetensors (streamed: one tensor in memory at a time, so a 32-layer 7B-shaped model
// needs ~0.5 GB, its embedding table) and a byte-level tokenizer.json (256 byte tokens + 4 specials,
// no merges) into `dir` (created). cfg.vocab must be at least 260 for the tokenizer to cover every byte.
void write_synthetic_model(const std::string& dir, const SyntheticSpec& spec);

// Llama-2-7B shapes (hidden 4096, 32 heads, SwiGLU 11008, vocab 32000) with `n_layers` layers.
ModelConfig llama2_7b_shaped(int n_layers);
// A tiny Llama-family config (hidden 64, 4 heads, 2 KV heads, SwiGLU 192 = 12·16) or OPT (hidden 64, ffn 256).
ModelConfig tiny_config(ArchFamily family, int n_layers = 2);

}  // namespace tameq
