#include "analysis/inspect.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <numeric>

#include <cblas.h>
#include <fmt/format.h>

#include "common/error.h"
#include "io/tokenizer.h"
#include "calib/channel_stats.h"
#include "calib/dfrot_rows.h"
#include "calib/layer_runner.h"
#include "numerics/quantizer.h"
#include "numerics/hadamard.h"
#include "model/family.h"
#include "quant/migration_search.h"
#include "quant/recipe.h"
#include "quant/specs.h"
#include "transform/rotations.h"

namespace tameq {
namespace {

using nlohmann::json;

// The rotations compared, by their recipe names (the JSON keys); [0] is none, the others are R1s.
const std::vector<std::string> kRotations = model_rotation_names();

json per_rotation(const json& value) {
    json j;
    for (const std::string& r : kRotations) j[r] = value;
    return j;
}

// 4 significant digits keep the JSON small; the page shows 3.
double round4(double v) {
    if (!std::isfinite(v) || v == 0) return v;
    return std::stod(fmt::format("{:.4g}", v));
}

json rounded(const std::vector<float>& v) {
    json a = json::array();
    for (float x : v) a.push_back(round4(x));
    return a;
}

// C[m×n] = A[m×k]·B[k×n], row-major.
void matmul(const float* a, int m, int k, const float* b, int n, float* c) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
}

// Raw power sums of a flattened tensor; kurtosis = m4 / m2² (Pearson: a Gaussian gives 3).
struct Moments {
    double n = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    void add(const float* x, size_t count) {
        for (size_t i = 0; i < count; ++i) {
            const double v = x[i], v2 = v * v;
            s1 += v;
            s2 += v2;
            s3 += v2 * v;
            s4 += v2 * v2;
        }
        n += double(count);
    }
    double kurtosis() const {
        if (n < 2) return std::nan("");
        const double mu = s1 / n, e2 = s2 / n, e3 = s3 / n, e4 = s4 / n;
        const double m2 = e2 - mu * mu;
        const double m4 = e4 - 4 * mu * e3 + 6 * mu * mu * e2 - 3 * mu * mu * mu * mu;
        return m2 > 0 ? round4(m4 / (m2 * m2)) : std::nan("");
    }
};

// Nearest-rank percentiles of `v` (copied): p50, p90, p99, p99.9 and max.
json percentiles(std::vector<float> v) {
    json j = json::object();
    if (v.empty()) return j;
    std::sort(v.begin(), v.end());
    const std::array<std::pair<const char*, double>, 5> ps = {{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}, {"max", 100}}};
    for (const auto& [name, p] : ps) {
        const size_t rank = size_t(std::ceil(p / 100.0 * double(v.size())));
        j[name] = round4(v[std::clamp<size_t>(rank, 1, v.size()) - 1]);
    }
    return j;
}

// Median |x| over a window's rows·C elements: the reference a massive activation is measured against.
float median_abs(const float* x, size_t count) {
    std::vector<float> m(count);
    for (size_t i = 0; i < count; ++i) m[i] = std::fabs(x[i]);
    auto mid = m.begin() + long(count / 2);
    std::nth_element(m.begin(), mid, m.end());
    return *mid;
}

bool is_residual(Tap t) { return t == Tap::AttnResidual || t == Tap::MlpResidual; }
Tap input_of(Tap residual) { return residual == Tap::AttnResidual ? Tap::AttnIn : Tap::MlpIn; }

// Per-channel ranges (with OutlierTune's shift, calib/channel_stats.h) and per-token magnitudes of one
// linear input over all windows, and the per-channel power sums for kurtosis after a channel shift.
struct InputStats {
    int dim = 0;
    ChannelRange range;
    std::vector<float> token_absmax;
    std::vector<int> token_window, token_position;
    std::vector<double> p1, p2, p3, p4;
    std::map<std::string, Moments> transformed;  // activation moments after each transform

