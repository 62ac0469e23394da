// The integer engine computes what the simulation computes: the same codes, only the float summation
// order differs. Checked per layer (logits of a tiny model) and end to end (perplexity within 0.2%).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <tuple>

#include <gtest/gtest.h>

#include "channel_test_util.h"
#include "eval/perplexity.h"
#include "kernels/cpu/norm_codes.h"
#include "kernels_test_util.h"
#include "io/tokenizer.h"
#include "model/engine.h"
#include "support/synthetic.h"
#include "model/int_engine.h"
#include "model/int_linear.h"
#include "numerics/hadamard.h"
#include "quant/pipeline.h"
#include "test_util.h"

using namespace tameq;
namespace fs = std::filesystem;

namespace {

std::vector<std::vector<int>> license_windows(const Tokenizer& tok, int ctx, int n, int bos) {
    // Text every Debian system has (base-files), so this test needs no ../shared.
    std::ifstream in("/usr/share/common-licenses/GPL-3");
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    return make_windows(tok.encode(text), ctx, n, bos);
}

}  // namespace

TEST(IntEngine, MatchesSimulationOnTheDemoModel) {
    if (!fs::exists("/usr/share/common-licenses/GPL-3")) GTEST_SKIP() << "/usr/share/common-licenses/GPL-3 is absent";
    const std::string path = std::string(TAMEQ_FIXTURES_DIR) + "/../../models/demo-gut-llama";
    auto tok = load_tokenizer(path);
    const auto windows = license_windows(*tok, 256, 3, 1);
    // At 4-bit activations a 1e-6 difference in a linear's output occasionally moves a code across a rounding
    // boundary, and one step of a 16-level grid is a real perturbation that later layers carry on; over
    // 765 scored tokens that is worth a few tenths of a percent of PPL (E64 figures: docs/RESULTS.md).
    const std::vector<std::pair<const char*, double>> recipes = {
        {"w=8,a=8,w-clip-search=0", 2e-3}, {"rotate=rh,w=4,a=8,kv=8", 2e-3}, {"rotate=rh,w=4,a=4,group=64", 1e-2},
        {"rotate=rh,w=4,a=4,r4=block=128", 1e-2}, {"rotate=rh,w=4,a=4,r4=none", 1e-2}};
    for (const auto& [recipe, tolerance] : recipes) {
        Model model = quantize_in_memory(path, parse_recipe(recipe), *tok);
        const double sim_ppl = evaluate_ppl(model, windows).ppl;
        Model& integer = model;  // now swap its simulated linears for integer ones
        const IntegerReport r = use_integer_kernels(integer);
        EXPECT_EQ(r.simulated, 0) << recipe << ": " << r.first_reason;
        EXPECT_EQ(r.integer, 6 * 7) << recipe;
        EXPECT_NE(integer.layers[0].q->kind().find("integer"), std::string::npos);
        const Recipe rec = parse_recipe(recipe);
        // R4, full or in blocks, runs fused inside every down_proj; with r4=none there is none to fuse.
        EXPECT_EQ(r.fused_hadamard, rec.rotate != Rotation::None && rec.r4.block != R4Choice::kNone) << recipe;
        EXPECT_FALSE(integer.online.had_down) << recipe;
        if (rec.r4.block > 0) {
            EXPECT_NE(integer.layers[0].down->kind().find("fused Hadamard (blocks of 128)"), std::string::npos)
                << integer.layers[0].down->kind();
        }
        const double int_ppl = evaluate_ppl(integer, windows).ppl;
        EXPECT_LT(std::fabs(int_ppl / sim_ppl - 1.0), tolerance) << recipe << ": int " << int_ppl << " vs sim " << sim_ppl;
    }
}

