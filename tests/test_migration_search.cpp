// method=ot-search (quant/migration_search.h): OutlierTune's shift and static codes with the migration
// strength searched per norm group.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "channel_test_util.h"
#include "common/error.h"
#include "common/files.h"
#include "export/open_model.h"
#include "model/family.h"
#include "quant/migration_search.h"
#include "quant/pipeline.h"
#include "quant/specs.h"
#include "test_util.h"
#include "transform/outliertune.h"
#include "transform/smoothquant.h"

using namespace tameq;
using namespace tameq::test;

namespace {

MigrationSearchOptions options(int bits, std::vector<float> alphas, std::vector<float> clips = {1.0f}) {
    QuantSpec w;
    w.bits = bits;
    w.mse_search = true;
    return {w, bits, std::move(alphas), std::move(clips)};
}

// Layer 1's attention-norm group of a tiny model, with its stats (rows kept for the search).
struct Group {
    Model m;
    ChannelStatsTap stats{{Tap::AttnIn, Tap::MlpIn}};
};

Group group_of(const TinyModel& t) {
    Group g{load_model(t.dir)};
    Engine e(g.m);
    OneLayerStats tap(1);
    tap.stats = ChannelStatsTap({Tap::AttnIn, Tap::MlpIn});
    e.tap = &tap;
    std::vector<float> logits(size_t(g.m.cfg.vocab));
    const auto tokens = probe_tokens(64);
    e.forward(tokens.data(), int(tokens.size()), logits.data(), Logits::Last);
    g.stats = tap.stats;
    return g;
}

}  // namespace

TEST(MigrationSearch, AlphaOneIsOutlierTuneExactly) {
    // The grid {α = 1} with clip 1 must fold exactly what OutlierTune folds, bit for bit.
    for (ArchFamily family : {ArchFamily::Llama, ArchFamily::OPT}) {
        SCOPED_TRACE(family == ArchFamily::Llama ? "llama" : "opt");
        const TinyModel t = make_tiny(family, family == ArchFamily::Llama ? "ms_llama" : "ms_opt", 30.0f);
        Group a = group_of(t), b = group_of(t);
        Layer& la = a.m.layers[1];
        const MigrationChoice c = migrate_norm_group(la.attn_norm, linears_reading(la, Tap::AttnIn), a.stats.at(Tap::AttnIn),
                                                     options(6, {1.0f}));
        EXPECT_EQ(c.alpha, 1.0f);
        EXPECT_EQ(c.loss, c.loss_outliertune);
        Layer& lb = b.m.layers[1];
        OutlierTuneOptions ot;
        ot.bits = 6;
        const ChannelSteps s = outliertune_steps(b.stats.at(Tap::AttnIn), ot);
        symmetrize_norm(lb.attn_norm, linears_reading(lb, Tap::AttnIn), s.shift);
        scale_norm_channels(lb.attn_norm, linears_reading(lb, Tap::AttnIn), s.step);
        EXPECT_EQ(la.attn_norm.weight, lb.attn_norm.weight);
        EXPECT_EQ(la.attn_norm.bias, lb.attn_norm.bias);
        const auto ra = linears_reading(la, Tap::AttnIn), rb = linears_reading(lb, Tap::AttnIn);
        for (size_t i = 0; i < ra.size(); ++i) {
            EXPECT_EQ(as_dense(*ra[i]).weight, as_dense(*rb[i]).weight);
            EXPECT_EQ(as_dense(*ra[i]).bias, as_dense(*rb[i]).bias);
        }
    }
}

TEST(MigrationSearch, ChoosesTheGridMinimumAndFoldsExactly) {
    const TinyModel t = make_tiny(ArchFamily::OPT, "ms_grid", 30.0f);
    Group g = group_of(t);
    const auto tokens = probe_tokens();
    const auto ref = logits_of(g.m, tokens);
    Layer& l = g.m.layers[1];
    const MigrationChoice c = migrate_norm_group(l.mlp_norm, linears_reading(l, Tap::MlpIn), g.stats.at(Tap::MlpIn),
                                                 options(4, alpha_grid(0, 1, 10), {1.0f, 0.8f}));
    ASSERT_EQ(c.loss_by_alpha.size(), 11u);
    EXPECT_EQ(c.loss, *std::min_element(c.loss_by_alpha.begin(), c.loss_by_alpha.end()));
    EXPECT_LE(c.loss, c.loss_outliertune);
    EXPECT_GT(c.loss, 0.0);
    EXPECT_EQ(c.rows, 64);
    // The losses differ across α: the search measures something.
    EXPECT_GT(*std::max_element(c.loss_by_alpha.begin(), c.loss_by_alpha.end()), 1.05 * c.loss);
    // Shift and steps are folds: in floating point the model computes the same function.
    EXPECT_LT(rel_diff(ref, logits_of(g.m, tokens)), 1e-5);
}

