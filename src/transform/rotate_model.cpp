#include "transform/rotate_model.h"

#include <algorithm>

#include <cblas.h>

#include "common/error.h"
#include "kernels/cpu/parallel_rows.h"
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

// Rows of at most this many floats per task of the structured folds: a few hundred KiB, so a task's rows stay in
// L2 through the sign pass and the butterflies.
constexpr int kFoldChunkFloats = 1 << 16;

// a[rows x n] ← a · R: RH as fwht_rows(a ⊙ s) row by row (each row alone, so any thread count gives the same
// bits), a dense R as one sgemm.
void right_multiply(std::vector<float>& a, int rows, int n, const ResidualRotation& r) {
    if (!r.structured()) return right_multiply(a, rows, n, r.dense);
    parallel_rows(rows, std::max(1, kFoldChunkFloats / n), [&](int r0, int r1) {
        for (int i = r0; i < r1; ++i) {
            float* row = a.data() + size_t(i) * n;
            for (int j = 0; j < n; ++j) row[j] *= r.signs[size_t(j)];
        }
        fwht_rows(a.data() + size_t(r0) * n, r1 - r0, n);
    });
}

// W[n x cols] ← Rᵀ · W. For RH, Rᵀ·W = H_n·diag(s)·W/√n: each column c becomes fwht(s ⊙ W[:, c]), done on Wᵀ's rows.
void left_multiply_transposed(std::vector<float>& w, int n, int cols, const ResidualRotation& r) {
    if (!r.structured()) return left_multiply_transposed(w, n, cols, r.dense);
    std::vector<float> t(w.size());  // Wᵀ [cols x n], signs applied on the way
    parallel_rows(cols, std::max(1, kFoldChunkFloats / n), [&](int c0, int c1) {
        for (int c = c0; c < c1; ++c)
            for (int i = 0; i < n; ++i) t[size_t(c) * n + i] = w[size_t(i) * cols + c] * r.signs[size_t(i)];
        fwht_rows(t.data() + size_t(c0) * n, c1 - c0, n);
    });
    parallel_rows(n, 64, [&](int i0, int i1) {
        for (int i = i0; i < i1; ++i)
            for (int c = 0; c < cols; ++c) w[size_t(i) * cols + c] = t[size_t(c) * n + i];
    });
}

void check_size(const ResidualRotation& r, int n) {
    const size_t have = r.structured() ? r.signs.size() : r.dense.size();
    if (have != (r.structured() ? size_t(n) : size_t(n) * n)) fail("rotation", "R1 must be {}x{}", n, n);
}

void rotate_reader(Linear& l, const ResidualRotation& r) {
    DenseLinear& d = as_dense(l);
    right_multiply(d.weight, d.out_features(), d.in_features(), r);
}

void rotate_writer(Linear& l, const ResidualRotation& r) {
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

void rotate_layer_residual(const Model& skeleton, Layer& l, const ResidualRotation& r1) {
    require_rms_norms(skeleton, "rotation R1");
    check_size(r1, skeleton.cfg.hidden);
    for (float g : l.attn_norm.weight)
        if (g != 1.0f) fail(skeleton.source, "R1 needs folded norms (fold the norm scales first)");
    for (Tap reads_residual : {Tap::AttnIn, Tap::MlpIn})
        for (Linear* p : linears_reading(l, reads_residual)) rotate_reader(*p, r1);
    for (Linear* p : residual_writers(l)) rotate_writer(*p, r1);
}

void rotate_skeleton_residual(Model& m, const ResidualRotation& r1) {
    require_rms_norms(m, "rotation R1");
    const int h = m.cfg.hidden;
    check_size(r1, h);
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

void rotate_residual(Model& m, const ResidualRotation& r1) {
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
