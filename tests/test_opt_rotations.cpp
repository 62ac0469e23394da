// Rotations for OPT (LayerNorm) through SliceGPT's mean-free residual (family_opt.cpp's to_rms_* hooks): at 16
// bits every pass and every rotation recipe leaves gut-opt-24m's logits within 1e-4 of the unrotated model; what
// is not exact (post-LN, project_in/out, no final norm) is refused with its reason; a rotated quantized directory
// keeps the conversion (lm_head's folded bias, RMSNorm mode) and runs on the integer engine.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "common/error.h"
#include "eval/perplexity.h"
#include "export/open_model.h"
#include "io/tokenizer.h"
#include "io/windows.h"
#include "model/engine.h"
#include "model/family.h"
#include "model/int_engine.h"
#include "quant/pipeline.h"
#include "quant/recipe.h"
#include "test_util.h"
#include "transform/fold_norms.h"
#include "transform/rotate_model.h"
#include "transform/rotations.h"

using namespace tameq;
namespace fs = std::filesystem;

namespace {

std::string opt_dir() { return test::shared_path("models/gut-opt-24m"); }
std::string calib_text() { return test::shared_path("data/gutenberg/calib.txt"); }

// Two short prompts of real text, BOS first.
std::vector<std::vector<int>> prompts(const Tokenizer& tok, int bos) {
    std::vector<std::vector<int>> out;
    for (const char* text : {"It was a bright cold day in April, and the clocks were striking thirteen.",
                             "The old man sat by the fire and told the children of the sea."}) {
        std::vector<int> ids = {bos};
        for (int id : tok.encode(text)) ids.push_back(id);
        out.push_back(std::move(ids));
    }
    return out;
}

std::vector<float> logits_of(const Model& m, const std::vector<int>& ids) {
    Engine e(m, int(ids.size()));
    std::vector<float> out(ids.size() * size_t(m.cfg.vocab));
    e.forward(ids.data(), int(ids.size()), out.data(), Logits::All);
    return out;
}

using test::worst_rel;

double worst_over_prompts(const Model& m, const std::vector<std::vector<int>>& ps,
                          const std::vector<std::vector<float>>& want) {
    double worst = 0;
    for (size_t i = 0; i < ps.size(); ++i) worst = std::max(worst, worst_rel(logits_of(m, ps[i]), want[i], m.cfg.vocab));
    return worst;
}

}  // namespace

TEST(OptRotations, EveryPassKeepsTheLogitsAt16Bits) {
    TAMEQ_REQUIRE_SHARED();
    const Model base = load_model(opt_dir());
    auto tok = load_tokenizer(opt_dir());
    const auto ps = prompts(*tok, base.cfg.bos_id);
    std::vector<std::vector<float>> want;
    for (const auto& p : ps) want.push_back(logits_of(base, p));
    const int h = base.cfg.hidden, hd = base.cfg.head_dim;
    const std::vector<std::pair<const char*, std::function<void(Model&)>>> passes = {
        {"mean-free + fold", [](Model& m) { fold_norm_scales(m); }},
        {"fold + R1 RO", [&](Model& m) { fold_norm_scales(m); rotate_residual(m, random_orthogonal(h, 3)); }},
        {"fold + R1 RH", [&](Model& m) { fold_norm_scales(m); rotate_residual(m, random_hadamard(h, 4)); }},
        {"R2 (RH)", [&](Model& m) { rotate_heads_vo(m, random_hadamard(hd, 5)); }},
        {"R4", [](Model& m) { add_online_hadamard_down(m); }},
        {"R3", [](Model& m) { add_online_hadamard_qk(m); }},
    };
    for (const auto& [pass, apply] : passes) {
        Model m = load_model(opt_dir());
        apply(m);
        const double err = worst_over_prompts(m, ps, want);
        EXPECT_LT(err, 1e-4) << pass;
        RecordProperty(pass, fmt::format("{:.3g}", err));
    }
    // The conversion itself: LayerNorm mode off, bare norms, and the final norm's β now lm_head's bias.
    Model folded = load_model(opt_dir());
    fold_norm_scales(folded);
    EXPECT_TRUE(folded.online.layer_norm_as_rms);
    EXPECT_TRUE(folded.layers[0].attn_norm.bias.empty());
    EXPECT_EQ(as_dense(*folded.lm_head).bias.size(), size_t(base.cfg.vocab));
    // A rotated residual is not mean-free: running LayerNorm on it instead of RMSNorm changes the logits.
    Model rotated = load_model(opt_dir());
    fold_norm_scales(rotated);
    rotate_residual(rotated, random_hadamard(h, 4));
    rotated.online.layer_norm_as_rms = false;
    for (Layer& l : rotated.layers)
        for (Norm* n : {&l.attn_norm, &l.mlp_norm}) n->bias.assign(size_t(h), 0.0f);
    rotated.final_norm.bias.assign(size_t(h), 0.0f);
    EXPECT_GT(worst_over_prompts(rotated, ps, want), 1e-2);

    // The recipes (R1, R2 and R4 together), DFRot's R1 refined on calibration text.
    for (const std::string& recipe : {std::string("rotate=ro"), std::string("rotate=rh"),
                                     "rotate=dfrot,dfrot-iters=5,calib=" + calib_text() + ",calib-ctx=64"}) {
        const Model m = quantize_in_memory(opt_dir(), parse_recipe(recipe), *tok);
        const double err = worst_over_prompts(m, ps, want);
        EXPECT_LT(err, 1e-4) << recipe;
        RecordProperty(recipe.substr(0, 12), fmt::format("{:.3g}", err));
    }
}

