// Computational invariance of QuaRot's transforms: each pass alone leaves the FP32 logits unchanged,
// on a tiny random Llama model (with a planted massive channel) and on gut-llama-27m.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "eval/perplexity.h"
#include "io/tokenizer.h"
#include "kernels/cpu/thread_pool.h"
#include "model/engine.h"
#include "support/synthetic.h"
#include "export/open_model.h"
#include "quant/pipeline.h"
#include "test_util.h"
#include "transform/fold_norms.h"
#include "numerics/hadamard.h"
#include "transform/rotate_model.h"
#include "transform/rotations.h"

using namespace tameq;
namespace fs = std::filesystem;

namespace {

std::string tiny_llama_dir() {
    static const std::string dir = [] {
        std::string d = (fs::temp_directory_path() / ("tameq-transforms-" + std::to_string(::getpid()))).string();
        SyntheticSpec spec;
        spec.cfg = tiny_config(ArchFamily::Llama, 2);
        spec.massive_value = 40.0f;
        write_synthetic_model(d, spec);
        return d;
    }();
    return dir;
}

std::vector<float> logits_of(const Model& m, const std::vector<int>& ids) {
    Engine e(m, int(ids.size()));
    std::vector<float> out(ids.size() * size_t(m.cfg.vocab));
    e.forward(ids.data(), int(ids.size()), out.data(), Logits::All);
    return out;
}

double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        num = std::max(num, double(std::fabs(a[i] - b[i])));
        den = std::max(den, double(std::fabs(b[i])));
    }
    return num / den;
}

const std::vector<int> kIds = {1, 70, 71, 72, 100, 200, 33, 44, 55, 66, 77, 88, 99, 111, 222, 250};

}  // namespace

TEST(Transforms, EachRotationPassKeepsTheLogits) {
    const std::string dir = tiny_llama_dir();
    const Model base = load_model(dir);
    const auto want = logits_of(base, kIds);
    const int h = base.cfg.hidden, hd = base.cfg.head_dim;
    struct Case {
        const char* name;
        std::function<void(Model&)> apply;
    };
    const std::vector<Case> cases = {
        {"fold", [](Model& m) { fold_norm_scales(m); }},
        {"fold+RO", [&](Model& m) { fold_norm_scales(m); rotate_residual(m, random_orthogonal(h, 3)); }},
        {"fold+RH", [&](Model& m) { fold_norm_scales(m); rotate_residual(m, random_hadamard(h, 4)); }},
        {"fold+RH as fwht",
         [&](Model& m) { fold_norm_scales(m); rotate_residual(m, ResidualRotation::hadamard(random_signs(h, 4))); }},
        {"R2", [&](Model& m) { rotate_heads_vo(m, random_hadamard(hd, 5)); }},
        {"R2 (RO)", [&](Model& m) { rotate_heads_vo(m, random_orthogonal(hd, 6)); }},
        {"R4", [](Model& m) { add_online_hadamard_down(m); }},
        {"R4 blocks of 64", [](Model& m) { add_online_hadamard_down(m, 64); }},  // intermediate 192 = 3·64
        {"R4 blocks of 2", [](Model& m) { add_online_hadamard_down(m, 2); }},
        {"R3", [](Model& m) { add_online_hadamard_qk(m); }},
    };
    for (const Case& c : cases) {
        Model m = load_model(dir);
        c.apply(m);
        EXPECT_LT(rel_diff(logits_of(m, kIds), want), 2e-5) << c.name;
    }
    // A transform that is wrong on purpose (R1 on one reader only) must be caught by the same check.
    Model broken = load_model(dir);
    fold_norm_scales(broken);
    const auto r1 = random_orthogonal(h, 7);
    for (Layer& l : broken.layers) {
        DenseLinear& q = as_dense(*l.up);
        std::vector<float> rotated(q.weight.size());
        for (int r = 0; r < q.out_features(); ++r)
            for (int c = 0; c < h; ++c) {
                double acc = 0;
                for (int k = 0; k < h; ++k) acc += double(q.weight[size_t(r) * h + k]) * r1[size_t(k) * h + c];
                rotated[size_t(r) * h + c] = float(acc);
            }
        q.weight = rotated;
    }
    EXPECT_GT(rel_diff(logits_of(broken, kIds), want), 1e-3);
}

