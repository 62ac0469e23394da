#pragma once
// A quantization recipe: which transforms run, which bits go where, how weights are quantized and
// calibrated. Written as "key=value,..." to `--recipe`, as flags to `tameq quantize`, and as JSON into a
// quantized directory's tameq.json. Every key is one row of kRecipeKeys below; the text parser, the JSON
// reader and writer, the per-key checks of validate(), the quantize flags and `tameq help recipe` all
// come from that table.
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "numerics/massive.h"  // MassiveMarking

namespace tameq {

// The four string choices of a recipe. Their spellings (ChoiceNames below) are what the text, the flags
// and tameq.json hold.
enum class Method { Rtn, OutlierTune, SmoothQuant, OtSearch };  // rtn: no channel method; rotations use Rotation
enum class Rotation { None, RO, RH, DFRot, File, Inner };  // R1 of the residual stream; Inner: none, only R2/R4/R3
enum class WeightQuantizer { Rtn, Gptq };
enum class OnlineR3 { On, None };                     // R3 on q/k after RoPE (on: when the KV cache is quantized)

// R4, the online Hadamard before down_proj of rotation recipes: QuaRot's full H_n (n = intermediate = m·2^k),
// none (R1/R2 only), or the block-diagonal I_{n/B} ⊗ H_B/√B with B a power of two (vLLM's Hadacore kernel
// runs those almost free). Spelled "full", "none", "block=B" (so `--recipe r4=block=128` and `--r4 block=128`).
struct R4Choice {
    static constexpr int kFull = 0, kNone = -1;
    int block = kFull;  // kFull, kNone or B
    bool operator==(const R4Choice&) const = default;
};
std::string r4_text(R4Choice c);
R4Choice parse_r4(std::string_view key, const std::string& text);  // fails naming the key

// One name per enum value, in the order of the values; `noun` names the choice in error messages.
template <class E> struct ChoiceNames;
template <> struct ChoiceNames<Method> {
    static constexpr std::string_view noun = "method";
    static constexpr std::array<std::string_view, 4> names = {"rtn", "outliertune", "smoothquant", "ot-search"};
};
template <> struct ChoiceNames<Rotation> {
    static constexpr std::string_view noun = "rotation";
    static constexpr std::array<std::string_view, 6> names = {"none", "ro", "rh", "dfrot", "file", "inner"};
};
template <> struct ChoiceNames<WeightQuantizer> {
    static constexpr std::string_view noun = "weight quantizer";
    static constexpr std::array<std::string_view, 2> names = {"rtn", "gptq"};
};
template <> struct ChoiceNames<OnlineR3> {
    static constexpr std::string_view noun = "r3";
    static constexpr std::array<std::string_view, 2> names = {"on", "none"};
};
template <> struct ChoiceNames<MassiveMarking> {
    static constexpr std::string_view noun = "massive-token marking";
    static constexpr std::array<std::string_view, 2> names = {"magnitude", "quant-error"};
};

template <class E> constexpr std::string_view choice_name(E e) { return ChoiceNames<E>::names[size_t(e)]; }

// The index of `text` among `names`; fails "unknown <noun> '<text>' (valid: a, b, ...)".
size_t find_choice(std::string_view noun, const std::string_view* names, size_t n, std::string_view text);
template <class E> E parse_choice(std::string_view text) {
    return E(find_choice(ChoiceNames<E>::noun, ChoiceNames<E>::names.data(), ChoiceNames<E>::names.size(), text));
}

// The rotations a model alone determines (all but File): the ones `tameq inspect` compares.
inline constexpr std::array<Rotation, 4> kModelRotations = {Rotation::None, Rotation::RO, Rotation::RH, Rotation::DFRot};
std::vector<std::string> model_rotation_names();  // choice_name of each, in that order

// Calibration rows (tokens) method=ot-search measures each candidate's loss on: the first ones seen.
inline constexpr int kMigrationSearchRows = 4096;

// Fields hold what the keys set; what each one means is its key's help in kRecipeKeys.
struct Recipe {
    Method method = Method::Rtn;
    Rotation rotate = Rotation::None;
    std::string rotation_file;
    uint64_t seed = 0;
    R4Choice r4;
    OnlineR3 r3 = OnlineR3::On;
    int wbits = 16, abits = 16, kvbits = 16;  // 16 = keep in floating point
    WeightQuantizer weights = WeightQuantizer::Rtn;
    bool w_asym = false;
    bool w_narrow = false;
    int w_group = 0;
    bool w_clip_search = true;
    bool act_order = false;
    float gptq_damp = 0.01f;
    bool a_sym = false;
    float a_clip = 1.0f;
    float kv_clip = 1.0f;
    bool keep_massive_fp = false;
    std::string calib_file;
    int calib_windows = 32;
    int calib_ctx = 1024;
    float sq_alpha = 0.5f;
    bool symmetrize = true;
    bool ot_clip_search = false;
    bool ot_fold = true;
    float search_alpha_min = 0.0f, search_alpha_max = 1.0f;  // ot-search's α grid
    int search_alpha_steps = 10;
    bool search_clip = false;
    float dfrot_gamma = 100.0f;
    int dfrot_iters = 100;
    int dfrot_windows = 1;
    // Default all rows: our models give 12288 rows at hidden 512 (under a minute); at hidden 4096 each step
    // over 131072 rows costs >= 19 s at the fp32 peak, so use e.g. dfrot-rows=16384 there
    // (docs/results/dfrot-figures.md).
    int dfrot_rows = 0;
    MassiveMarking dfrot_marking = MassiveMarking::Magnitude;