TEST(MigrationSearch, GridBounds) {
    const auto g = alpha_grid(0.2f, 0.6f, 4);
    ASSERT_EQ(g.size(), 5u);
    EXPECT_FLOAT_EQ(g[0], 0.2f);
    EXPECT_FLOAT_EQ(g[2], 0.4f);
    EXPECT_FLOAT_EQ(g[4], 0.6f);
    EXPECT_EQ(alpha_grid(0.5f, 0.5f, 0).size(), 1u);
    EXPECT_THROW(alpha_grid(0.6f, 0.2f, 4), Error);
    EXPECT_THROW(alpha_grid(-0.1f, 1.0f, 4), Error);
}

TEST(MigrationSearch, PipelineWritesChoicesAndStaticCodes) {
    const TinyModel t = make_tiny(ArchFamily::Llama, "ms_pipe", 30.0f);
    const std::string out = t.dir + "-q";
    std::filesystem::remove_all(out);
    std::string log;
    ASSERT_EQ(run_tameq("quantize " + t.dir + " -o " + out + " --calib " + t.calib +
                            " --recipe method=ot-search,w=8,a=8,a-sym=true,calib-windows=40,alpha-steps=4",
                        &log),
              0)
        << log;
    EXPECT_NE(log.find("ot-search alpha per layer: attention"), std::string::npos) << log;
    const nlohmann::json meta = read_json_file(out + "/tameq.json");
    const Model fp = load_model(t.dir);
    ASSERT_TRUE(meta.contains("ot_search"));
    EXPECT_EQ(meta["ot_search"]["alphas"], nlohmann::json({0.0, 0.25, 0.5, 0.75, 1.0}));
    ASSERT_EQ(meta["ot_search"]["groups"].size(), size_t(2 * fp.cfg.n_layers));
    for (const auto& g : meta["ot_search"]["groups"]) {
        EXPECT_LE(g["loss"].get<double>(), g["loss_outliertune"].get<double>());
        EXPECT_EQ(g["loss_by_alpha"].size(), 5u);
    }
    // The norm outputs are static codes (step 1, as OutlierTune's), so the integer engine runs them: its PPL
    // equals the simulated one closely.
    std::string sim, integer;
    const std::string eval = "eval ppl " + out + " --data " + t.calib + " --ctx 64 --windows 4 --json --engine ";
    ASSERT_EQ(run_tameq(eval + "sim", &sim), 0) << sim;
    ASSERT_EQ(run_tameq(eval + "int", &integer), 0) << integer;
    const double ps = nlohmann::json::parse(sim.substr(sim.find('{')))["ppl"], pi = nlohmann::json::parse(integer.substr(integer.find('{')))["ppl"];
    EXPECT_LT(std::abs(pi / ps - 1), 2e-3) << ps << " " << pi;
    EXPECT_NE(integer.find("integer kernels ("), std::string::npos) << integer;
    EXPECT_NE(integer.find(") for 14 linears"), std::string::npos) << integer;  // all of them: 2 layers x 7
    std::filesystem::remove_all(out);
}

