#include "model/fake_quant.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"

namespace tameq {

int QuantizedWeight::group_of(int col) const {
    if (!column_group.empty()) return column_group[size_t(col)];
    if (spec.granularity == Granularity::PerGroup) return col / spec.group_size;
    return 0;
}

std::vector<float> QuantizedWeight::dequantize() const {
    std::vector<float> w(size_t(rows) * cols);
    const int groups = spec.granularity == Granularity::PerTensor ? 0 : groups_per_row(cols, spec);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const QParams& p = groups == 0 ? params[0] : params[size_t(r) * groups + group_of(c)];
            w[size_t(r) * cols + c] = dequantize_code(codes[size_t(r) * cols + c], p);
        }
    return w;
}

QuantizedWeight quantize_weight_rtn(const float* w, int rows, int cols, const QuantSpec& spec) {
    std::vector<float> tmp(w, w + size_t(rows) * cols);
    std::vector<QParams> params = fake_quantize_rows(tmp.data(), rows, cols, spec);
    return codes_on_grid(tmp.data(), rows, cols, spec, std::move(params));
}

QuantizedWeight codes_on_grid(const float* wq, int rows, int cols, const QuantSpec& spec, std::vector<QParams> params,
                              std::vector<int> column_group) {
    QuantizedWeight q;
    q.spec = spec;
    q.rows = rows;
    q.cols = cols;
    q.params = std::move(params);
    q.column_group = std::move(column_group);
    q.codes.resize(size_t(rows) * cols);
    const int groups = spec.granularity == Granularity::PerTensor ? 0 : groups_per_row(cols, spec);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const QParams& p = groups == 0 ? q.params[0] : q.params[size_t(r) * groups + q.group_of(c)];
            q.codes[size_t(r) * cols + c] = int8_t(quantize_code(wq[size_t(r) * cols + c], p, spec));
        }
    return q;
}

void ActQuant::apply(float* x, int n, int dim, std::span<const uint8_t> fp_rows) const {
    if (mode == Mode::None) return;
    if (fp_rows.empty()) return apply_rows(x, n, dim);
    if (fp_rows.size() != size_t(n)) fail("quantizer", "row mask of {} rows for {} rows", fp_rows.size(), n);
    // Quantize only the rows not kept in floating point.
    for (int i = 0; i < n; ++i)
        if (!fp_rows[size_t(i)]) apply_rows(x + size_t(i) * dim, 1, dim);
}

void ActQuant::apply_rows(float* x, int n, int dim) const {
    switch (mode) {
        case Mode::None: return;
        case Mode::PerToken: fake_quantize_rows(x, n, dim, spec); return;
        case Mode::PerChannelStatic: {
            const float lo = float(qmin(spec)), hi = float(qmax(spec));
            for (int i = 0; i < n; ++i) {
                float* row = x + size_t(i) * dim;
                for (int j = 0; j < dim; ++j) {
                    const float step = channel_step[size_t(j)];
                    row[j] = step * std::clamp(std::nearbyint(row[j] / step), lo, hi);
                }
            }
            return;
        }
    }
}

FakeQuantLinear::FakeQuantLinear(std::vector<float> dense_weight, std::vector<float> bias, int in, int out, ActQuant act,
                                 std::unique_ptr<QuantizedWeight> weight)
    : Linear(in, out), bias_(std::move(bias)), weight_(std::move(weight)) {
    if (!weight_) dense_ = std::make_unique<DenseLinear>(in, out, std::move(dense_weight), bias_);
    set_act(std::move(act));
}

void FakeQuantLinear::set_act(ActQuant act) {
    if (act.mode == ActQuant::Mode::PerChannelStatic && act.channel_step.size() != size_t(in_features()))
        fail("quantizer", "static activation steps: {} values for {} input channels", act.channel_step.size(), in_features());
    act_ = std::move(act);
}

const DenseLinear& FakeQuantLinear::dense() const {
    if (!dense_) dense_ = std::make_unique<DenseLinear>(in_features(), out_features(), weight_->dequantize(), bias_);
    return *dense_;
}

void FakeQuantLinear::forward_keeping_fp(const float* x, int n, float* y, std::span<const uint8_t> fp_rows) const {
    if (!act_.active()) return dense().forward(x, n, y);
    const size_t len = size_t(n) * in_features();
    if (buf_.size() < len) buf_.resize(len);
    std::memcpy(buf_.data(), x, len * 4);
    act_.apply(buf_.data(), n, in_features(), fp_rows);
    dense().forward(buf_.data(), n, y);
}

std::string FakeQuantLinear::kind() const {
    const std::string w = weight_ ? fmt::format("W{}", weight_->spec.bits) : "W16";
    std::string a = "A16";
    if (act_.mode == ActQuant::Mode::PerToken) a = fmt::format("A{}", act_.spec.bits);
    if (act_.mode == ActQuant::Mode::PerChannelStatic) a = fmt::format("A{}(static per-channel)", act_.spec.bits);
    return "simulated " + w + a;
}

void FakeQuantKv::on_write(float* rows, int n, int n_kv_heads, int head_dim, bool) const {
    fake_quantize_rows(rows, n * n_kv_heads, head_dim, spec_);
}

}  // namespace tameq
