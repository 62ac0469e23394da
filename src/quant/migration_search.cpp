#include "quant/migration_search.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <cblas.h>

#include "common/error.h"
#include "common/stage_profile.h"
#include "model/linear.h"
#include "quant/gptq.h"
#include "kernels/cpu/parallel_rows.h"
#include "transform/outliertune.h"
#include "transform/smoothquant.h"

namespace tameq {

std::vector<float> alpha_grid(float lo, float hi, int steps) {
    if (!(lo >= 0.0f && hi <= 1.0f && lo <= hi))
        fail("recipe", "the migration search grid [{}, {}] must lie in [0, 1] with alpha-min <= alpha-max", lo, hi);
    if (steps < 0) fail("recipe", "alpha-steps={} must be >= 0", steps);
    std::vector<float> g;
    for (int i = 0; i <= steps; ++i) g.push_back(steps == 0 ? lo : lo + (hi - lo) * float(i) / float(steps));
    return g;
}

namespace {

// The per-channel steps of candidate (α, p).
std::vector<float> candidate_steps(const std::vector<float>& m, const std::vector<float>& w, float alpha, float clip,
                                   int act_bits) {
    const size_t dim = m.size();
    std::vector<float> s(dim);
    double widest = 0;  // max_j m_j / s_j
    for (size_t j = 0; j < dim; ++j) {
        // SmoothQuant's floors (1e-5 on both maxima) keep dead channels finite.
        s[j] = float(std::pow(double(std::max(m[j], 1e-5f)), alpha) / std::pow(double(std::max(w[j], 1e-5f)), 1.0 - alpha));
        widest = std::max(widest, double(m[j]) / s[j]);
    }
    // In double, so α = 1, p = 1 gives float(m_j / q_max) exactly as OutlierTune's steps (widest is then 1);
    // a channel that never varied keeps step 1, as OutlierTune gives it.
    const double qmax = double((1 << (act_bits - 1)) - 1);
    for (size_t j = 0; j < dim; ++j) s[j] = m[j] > 0.0f ? float(double(s[j]) * (widest * clip) / qmax) : 1.0f;
    return s;
}

struct Reader {
    const DenseLinear* d;
    std::vector<float> y_ref;  // [rows x out]: X Wᵀ of the shifted FP input
};

// Σ over the readers of ‖X Wᵀ − Q(X / step) Q(W · diag(step))ᵀ‖².
double candidate_loss(const std::vector<float>& x, int rows, int dim, const std::vector<float>& step,
                      std::vector<Reader>& readers, const MigrationSearchOptions& o) {
    const float lo = -float(1 << (o.act_bits - 1)), hi = float((1 << (o.act_bits - 1)) - 1);
    std::vector<float> codes(x.size());
    for (int i = 0; i < rows; ++i)
        for (int j = 0; j < dim; ++j) {
            const size_t k = size_t(i) * dim + j;
            codes[k] = std::clamp(std::nearbyint(x[k] / step[size_t(j)]), lo, hi);
        }
    std::vector<float> hessian;
    if (o.gptq) {  // of the unrounded migrated input X / step, as GPTQ will see it
        HessianAccumulator h(dim);
        std::vector<float> migrated(x.size());
        for (int i = 0; i < rows; ++i)
            for (int j = 0; j < dim; ++j) migrated[size_t(i) * dim + j] = x[size_t(i) * dim + j] / step[size_t(j)];
        h.add(migrated.data(), rows);
        hessian = h.h();
    }
    double loss = 0;
    std::vector<float> w, y;
    for (Reader& rd : readers) {
        const int out = rd.d->out_features();
        w = rd.d->weight;
        for (int r = 0; r < out; ++r)
            for (int j = 0; j < dim; ++j) w[size_t(r) * dim + j] *= step[size_t(j)];
        if (o.gptq) {
            GptqOptions g;
            g.damp_percent = o.gptq_damp;
            gptq_quantize(w.data(), out, dim, hessian.data(), o.weight, g);
        } else {
            std::vector<QParams> grids(size_t(out) * groups_per_row(dim, o.weight));
            parallel_rows(out, 16, [&](int r0, int r1) {
                find_row_grids(w.data(), dim, o.weight, r0, r1, grids.data());
                apply_row_grids(w.data(), dim, o.weight, r0, r1, grids.data());
            });
        }
        y.assign(size_t(rows) * out, 0.0f);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, dim, 1.0f, codes.data(), dim, w.data(), dim, 0.0f,
                    y.data(), out);
        for (size_t k = 0; k < y.size(); ++k) {
            const double e = double(y[k]) - rd.y_ref[k];
            loss += e * e;
        }
    }
    return loss;
}

}  // namespace

