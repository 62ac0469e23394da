// The per-family slot tables against what the loaders build, and the explicit keep-in-FP row mask of
// the linears (DFRot's keep-massive diagnostic).
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "model/bf16_linear.h"
#include "model/engine.h"
#include "model/fake_quant.h"
#include "model/family.h"
#include "support/synthetic.h"

using namespace tameq;
namespace fs = std::filesystem;

namespace {

Model tiny_model(ArchFamily family, const std::string& tag) {
    const std::string dir = (fs::temp_directory_path() / ("tameq-family-" + tag + std::to_string(::getpid()))).string();
    SyntheticSpec spec;
    spec.cfg = tiny_config(family, 2);
    write_synthetic_model(dir, spec);
    Model m = load_checkpoint(dir);
    fs::remove_all(dir);
    return m;
}

}  // namespace

// Every linear the loader fills is a row of the family's table, with the row's shape and bias; the rows name
// each slot once and the canonical names are distinct.
TEST(Family, SlotTableDescribesTheLoadedModel) {
    for (ArchFamily id : {ArchFamily::Llama, ArchFamily::OPT}) {
        const Model m = tiny_model(id, id == ArchFamily::Llama ? "llama" : "opt");
        const Family& f = family_of(m.cfg);
        SCOPED_TRACE(f.name);
        const Layer& l = m.layers[1];
        EXPECT_EQ(&family_of(l), &f);
        std::set<std::string> canonical;
        int linear_rows = 0;
        for (const BlockRow& r : f.block) {
            ASSERT_TRUE(r.canonical && r.hf);
            EXPECT_TRUE(canonical.insert(r.canonical).second) << r.canonical;
            if (r.norm) {
                const size_t width = r.present_in(m.cfg) ? size_t(r.norm_width(m.cfg)) : 0;  // absent rows stay empty
                EXPECT_EQ((l.*r.norm).weight.size(), width) << r.canonical;
                EXPECT_EQ((l.*r.norm).bias.size(), r.has_bias(m.cfg) ? width : 0) << r.canonical;
                continue;
            }
            ++linear_rows;
            const Linear& lin = *(l.*r.linear);
            const Shape s = r.shape(m.cfg);
            EXPECT_EQ(lin.out_features(), s.rows) << r.canonical;
            EXPECT_EQ(lin.in_features(), s.cols) << r.canonical;
            EXPECT_EQ(as_dense(lin).bias.size(), r.has_bias(m.cfg) ? size_t(s.rows) : 0) << r.canonical;
        }
        int filled = 0;
        for (const auto* slot : l.linears()) filled += *slot != nullptr;
        EXPECT_EQ(filled, linear_rows);
        EXPECT_EQ(linear_rows, id == ArchFamily::Llama ? 7 : 6);
        // Model-level rows: the embedding width is the hook's, the head is [vocab x width].
        const int e = f.embed_width(m.cfg);
        EXPECT_EQ(m.embed.size(), size_t(m.cfg.vocab) * size_t(e));
        EXPECT_EQ(m.lm_head->in_features(), e);
        EXPECT_EQ(!m.pos_embed.empty(), f.learned_positions);
    }
}

// The formats only the Llama family is read or written in name every one of its tensors that a Llama config
// always has (Qwen3's optional q/k norms are neither in llama2.c nor in export-gguf's 'llama'); q and k, and only
// they, carry the heads whose rows the formats' RoPE layouts reorder.
TEST(Family, LlamaRowsNameEveryFormat) {
    const Family& f = family_llama();
    const ModelConfig c = tiny_config(ArchFamily::Llama, 1);
    std::set<std::string> rope;
    for (const BlockRow& r : f.block) {
        if (!r.present) {
            EXPECT_TRUE(r.llama2c && r.gguf) << r.canonical;
        }
        if (r.rope_heads) rope.insert(std::string(r.canonical) + "=" + std::to_string(r.rope_heads(c)));
    }
    EXPECT_EQ(rope, (std::set<std::string>{"q=4", "k=2"}));
    for (const ModelRow& r : f.model) EXPECT_TRUE(r.llama2c && r.gguf) << r.canonical;
    EXPECT_EQ(block_tensor_name(f.hf_layer_prefix, 3, "mlp.down_proj"), "model.layers.3.mlp.down_proj");
    EXPECT_EQ(family_opt().gguf_layer_prefix, nullptr);
}

// Rows the mask names skip activation quantization, the others are quantized as without a mask.
TEST(Family, FpRowMaskKeepsRowsOutOfActivationQuantization) {
    const int in = 32, out = 8, n = 3;
    std::vector<float> w(size_t(in) * out), x(size_t(n) * in);
    for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.37f * float(i));
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.91f * float(i)) * (i % 7 == 0 ? 9.0f : 1.0f);
    ActQuant act{ActQuant::Mode::PerToken, {}, {}};
    act.spec.bits = 4;
    const FakeQuantLinear fq(w, {}, in, out, act);
    const DenseLinear fp(in, out, w);
    std::vector<float> quantized(size_t(n) * out), exact(size_t(n) * out), masked(size_t(n) * out);
    fq.forward(x.data(), n, quantized.data());
    fp.forward(x.data(), n, exact.data());
    const std::vector<uint8_t> keep = {0, 1, 0};
    fq.forward_keeping_fp(x.data(), n, masked.data(), keep);
    double quant_err = 0;
    for (int j = 0; j < out; ++j) {
        EXPECT_FLOAT_EQ(masked[size_t(j)], quantized[size_t(j)]);
        EXPECT_FLOAT_EQ(masked[size_t(2 * out + j)], quantized[size_t(2 * out + j)]);
        EXPECT_NEAR(masked[size_t(out + j)], exact[size_t(out + j)], 1e-5);
        quant_err = std::max(quant_err, double(std::fabs(quantized[size_t(out + j)] - exact[size_t(out + j)])));
    }
    EXPECT_GT(quant_err, 1e-2);  // 4-bit activations do move the unmasked row
    const std::vector<uint8_t> wrong = {0, 1};
    EXPECT_ANY_THROW(fq.forward_keeping_fp(x.data(), n, masked.data(), wrong));
}

// A linear without its own override cannot honour a mask that keeps rows: it refuses instead of computing
// another experiment; an all-zero mask is no request and a dense linear has nothing to keep.
TEST(Family, LinearsThatCannotKeepRowsRefuseAMask) {
    const int in = 4, out = 2;
    const DenseLinear dense(in, out, std::vector<float>(size_t(in) * out, 0.5f));
    const Bf16Linear bf16(dense);
    std::vector<float> x(4, 1.0f), y(2), ref(2);
    const std::vector<uint8_t> keep = {1}, none = {0};
    EXPECT_ANY_THROW(bf16.forward_keeping_fp(x.data(), 1, y.data(), keep));
    bf16.forward(x.data(), 1, ref.data());
    bf16.forward_keeping_fp(x.data(), 1, y.data(), none);
    EXPECT_EQ(y, ref);
    dense.forward_keeping_fp(x.data(), 1, y.data(), keep);
    EXPECT_FLOAT_EQ(y[0], 2.0f);
}
