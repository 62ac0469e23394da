#include "quant/gptq.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "common/error.h"
#include "common/stage_profile.h"
#include "kernels/cpu/parallel_rows.h"

namespace tameq {

HessianAccumulator::HessianAccumulator(int cols) : cols_(cols), h_(static_cast<size_t>(cols) * cols, 0.0f) {
    if (cols <= 0) fail("gptq", "a Hessian needs a positive number of columns, got {}", cols);
}

void HessianAccumulator::add(const float* x, int rows) {
    if (rows <= 0) return;
    int64_t total = count_ + rows;
    float beta = static_cast<float>(static_cast<double>(count_) / static_cast<double>(total));
    float alpha = static_cast<float>(2.0 / static_cast<double>(total));
    // h = beta * h + alpha * xᵀx on the upper triangle, then mirrored.
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, cols_, rows, alpha, x, cols_, beta, h_.data(), cols_);
    count_ = total;
    mirrored_ = false;
}

const std::vector<float>& HessianAccumulator::h() const {
    // ssyrk reads and writes only the upper triangle, so mirroring once here (a strided pass over n² floats,
    // as slow as a small ssyrk at n = 11008) instead of after every add gives the same matrix.
    if (!mirrored_) {
        for (int i = 0; i < cols_; ++i)
            for (int j = i + 1; j < cols_; ++j) h_[static_cast<size_t>(j) * cols_ + i] = h_[static_cast<size_t>(i) * cols_ + j];
        mirrored_ = true;
    }
    return h_;
}

namespace {

// Upper triangular U with H⁻¹ = UᵀU, as float [n x n] with zeros below the diagonal; H is damped and
// overwritten. Row c of U is the c-th row of the inverse Hessian left after eliminating columns 0..c-1,
// scaled by 1/sqrt of its diagonal: what the column-by-column update needs. The public code gets U as
// chol(chol_inverse(chol(H))), 4n³/3 flops; with P the order reversal, U = P L⁻¹ P where P H P = L Lᵀ,
// which is one Cholesky and one triangular inverse (2n³/3).
std::vector<float> inverse_hessian_factor(std::vector<double>& h, int n, float damp_percent) {
    const size_t nn = static_cast<size_t>(n);
    double mean_diag = 0.0;
    for (size_t i = 0; i < nn; ++i) mean_diag += h[i * nn + i];
    mean_diag /= n;
    for (size_t i = 0; i < nn; ++i) h[i * nn + i] += damp_percent * mean_diag;
    // Reversing the array gives P H P; being symmetric it reads the same column-major, so LAPACKE makes
    // no transposed copies. L and then L⁻¹ sit in its lower triangle, column-major.
    std::reverse(h.begin(), h.end());
    lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, h.data(), n);
    if (info == 0) info = LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'L', 'N', n, h.data(), n);
    if (info != 0)
        fail("gptq",
             "the Hessian is not positive definite after damping by {} of its mean diagonal (LAPACK info {}); "
             "use more calibration data or a larger damping",
             damp_percent, info);
    std::vector<float> u(nn * nn, 0.0f);
    for (size_t i = 0; i < nn; ++i)
        for (size_t j = i; j < nn; ++j) u[i * nn + j] = static_cast<float>(h[(nn - 1 - i) + (nn - 1 - j) * nn]);
    return u;
}

void check_options(int rows, int cols, const GptqOptions& opt) {
    if (rows <= 0 || cols <= 0) fail("gptq", "bad weight shape {}x{}", rows, cols);
    if (opt.block_size <= 0) fail("gptq", "block size must be positive, got {}", opt.block_size);
    if (!(opt.damp_percent >= 0.0f)) fail("gptq", "damping must be non-negative, got {}", opt.damp_percent);
}

}  // namespace

