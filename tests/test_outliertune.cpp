#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "channel_test_util.h"
#include "common/error.h"
#include "eval/perplexity.h"
#include "model/family.h"
#include "io/tokenizer.h"
#include "calib/layer_runner.h"
#include "export/open_model.h"
#include "quant/pipeline.h"
#include "model/fake_quant.h"
#include "test_util.h"
#include "transform/outliertune.h"
#include "transform/smoothquant.h"

using namespace tameq;
using namespace tameq::test;

namespace {

Model quantize_tiny(const TinyModel& t, const std::string& recipe) {
    Recipe r = parse_recipe(recipe + ",calib-windows=4,calib=" + t.calib);
    return quantize_in_memory(t.dir, r, *load_tokenizer(t.dir));
}

}  // namespace

TEST(OutlierTune, FoldsAt16BitsLeaveLogitsUnchanged) {
    for (ArchFamily family : {ArchFamily::Llama, ArchFamily::OPT}) {
        const bool llama = family == ArchFamily::Llama;
        const TinyModel t = make_tiny(family, llama ? "ot_llama" : "ot_opt", 40.0f);
        const Model fp = load_model(t.dir);
        const auto tokens = probe_tokens();
        const auto ref = logits_of(fp, tokens);
        for (const char* recipe : {"method=outliertune,w=16,a=16", "method=outliertune,w=16,a=16,symmetrize=false",
                                   "method=outliertune,w=16,a=16,ot-fold=false"}) {
            SCOPED_TRACE(std::string(llama ? "llama " : "opt ") + recipe);
            const Model q = quantize_tiny(t, recipe);
            EXPECT_LT(rel_diff(ref, logits_of(q, tokens)), 1e-5);
            // The folds really happened: the norm's scale changed; with the shift, RMSNorm and q gained biases.
            const Norm& n1 = q.layers[1].attn_norm;
            const bool folded = std::string(recipe).find("ot-fold=false") == std::string::npos;
            EXPECT_EQ(n1.weight != fp.layers[1].attn_norm.weight, folded);
            const bool shifted = std::string(recipe).find("symmetrize=false") == std::string::npos;
            EXPECT_EQ(!n1.bias.empty() && n1.bias != fp.layers[1].attn_norm.bias, shifted || (folded && !llama));
            if (llama) {
                EXPECT_EQ(as_dense(*q.layers[1].q).bias.empty(), !shifted);  // 16 bits: the linears stay dense
            }
        }
    }
}

TEST(OutlierTune, SymmetrizationHalvesOneSidedChannel) {
    // Make channel 5 of layer 0's attention-norm output one-sided ([0, max - min]) through the bias, then shift.
    const TinyModel t = make_tiny(ArchFamily::OPT, "ot_onesided");
    Model m = load_model(t.dir);
    const auto tokens = probe_tokens(64);
    const int j = 5;
    ChannelRange before = layer_stats(m, 0, tokens).at(Tap::AttnIn);
    m.layers[0].attn_norm.bias[j] -= before.min[j];
    before = layer_stats(m, 0, tokens).at(Tap::AttnIn);
    EXPECT_NEAR(before.min[j], 0.0f, 1e-5);
    const auto ref = logits_of(m, tokens);

    OutlierTuneOptions o;
    o.fold = false;
    const ChannelSteps s = outliertune_steps(before, o);  // one sample: z = (max + min) / 2 exactly
    EXPECT_NEAR(s.shift[j], before.max[j] / 2, 1e-5);
    symmetrize_norm(m.layers[0].attn_norm, linears_reading(m.layers[0], Tap::AttnIn), s.shift);
    const ChannelRange after = layer_stats(m, 0, tokens).at(Tap::AttnIn);
    EXPECT_NEAR(after.absmax()[j] / before.absmax()[j], 0.5, 1e-4);
    EXPECT_NEAR(after.max[j], -after.min[j], 1e-4);
    EXPECT_NEAR(s.step[j], after.absmax()[j] / 127.0f, 1e-5);  // Δ from the shifted range, q_max 127
    EXPECT_LT(rel_diff(ref, logits_of(m, tokens)), 1e-5);      // and the readers' biases absorbed W·z
}

TEST(OutlierTune, StaticCodesAreClamped) {
    ActQuant a{ActQuant::Mode::PerChannelStatic, {}, {1.0f, 1.0f, 0.5f, 2.0f}};
    a.spec.bits = 8;
    a.spec.symmetric = true;
    std::vector<float> x{300.0f, -300.0f, 1.3f, -5.0f};
    a.apply(x.data(), 1, 4);
    EXPECT_EQ(x, (std::vector<float>{127.0f, -128.0f, 1.5f, -4.0f}));  // -5/2 = -2.5 rounds half to even
    a.spec.bits = 6;
    x = {300.0f, -300.0f, 40.0f, -70.0f};
    a.apply(x.data(), 1, 4);
    EXPECT_EQ(x, (std::vector<float>{31.0f, -32.0f, 15.5f, -64.0f}));
}