TEST(IntEngine, OneLayerAgreesWithItsSimulationToRounding) {
    const std::string dir = (fs::temp_directory_path() / ("tameq-int-" + std::to_string(::getpid()))).string();
    SyntheticSpec spec;
    spec.cfg = tiny_config(ArchFamily::Llama, 1);
    write_synthetic_model(dir, spec);
    auto tok = load_tokenizer(dir);
    Model sim = quantize_in_memory(dir, parse_recipe("w=8,a=8"), *tok);
    const auto& fq = dynamic_cast<const FakeQuantLinear&>(*sim.layers[0].up);
    std::string why;
    auto il = IntLinear::from(fq, &why);
    ASSERT_TRUE(il) << why;
    std::vector<float> x(size_t(5) * fq.in_features());
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i)) * (i % 17 == 0 ? 6.0f : 1.0f);
    std::vector<float> a(size_t(5) * fq.out_features()), b(a.size());
    fq.forward(x.data(), 5, a.data());
    il->forward(x.data(), 5, b.data());
    double worst = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, double(std::fabs(a[i] - b[i])));
        scale = std::max(scale, double(std::fabs(a[i])));
    }
    EXPECT_LT(worst / scale, 1e-5);
    // Clipped activations have no kernel: the layer stays simulated and says why.
    Model clipped = quantize_in_memory(dir, parse_recipe("w=8,a=8,a-clip=0.9"), *tok);
    const IntegerReport r = use_integer_kernels(clipped);
    EXPECT_EQ(r.integer, 0);
    EXPECT_EQ(r.first_reason, "clipped activations");
    // The keep-massive diagnostic needs the simulated linears (marked rows skip activation quantization there):
    // the whole model stays simulated rather than running a different experiment on the integer kernels.
    Model keep = quantize_in_memory(dir, parse_recipe("w=8,a=8,keep-massive=1"), *tok);
    const IntegerReport rk = use_integer_kernels(keep);
    EXPECT_EQ(rk.integer, 0);
    EXPECT_EQ(rk.simulated, 7);
    EXPECT_NE(rk.first_reason.find("keep-massive"), std::string::npos);
    EXPECT_TRUE(dynamic_cast<const FakeQuantLinear*>(keep.layers[0].q.get()));
    fs::remove_all(dir);
}

// Block-R4 fused into the integer down_proj computes the simulated down_proj of the block-transformed input
// (the same codes; only the GEMM's float summation order differs).
TEST(IntEngine, FusedBlockHadamardDownAgreesWithItsSimulation) {
    const std::string dir = (fs::temp_directory_path() / ("tameq-int-r4-" + std::to_string(::getpid()))).string();
    SyntheticSpec spec;
    spec.cfg = tiny_config(ArchFamily::Llama, 1);
    write_synthetic_model(dir, spec);
    auto tok = load_tokenizer(dir);
    for (int block : {0, 64, 16}) {
        const std::string recipe = "rotate=rh,w=8,a=8" + (block ? ",r4=block=" + std::to_string(block) : std::string());
        Model sim = quantize_in_memory(dir, parse_recipe(recipe), *tok);
        ASSERT_EQ(sim.online.had_down_block, block);
        const auto& fq = dynamic_cast<const FakeQuantLinear&>(*sim.layers[0].down);
        std::string why;
        auto il = IntLinear::from(fq, &why);
        ASSERT_TRUE(il) << why;
        ASSERT_TRUE(il->accepts_input_hadamard(block));
        il->fuse_input_hadamard(block);
        const int in = fq.in_features(), n = 4;
        std::vector<float> x(size_t(n) * in);
        for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.21f * float(i)) * (i % 29 == 0 ? 8.0f : 1.0f);
        std::vector<float> xh = x;
        fwht_row_blocks(xh.data(), n, in, block);
        std::vector<float> a(size_t(n) * fq.out_features()), b(a.size());
        fq.forward(xh.data(), n, a.data());
        il->forward(x.data(), n, b.data());
        double worst = 0, scale = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            worst = std::max(worst, double(std::fabs(a[i] - b[i])));
            scale = std::max(scale, double(std::fabs(a[i])));
        }
        EXPECT_LT(worst / scale, 1e-5) << recipe;
    }
    // A block that does not divide the input is not taken.
    Model sim = quantize_in_memory(dir, parse_recipe("rotate=rh,w=8,a=8"), *tok);
    auto il = IntLinear::from(dynamic_cast<const FakeQuantLinear&>(*sim.layers[0].down), nullptr);
    EXPECT_FALSE(il->accepts_input_hadamard(128));
    EXPECT_FALSE(il->accepts_input_hadamard(96));
    fs::remove_all(dir);
}