    // routed: rows gathered for one expert, whose positions in the window are not known here (recorded as -1).
    void add(const float* x, int n, int d, int window, bool routed = false) {
        if (dim == 0) {
            dim = d;
            range = ChannelRange(d);
            p1.assign(size_t(d), 0.0);
            p2 = p3 = p4 = p1;
        }
        range.add(x, n);
        for (int i = 0; i < n; ++i) {
            const float* xi = x + size_t(i) * d;
            float amax = 0;
            for (int j = 0; j < d; ++j) {
                const double v = xi[j], v2 = v * v;
                amax = std::max(amax, std::fabs(xi[j]));
                p1[size_t(j)] += v;
                p2[size_t(j)] += v2;
                p3[size_t(j)] += v2 * v;
                p4[size_t(j)] += v2 * v2;
            }
            token_absmax.push_back(amax);
            token_window.push_back(window);
            token_position.push_back(routed ? -1 : i);
        }
    }
    // Kurtosis of the flattened x − z from the per-channel power sums (binomial expansion).
    double kurtosis_shifted(const std::vector<float>& z) const {
        Moments m;
        const double t = double(token_absmax.size());
        for (int j = 0; j < dim; ++j) {
            const double c = -double(z[size_t(j)]), a1 = p1[size_t(j)], a2 = p2[size_t(j)], a3 = p3[size_t(j)], a4 = p4[size_t(j)];
            m.s1 += a1 + t * c;
            m.s2 += a2 + 2 * c * a1 + t * c * c;
            m.s3 += a3 + 3 * c * a2 + 3 * c * c * a1 + t * c * c * c;
            m.s4 += a4 + 4 * c * a3 + 6 * c * c * a2 + 4 * c * c * c * a1 + t * c * c * c * c;
        }
        m.n = t * dim;
        return m.kurtosis();
    }

    json to_json(bool with_shift) const {
        json j;
        j["dim"] = dim;
        if (token_absmax.empty()) return j;  // a tap this layer never reached (no token routed to any expert)
        const std::vector<float> absmax = range.absmax();
        j["channel_absmax"] = percentiles(absmax);
        std::vector<int> order(static_cast<size_t>(dim));
        for (int c = 0; c < dim; ++c) order[size_t(c)] = c;
        const size_t top = std::min<size_t>(5, order.size());
        std::partial_sort(order.begin(), order.begin() + long(top), order.end(),
                          [&](int a, int b) { return absmax[size_t(a)] > absmax[size_t(b)]; });
        j["top_channels"] = json::array();
        for (size_t i = 0; i < top; ++i)
            j["top_channels"].push_back({{"channel", order[i]}, {"absmax", round4(absmax[size_t(order[i])])}});
        j["token_absmax"] = percentiles(token_absmax);
        const size_t arg = size_t(std::max_element(token_absmax.begin(), token_absmax.end()) - token_absmax.begin());
        j["max_token"] = {{"window", token_window[arg]}, {"position", token_position[arg]}};
        json k;
        k["none"] = kurtosis_shifted(std::vector<float>(size_t(dim), 0.0f));
        for (const auto& [name, m] : transformed) k[name] = m.kurtosis();
        if (with_shift) {
            const std::vector<float> z = range.mean_midpoint();
            k["symmetrized"] = kurtosis_shifted(z);
            const std::vector<float> shifted = range.absmax_after_shift(z);
            const float before = std::accumulate(absmax.begin(), absmax.end(), 0.0f, [](float a, float b) { return std::max(a, b); });
            const float after = std::accumulate(shifted.begin(), shifted.end(), 0.0f, [](float a, float b) { return std::max(a, b); });
            j["symmetrization"] = {{"shift", rounded(z)}, {"min", rounded(range.min)}, {"max", rounded(range.max)},
                                   {"absmax_before", round4(before)}, {"absmax_after", round4(after)}};
        }
        j["kurtosis"] = k;
        return j;
    }
};

// The per-token 4-bit error of one norm input under each rotation, and the kept scatter points.
struct ErrorStats {
    struct Sum {
        double ordinary = 0, massive = 0, bos = 0, max = 0;
        int64_t n_ordinary = 0, n_massive = 0, n_bos = 0;
    };
    std::array<Sum, kModelRotations.size()> by_rotation;
    // Rows each marking rule marks (our first token is not 1-2-sparse, so the rules disagree: docs/results/dfrot-figures.md), and
    // whether the first token of a window is among them.
    struct Marks {
        int64_t rows = 0, first_token = 0;
    };
    Marks by_magnitude, by_norm, by_quant_error;
    json points = {{"window", json::array()}, {"position", json::array()}, {"absmax", json::array()}, {"massive", json::array()},
                   {"error", per_rotation(json::array())}};