std::vector<QParams> gptq_quantize(float* W, int rows, int cols, const float* H, const QuantSpec& spec,
                                   const GptqOptions& opt, std::vector<int>* column_group) {
    spec.validate();
    check_options(rows, cols, opt);
    const size_t n = static_cast<size_t>(cols);
    const bool grouped = spec.granularity == Granularity::PerGroup;
    const int groups = groups_per_row(cols, spec);
    const int gs = grouped ? spec.group_size : cols;
    auto at = [&](std::vector<float>& m, int r, int c) -> float& { return m[static_cast<size_t>(r) * n + c]; };

    // Row and tensor grids come from the original weights, before dead columns are zeroed.
    std::vector<QParams> params(spec.granularity == Granularity::PerTensor ? 1 : static_cast<size_t>(rows) * groups);
    std::optional<ProfileScope> stage(std::in_place, "clip search");
    if (spec.granularity == Granularity::PerTensor)
        params[0] = find_qparams(W, rows * cols, spec);
    else if (!grouped)
        parallel_rows(rows, 16, [&](int r0, int r1) { find_row_grids(W, cols, spec, r0, r1, params.data()); });

    stage.reset();
    std::vector<double> h(H, H + n * n);
    for (double v : h)
        if (!std::isfinite(v)) fail("gptq", "the Hessian has non-finite entries");
    for (size_t c = 0; c < n; ++c) {
        if (h[c * n + c] != 0.0) continue;
        h[c * n + c] = 1.0;
        for (int r = 0; r < rows; ++r) W[r * n + c] = 0.0f;
    }
    if (grouped && opt.static_groups)
        parallel_rows(rows, 16, [&](int r0, int r1) { find_row_grids(W, cols, spec, r0, r1, params.data()); });

    // Work on a column-permuted copy: perm[k] is the original column quantized k-th. A stable sort keeps
    // ties (equal H_ii) in their original order, where torch.argsort leaves it unspecified.
    std::vector<int> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    if (opt.act_order)
        std::stable_sort(perm.begin(), perm.end(), [&](int a, int b) { return h[a * n + a] > h[b * n + b]; });
    std::vector<float> wp(static_cast<size_t>(rows) * n);
    std::vector<double> hp(n * n);
    for (int r = 0; r < rows; ++r)
        for (size_t k = 0; k < n; ++k) at(wp, r, static_cast<int>(k)) = W[r * n + perm[k]];
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j) hp[i * n + j] = h[static_cast<size_t>(perm[i]) * n + perm[j]];
    h = {};
    stage.emplace("GPTQ Cholesky");
    const std::vector<float> u = inverse_hessian_factor(hp, cols, opt.damp_percent);
    hp = {};
    stage.reset();

    if (column_group) column_group->assign(n, 0);
    const int bs = opt.block_size;
    std::vector<float> wt(static_cast<size_t>(std::min(bs, cols)) * rows);   // the block, transposed: [bs x rows]
    std::vector<float> err(wt.size());                                      // scaled errors, [bs x rows]
    for (int i1 = 0; i1 < cols; i1 += bs) {
        const int count = std::min(bs, cols - i1);
        for (int i = 0; i < count; ++i)
            for (int r = 0; r < rows; ++r) wt[static_cast<size_t>(i) * rows + r] = at(wp, r, i1 + i);

        auto group_of = [&](int c) { return !grouped ? 0 : opt.static_groups ? perm[c] / gs : c / gs; };
        if (column_group && grouped)
            for (int i = 0; i < count; ++i) (*column_group)[perm[i1 + i]] = group_of(i1 + i);
        // Inside a block every row's columns depend only on that row, so the rows split between threads
        // with the same arithmetic per element as one thread does.
        parallel_rows(rows, 64, [&](int r0, int r1) {
            for (int i = 0; i < count; ++i) {
                const int c = i1 + i;
                const int g = group_of(c);
                // Like the public code, the grid is found on the weights as they stand in the working
                // matrix: updated by earlier blocks, not yet by earlier columns of this block.
                if (grouped && !opt.static_groups && c % gs == 0)
                    for (int r = r0; r < r1; ++r) params[static_cast<size_t>(r) * groups + g] = find_qparams(&at(wp, r, c), gs, spec);
                const float d = u[c * n + c];
                float* w = &wt[static_cast<size_t>(i) * rows];
                float* e = &err[static_cast<size_t>(i) * rows];
                for (int r = r0; r < r1; ++r) {
                    const QParams& p = params.size() == 1 ? params[0] : params[static_cast<size_t>(r) * groups + g];
                    float q = quantize_dequantize(w[r], p, spec);
                    e[r] = (w[r] - q) / d;
                    w[r] = q;
                }
                for (int j = i + 1; j < count; ++j) {
                    const float hij = u[c * n + i1 + j];
                    float* wj = &wt[static_cast<size_t>(j) * rows];
                    for (int r = r0; r < r1; ++r) wj[r] -= e[r] * hij;
                }
            }
        });

        for (int i = 0; i < count; ++i)
            for (int r = 0; r < rows; ++r) at(wp, r, i1 + i) = wt[static_cast<size_t>(i) * rows + r];
        const int i2 = i1 + count;
        if (i2 < cols)  // W[:, i2:] -= Errᵀ · U[i1:i2, i2:]
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, cols - i2, count, -1.0f, err.data(), rows,
                        &u[static_cast<size_t>(i1) * n + i2], cols, 1.0f, &wp[i2], cols);
    }

    for (int r = 0; r < rows; ++r)
        for (size_t k = 0; k < n; ++k) W[r * n + perm[k]] = at(wp, r, static_cast<int>(k));
    return params;
}

}  // namespace tameq
