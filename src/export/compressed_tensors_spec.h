#pragma once
// What the compressed-tensors writer and reader share: tensor and key names, the QuantizationArgs JSON of
// tameq's weight grids and activation quantizers (and back), target matching, and the Hadamard matrix R4
// is stored as. Private to export/ (the public API is compressed_tensors.h).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/fake_quant.h"
#include "model/family.h"

namespace tameq::ct {

inline constexpr const char* kQuantMethod = "compressed-tensors";
inline constexpr const char* kIntQuantized = "int-quantized";
inline constexpr const char* kPackQuantized = "pack-quantized";
// The compressed-tensors release whose definitions the writer follows (config.json's "version").
inline constexpr const char* kVersion = "0.18.0";
// R4's transform scheme name: its matrix is "<down_proj>.R4_input.weight".
inline constexpr const char* kR4Scheme = "R4";

// "model.layers.3.mlp.down_proj": a block row's Hugging Face module name.
std::string module_name(const Family& f, int layer, const BlockRow& r);
// The target every layer's module of row r matches: "re:.*mlp\.down_proj$".
std::string row_target(const BlockRow& r);
// compressed-tensors' is_match for one target: "re:<regex>" matched at the start of the name (Python
// re.match), "Linear" (every linear), else the exact name.
bool target_matches(const std::string& target, const std::string& name);

// QuantizationArgs of a weight grid (strategy channel or group, actorder "group" when each column names its
// group) and of an activation quantizer (dynamic per token, or static per tensor with a scale).
nlohmann::json weight_args(const QuantSpec& s, bool g_idx);
nlohmann::json dynamic_token_args(const QuantSpec& s);
nlohmann::json static_tensor_args(const QuantSpec& s);

// The Hadamard matrix tameq's R4 applies (y = x·H_nᵀ/√n) in compressed-tensors' orientation: entries ±1,
// W with y = x·W/√n, i.e. W = √n·H_nᵀ. Row-major [n x n].
std::vector<float> r4_transform_matrix(int n);
// "hadamard" (Sylvester: vLLM runs it with its Hadacore kernel) for powers of two; otherwise
// "random-hadamard", whose stored matrix vLLM applies as a dense GEMM.
const char* r4_transform_type(int n);

}  // namespace tameq::ct