    json to_json() const {
        json j;
        const auto marks = [](const Marks& m) { return json{{"rows", m.rows}, {"first_token", m.first_token}}; };
        j["marking"] = {{"magnitude", marks(by_magnitude)}, {"norm", marks(by_norm)},
                        {"quant_error", marks(by_quant_error)}};
        for (size_t r = 0; r < kRotations.size(); ++r) {
            const Sum& s = by_rotation[r];
            j[kRotations[r]] = {{"mean_ordinary", s.n_ordinary ? round4(s.ordinary / double(s.n_ordinary)) : 0.0},
                                {"mean_massive", s.n_massive ? json(round4(s.massive / double(s.n_massive))) : json(nullptr)},
                                {"bos", s.n_bos ? json(round4(s.bos / double(s.n_bos))) : json(nullptr)},
                                {"max", round4(s.max)}, {"n_ordinary", s.n_ordinary}, {"n_massive", s.n_massive}};
        }
        return j;
    }
};

// Why RH beats RO only on nearly sparse massive tokens: the BOS row cut to its k largest channels (rescaled
// to its own norm, so only the sparsity changes) and its per-token error under no rotation, RO and RH, summed
// over the checks where BOS is massive. k = 1 is the paper's LLaMA case (H maps it to a flat ±c row, which the
// grid holds exactly); the last k is the whole row, the real token.
struct SparsitySweep {
    std::vector<int> k;
    std::array<std::vector<double>, 3> sum;  // none, RO, RH
    int n = 0;

    void add(const float* row, int dim, const std::vector<float>& ro, const std::vector<float>& rh, const QuantSpec& act) {
        if (k.empty()) {
            for (int v = 1; v < dim; v *= 2) k.push_back(v);
            k.push_back(dim);
            for (auto& s : sum) s.assign(k.size(), 0.0);
        }
        std::vector<int> order(static_cast<size_t>(dim));
        for (int j = 0; j < dim; ++j) order[size_t(j)] = j;
        std::sort(order.begin(), order.end(), [&](int a, int b) { return std::fabs(row[a]) > std::fabs(row[b]); });
        double norm = 0;
        for (int j = 0; j < dim; ++j) norm += double(row[j]) * row[j];
        std::vector<float> cut(static_cast<size_t>(dim)), y(static_cast<size_t>(dim));
        for (size_t i = 0; i < k.size(); ++i) {
            std::fill(cut.begin(), cut.end(), 0.0f);
            double kept = 0;
            for (int t = 0; t < k[i]; ++t) {
                const int j = order[size_t(t)];
                cut[size_t(j)] = row[j];
                kept += double(row[j]) * row[j];
            }
            const float scale = kept > 0 ? float(std::sqrt(norm / kept)) : 0.0f;
            for (auto& v : cut) v *= scale;
            sum[0][i] += std::sqrt(per_token_quant_error(cut.data(), 1, dim, nullptr, act)[0]);
            for (int r = 0; r < 2; ++r) {
                matmul(cut.data(), 1, dim, (r == 0 ? ro : rh).data(), dim, y.data());
                sum[size_t(r) + 1][i] += std::sqrt(per_token_quant_error(y.data(), 1, dim, nullptr, act)[0]);
            }
        }
        ++n;
    }

    json to_json() const {
        json j = {{"checks", n}, {"k", k}};
        for (size_t r = 0; r < 3; ++r) {
            json m = json::array();
            for (double v : sum[r]) m.push_back(n ? json(round4(v / n)) : json(nullptr));
            j[kRotations[r]] = m;
        }
        return j;
    }
};

// Everything inspect keeps for the layer running now; turned into JSON and dropped when it ends.
class InspectTap : public BlockTap {
public:
    InspectTap(const ModelConfig& cfg, const InspectOptions& opt, const std::vector<std::vector<int>>& windows,
               const Tokenizer& tok, const std::array<std::vector<float>, 3>& r1, const std::vector<float>& r2)
        : cfg_(cfg), opt_(opt), windows_(windows), tok_(tok), r1_(r1), r2_(r2), act_(per_token_spec(opt.bits, opt.symmetric)) {
    }

    void begin_layer() {
        stats_.fill(InputStats());
        errors_ = {};
        calls_ = {};
        massive_ = json::array();
    }