TEST(MigrationSearch, RefusesBadInput) {
    const TinyModel t = make_tiny(ArchFamily::Llama, "ms_bad");
    const std::string base = "quantize " + t.dir + " -o " + t.dir + "-bad --calib " + t.calib + " --recipe method=ot-search,w=6,a=6,";
    std::string out;
    EXPECT_EQ(run_tameq(base + "alpha-max=1.5", &out), 2);
    EXPECT_NE(out.find("alpha-max=1.5 is out of range"), std::string::npos) << out;
    EXPECT_EQ(run_tameq(base + "alpha-min=0.8,alpha-max=0.4", &out), 2);
    EXPECT_NE(out.find("alpha-min=0.8 is above alpha-max=0.4"), std::string::npos) << out;
    EXPECT_EQ(run_tameq(base + "calib-windows=4", &out), 2);
    EXPECT_NE(out.find("needs at least 4096 calibration tokens"), std::string::npos) << out;
    EXPECT_NE(out.find("use calib-windows="), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_FALSE(std::filesystem::exists(t.dir + "-bad"));
    EXPECT_EQ(run_tameq("quantize " + t.dir + " -o " + t.dir + "-bad --calib " + t.calib + " --recipe method=ot-search,w=8,a=16", &out), 2);
    EXPECT_NE(out.find("needs a=2..8"), std::string::npos) << out;
    const TinyModel post = make_tiny(ArchFamily::OPT, "ms_postln", 0.0f, false);
    EXPECT_EQ(run_tameq("quantize " + post.dir + " -o " + post.dir + "-bad --calib " + post.calib +
                            " --recipe method=ot-search,w=8,a=8,calib-windows=40", &out), 2);
    EXPECT_NE(out.find("post-LayerNorm"), std::string::npos) << out;
    EXPECT_FALSE(std::filesystem::exists(post.dir + "-bad"));
}

TEST(MigrationSearch, InspectPlotsTheLossPerLayer) {
    const TinyModel t = make_tiny(ArchFamily::OPT, "ms_inspect", 30.0f);
    const std::string html = t.dir + "/inspect.html", js = t.dir + "/inspect.json";
    std::string out;
    ASSERT_EQ(run_tameq("inspect " + t.dir + " --calib " + t.calib + " --calib-windows 40 --dfrot-iters 2 --ot-search w6a6 -o " +
                            html + " --json " + js, &out),
              0)
        << out;
    EXPECT_NE(out.find("ot-search w6a6 alpha per layer: attention"), std::string::npos) << out;
    const nlohmann::json r = read_json_file(js);
    EXPECT_EQ(r["ot_search"]["wbits"], 6);
    EXPECT_EQ(r["ot_search"]["alphas"].size(), 11u);
    for (const auto& l : r["layers"])
        for (const char* in : {"attn_in", "mlp_in"}) {
            const auto& g = l["ot_search"][in];
            EXPECT_EQ(g["loss_by_alpha"].size(), 11u);
            EXPECT_EQ(g["loss_by_alpha"][10].get<double>(), g["loss_outliertune"].get<double>());  // α = 1 is OutlierTune
        }
    const std::string page = read_file(html);
    EXPECT_NE(page.find("Searched migration strength per layer"), std::string::npos);
    EXPECT_NE(page.find("layer 1"), std::string::npos);
    EXPECT_EQ(run_tameq("inspect " + t.dir + " --calib " + t.calib + " --ot-search w6 -o " + html, &out), 2);
    EXPECT_NE(out.find("expected wBaB"), std::string::npos) << out;
}

TEST(MigrationSearch, UnshiftedLlamaExportsToCompressedTensors) {
    // Without the shift a Llama norm keeps no bias, so vLLM's LlamaForCausalLM can hold the result: the
    // export evaluates as its source does.
    const TinyModel t = make_tiny(ArchFamily::Llama, "ms_ct", 30.0f);
    const std::string q = t.dir + "-q", ct = t.dir + "-ct";
    std::filesystem::remove_all(q);
    std::filesystem::remove_all(ct);
    std::string log;
    ASSERT_EQ(run_tameq("quantize " + t.dir + " -o " + q + " --calib " + t.calib +
                            " --recipe method=ot-search,symmetrize=false,w=8,a=8,a-sym=true,calib-windows=40", &log), 0) << log;
    EXPECT_TRUE(load_model(q).layers[0].attn_norm.bias.empty());
    ASSERT_EQ(run_tameq("export " + q + " --format compressed-tensors -o " + ct, &log), 0) << log;
    std::string a, b;
    const std::string eval = " --data " + t.calib + " --ctx 64 --windows 4 --json";
    ASSERT_EQ(run_tameq("eval ppl " + q + eval, &a), 0) << a;
    ASSERT_EQ(run_tameq("eval ppl " + ct + eval, &b), 0) << b;
    EXPECT_EQ(nlohmann::json::parse(a.substr(a.find('{')))["ppl"], nlohmann::json::parse(b.substr(b.find('{')))["ppl"]);
    std::filesystem::remove_all(q);
    std::filesystem::remove_all(ct);
}

TEST(MigrationSearch, GptqScoringMeasuresGptqWeights) {
    // Scored with GPTQ'd weights, every candidate loses less than with RTN weights (GPTQ minimises the same
    // output error per linear), and the choice is still the grid's minimum.
    const TinyModel t = make_tiny(ArchFamily::OPT, "ms_gptq", 30.0f);
    Group a = group_of(t), b = group_of(t);
    MigrationSearchOptions rtn = options(4, alpha_grid(0, 1, 4)), gptq = rtn;
    gptq.gptq = true;
    Layer& la = a.m.layers[1];
    Layer& lb = b.m.layers[1];
    const MigrationChoice cr = migrate_norm_group(la.mlp_norm, linears_reading(la, Tap::MlpIn), a.stats.at(Tap::MlpIn), rtn);
    const MigrationChoice cg = migrate_norm_group(lb.mlp_norm, linears_reading(lb, Tap::MlpIn), b.stats.at(Tap::MlpIn), gptq);
    for (size_t k = 0; k < cr.loss_by_alpha.size(); ++k) EXPECT_LT(cg.loss_by_alpha[k], cr.loss_by_alpha[k]) << k;
    EXPECT_EQ(cg.loss, *std::min_element(cg.loss_by_alpha.begin(), cg.loss_by_alpha.end()));
}