namespace {

// Every token's logits for a prefill of `prompt` then `decode` single-token steps (the decode path runs the
// norm on one row, the AVX2 statistics' scalar remainder).
std::vector<float> prefill_then_decode(const Model& m, const std::vector<int>& prompt, int decode) {
    Engine e(m);
    const size_t v = size_t(m.cfg.vocab);
    std::vector<float> out(prompt.size() * v + size_t(decode) * v);
    e.forward(prompt.data(), int(prompt.size()), out.data());
    for (int t = 0; t < decode; ++t) {
        const int tok = 5 + (t * 31) % 200;
        e.forward(&tok, 1, out.data() + prompt.size() * v + size_t(t) * v);
    }
    return out;
}

// The residual entering each pre-norm and the norm's FP32 output, per layer.
struct NormIo : BlockTap {
    std::map<std::pair<int, Tap>, std::vector<float>> rows;
    void on(int layer, Tap where, const float* x, int n, int dim) override {
        rows[{layer, where}].assign(x, x + size_t(n) * dim);
    }
};

}  // namespace

// On the shared models with OutlierTune W8A8, the fused kernel gives each real norm's codes exactly as the FP32
// norm followed by the static quantizer does, and the integer engine's logits are bit-identical whether the
// norms emit the codes (q/k/v, gate/up, fc1 read one pass) or every reader quantizes the FP32 norm output itself.
TEST(IntEngine, NormEmittedStaticCodesAreTheUnfusedCodesOnSharedModels) {
    TAMEQ_REQUIRE_SHARED();
    for (const char* name : {"gut-llama-27m", "gut-opt-24m"}) {
        SCOPED_TRACE(name);
        const std::string dir = test::shared_path(std::string("models/") + name);
        const auto tok = load_tokenizer(dir);
        const Recipe r = parse_recipe("method=outliertune,w=8,a=8,a-sym=true,calib-windows=4,calib-ctx=512,calib=" +
                                      test::shared_path("data/gutenberg/calib.txt"));
        Model m = quantize_in_memory(dir, r, *tok);
        const IntegerReport rep = use_integer_kernels(m);
        ASSERT_EQ(rep.simulated, 0) << rep.first_reason;
        EXPECT_EQ(rep.norm_code_groups, 2 * m.cfg.n_layers);
        ASSERT_TRUE(m.online.norm_codes);

        std::ifstream in(test::shared_path("data/gutenberg/eval.txt"));
        std::string head(8000, '\0');
        in.read(head.data(), std::streamsize(head.size()));
        std::vector<int> prompt = tok->encode(head);
        prompt.resize(200);
        prompt.insert(prompt.begin(), m.cfg.bos_id);

        // Real norm inputs (a tap turns the fused path off: the tap sees the FP32 norm output).
        NormIo io;
        {
            Engine e(m);
            e.tap = &io;
            std::vector<float> logits(prompt.size() * size_t(m.cfg.vocab));
            e.forward(prompt.data(), int(prompt.size()), logits.data());
        }
        const int k = m.cfg.hidden, n = int(prompt.size());
        size_t codes = 0, clamped = 0;
        for (int layer = 0; layer < m.cfg.n_layers; ++layer) {
            const Layer& l = m.layers[size_t(layer)];
            for (auto [res, out, norm] : {std::tuple{Tap::AttnResidual, Tap::AttnIn, &l.attn_norm},
                                          std::tuple{Tap::MlpResidual, Tap::MlpIn, &l.mlp_norm}}) {
                const auto& x = io.rows.at({layer, res});
                const auto& y = io.rows.at({layer, out});
                const auto* il = dynamic_cast<const IntLinear*>(l.q.get());
                ASSERT_TRUE(il && il->static_code_spec());
                const QuantSpec& spec = *il->static_code_spec();
                const kern::NormAffine affine{m.cfg.family == ArchFamily::OPT ? kern::RowNorm::layer : kern::RowNorm::rms,
                                              norm->weight.data(), norm->bias.empty() ? nullptr : norm->bias.data(),
                                              m.cfg.norm_eps};
                for (kern::KernelPath p : kern::supported_paths()) {
                    test::PathScope scope(p);
                    std::vector<uint8_t> q(size_t(n) * k);
                    kern::norm_codes_u8(x.data(), n, k, k, affine, qmin(spec), qmax(spec), q.data(), k);
                    for (size_t i = 0; i < q.size(); ++i) {
                        const float c = std::clamp(std::nearbyint(y[i]), float(qmin(spec)), float(qmax(spec)));
                        ASSERT_EQ(int(q[i]), int(c) + 128) << kern::path_name(p) << " layer " << layer << " at " << i;
                    }
                }
                codes += size_t(n) * k;
                for (float v : y) clamped += std::fabs(v) > float(qmax(spec));
            }
        }
        EXPECT_GT(codes, size_t(100000));
        std::cout << name << ": " << codes << " real norm codes equal on every path, " << clamped << " clamped\n";

        const auto shared = prefill_then_decode(m, prompt, 8);
        m.online.norm_codes = false;
        const auto unshared = prefill_then_decode(m, prompt, 8);
        ASSERT_EQ(shared.size(), unshared.size());
        EXPECT_EQ(std::memcmp(shared.data(), unshared.data(), shared.size() * sizeof(float)), 0)
            << "logits differ between norm-emitted and per-reader static codes";
    }
}

