#pragma once
// A Llama-family model as a GGUF file that llama.cpp runs (arch "llama").
//   FP checkpoint: every matrix rounded to one type by ggml's reference quantizers (llama.cpp's own RTN).
//   tameq quantized directory: the codes tameq chose (RTN or GPTQ, after R1/R2 and the folds) written as the
//     llama.cpp block type that holds them exactly (kGgufTargets) — nothing is re-quantized; the only
//     approximation is the f16 rounding of each block's scale (and offset), which the summary measures.
// Online transforms llama.cpp cannot run are refused, or with fold_online: R4 multiplied into down_proj
// (that matrix alone re-quantized by ggml's rule) and R3 dropped (it only changes the KV codes).
#include <string>
#include <vector>

#include "io/gguf_writer.h"

namespace tameq {

// Which llama.cpp type holds each row of the scheme table (numerics/schemes.h, kWeightFormats).
struct GgufTarget {
    const char* format;       // WeightFormat::name
    gguf::TensorType type;
    const char* refusal;      // null when the type holds every code of the format exactly; else why not
};
inline constexpr GgufTarget kGgufTargets[] = {
    {"sym4", gguf::TensorType::Q4_0, nullptr},   // x = s·q, q in [-8, 7]  ->  d = s, c = q + 8
    {"asym4", gguf::TensorType::Q4_1, nullptr},  // x = s·(q − z)          ->  d = s, m = −s·z, c = q
    {"sym8", gguf::TensorType::Q8_0, nullptr},   // x = s·q, q in ±127      (w=8 needs w-narrow: no code −128)
    {"asym8", gguf::TensorType::F32, "llama.cpp has no asymmetric 8-bit type; use symmetric w=8 with w-narrow (Q8_0)"},
};

struct GgufExportOptions {
    std::string type = "f16";  // FP checkpoint: type of every matrix (f32, f16, q8_0, q4_0, q4_1)
    std::string head_type;     // embeddings and lm_head: "" = `type` for an FP checkpoint, f16 for a quantized one
    bool fold_online = false;
};

struct GgufExportSummary {
    int tensors = 0;
    uint64_t bytes = 0;
    std::vector<std::string> notes;      // what the file does not carry, one line each (printed as warnings)
    int exact_matrices = 0;              // written from tameq's codes
    int requantized_matrices = 0;        // rounded by ggml's rule (FP checkpoint, or down_proj under fold_online)
    double max_scale_rounding = 0;       // max |f16(s) − s| / s over the block scales written from codes
};

// Writes `out` (atomically); `model_path` is a Hugging Face directory or a tameq quantized directory.
// Every refusal is a tameq::Error naming the path.
GgufExportSummary export_gguf(const std::string& model_path, const std::string& out, const GgufExportOptions& opt);

}  // namespace tameq
