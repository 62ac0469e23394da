#pragma once
// A quantization recipe: which transforms run, which bits go where, how weights are quantized and
// calibrated. Written as flags to `tameq quantize`, as "key=value,..." to `eval ppl --recipe`, and as JSON
// into a quantized directory's tameq.json.
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace tameq {

struct Recipe {
    // Method
    std::string method = "rtn";      // rtn | outliertune | smoothquant (channel methods, issue 4) ; rotation methods use rotate
    std::string rotate = "none";     // none | ro | rh | dfrot | file
    std::string rotation_file;       // rotate=file: safetensors with one [hidden x hidden] F32 tensor
    uint64_t seed = 0;               // RO/RH/R2 randomness
    // Bits (16 = keep in floating point)
    int wbits = 16, abits = 16, kvbits = 16;
    // Weights
    std::string weights = "rtn";     // rtn | gptq
    bool w_asym = false;             // default symmetric per output channel
    int w_group = 0;                 // 0 = per channel
    bool w_clip_search = true;       // MSE clip search (GPTQ/QuaRot default)
    bool act_order = false;
    float gptq_damp = 0.01f;
    // Activations (dynamic per token)
    bool a_sym = false;              // default asymmetric
    float a_clip = 1.0f;
    float kv_clip = 1.0f;
    bool keep_massive_fp = false;    // diagnostic: massive-activation tokens skip activation quantization
    // Calibration
    std::string calib_file;
    int calib_windows = 32;
    int calib_ctx = 1024;
    // Channel methods (issue 4)
    float sq_alpha = 0.5f;           // SmoothQuant migration strength α in [0, 1]
    bool symmetrize = true;          // OutlierTune: shift each norm output channel to a symmetric range
    bool ot_clip_search = false;     // OutlierTune: per-channel MSE clip search for the static steps
    bool ot_fold = true;             // OutlierTune: fold the steps into weights and norm (false: simulate steps Δ)
    // DFRot
    float dfrot_gamma = 100.0f;
    int dfrot_iters = 100;
    int dfrot_windows = 1;
    // Rows refined on (dfrot_sample_rows: every massive row + a seeded uniform sample of the rest); 0 = all.
    // Default all: our models give 12288 rows at hidden 512 (under a minute); at hidden 4096 each step over
    // 131072 rows costs ≥ 19 s at the fp32 peak, so use e.g. dfrot-rows=16384 there (docs/results/dfrot-figures.md).
    int dfrot_rows = 0;
    std::string dfrot_marking = "magnitude";  // magnitude | quant-error

    void validate() const;                    // throws tameq::Error("recipe", ...)
    bool needs_calibration() const;
    std::string summary() const;              // e.g. "rh W4A4KV16 gptq"
};

// "key=value,key=value" (keys as the quantize flags without dashes: rotate, w, a, kv, weights, group, ...).
Recipe parse_recipe(const std::string& text);
void to_json(nlohmann::json& j, const Recipe& r);
void from_json(const nlohmann::json& j, Recipe& r);

}  // namespace tameq