// The norm emits codes only when all its readers take the same static codes: per-token recipes never, and a
// static-code layer whose readers differ (here layer 0's k switched to per-token codes) keeps the unfused path
// for that norm while every other norm still emits codes.
TEST(IntEngine, NormCodesOnlyWhenEveryReaderTakesThem) {
    const test::TinyModel t = test::make_tiny(ArchFamily::Llama, "normcodes-readers");
    const auto tok = load_tokenizer(t.dir);
    auto quantize = [&](const std::string& recipe) {
        return quantize_in_memory(t.dir, parse_recipe(recipe + ",calib-windows=4,calib=" + t.calib), *tok);
    };
    Model per_token = quantize("w=8,a=8");
    EXPECT_EQ(use_integer_kernels(per_token).norm_code_groups, 0);
    EXPECT_FALSE(per_token.online.norm_codes);

    const auto tokens = test::probe_tokens();
    Model ot = quantize("method=outliertune,w=8,a=8");
    const auto sim = test::logits_of(ot, tokens);
    EXPECT_EQ(use_integer_kernels(ot).norm_code_groups, 2 * ot.cfg.n_layers);
    const auto fused = test::logits_of(ot, tokens);
    ot.online.norm_codes = false;
    EXPECT_EQ(fused, test::logits_of(ot, tokens));
    // The integer engine against the simulation: only the GEMM's float summation order differs, which can move
    // a later layer's 8-bit code by one step (measured 1.7e-3 of the largest logit on this random model; the
    // same with norm_codes off, since those logits are identical).
    EXPECT_LT(test::rel_diff(sim, fused), 5e-3);

    Model mixed = quantize("method=outliertune,w=8,a=8");
    auto& k0 = dynamic_cast<FakeQuantLinear&>(*mixed.layers[0].k);
    k0.set_act(ActQuant{ActQuant::Mode::PerToken, QuantSpec{8, true, Granularity::PerRow}, {}});
    const auto mixed_sim = test::logits_of(mixed, tokens);
    EXPECT_EQ(use_integer_kernels(mixed).norm_code_groups, 2 * mixed.cfg.n_layers - 1);
    ASSERT_TRUE(mixed.online.norm_codes);
    const auto partly = test::logits_of(mixed, tokens);
    mixed.online.norm_codes = false;
    EXPECT_EQ(partly, test::logits_of(mixed, tokens));
    EXPECT_LT(test::rel_diff(mixed_sim, partly), 5e-3);
    std::filesystem::remove_all(t.dir);
}