// RH folded as fwht_rows(x ⊙ s) (the pipeline's way) is the dense matrix random_hadamard(n, seed) folded by sgemm,
// on every reader, writer, bias and embedding table, for a power-of-two hidden size and an m·2^k one (96 = 12·8),
// and it gives the same bits for 1 and 2 threads.
TEST(Transforms, RhFoldedAsFwhtEqualsTheDenseMatrix) {
    const int saved_threads = kern::num_threads();
    for (int hidden : {64, 96}) {
        SyntheticSpec spec;
        spec.cfg = tiny_config(ArchFamily::Llama, 2);
        spec.cfg.hidden = hidden;
        spec.cfg.mlp_bias = true;  // the writers' biases rotate too
        const std::string dir = (fs::temp_directory_path() / fmt::format("tameq-rh-fwht-{}-{}", ::getpid(), hidden)).string();
        write_synthetic_model(dir, spec);
        auto rotated = [&](const ResidualRotation& r, int threads) {
            kern::set_num_threads(saved_threads);
            Model m = load_model(dir);
            fold_norm_scales(m);
            rotate_residual(m, r);
            return m;
        };
        const Model dense = rotated(random_hadamard(hidden, 9), 2);
        const Model fwht = rotated(ResidualRotation::hadamard(random_signs(hidden, 9)), 2);
        const Model fwht1 = rotated(ResidualRotation::hadamard(random_signs(hidden, 9)), 1);
        kern::set_num_threads(saved_threads);
        auto expect_close = [&](const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& c,
                                const std::string& what) {
            ASSERT_EQ(a.size(), b.size()) << what;
            double diff = 0, scale = 0;
            for (size_t i = 0; i < a.size(); ++i) {
                diff = std::max(diff, double(std::fabs(a[i] - b[i])));
                scale = std::max(scale, double(std::fabs(a[i])));
            }
            EXPECT_LE(diff, 2e-6 * scale) << what << " hidden " << hidden;
            EXPECT_GT(scale, 0.0) << what;
            EXPECT_EQ(b, c) << what << ": 1 and 2 threads differ";
        };
        expect_close(dense.embed, fwht.embed, fwht1.embed, "embed");
        expect_close(as_dense(*dense.lm_head).weight, as_dense(*fwht.lm_head).weight, as_dense(*fwht1.lm_head).weight,
                     "lm_head");
        for (size_t i = 0; i < dense.layers.size(); ++i)
            for (size_t j = 0; j < dense.layers[i].linears().size(); ++j) {
                const auto& a = *dense.layers[i].linears()[j];
                if (!a) continue;
                const auto& b = *fwht.layers[i].linears()[j];
                const auto& c = *fwht1.layers[i].linears()[j];
                const std::string what = fmt::format("layer {} linear {}", i, j);
                expect_close(as_dense(*a).weight, as_dense(*b).weight, as_dense(*c).weight, what);
                if (!as_dense(*a).bias.empty())
                    expect_close(as_dense(*a).bias, as_dense(*b).bias, as_dense(*c).bias, what + " bias");
            }
        fs::remove_all(dir);
    }
}