TEST(OptRotations, WhatIsNotExactIsRefusedWithItsReason) {
    TAMEQ_REQUIRE_SHARED();
    struct Case {
        const char* what;
        std::function<void(ModelConfig&)> change;
        const char* reason;
    };
    const std::vector<Case> cases = {
        {"post-LN", [](ModelConfig& c) { c.pre_layer_norm = false; }, "post-LN OPT (do_layer_norm_before=false)"},
        {"projected", [](ModelConfig& c) { c.word_embed_proj_dim = 256; }, "project_in/project_out (word_embed_proj_dim 256"},
        {"no final norm", [](ModelConfig& c) { c.final_layer_norm = false; }, "no final LayerNorm"},
    };
    for (const Case& k : cases) {
        Model m = load_model(opt_dir());
        k.change(m.cfg);
        const std::string e = test::error_of([&] { fold_norm_scales(m); });
        EXPECT_NE(e.find(k.reason), std::string::npos) << k.what << ": " << e;
        EXPECT_NE(e.find(k.what == std::string("post-LN") ? "rotations are not exact" : "rotations"), std::string::npos) << e;
        EXPECT_FALSE(rotation_refusal(m.cfg).empty()) << k.what;
    }
    // Rotating without the conversion is refused too (LayerNorm still subtracts the mean).
    Model raw = load_model(opt_dir());
    EXPECT_NE(test::error_of([&] { rotate_residual(raw, random_hadamard(raw.cfg.hidden, 1)); }).find("RMSNorm first"),
              std::string::npos);
    EXPECT_TRUE(rotation_refusal(raw.cfg).empty());
}

// A rotated W4A8 RH RTN directory: tameq.json carries the RMSNorm mode, lm_head's bias survives, the integer
// engine takes every linear and agrees with the simulation; the 16-bit rotated directory equals the FP model.
TEST(OptRotations, RotatedQuantizedDirectoryRunsOnTheIntegerEngine) {
    TAMEQ_REQUIRE_SHARED();
    const fs::path root = test::fresh_test_dir("opt-rot");
    const Model base = load_model(opt_dir());
    auto tok = load_tokenizer(opt_dir());
    const auto ps = prompts(*tok, base.cfg.bos_id);
    std::vector<std::vector<float>> want;
    for (const auto& p : ps) want.push_back(logits_of(base, p));

    std::string out;
    const std::string fp_dir = (root / "rh16").string();
    ASSERT_EQ(test::run_tameq("quantize " + opt_dir() + " --recipe rotate=rh -o " + fp_dir, &out), 0) << out;
    const Model rh16 = load_model(fp_dir);
    EXPECT_TRUE(rh16.online.layer_norm_as_rms);
    EXPECT_LT(worst_over_prompts(rh16, ps, want), 1e-4);

    const std::string q_dir = (root / "rh-w4a8").string();
    ASSERT_EQ(test::run_tameq("quantize " + opt_dir() + " --recipe rotate=rh,w=4,a=8 -o " + q_dir, &out), 0) << out;
    const Model sim = load_model(q_dir);
    Model integer = load_model(q_dir);
    const IntegerReport rep = use_integer_kernels(integer);
    EXPECT_EQ(rep.simulated, 0) << rep.first_reason;
    EXPECT_EQ(rep.integer, 6 * base.cfg.n_layers);
    // The integer engine against the simulation: only the GEMM's float summation order differs. One 8-bit
    // activation code moved across a rounding boundary by that is carried on by the KV cache to every later
    // position (measured 2026-12-04 on the first prompt: 1e-3 of the largest logit up to position 8, 1.3e-2
    // to 2.1e-2 after a flip at 9 with OpenBLAS's AVX-512 kernels, 2.9e-2 on the second; below 2e-2 with
    // AVX2), so the logits are compared where no flip has happened yet, and the model as a whole by perplexity
    // on 3 windows of 256 tokens of the Gutenberg eval text. Flips move a sample that small by tenths of a percent either way
    // (measured int/sim − 1 with an FP32 or a BF16 head alike: W4A8 RH +0.50 %, W4A8 RH r4=none −0.30 %,
    // W4A8 −0.42 %, W8A8 +0.28 %, W8A8 RH −0.25 %); over 4 windows of 1024 W4A8 RH is +0.16 % (RESULTS §10.1)
    // and over E64 W8A8 −0.015 % (§3). A wrong scale, bias or transform moves it by far more.
    const std::vector<float> sim_logits = logits_of(sim, ps[0]);
    const std::vector<float> int_logits = logits_of(integer, ps[0]);
    const size_t early = 4 * size_t(base.cfg.vocab);
    EXPECT_LT(worst_rel({int_logits.begin(), int_logits.begin() + early},
                        {sim_logits.begin(), sim_logits.begin() + early}, base.cfg.vocab),
              5e-3);
    std::ifstream eval_in(test::shared_path("data/gutenberg/eval.txt"));
    const std::string eval_text((std::istreambuf_iterator<char>(eval_in)), {});
    const auto windows = make_windows(tok->encode(eval_text.substr(0, 40000)), 256, 3, base.cfg.bos_id);
    ASSERT_EQ(windows.size(), 3u);
    const double sim_ppl = evaluate_ppl(sim, windows).ppl, int_ppl = evaluate_ppl(integer, windows).ppl;
    EXPECT_LT(std::fabs(int_ppl / sim_ppl - 1.0), 1e-2) << "int " << int_ppl << " vs sim " << sim_ppl;
    // Quantized, still near FP: measured 0.35 (2026-12-03); logits of another function are off by about 1.
    EXPECT_LT(worst_rel(sim_logits, want[0], base.cfg.vocab), 0.5);
    fs::remove_all(root);
}
