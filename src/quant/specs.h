#pragma once
// A recipe's settings as the parameter structs of the parts it drives: its quantizers as QuantSpecs (bits,
// symmetry, groups, clipping) and DFRot's collection and refinement options. The one translation, which the
// pipeline uses and `tameq inspect` shares where it quantizes the same way.
#include "calib/dfrot_rows.h"
#include "numerics/quantizer.h"
#include "quant/recipe.h"
#include "transform/dfrot.h"

namespace tameq {

// Per output row (or per group of w-group columns), with the recipe's symmetry and clip search.
QuantSpec weight_spec(const Recipe& r);

// The dynamic per-token activation quantizer of `bits` bits: symmetric or not, the range shrunk by `clip_ratio`.
QuantSpec per_token_spec(int bits, bool symmetric, float clip_ratio = 1.0f);
// The recipe's per-token activation quantizer at a-bits (a-sym, a-clip).
QuantSpec act_spec(const Recipe& r);

// OutlierTune's static per-channel input codes: symmetric and clamped at a-bits, the q_max its steps were
// made with.
QuantSpec static_act_spec(const Recipe& r);

// Per (token, head), asymmetric, kv-clip: the KV-cache fake quantization.
QuantSpec kv_spec(const Recipe& r);

// The activation grid DFRot refines R1 for: the recipe's, or a 4-bit one when activations stay FP
// (a16), since R1 then only serves the weights and 4 bits is where DFRot's rotation matters.
QuantSpec dfrot_act_spec(const Recipe& r);

// The recipe's DFRot collection (its marking rule) and refinement (γ, iterations, row sample, seed).
DfrotRowsOptions dfrot_rows_options(const Recipe& r, const ModelConfig& cfg);
DfrotR1Options dfrot_r1_options(const Recipe& r);

}  // namespace tameq
