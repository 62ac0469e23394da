#include "transform/rotate_model.h"

#include <cblas.h>

#include "common/error.h"
#include "model/family.h"
#include "numerics/hadamard.h"

namespace tameq {
namespace {

// a[rows x n] ← a · R (R: n x n)
void right_multiply(std::vector<float>& a, int rows, int n, const std::vector<float>& r) {
    std::vector<float> out(a.size());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, n, n, 1.0f, a.data(), n, r.data(), n, 0.0f, out.data(), n);
    a.swap(out);
}

// W[n x cols] ← Rᵀ · W
void left_multiply_transposed(std::vector<float>& w, int n, int cols, const std::vector<float>& r) {
    std::vector<float> out(w.size());
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, cols, n, 1.0f, r.data(), n, w.data(), cols, 0.0f, out.data(), cols);
    w.swap(out);
}

void rotate_reader(Linear& l, const std::vector<float>& r) {
    DenseLinear& d = as_dense(l);
    right_multiply(d.weight, d.out_features(), d.in_features(), r);
}

void rotate_writer(Linear& l, const std::vector<float>& r) {
    DenseLinear& d = as_dense(l);
    left_multiply_transposed(d.weight, d.out_features(), d.in_features(), r);
    if (!d.bias.empty()) right_multiply(d.bias, 1, d.out_features(), r);  // b·R as a row vector
}

// The rotations need affine-free RMSNorms in front of every residual reader: the Llama family's own, or a
// LayerNorm family's after fold_norm_scales converted it (OnlineTransforms::layer_norm_as_rms).
void require_rms_norms(const Model& m, const char* what) {
    if (const std::string why = rotation_refusal(m.cfg); !why.empty())
        fail(m.source, "{} is not exact for this {}: {}", what, m.cfg.architecture, why);
    if (!family_of(m.cfg).rms_norm && !m.online.layer_norm_as_rms)
        fail(m.source, "{} needs {}'s LayerNorms converted to RMSNorm first (fold the norms)", what, m.cfg.architecture);
}

}  // namespace

void rotate_layer_residual(const Model& skeleton, Layer& l, const std::vector<float>& r1) {
    require_rms_norms(skeleton, "rotation R1");
    const int h = skeleton.cfg.hidden;
    if (r1.size() != size_t(h) * h) fail("rotation", "R1 must be {}x{}", h, h);
    for (float g : l.attn_norm.weight)
        if (g != 1.0f) fail(skeleton.source, "R1 needs folded norms (fold the norm scales first)");
    for (Tap reads_residual : {Tap::AttnIn, Tap::MlpIn})
        for (Linear* p : linears_reading(l, reads_residual)) rotate_reader(*p, r1);
    for (Linear* p : residual_writers(l)) rotate_writer(*p, r1);
}

void rotate_skeleton_residual(Model& m, const std::vector<float>& r1) {
    require_rms_norms(m, "rotation R1");
    const int h = m.cfg.hidden;
    if (r1.size() != size_t(h) * h) fail("rotation", "R1 must be {}x{}", h, h);
    if (m.project_in || m.project_out) fail(m.source, "rotation R1 through project_in/project_out is not exact");
    right_multiply(m.embed, m.cfg.vocab, h, r1);
    if (!m.pos_embed.empty()) right_multiply(m.pos_embed, int(m.pos_embed.size() / size_t(h)), h, r1);  // OPT
    rotate_reader(*m.lm_head, r1);
}

void rotate_layer_heads_vo(const Model& skeleton, Layer& l, const std::vector<float>& r2) {
    // No norm sits between v and o, so R2 needs no norm conversion (it is exact for OPT's LayerNorm as it is).
    const int hd = skeleton.cfg.head_dim;
    if (r2.size() != size_t(hd) * hd) fail("rotation", "R2 must be {}x{}", hd, hd);
    DenseLinear& v = as_dense(*l.v);
    const int in = v.in_features();
    for (int kvh = 0; kvh < skeleton.cfg.n_kv_heads; ++kvh) {
        std::vector<float> block(v.weight.begin() + long(kvh) * hd * in, v.weight.begin() + long(kvh + 1) * hd * in);
        left_multiply_transposed(block, hd, in, r2);
        std::copy(block.begin(), block.end(), v.weight.begin() + long(kvh) * hd * in);
        if (!v.bias.empty()) {
            std::vector<float> b(v.bias.begin() + kvh * hd, v.bias.begin() + (kvh + 1) * hd);
            right_multiply(b, 1, hd, r2);
            std::copy(b.begin(), b.end(), v.bias.begin() + kvh * hd);
        }
    }
    // o's input columns, one head-block at a time: viewing W_o as [out*heads x hd] rows rotates them all at once.
    DenseLinear& o = as_dense(*l.o);
    right_multiply(o.weight, o.out_features() * skeleton.cfg.n_heads, hd, r2);
}

void fold_layer_hadamard_down(Layer& l, int block) {
    for (Linear* p : down_projections(l)) {
        DenseLinear& d = as_dense(*p);
        fwht_row_blocks(d.weight.data(), d.out_features(), d.in_features(), block);  // W·Hᵀ: row w ↦ H·w
    }
}

void rotate_residual(Model& m, const std::vector<float>& r1) {
    for (Layer& l : m.layers) rotate_layer_residual(m, l, r1);
    rotate_skeleton_residual(m, r1);
}

void rotate_heads_vo(Model& m, const std::vector<float>& r2) {
    for (Layer& l : m.layers) rotate_layer_heads_vo(m, l, r2);
}

void add_online_hadamard_down(Model& m, int block) {
    // Throws for unsupported sizes before touching weights.
    // Every down width the model has: the dense MLP's and, for a mixture of experts, the experts'.
    std::vector<int> widths = {m.cfg.intermediate};
    if (m.cfg.n_experts > 0) widths.push_back(m.cfg.expert_intermediate);
    for (int width : widths) {
        if (block == 0) hadamard_factor(width);
        else if (block < 2 || (block & (block - 1)) || width % block)
            fail(m.source, "R4 block {} must be a power of two dividing intermediate size {}", block, width);
    }
    for (Layer& l : m.layers) fold_layer_hadamard_down(l, block);
    m.online.had_down = true;
    m.online.had_down_block = block;
}

void add_online_hadamard_qk(Model& m) {
    hadamard_factor(m.cfg.head_dim);  // throws for unsupported head sizes
    m.online.had_qk = true;
}

}  // namespace tameq