    void on(int layer, Tap where, const float* x, int n, int dim) override {
        const int window = calls_[size_t(where)]++;
        stats_[size_t(where)].add(x, n, dim, window);
        if (is_residual(where)) return on_residual(layer, where, x, n, dim, window);
        if (where == Tap::OIn) {
            // R2: each head's slice of o_proj's input times the head_dim² Hadamard.
            std::vector<float> out(size_t(n) * dim);
            matmul(x, n * (dim / cfg_.head_dim), cfg_.head_dim, r2_.data(), cfg_.head_dim, out.data());
            stats_[size_t(where)].transformed["r2"].add(out.data(), out.size());
        } else if (where == Tap::DownIn) {
            add_r4(x, n, dim);
        }
    }

    // A mixture of experts' down_proj inputs, every expert's routed rows pooled into the layer's DownIn statistics
    // (the experts share one width); MlpIn already came through `on` for all rows.
    void on_expert(int, int, Tap where, const float* x, int n, int dim) override {
        if (where != Tap::DownIn) return;
        const int window = calls_[size_t(Tap::MlpIn)] - 1;
        stats_[size_t(where)].add(x, n, dim, window, true);
        add_r4(x, n, dim);
    }

    void add_r4(const float* x, int n, int dim) {
        if (!hadamard_size_supported(dim)) return;
        std::vector<float> y(x, x + size_t(n) * dim);
        fwht_rows(y.data(), n, dim);  // R4
        stats_[size_t(Tap::DownIn)].transformed["r4"].add(y.data(), y.size());
    }

    json end_layer(int index, const Layer& l, bool llama) {
        json j;
        j["index"] = index;
        json inputs;
        for (int t = 0; t < kTapCount; ++t) {
            const Tap tap = Tap(t);
            inputs[tap_name(tap)] = stats_[size_t(t)].to_json(tap == Tap::AttnIn || tap == Tap::MlpIn);
        }
        j["inputs"] = inputs;
        j["quant_error"] = {{"attn_in", errors_[0].to_json()}, {"mlp_in", errors_[1].to_json()}};
        j["points"] = {{"attn_in", errors_[0].points}, {"mlp_in", errors_[1].points}};
        j["massive_tokens"] = massive_;
        j["weights_kurtosis"] = weights_kurtosis(l, llama);
        return j;
    }

    // Accumulated over all layers: the BOS rows (position 0) and whether the magnitude rule marked them.
    int bos_checks = 0, bos_marked = 0;
    double bos_max_ratio = 0;
    std::array<ErrorStats::Sum, kModelRotations.size()> bos_error;  // over the residual taps where the BOS row is massive
    SparsitySweep bos_sparsity;

private:
    void on_residual(int layer, Tap where, const float* x, int n, int dim, int window) {
        const std::vector<uint8_t> marks = mark_massive_by_magnitude(x, n, dim, opt_.massive_ratio);
        const float median = median_abs(x, size_t(n) * dim);
        std::vector<float> xn(size_t(n) * dim), y(xn.size());
        normalize_rows(x, n, dim, cfg_.family, cfg_.norm_eps, xn.data());
        std::array<std::vector<double>, kModelRotations.size()> err;
        err[0] = per_token_quant_error(xn.data(), n, dim, nullptr, act_);
        InputStats& in = stats_[size_t(input_of(where))];
        for (size_t r = 0; r < r1_.size(); ++r) {
            matmul(xn.data(), n, dim, r1_[r].data(), dim, y.data());
            in.transformed[kRotations[r + 1]].add(y.data(), y.size());
            err[r + 1] = per_token_quant_error(y.data(), n, dim, nullptr, act_);
        }
        ErrorStats& es = errors_[where == Tap::AttnResidual ? 0 : 1];
        // The two other marking rules DFRot can use, counted on the same rows: the residual norm against the
        // median row's, and the public code's rule (unrotated per-token error below its scaled threshold).
        const std::vector<uint8_t> by_norm = mark_massive_by_norm(x, n, dim);
        const std::vector<uint8_t> by_error =
            mark_massive_by_quant_error(err[0], scaled_quant_error_threshold(dim, act_.bits));
        for (int i = 0; i < n; ++i) {
            for (auto [marked, m] : {std::pair{marks[size_t(i)], &es.by_magnitude}, std::pair{by_norm[size_t(i)], &es.by_norm},
                                     std::pair{by_error[size_t(i)], &es.by_quant_error}})
                if (marked) {
                    ++m->rows;
                    m->first_token += i == 0;
                }
        }
        const std::vector<float>& absmax = stats_[size_t(where)].token_absmax;
        const size_t first = absmax.size() - size_t(n);
        const bool keep_points = first + size_t(n) <= size_t(opt_.scatter_tokens);
        for (int i = 0; i < n; ++i) {
            for (size_t r = 0; r < err.size(); ++r) {
                const double e = std::sqrt(err[r][size_t(i)]);
                ErrorStats::Sum& s = es.by_rotation[r];
                (marks[size_t(i)] ? s.massive : s.ordinary) += e;
                ++(marks[size_t(i)] ? s.n_massive : s.n_ordinary);
                s.max = std::max(s.max, e);
                if (i == 0) {
                    s.bos += e;
                    ++s.n_bos;
                    if (marks[0]) {
                        bos_error[r].massive += e;
                        ++bos_error[r].n_massive;
                    }
                }
                if (keep_points) es.points["error"][kRotations[r]].push_back(round4(e));
            }
            if (keep_points) {
                es.points["window"].push_back(window);
                es.points["position"].push_back(i);
                es.points["absmax"].push_back(round4(absmax[first + size_t(i)]));
                es.points["massive"].push_back(int(marks[size_t(i)]));
            }
            if (marks[size_t(i)]) record_massive(layer, where, x + size_t(i) * dim, dim, window, i, median);
        }
        ++bos_checks;
        bos_marked += marks[0];
        if (marks[0]) bos_sparsity.add(xn.data(), dim, r1_[0], r1_[1], act_);
        bos_max_ratio = std::max(bos_max_ratio, double(absmax[first]) / std::max(median, 1e-30f));
    }