    void validate() const;                    // throws tameq::Error("recipe", ...)
    bool needs_calibration() const;
    std::string summary() const;              // e.g. "rh W4A4KV16 gptq"
};

// The values a key accepts, checked by Recipe::validate: [lo, hi] (or (lo, hi] when lo_open), plus one
// extra value outside it (bits: 16 = keep in floating point).
struct KeyRange {
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    bool lo_open = false;
    std::optional<double> also = std::nullopt;
};
inline constexpr KeyRange kBitsRange = {2, 8, false, 16};
inline constexpr KeyRange kUnitRange = {0, 1, true};  // clip ratios: (0, 1]
constexpr KeyRange at_least(double lo) { return {lo}; }

// The field a key sets; its type is the key's kind (int, float, bool, text, uint64 or one of the enums).
using RecipeField = std::variant<int Recipe::*, float Recipe::*, bool Recipe::*, uint64_t Recipe::*, std::string Recipe::*,
                                 Method Recipe::*, Rotation Recipe::*, WeightQuantizer Recipe::*, MassiveMarking Recipe::*,
                                 OnlineR3 Recipe::*, R4Choice Recipe::*>;

struct RecipeKey {
    std::string_view key;    // in "--recipe key=value" and as the flag "--key" of tameq quantize
    std::string_view json;   // the field of tameq.json: the on-disk format, never renamed
    std::string_view alias;  // another spelling, accepted in the text and as a flag ("" = none)
    std::string_view help;
    RecipeField field;
    std::optional<KeyRange> range = std::nullopt;
    void (*then)(Recipe&) = nullptr;  // runs after the key is set: what setting it implies for other fields
};

inline constexpr RecipeKey kRecipeKeys[] = {
    {"method", "method", "", "channel method (rotations use rotate)", &Recipe::method},
    {"rotate", "rotate", "", "R1 rotation of the residual stream (file: see rotation-file; inner: no R1, only R2/R4/R3)", &Recipe::rotate},
    {"rotation-file", "rotation_file", "", "R1 from a safetensors file holding one [hidden, hidden] F32 tensor (implies rotate=file)",
     &Recipe::rotation_file, std::nullopt,
     [](Recipe& r) {
         if (r.rotate == Rotation::None) r.rotate = Rotation::File;
     }},
    {"seed", "seed", "", "seed of the RO, RH and R2 randomness", &Recipe::seed},
    {"w", "wbits", "wbits", "weight bits (16 = keep in floating point)", &Recipe::wbits, kBitsRange},
    {"a", "abits", "abits", "activation bits, dynamic per token (16 = keep)", &Recipe::abits, kBitsRange},
    {"kv", "kvbits", "kvbits", "KV-cache bits (16 = keep)", &Recipe::kvbits, kBitsRange},
    {"weights", "weights", "", "weight quantizer", &Recipe::weights},
    {"w-asym", "w_asym", "", "asymmetric weight grids (default symmetric)", &Recipe::w_asym},
    {"w-narrow", "w_narrow", "", "symmetric weight codes in ±(2^(w-1)-1), llama.cpp's Q8_0 grid (no code -2^(w-1))",
     &Recipe::w_narrow},
    {"group", "w_group", "", "weight group size (0 = per output channel)", &Recipe::w_group, at_least(0)},
    {"w-clip-search", "w_clip_search", "", "MSE clip search of the weight grids (GPTQ/QuaRot default)", &Recipe::w_clip_search},
    {"act-order", "act_order", "", "GPTQ: quantize columns by decreasing Hessian diagonal", &Recipe::act_order},
    {"gptq-damp", "gptq_damp", "", "GPTQ: damping added to the Hessian diagonal, times its mean", &Recipe::gptq_damp, at_least(0)},
    {"a-sym", "a_sym", "", "symmetric activation grids (default asymmetric)", &Recipe::a_sym},
    {"a-clip", "a_clip", "", "activation clip ratio", &Recipe::a_clip, kUnitRange},
    {"kv-clip", "kv_clip", "", "KV-cache clip ratio", &Recipe::kv_clip, kUnitRange},
    {"keep-massive", "keep_massive_fp", "", "diagnostic: massive-activation tokens skip activation quantization",
     &Recipe::keep_massive_fp},
    {"calib", "calib_file", "", "calibration text (GPTQ, DFRot, channel methods)", &Recipe::calib_file},
    {"calib-windows", "calib_windows", "", "calibration windows", &Recipe::calib_windows, at_least(1)},
    {"calib-ctx", "calib_ctx", "", "calibration window length (BOS included)", &Recipe::calib_ctx, at_least(2)},
    {"alpha", "sq_alpha", "", "SmoothQuant migration strength", &Recipe::sq_alpha, KeyRange{0, 1}},
    {"symmetrize", "symmetrize", "", "OutlierTune, ot-search: shift each norm output channel to a symmetric range", &Recipe::symmetrize},
    {"ot-clip-search", "ot_clip_search", "", "OutlierTune: per-channel MSE clip search for the static steps",
     &Recipe::ot_clip_search},
    {"ot-fold", "ot_fold", "", "OutlierTune: fold the steps into weights and norm (false: simulate them)", &Recipe::ot_fold},
    {"alpha-min", "search_alpha_min", "", "ot-search: smallest migration strength searched", &Recipe::search_alpha_min,
     KeyRange{0, 1}},
    {"alpha-max", "search_alpha_max", "", "ot-search: largest migration strength searched (1 = OutlierTune's fold)",
     &Recipe::search_alpha_max, KeyRange{0, 1}},
    {"alpha-steps", "search_alpha_steps", "", "ot-search: intervals of the grid (10: 0, 0.1, ..., 1)",
     &Recipe::search_alpha_steps, at_least(0)},
    {"search-clip", "search_clip", "", "ot-search: also search the static step's clip, 1, 0.9, ..., 0.5", &Recipe::search_clip},
    {"gamma", "dfrot_gamma", "", "DFRot weight of massive tokens", &Recipe::dfrot_gamma, at_least(1)},
    {"dfrot-iters", "dfrot_iters", "", "DFRot refinement iterations", &Recipe::dfrot_iters, at_least(0)},
    {"dfrot-windows", "dfrot_windows", "", "DFRot calibration windows", &Recipe::dfrot_windows, at_least(1)},
    {"dfrot-rows", "dfrot_rows", "", "DFRot rows refined on: every massive row + a seeded sample of the rest (0 = all)",
     &Recipe::dfrot_rows, at_least(0)},
    {"marking", "dfrot_marking", "", "DFRot rule for massive tokens", &Recipe::dfrot_marking},
    {"r4", "r4", "", "rotations: Hadamard before down_proj, full (m·2^k), none, or block=B (B a power of two)",
     &Recipe::r4},
    {"r3", "r3", "", "rotations: Hadamard on q/k after RoPE when kv < 16 (none: never)", &Recipe::r3},
};

// The key spelled `name` (its key or its alias), or nullptr.
const RecipeKey* find_recipe_key(std::string_view name);
// Parses `value` as the key's kind and sets it on r (then what it implies); fails naming the key.
void set_recipe_key(Recipe& r, const RecipeKey& k, const std::string& value);
// The key's value in r as the text accepts it ("16", "0.01", "true", "rh").
std::string recipe_key_value(const Recipe& r, const RecipeKey& k);
// The key's kind: "int", "float", "bool", "uint64", "text" or the choices, "{rtn,gptq}".
std::string recipe_key_kind(const RecipeKey& k);
// The values validate() accepts ("2..8 or 16", "(0, 1]", ">= 1"), or "" when the kind says it all.
std::string recipe_key_range(const RecipeKey& k);

// "key=value,key=value" (keys or aliases of kRecipeKeys) applied to r in order; returns the keys it set.
// A key given twice fails. Does not validate.
std::vector<const RecipeKey*> apply_recipe_text(Recipe& r, const std::string& text);
// The default recipe with `text` applied, validated.
Recipe parse_recipe(const std::string& text);
// `text` first, then each (key, value) of `overrides` (the quantize flags), validated. A key in both, or
// twice in either, fails.
Recipe compose_recipe(const std::string& text, const std::vector<std::pair<const RecipeKey*, std::string>>& overrides);

void to_json(nlohmann::json& j, const Recipe& r);
void from_json(const nlohmann::json& j, Recipe& r);

}  // namespace tameq
