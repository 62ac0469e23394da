#pragma once
// compressed-tensors: the Hugging Face checkpoint format vLLM, SGLang and TGI load quantized models from
// (config.json's "quantization_config" with quant_method "compressed-tensors"). The writer translates a
// tameq quantized directory into it without re-quantizing (compressed_tensors_write.cpp); the reader
// rebuilds tameq's simulated model from such a directory (compressed_tensors_read.cpp), so `tameq eval ppl`
// can check that the export holds the codes it came from. The names, the scheme arguments and the packing
// both sides share are compressed_tensors_spec.cpp.
//
// Definitions followed (compressed-tensors 0.18, github.com/vllm-project/compressed-tensors):
//   quantization/quant_args.py      QuantizationArgs: num_bits, type, symmetric, strategy, group_size,
//                                   dynamic, actorder (a signed code range [-2^(b-1), 2^(b-1)-1] for ints)
//   compressors/naive_quantized     "int-quantized": weight I8 [N, K], weight_scale, weight_zero_point
//   compressors/pack_quantized      "pack-quantized": weight_packed I32 (dense packing below),
//                                   weight_scale, weight_shape [2], weight_zero_point packed along N,
//                                   weight_g_idx with actorder "group"
//   transform/transform_{config,scheme,args}.py   transform_config: config_groups of {type, apply:
//                                   [{targets, location, inverse, ignore}], randomize, requires_grad,
//                                   head_dim, precision}; an online transform's matrix is the checkpoint
//                                   tensor "<module>.<scheme name>_<location>.weight" (unnormalized; the
//                                   value is x·W/√n, or x·Wᵀ/√n with inverse)
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace tameq {

struct CompressedTensorsOptions {
    // R3 (the online Hadamard on q/k after RoPE) has no carrier in compressed-tensors that an engine runs; it
    // only serves tameq's KV-cache quantization. With this set, R3 and the KV-cache quantization are
    // dropped (a warning names the engine's own KV-cache option); without it such a recipe is refused.
    bool drop_r3 = false;
    // Write scales (except int-quantized's float32 ones and input_scale), norms, biases, embeddings and lm_head
    // in BF16, as a checkpoint in the model's dtype holds them, instead of F32 (exact).
    bool bf16 = false;
};

// Writes `out_dir` (which must not exist) from the tameq quantized directory `quantized_dir`: config.json
// with quantization_config (and transform_config for R4), safetensors shards under Hugging Face names, the
// tokenizer files. Everything goes to a temporary directory renamed into place at the end; a recipe with
// no compressed-tensors scheme is refused before anything is written. Returns the warnings it printed.
std::vector<std::string> export_compressed_tensors(const std::string& quantized_dir, const std::string& out_dir,
                                                   const CompressedTensorsOptions& options = {});

// A directory whose config.json says quant_method "compressed-tensors".
bool is_compressed_tensors_dir(const std::string& path);
// The simulated model of such a directory: FakeQuantLinear with the stored codes and grids and the
// activation quantizers the config groups name, R4 where transform_config puts a Hadamard before down_proj.
Model load_compressed_tensors(const std::string& dir);

// compressed-tensors' dense packing (pack_quantized/helpers.py, 0.18): each code c of a row is stored as
// the unsigned c + 2^(b-1) in bits [i·b, i·b + b) of the row's little-endian bit stream of int32 words;
// a row of `cols` codes takes ceil(cols·b / 32) words, the unused high bits of the last word are zero.
// `codes` [rows x cols] signed, each in [-2^(b-1), 2^(b-1) - 1]; bits 1..8.
std::vector<int32_t> ct_pack_rows(const int8_t* codes, int rows, int cols, int bits);
// The inverse; false when the padding bits of a row's last word are not zero.
bool ct_unpack_rows(const int32_t* words, int rows, int cols, int bits, int8_t* codes);
// Packed along the first dimension (the zero points of pack-quantized, packed along N):
// v [rows x cols] -> [ceil(rows·b / 32) x cols], column j of the output is column j of v packed as a row.
std::vector<int32_t> ct_pack_columns(const int8_t* v, int rows, int cols, int bits);
bool ct_unpack_columns(const int32_t* words, int rows, int cols, int bits, int8_t* v);
inline int ct_packed_words(int n, int bits) { return int((int64_t(n) * bits + 31) / 32); }

}  // namespace tameq