    void record_massive(int layer, Tap where, const float* row, int dim, int window, int position, float median) {
        const int id = windows_[size_t(window)][size_t(position)];
        std::string text = id == cfg_.bos_id && position == 0 ? "<BOS>" : tok_.decode({id});
        std::vector<int> order(static_cast<size_t>(dim));
        for (int c = 0; c < dim; ++c) order[size_t(c)] = c;
        std::partial_sort(order.begin(), order.begin() + 4, order.end(),
                          [&](int a, int b) { return std::fabs(row[a]) > std::fabs(row[b]); });
        json channels = json::array();
        for (int k = 0; k < 4; ++k) channels.push_back({{"channel", order[size_t(k)]}, {"value", round4(row[order[size_t(k)]])}});
        const double amax = std::fabs(row[order[0]]);
        massive_.push_back({{"layer", layer}, {"input", tap_name(where)}, {"window", window}, {"position", position},
                            {"token_id", id}, {"text", text}, {"absmax", round4(amax)}, {"median_abs", round4(median)},
                            {"ratio", round4(amax / std::max(double(median), 1e-30))}, {"channels", channels}});
    }

    // Kurtosis of the weights that read each input, before and after the transform that input gets:
    // readers of the residual W·diag(g)·R for each R1, o_proj per-head R2, down_proj R4.
    json weights_kurtosis(const Layer& l, bool llama) const {
        json j;
        auto readers = [&](std::vector<const Linear*> lins, const Norm& norm, const char* name) {
            const int in = lins[0]->in_features();
            std::vector<float> w;
            for (const Linear* lin : lins) {
                const auto& d = as_dense(*lin).weight;
                w.insert(w.end(), d.begin(), d.end());
            }
            const int rows = int(w.size() / size_t(in));
            Moments none;
            none.add(w.data(), w.size());
            j[name]["none"] = none.kurtosis();
            for (int r = 0; r < rows; ++r)
                for (int c = 0; c < in; ++c) w[size_t(r) * in + c] *= norm.weight[size_t(c)];
            std::vector<float> y(w.size());
            for (size_t r = 0; r < r1_.size(); ++r) {
                matmul(w.data(), rows, in, r1_[r].data(), in, y.data());
                Moments m;
                m.add(y.data(), y.size());
                j[name][kRotations[r + 1]] = m.kurtosis();
            }
        };
        readers({l.q.get(), l.k.get(), l.v.get()}, l.attn_norm, "qkv");
        // The MLP norm's readers by the family's table: gate/up, fc1, or a mixture's router and every expert's gate/up.
        Layer& layer = const_cast<Layer&>(l);  // linears_reading only lists the slots; nothing is changed
        const std::vector<Linear*> mlp_readers = linears_reading(layer, Tap::MlpIn);
        readers(std::vector<const Linear*>(mlp_readers.begin(), mlp_readers.end()), l.mlp_norm, llama ? "gate_up" : "fc1");

        const auto& o = as_dense(*l.o).weight;
        Moments m_o, m_o2;
        m_o.add(o.data(), o.size());
        std::vector<float> y(o.size());
        matmul(o.data(), int(o.size() / size_t(cfg_.head_dim)), cfg_.head_dim, r2_.data(), cfg_.head_dim, y.data());
        m_o2.add(y.data(), y.size());
        j["o"] = {{"none", m_o.kurtosis()}, {"r2", m_o2.kurtosis()}};

        // down, fc2 or every expert's down (one width), stacked by rows.
        const std::vector<Linear*> downs = down_projections(layer);
        std::vector<float> d;
        for (const Linear* lin : downs) d.insert(d.end(), as_dense(*lin).weight.begin(), as_dense(*lin).weight.end());
        const int down_in = downs[0]->in_features();
        Moments m_d;
        m_d.add(d.data(), d.size());
        const char* dname = llama ? "down" : "fc2";
        j[dname]["none"] = m_d.kurtosis();
        if (hadamard_size_supported(down_in)) {
            fwht_rows(d.data(), int(d.size() / size_t(down_in)), down_in);
            Moments m_d4;
            m_d4.add(d.data(), d.size());
            j[dname]["r4"] = m_d4.kurtosis();
        }
        return j;
    }