TEST(OutlierTune, StaticStepsEqualFoldedSteps) {
    // Codes from the folded norm (steps 1) and from the unfolded output with steps Δ are the same numbers;
    // weights stay FP so the weight grids cannot differ. Rounding of x/Δ computed two ways may flip a tie.
    for (ArchFamily family : {ArchFamily::Llama, ArchFamily::OPT}) {
        const TinyModel t = make_tiny(family, family == ArchFamily::Llama ? "ot_sim_llama" : "ot_sim_opt", 40.0f);
        const auto tokens = probe_tokens();
        const auto fp = logits_of(load_model(t.dir), tokens);
        const auto folded = logits_of(quantize_tiny(t, "method=outliertune,w=16,a=6"), tokens);
        const auto simulated = logits_of(quantize_tiny(t, "method=outliertune,w=16,a=6,ot-fold=false"), tokens);
        const double quant_err = rel_diff(fp, folded);
        EXPECT_GT(quant_err, 1e-3);  // 6-bit activations do change the logits
        EXPECT_LT(rel_diff(folded, simulated), 1e-5) << "quantization error " << quant_err;
    }
}

TEST(OutlierTune, ClipSearchShrinksOnlyOutlierChannels) {
    ChannelRange r(2);
    std::vector<float> rows;
    for (int i = 0; i < 2000; ++i) {
        rows.push_back(i == 7 ? 6.0f : std::sin(float(i)));  // channel 0: one outlier among ±1
        rows.push_back(std::cos(float(i)));                              // channel 1: no outlier
    }
    r.add(rows.data(), 2000, 2000);
    const auto m = r.absmax();
    const auto clipped = mse_clipped_range(r, {}, 4);
    // The shrink factors p found by the same search in double precision (Python, round half to even).
    EXPECT_NEAR(clipped[0] / m[0], 0.54, 0.005);
    EXPECT_NEAR(clipped[1] / m[1], 0.97, 0.005);
    EXPECT_THROW(mse_clipped_range(ChannelRange(2), {}, 4), Error);  // no kept rows
}

TEST(OutlierTune, RefusesPostLayerNormAndBadInput) {
    const TinyModel post = make_tiny(ArchFamily::OPT, "ot_postln", 0.0f, false);
    try {
        quantize_tiny(post, "method=outliertune,w=8,a=8");
        FAIL() << "post-LN accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("post-LayerNorm"), std::string::npos) << e.what();
    }
    EXPECT_THROW(quantize_tiny(post, "method=smoothquant,w=8,a=8"), Error);

    const TinyModel t = make_tiny(ArchFamily::Llama, "ot_cli");
    const std::string base = "eval ppl " + t.dir + " --data " + t.calib + " --ctx 64 --windows 2 --calib " + t.calib;
    std::string out;
    EXPECT_EQ(run_tameq(base + " --recipe method=outliertune,w=8,a=9", &out), 2);
    EXPECT_NE(out.find("a=9 is out of range (2..8 or 16)"), std::string::npos) << out;
    EXPECT_EQ(run_tameq(base + " --recipe method=outliertune,w=8,a=8,calib-windows=500", &out), 2);
    EXPECT_NE(out.find("calibration text too short"), std::string::npos) << out;
    EXPECT_EQ(run_tameq("eval ppl " + t.dir + " --data " + t.calib + " --ctx 64 --windows 2 --recipe method=outliertune,w=8,a=8", &out), 2);
    EXPECT_NE(out.find("needs calibration text"), std::string::npos) << out;
    EXPECT_EQ(run_tameq(base + " --recipe method=outliertune,w=8,a=8", &out), 0) << out;
}

TEST(OutlierTune, SharedModelsFoldExactlyAndW8A8IsClose) {
    TAMEQ_REQUIRE_SHARED();
    for (const char* name : {"gut-opt-24m", "gut-llama-27m"}) {
        SCOPED_TRACE(name);
        const std::string dir = shared_path(std::string("models/") + name);
        const auto tok = load_tokenizer(dir);
        const Model fp = load_model(dir);
        const std::string text = shared_path("data/gutenberg/eval.txt");
        std::ifstream in(text);
        std::string head(60000, '\0');
        in.read(head.data(), std::streamsize(head.size()));
        const auto windows = make_windows(tok->encode(head), 512, 4, fp.cfg.bos_id);
        const double ppl_fp = evaluate_ppl(fp, windows).ppl;
        auto ppl_of = [&](const std::string& recipe) {
            Recipe r = parse_recipe(recipe + ",calib-windows=4,calib-ctx=512,calib=" + shared_path("data/gutenberg/calib.txt"));
            return evaluate_ppl(quantize_in_memory(dir, r, *tok), windows).ppl;
        };
        EXPECT_LT(std::abs(ppl_of("method=outliertune,w=16,a=16") / ppl_fp - 1), 1e-4);
        EXPECT_LT(ppl_of("method=outliertune,w=8,a=8") / ppl_fp - 1, 0.01) << "FP PPL " << ppl_fp;
    }
}
