#pragma once
// Named FP32 tensors in Hugging Face naming, whatever the file format behind them.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/hf_config.h"

namespace tameq {

class TensorSource {
public:
    virtual ~TensorSource() = default;
    virtual bool has(const std::string& name) const = 0;
    // The tensor as FP32; throws naming the file if it is missing or its shape differs.
    virtual std::vector<float> load(const std::string& name, const std::vector<int64_t>& shape) const = 0;
    // Storage dtype of the checkpoint, for `tameq info` ("BF16", "F32", ...).
    virtual std::string dtype_summary() const = 0;
};

std::unique_ptr<TensorSource> open_safetensors_source(const std::string& path);

// llama2.c checkpoint (v0 format: 7 int32 header, then FP32 weights). Fills `cfg` from the header and
// exposes the weights under Llama names, with q/k rows permuted from llama2.c's interleaved RoPE pairs to
// Hugging Face's rotate-half layout.
std::unique_ptr<TensorSource> open_llama2c_source(const std::string& path, ModelConfig& cfg);

}  // namespace tameq