    const ModelConfig& cfg_;
    const InspectOptions& opt_;
    const std::vector<std::vector<int>>& windows_;
    const Tokenizer& tok_;
    const std::array<std::vector<float>, 3>& r1_;  // RO, RH, DFRot
    const std::vector<float>& r2_;
    const QuantSpec act_;
    std::array<InputStats, kTapCount> stats_;
    std::array<ErrorStats, 2> errors_;  // attention norm input, MLP norm input
    std::array<int, kTapCount> calls_{};
    json massive_;
};

}  // namespace

json inspect_model(const std::string& model_path, const Tokenizer& tok, const InspectOptions& opt,
                   const InspectProgress& progress) {
    if (opt.windows < 1) fail("inspect", "--windows must be at least 1");
    if (opt.bits < 2 || opt.bits > 8) fail("inspect", "--bits must be in 2..8, got {}", opt.bits);
    if (opt.calib_file.empty()) fail("inspect", "needs calibration text: pass --calib FILE");
    ModelReader reader(model_path);
    const ModelConfig& cfg = reader.config();
    const bool llama = cfg.family != ArchFamily::OPT;  // gate/up/down (Llama, Gemma) rather than fc1/fc2
    const int ctx = std::min(opt.ctx, cfg.max_positions);
    if (ctx < 2) fail("inspect", "--ctx must be at least 2");
    const auto windows = calibration_windows(opt.calib_file, tok, ctx, opt.windows, cfg.bos_id);
    auto report = [&](const std::string& stage, int done, int total) {
        if (progress) progress(stage, done, total);
    };

    std::array<std::vector<float>, 3> r1;
    r1[0] = random_orthogonal(cfg.hidden, opt.seed);
    r1[1] = random_hadamard(cfg.hidden, opt.seed);
    const std::vector<float> r2 = random_hadamard_r2(cfg.head_dim, opt.seed);

    // DFRot: refine RH on the first window's norm inputs with the quantization pipeline's collector and
    // refinement (the magnitude rule at --massive-ratio, every row).
    json dfrot;
    {
        DfrotRowsOptions collect;
        collect.family = cfg.family;
        collect.eps = cfg.norm_eps;
        collect.marking = MassiveMarking::Magnitude;
        collect.ratio = opt.massive_ratio;
        const DfrotRows rows = collect_dfrot_rows(reader, {windows[0]}, collect,
                                                  [&](int done, int total) { report("dfrot: collect", done, total); });
        const DfrotR1Options refine{.gamma = opt.dfrot_gamma, .iterations = opt.dfrot_iters, .sample_rows = 0,
                                    .seed = opt.seed, .act = per_token_spec(opt.bits, opt.symmetric)};
        const DfrotResult res = refine_dfrot_r1(rows, refine, [&](int t, int n, double) { report("dfrot: refine", t, n); });
        r1[2] = res.rotation;
        dfrot = {{"iterations", opt.dfrot_iters}, {"gamma", opt.dfrot_gamma}, {"rows", rows.rows()},
                 {"massive_rows", rows.massive_rows()},
                 {"loss_start", round4(res.losses.front())}, {"loss_best", round4(res.losses[size_t(res.best_iteration)])},
                 {"best_iteration", res.best_iteration}};
    }

    const bool searching = opt.search_wbits > 0;
    MigrationSearchOptions search;
    int64_t tokens = 0;
    for (const auto& w : windows) tokens += int64_t(w.size());
    if (searching) {
        if (opt.search_wbits < 2 || opt.search_wbits > 8 || opt.search_abits < 2 || opt.search_abits > 8)
            fail("inspect", "--ot-search needs 2..8 bits for weights and activations, got W{}A{}", opt.search_wbits, opt.search_abits);
        if (!cfg.pre_layer_norm) fail(model_path, "--ot-search: post-LayerNorm model, the channel folds are not exact");
        if (tokens < kMigrationSearchRows)
            fail("inspect", "--ot-search needs at least {} calibration tokens, {} windows give {}", kMigrationSearchRows,
                 windows.size(), tokens);
        search.weight.bits = opt.search_wbits;
        search.weight.mse_search = true;
        search.act_bits = opt.search_abits;
        search.alphas = alpha_grid(0.0f, 1.0f, 10);
        search.clips = {1.0f};
    }

    Model skeleton = reader.load_skeleton();
    LayerRunner runner(skeleton, windows);
    InspectTap tap(cfg, opt, windows, tok, r1, r2);
    json layers = json::array();
    for (int i = 0; i < cfg.n_layers; ++i) {
        const Layer layer = reader.load_layer(i);
        json searched;
        if (searching) {
            // On a fresh copy of the block: the search folds its choice in, which the analysis must not see.
            ChannelStatsTap stats({Tap::AttnIn, Tap::MlpIn}, kMigrationSearchRows);
            runner.run(layer, i, &stats, false);
            Layer copy = reader.load_layer(i);
            for (auto [tap_in, norm] : {std::pair{Tap::AttnIn, &copy.attn_norm}, std::pair{Tap::MlpIn, &copy.mlp_norm}}) {
                const MigrationChoice c = migrate_norm_group(*norm, linears_reading(copy, tap_in), stats.at(tap_in), search);
                searched[tap_name(tap_in)] = {{"alpha", round4(c.alpha)}, {"loss_by_alpha", c.loss_by_alpha},
                                              {"loss_outliertune", c.loss_outliertune}, {"rows", c.rows}};
            }
        }
        tap.begin_layer();
        runner.run(layer, i, &tap, true);
        layers.push_back(tap.end_layer(i, layer, llama));
        if (searching) layers.back()["ot_search"] = searched;
        report("inspect", i + 1, cfg.n_layers);
    }

    json bos_error;
    for (size_t r = 0; r < kRotations.size(); ++r) {
        const auto& s = tap.bos_error[r];
        bos_error[kRotations[r]] = s.n_massive ? json(round4(s.massive / double(s.n_massive))) : json(nullptr);
    }
    json result = {{"tool", "tameq inspect"}, {"model", model_path}, {"architecture", cfg.architecture},
            {"family", family_of(cfg.family).name}, {"hidden", cfg.hidden}, {"intermediate", cfg.intermediate},
            {"head_dim", cfg.head_dim}, {"n_layers", cfg.n_layers}, {"calib", opt.calib_file}, {"windows", int(windows.size())},
            {"ctx", ctx}, {"tokens", tokens}, {"bits", opt.bits}, {"symmetric", opt.symmetric}, {"seed", opt.seed}, {"massive_ratio", opt.massive_ratio},
            {"marking_rules", {{"magnitude_ratio", opt.massive_ratio}, {"norm_ratio", kMassiveNormRatio},
                               {"quant_error_threshold", round4(scaled_quant_error_threshold(cfg.hidden, opt.bits))}}},
            {"dfrot", dfrot}, {"layers", layers},
            {"bos", {{"token_id", cfg.bos_id}, {"checks", tap.bos_checks}, {"marked_massive", tap.bos_marked},
                     {"max_ratio", round4(tap.bos_max_ratio)}, {"error_when_massive", bos_error},
                     {"sparsity", tap.bos_sparsity.to_json()}}}};
    if (searching) {
        json alphas = json::array();
        for (float a : search.alphas) alphas.push_back(round4(a));
        result["ot_search"] = {{"wbits", opt.search_wbits}, {"abits", opt.search_abits}, {"alphas", alphas}};
    }
    return result;
}

}  // namespace tameq