// The whole rotation pipeline at 16 bits, for every r4/r3 option: the FP logits within 1e-4 (relative to
// the largest logit), and each option really changes what the forward pass does.
TEST(Transforms, EveryR4OptionAt16BitsKeepsTheLogits) {
    const std::string dir = tiny_llama_dir();
    const Model base = load_model(dir);
    const auto want = logits_of(base, kIds);
    auto tok = load_tokenizer(dir);
    for (const char* recipe : {"rotate=rh", "rotate=rh,r4=none", "rotate=rh,r4=block=64", "rotate=rh,r4=block=16",
                               "rotate=ro,r4=block=32,r3=none", "rotate=rh,r4=none,r3=none"}) {
        const Model m = quantize_in_memory(dir, parse_recipe(recipe), *tok);
        EXPECT_LT(rel_diff(logits_of(m, kIds), want), 1e-4) << recipe;
        const Recipe r = parse_recipe(recipe);
        EXPECT_EQ(m.online.had_down, r.r4.block != R4Choice::kNone) << recipe;
        EXPECT_EQ(m.online.had_down_block, std::max(r.r4.block, 0)) << recipe;
    }
    // With R4 off, down_proj holds the rotated FP weights and no Hadamard: block-R4's weights are those
    // with each row's blocks times H_64, which is symmetric and orthonormal, so applying it again undoes it.
    const Model none = quantize_in_memory(dir, parse_recipe("rotate=rh,r4=none"), *tok);
    Model block = quantize_in_memory(dir, parse_recipe("rotate=rh,r4=block=64"), *tok);
    DenseLinear& d = as_dense(*block.layers[1].down);
    const auto& plain = as_dense(*none.layers[1].down).weight;
    EXPECT_GT(rel_diff(d.weight, plain), 1e-2);
    fwht_row_blocks(d.weight.data(), d.out_features(), d.in_features(), 64);
    EXPECT_LT(rel_diff(d.weight, plain), 1e-5);
    // The quantized KV cache makes R3 matter: r3=none at kv=4 is not r3=on.
    const Model r3_on = quantize_in_memory(dir, parse_recipe("rotate=rh,kv=4"), *tok);
    const Model r3_off = quantize_in_memory(dir, parse_recipe("rotate=rh,kv=4,r3=none"), *tok);
    EXPECT_TRUE(r3_on.online.had_qk);
    EXPECT_FALSE(r3_off.online.had_qk);
    EXPECT_NE(logits_of(r3_on, kIds), logits_of(r3_off, kIds));
}

TEST(Transforms, RotationsNeedRmsNormAndSupportedSizes) {
    std::string dir = (fs::temp_directory_path() / ("tameq-opt-" + std::to_string(::getpid()))).string();
    SyntheticSpec spec;
    spec.cfg = tiny_config(ArchFamily::OPT, 1);
    write_synthetic_model(dir, spec);
    // Pre-LN OPT converts to RMSNorm through its mean-free residual (test_opt_rotations.cpp); post-LN has no
    // exact conversion.
    Model opt = load_model(dir);
    opt.cfg.pre_layer_norm = false;
    EXPECT_THROW(fold_norm_scales(opt), Error);
    Model pre = load_model(dir);
    EXPECT_NO_THROW(fold_norm_scales(pre));
    EXPECT_TRUE(pre.online.layer_norm_as_rms);
    fs::remove_all(dir);
    EXPECT_THROW(hadamard_factor(92), Error);
}

// Protocol E64's first windows on the real model: every rotation recipe at 16 bits changes PPL by < 0.01%.
TEST(Transforms, RotationsAt16BitsKeepGutLlamaPerplexity) {
    TAMEQ_REQUIRE_SHARED();
    const std::string path = test::shared_path("models/gut-llama-27m");
    auto tok = load_tokenizer(path);
    std::ifstream in(test::shared_path("data/gutenberg/eval.txt"), std::ios::binary);
    std::string text(1 << 20, '\0');
    in.read(text.data(), std::streamsize(text.size()));
    text.resize(size_t(in.gcount()));
    text.resize(text.rfind('\n') + 1);
    const Model fp = load_model(path);
    const auto windows = make_windows(tok->encode(text), 1024, 2, fp.cfg.bos_id);
    const double base = evaluate_ppl(fp, windows).ppl;
    for (const char* recipe : {"rotate=ro", "rotate=rh", "rotate=rh,kv=16", "rotate=rh,r4=block=128", "rotate=rh,r4=none"}) {
        const Model m = quantize_in_memory(path, parse_recipe(recipe), *tok);
        const double ppl = evaluate_ppl(m, windows).ppl;
        EXPECT_LT(std::fabs(ppl / base - 1.0), 1e-4) << recipe << ": " << ppl << " vs " << base;
    }
}