MigrationChoice migrate_norm_group(Norm& norm, const std::vector<Linear*>& readers, const ChannelRange& r,
                                   const MigrationSearchOptions& o) {
    ProfileScope stage("migration search");
    if (o.alphas.empty() || o.clips.empty()) fail("ot-search", "empty search grid");
    if (o.act_bits < 2 || o.act_bits > 8) fail("ot-search", "activation bits {} out of range (2..8)", o.act_bits);
    const int dim = r.dim;
    if (r.values.empty()) fail("ot-search", "the search needs kept calibration rows (none were kept)");
    const int rows = int(r.values.size() / size_t(dim));
    const std::vector<float> z = o.symmetrize ? r.mean_midpoint() : std::vector<float>(size_t(dim), 0.0f);
    const std::vector<float> m = r.absmax_after_shift(z);

    std::vector<float> x(r.values);
    for (int i = 0; i < rows; ++i)
        for (int j = 0; j < dim; ++j) x[size_t(i) * dim + j] -= z[size_t(j)];
    std::vector<float> wmax(size_t(dim), 0.0f);
    std::vector<Reader> group;
    for (Linear* l : readers) {
        const DenseLinear& d = as_dense(*l);
        if (d.in_features() != dim) fail("ot-search", "reader has {} inputs for {} channels", d.in_features(), dim);
        for (int row = 0; row < d.out_features(); ++row)
            for (int j = 0; j < dim; ++j) wmax[size_t(j)] = std::max(wmax[size_t(j)], std::abs(d.weight[size_t(row) * dim + j]));
        Reader rd{&d, std::vector<float>(size_t(rows) * d.out_features())};
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, d.out_features(), dim, 1.0f, x.data(), dim,
                    d.weight.data(), dim, 0.0f, rd.y_ref.data(), d.out_features());
        group.push_back(std::move(rd));
    }

    MigrationChoice c;
    c.rows = rows;
    c.loss = std::numeric_limits<double>::infinity();
    for (float alpha : o.alphas) {
        double best = std::numeric_limits<double>::infinity();
        for (float p : o.clips) {
            const double loss = candidate_loss(x, rows, dim, candidate_steps(m, wmax, alpha, p, o.act_bits), group, o);
            if (alpha == 1.0f && p == 1.0f) c.loss_outliertune = loss;
            best = std::min(best, loss);
            if (loss < c.loss) {  // strict: the first of equal candidates wins, whatever the thread count
                c.loss = loss;
                c.alpha = alpha;
                c.clip = p;
            }
        }
        c.loss_by_alpha.push_back(best);
    }
    if (std::find(o.alphas.begin(), o.alphas.end(), 1.0f) == o.alphas.end() ||
        std::find(o.clips.begin(), o.clips.end(), 1.0f) == o.clips.end())
        c.loss_outliertune = candidate_loss(x, rows, dim, candidate_steps(m, wmax, 1.0f, 1.0f, o.act_bits), group, o);

    // Apply the choice: the exact shift, then the steps folded (the norm emits x / step_j).
    if (o.symmetrize) symmetrize_norm(norm, readers, z);
    scale_norm_channels(norm, readers, candidate_steps(m, wmax, c.alpha, c.clip, o.act_bits));
    return c;
}

}  // namespace tameq
