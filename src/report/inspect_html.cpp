// The HTML page of `tameq inspect`, drawn from the JSON that inspect_model returns (so the page and
// --json always agree).
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "report/html.h"
#include "analysis/inspect.h"
#include "quant/recipe.h"
#include "report/svg.h"

namespace tameq {
namespace {

using nlohmann::json;
using namespace report;

const std::vector<std::string> kInputs = {"attn_residual", "attn_in", "o_in", "mlp_residual", "mlp_in", "down_in"};
const std::vector<std::string> kRotations = model_rotation_names();  // the JSON keys of analysis/inspect
// Legend names (short) and panel titles (long).
const std::map<std::string, std::string> kLabel = {{"none", "none"},   {"ro", "RO"},          {"rh", "RH"},
                                                   {"dfrot", "DFRot"}, {"symmetrized", "symmetrized"}, {"r2", "R2 per head"},
                                                   {"r4", "R4 Hadamard"}};
const std::map<std::string, std::string> kTitle = {
    {"none", "No rotation"}, {"ro", "RO (random orthogonal)"}, {"rh", "RH (randomized Hadamard)"}, {"dfrot", "DFRot (refined from RH)"}};

std::string num(const json& v) { return v.is_number() ? format_number(v.get<double>()) : "–"; }

std::string label_of(const std::string& key) {
    auto it = kLabel.find(key);
    return it == kLabel.end() ? key : it->second;
}

// The norm input whose massive tokens stand out most: the plots zoom in on it.
std::pair<int, std::string> focus_of(const json& r) {
    int layer = int(r["layers"].size()) / 2;
    std::string input = "attn_in";
    double best = 0;
    for (const auto& l : r["layers"])
        for (const auto& m : l["massive_tokens"])
            if (m["ratio"].get<double>() > best) {
                best = m["ratio"].get<double>();
                layer = l["index"].get<int>();
                input = m["input"] == "attn_residual" ? "attn_in" : "mlp_in";
            }
    return {layer, input};
}

Section overview(const json& r) {
    HeatStrip h;
    h.title = "Largest |x| of each linear input, per layer";
    h.value_label = "max |x|";
    h.rows = kInputs;
    for (const auto& l : r["layers"]) h.columns.push_back(fmt::format("layer {}", l["index"].get<int>()));
    h.values.assign(h.rows.size() * h.columns.size(), 0);
    for (size_t c = 0; c < h.columns.size(); ++c)
        for (size_t i = 0; i < kInputs.size(); ++i)
            h.values[i * h.columns.size() + c] = r["layers"][c]["inputs"][kInputs[i]]["channel_absmax"]["max"].get<double>();
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : r["layers"])
        for (const auto& in : kInputs) {
            const json& s = l["inputs"][in];
            std::string top;
            for (const auto& c : s["top_channels"]) top += fmt::format("{}{} ({})", top.empty() ? "" : ", ", c["channel"].get<int>(), num(c["absmax"]));
            rows.push_back({std::to_string(l["index"].get<int>()), in, std::to_string(s["dim"].get<int>()), num(s["channel_absmax"]["p50"]),
                            num(s["channel_absmax"]["p99"]), num(s["channel_absmax"]["max"]), top, num(s["token_absmax"]["p50"]),
                            num(s["token_absmax"]["p99"]), num(s["token_absmax"]["max"]),
                            fmt::format("w{} pos {}", s["max_token"]["window"].get<int>(), s["max_token"]["position"].get<int>())});
        }
    return {"overview", "Activation magnitudes by layer and linear input",
            "<p>The residual stream entering each norm (<code>*_residual</code>) and the inputs of the linears: "
            "<code>attn_in</code> (q/k/v), <code>o_in</code> (o_proj), <code>mlp_in</code> (gate/up or fc1), "
            "<code>down_in</code> (down_proj or fc2). Per channel: the largest |x| over all tokens, summarised by its "
            "percentiles over channels; per token: the largest |x| over channels, summarised over tokens.</p>" +
                svg_heat_strip(h) +
                html_details("Table: magnitudes per layer and input", html_table({"layer", "input", "dim", "channel max|x| p50", "p99", "max", "top channels (max|x|)",
                            "token max|x| p50", "p99", "max", "largest token"},
                           rows))};
}

Section massive(const json& r) {
    // Token max|x| of the residual entering the attention norm along window 0, one line per layer.
    std::vector<Series> series;
    for (const auto& l : r["layers"]) {
        Series s;
        s.label = fmt::format("layer {}", l["index"].get<int>());
        s.color = palette(series.size());
        const json& p = l["points"]["attn_in"];
        for (size_t i = 0; i < p["window"].size(); ++i) {
            if (p["window"][i].get<int>() != 0) continue;
            s.x.push_back(p["position"][i].get<double>());
            s.y.push_back(p["absmax"][i].get<double>());
            s.highlight.push_back(uint8_t(p["massive"][i].get<int>()));
            s.tips.push_back(fmt::format("{}, position {}: max |x| = {}{}", s.label, p["position"][i].get<int>(), num(p["absmax"][i]),
                                         p["massive"][i].get<int>() ? " (massive)" : ""));
        }
        series.push_back(std::move(s));
    }
    Frame f;
    f.title = "Largest |x| of each token entering the attention norm (window 0)";
    f.x.label = "token position in the window";
    f.y.label = "max |x| over channels (log)";
    f.y.log = true;
    f.width = 1100;
    f.height = 380;
    // One row per (layer, input, position, token): how many windows marked it, how large, which channels.
    struct Group {
        int count = 0;
        double absmax = 0, ratio = 0, median = 0;
        json channels;
    };
    std::map<std::tuple<int, std::string, int, std::string>, Group> groups;
    for (const auto& l : r["layers"])
        for (const auto& m : l["massive_tokens"]) {
            Group& g = groups[{m["layer"].get<int>(), m["input"].get<std::string>(), m["position"].get<int>(), m["text"].get<std::string>()}];
            if (g.count++ == 0) g.channels = m["channels"];
            g.absmax = std::max(g.absmax, m["absmax"].get<double>());
            g.ratio = std::max(g.ratio, m["ratio"].get<double>());
            g.median += m["median_abs"].get<double>();
        }
    std::vector<std::vector<std::string>> rows;
    for (const auto& [key, g] : groups) {
        std::string ch;
        for (const auto& c : g.channels) ch += fmt::format("{}{}: {}", ch.empty() ? "" : ", ", c["channel"].get<int>(), num(c["value"]));
        rows.push_back({std::to_string(std::get<0>(key)), std::get<1>(key), std::to_string(std::get<2>(key)), std::get<3>(key),
                        fmt::format("{} of {}", g.count, r["windows"].get<int>()), format_number(g.absmax),
                        format_number(g.median / g.count), format_number(g.ratio) + "x", ch});
    }
    const json& b = r["bos"];
    std::string body = fmt::format(
        "<p>A token is <b>massive</b> when its largest |x| exceeds {}× the median |x| of its window (Sun et al., 2024). "
        "The BOS token (position 0) was marked in {} of {} (layer, norm, window) checks, at up to {}× the median.</p>",
        num(r["massive_ratio"]), b["marked_massive"].get<int>(), b["checks"].get<int>(), num(b["max_ratio"]));
    body += svg_lines(f, series);
    body += rows.empty() ? "<p>No massive activations found.</p>"
                         : html_table({"layer", "norm input", "position", "token", "windows", "max |x|", "median |x|", "ratio",
                                       "top channels (value)"},
                                      rows);
    return {"massive", "Massive activations", body};
}

// The BOS row cut to its top-k channels at its own norm: where RH's advantage over RO comes from.
std::string bos_sparsity(const json& sp, int bits) {
    if (sp["checks"].get<int>() == 0) return {};
    Frame f;
    f.title = "BOS token cut to its k largest channels (same norm): per-token error";
    f.x.label = "channels kept k (the last point is the whole row)";
    f.x.log = true;
    f.y.label = fmt::format("mean ‖xR − Q(xR)‖₂, {} bits", bits);
    f.width = 760;
    std::vector<Series> series;
    const char* names[] = {"no rotation", "RO", "RH"};
    std::vector<std::string> row_k = {"channels kept k"}, rows[3];
    for (size_t r = 0; r < 3; ++r) {
        Series s{names[r], palette(r), {}, {}, {}, {}};
        rows[r].push_back(names[r]);
        for (size_t i = 0; i < sp["k"].size(); ++i) {
            const double k = sp["k"][i].get<double>(), e = sp[kRotations[r]][i].get<double>();
            s.x.push_back(k);
            s.y.push_back(e);
            s.tips.push_back(fmt::format("{}: k = {}, error {}", names[r], k, format_number(e)));
            if (r == 0) row_k.push_back(format_number(k));
            rows[r].push_back(format_number(e));
        }
        series.push_back(s);
    }
    return "<p>Why the RO-vs-RH gap depends on the token: the same BOS rows kept to their k largest channels and "
           "rescaled to their norm. At k = 1 (a 1-sparse massive token, as in LLaMA-2) RH maps the row to a flat ±c "
           "vector, which a symmetric grid holds exactly (the asymmetric grid's integer zero point misses ±c by half a "
           "step), while RO leaves a Gaussian-looking error; as k grows, H·x takes up to 2<sup>k</sup> levels and RH's "
           "gain fades. The last point is the real token.</p>" +
           svg_lines(f, series) + html_table(row_k, {rows[0], rows[1], rows[2]});
}

Section quant_error(const json& r) {
    const auto [layer, input] = focus_of(r);
    const json& p = r["layers"][size_t(layer)]["points"][input];
    double ymax = 0;
    for (const auto& rot : kRotations)
        for (const auto& e : p["error"][rot]) ymax = std::max(ymax, e.get<double>());
    std::string panels = "<div class=\"charts\">";
    for (size_t k = 0; k < kRotations.size(); ++k) {
        Series ordinary, massive;
        ordinary.label = "ordinary tokens";
        ordinary.color = palette(0);
        massive.label = "massive tokens";
        massive.color = palette(1);
        for (size_t i = 0; i < p["absmax"].size(); ++i) {
            const bool m = p["massive"][i].get<int>();
            Series& s = m ? massive : ordinary;
            s.x.push_back(p["absmax"][i].get<double>());
            s.y.push_back(p["error"][kRotations[k]][i].get<double>());
            s.highlight.push_back(m);
            s.tips.push_back(fmt::format("window {}, position {}: max |x| = {}, error = {}", p["window"][i].get<int>(),
                                         p["position"][i].get<int>(), num(p["absmax"][i]), num(p["error"][kRotations[k]][i])));
        }
        Frame f;
        f.title = fmt::format("{}: layer {} {}", kTitle.at(kRotations[k]), layer, input);
        f.x.label = "token's max |x| in the residual (log)";
        f.x.log = true;
        f.y.label = fmt::format("‖xR − Q(xR)‖₂, {}-bit per token", r["bits"].get<int>());
        f.y.min = 0;
        f.y.max = ymax * 1.05;
        f.width = 560;
        f.height = 330;
        panels += svg_scatter(f, {ordinary, massive});
    }
    panels += "</div>";

    // Mean error per rotation over every norm input of every layer: massive tokens against ordinary ones.
    Series ord, mas;
    ord.label = "ordinary tokens";
    ord.color = palette(0);
    mas.label = "massive tokens";
    mas.color = palette(1);
    std::vector<std::string> cats;
    std::vector<std::vector<std::string>> rows;
    for (const auto& rot : kRotations) {
        double so = 0, sm = 0, no = 0, nm = 0;
        for (const auto& l : r["layers"])
            for (const char* in : {"attn_in", "mlp_in"}) {
                const json& e = l["quant_error"][in][rot];
                so += e["mean_ordinary"].get<double>() * e["n_ordinary"].get<double>();
                no += e["n_ordinary"].get<double>();
                if (e["mean_massive"].is_number()) {
                    sm += e["mean_massive"].get<double>() * e["n_massive"].get<double>();
                    nm += e["n_massive"].get<double>();
                }
            }
        cats.push_back(label_of(rot));
        ord.y.push_back(no ? so / no : 0);
        mas.y.push_back(nm ? sm / nm : std::nan(""));
    }
    Frame fb;
    fb.title = "Mean per-token error over all layers' norm inputs";
    fb.x.label = "rotation R1";
    fb.y.label = "mean ‖xR − Q(xR)‖₂";
    fb.width = 760;
    fb.height = 340;
    for (const auto& l : r["layers"])
        for (const char* in : {"attn_in", "mlp_in"}) {
            std::vector<std::string> row = {std::to_string(l["index"].get<int>()), in};
            for (const auto& rot : kRotations) {
                const json& e = l["quant_error"][in][rot];
                row.push_back(num(e["mean_ordinary"]));
                row.push_back(num(e["mean_massive"]));
            }
            rows.push_back(row);
        }
    const json& be = r["bos"]["error_when_massive"];
    std::string body = fmt::format(
        "<p>The quantity of DFRot's Figures 2–3 at this model: each token's norm input x (normalized, its scale folded "
        "into the next linears) is rotated by R1 and quantized per token to {} bits (asymmetric, round half to even); "
        "the error is ‖xR − Q(xR)‖₂. RO maps any token to a Gaussian-looking vector; RH maps a 1-sparse massive "
        "token to a flat ±c vector, which a symmetric grid holds almost exactly, but a massive token spread over "
        "several unequal channels becomes many levels and gains little. DFRot refines RH on "
        "{} rows of one window ({} massive, weighted γ = {}) for {} iterations: loss {} → {}.</p>"
        "<p><b>BOS token where massive</b>, mean error: no rotation {}, RO {}, RH {}, DFRot {}.</p>",
        r["bits"].get<int>(), r["dfrot"]["rows"].get<int>(), r["dfrot"]["massive_rows"].get<int>(), num(r["dfrot"]["gamma"]),
        r["dfrot"]["iterations"].get<int>(), num(r["dfrot"]["loss_start"]), num(r["dfrot"]["loss_best"]), num(be["none"]),
        num(be["ro"]), num(be["rh"]), num(be["dfrot"]));
    body += panels + svg_bars(fb, cats, {ord, mas});
    body += bos_sparsity(r["bos"]["sparsity"], r["bits"].get<int>());
    body += html_details("Table: mean error per layer (ordinary / massive tokens)", html_table({"layer", "norm input", "none: ordinary", "none: massive", "RO: ordinary", "RO: massive", "RH: ordinary",
                        "RH: massive", "DFRot: ordinary", "DFRot: massive"},
                       rows));
    return {"quant-error", "Per-token 4-bit quantization error under each rotation", body};
}

Section symmetrization(const json& r) {
    const int layer = focus_of(r).first;
    std::string charts = "<div class=\"charts\">";
    for (const char* in : {"attn_in", "mlp_in"}) {
        const json& s = r["layers"][size_t(layer)]["inputs"][in]["symmetrization"];
        RangeSeries before{"before: [min_j, max_j]", palette(0), {}, {}}, after{"after: [min_j − z_j, max_j − z_j]", palette(1), {}, {}};
        double lo = 0, hi = 0;
        for (size_t j = 0; j < s["shift"].size(); ++j) {
            const double z = s["shift"][j].get<double>(), mn = s["min"][j].get<double>(), mx = s["max"][j].get<double>();
            before.lo.push_back(mn);
            before.hi.push_back(mx);
            after.lo.push_back(mn - z);
            after.hi.push_back(mx - z);
            lo = std::min({lo, mn, mn - z});
            hi = std::max({hi, mx, mx - z});
        }
        for (auto* rs : {&before, &after}) {
            Frame f;
            f.title = fmt::format("layer {} {}: {}", layer, in, rs == &before ? "before symmetrization" : "after symmetrization");
            f.x.label = "channel j";
            f.y.label = "per-channel range of x";
            f.y.min = lo * 1.05;
            f.y.max = hi * 1.05;
            f.width = 560;
            f.height = 320;
            charts += svg_ranges(f, {*rs});
        }
    }
    charts += "</div>";
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : r["layers"])
        for (const char* in : {"attn_in", "mlp_in"}) {
            const json& s = l["inputs"][in]["symmetrization"];
            double zabs = 0;
            for (const auto& z : s["shift"]) zabs += std::abs(z.get<double>());
            rows.push_back({std::to_string(l["index"].get<int>()), in, format_number(zabs / double(s["shift"].size())),
                            num(s["absmax_before"]), num(s["absmax_after"]), num(l["inputs"][in]["kurtosis"]["none"]),
                            num(l["inputs"][in]["kurtosis"]["symmetrized"])});
        }
    return {"symmetrization", "Per-channel ranges before and after symmetrization (OutlierTune)",
            fmt::format("<p>OutlierTune subtracts from each channel j of a norm's output the shift z_j = mean over calibration "
                        "windows of (max_j + min_j)/2 (folded into the norm's bias and the next linears' biases), so that a "
                        "symmetric per-channel grid fits. Shown for layer {}, where the massive activations are largest.</p>",
                        layer) +
                charts +
                html_details("Table: symmetrization per layer",
                             html_table({"layer", "input", "mean |z_j|", "max |x| before", "max |x| after", "kurtosis before",
                                         "kurtosis after"},
                                        rows))};
}

// Bars per layer for the listed transforms of one quantity (activations or weights of one input).
std::string kurtosis_chart(const json& r, const std::string& title, const std::vector<std::string>& path,
                           const std::vector<std::string>& keys) {
    std::vector<std::string> cats;
    for (const auto& l : r["layers"]) cats.push_back(fmt::format("layer {}", l["index"].get<int>()));
    std::vector<Series> series;
    for (const auto& k : keys) {
        Series s;
        s.label = label_of(k);
        s.color = palette(series.size());
        for (const auto& l : r["layers"]) {
            const json* node = &l;
            for (const auto& p : path) node = &(*node)[p];
            const json& v = node->contains(k) ? (*node)[k] : json();
            s.y.push_back(v.is_number() ? v.get<double>() : std::nan(""));
        }
        series.push_back(std::move(s));
    }
    Frame f;
    f.title = title;
    f.x.label = "layer";
    f.y.label = "kurtosis (log; Gaussian = 3)";
    f.y.log = true;
    f.width = 560;
    f.height = 330;
    return svg_bars(f, cats, series);
}

Section kurtosis(const json& r) {
    const bool llama = r["family"] == "llama";
    std::vector<std::string> activations = kRotations;  // and OutlierTune's shift, measured on the same inputs
    activations.push_back("symmetrized");
    std::string charts = "<div class=\"charts\">";
    charts += kurtosis_chart(r, "Activations: q/k/v input", {"inputs", "attn_in", "kurtosis"}, activations);
    charts += kurtosis_chart(r, llama ? "Activations: gate/up input" : "Activations: fc1 input", {"inputs", "mlp_in", "kurtosis"},
                             activations);
    charts += kurtosis_chart(r, "Weights: q/k/v (after folding the norm scale)", {"weights_kurtosis", "qkv"}, kRotations);
    charts += kurtosis_chart(r, llama ? "Weights: gate/up" : "Weights: fc1", {"weights_kurtosis", llama ? "gate_up" : "fc1"}, kRotations);
    charts += kurtosis_chart(r, "Activations: o_proj input", {"inputs", "o_in", "kurtosis"}, {"none", "r2"});
    charts += kurtosis_chart(r, llama ? "down_proj input: activations" : "fc2 input: activations", {"inputs", "down_in", "kurtosis"},
                             {"none", "r4"});
    charts += "</div>";
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : r["layers"]) {
        const std::string li = std::to_string(l["index"].get<int>());
        for (const char* in : {"attn_in", "mlp_in"}) {
            const json& k = l["inputs"][in]["kurtosis"];
            rows.push_back({li, std::string(in) + " activations", num(k["none"]), num(k["ro"]), num(k["rh"]), num(k["dfrot"]),
                            num(k["symmetrized"]), "–"});
        }
        for (const auto& [name, w] : l["weights_kurtosis"].items())
            rows.push_back({li, name + " weights", num(w["none"]), num(w.value("ro", json())), num(w.value("rh", json())),
                            num(w.value("dfrot", json())), "–", num(w.contains("r2") ? w["r2"] : w.value("r4", json()))});
        rows.push_back({li, "o_in activations", num(l["inputs"]["o_in"]["kurtosis"]["none"]), "–", "–", "–", "–",
                        num(l["inputs"]["o_in"]["kurtosis"].value("r2", json()))});
        rows.push_back({li, "down_in activations", num(l["inputs"]["down_in"]["kurtosis"]["none"]), "–", "–", "–", "–",
                        num(l["inputs"]["down_in"]["kurtosis"].value("r4", json()))});
    }
    return {"kurtosis", "Kurtosis before and after each transform",
            "<p>Kurtosis E[(x−μ)⁴]/σ⁴ of the flattened tensor (3 for a Gaussian; outliers make it large). Readers of the "
            "residual (q/k/v, gate/up) get the norm scale folded in and R1 applied: activations x·R, weights W·diag(g)·R. "
            "o_proj's input gets R2 per head, down_proj's the online Hadamard R4; symmetrization shifts the norm outputs.</p>" +
                charts +
                html_details("Table: kurtosis per layer and tensor",
                             html_table({"layer", "tensor", "before", "RO", "RH", "DFRot", "symmetrized", "R2 / R4"}, rows))};
}

// method=ot-search: for each layer, the loss of each norm group against α (relative to OutlierTune's α = 1),
// the chosen α drawn large.
Section migration_search(const json& r) {
    const json& grid = r["ot_search"]["alphas"];
    std::string charts = "<div class=\"charts\">";
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : r["layers"]) {
        const int layer = l["index"].get<int>();
        std::vector<Series> series;
        for (const char* in : {"attn_in", "mlp_in"}) {
            const json& g = l["ot_search"][in];
            Series s;
            s.label = std::string(in) + (std::string(in) == "attn_in" ? " (q/k/v)" : " (gate/up, fc1)");
            s.color = palette(series.size());
            const double ot = g["loss_outliertune"].get<double>();
            for (size_t k = 0; k < grid.size(); ++k) {
                const double a = grid[k].get<double>(), rel = g["loss_by_alpha"][k].get<double>() / ot;
                s.x.push_back(a);
                s.y.push_back(rel);
                s.tips.push_back(fmt::format("α {}: loss {} × OutlierTune's", format_number(a), format_number(rel)));
                s.highlight.push_back(a == g["alpha"].get<double>());
            }
            const auto best = std::min_element(s.y.begin(), s.y.end());
            rows.push_back({std::to_string(layer), in, num(g["alpha"]), format_number(*best), std::to_string(g["rows"].get<int>())});
            series.push_back(std::move(s));
        }
        Frame f;
        f.title = fmt::format("layer {}", layer);
        f.x.label = "migration strength α (1 = OutlierTune)";
        f.y.label = "output error / OutlierTune's (log)";
        f.y.log = true;
        f.width = 360;
        f.height = 240;
        charts += svg_lines(f, series);
        charts += svg_scatter(f, series);
    }
    charts += "</div>";
    return {"ot-search", "Searched migration strength per layer (method=ot-search)",
            fmt::format("<p>For each norm and the linears reading it, after OutlierTune's shift: the squared output error "
                        "Σ‖XWᵀ − Q(X̃)Q(W̃)ᵀ‖² of W{}A{} (weights RTN per channel, activations static codes emitted by "
                        "the norm) when the per-channel steps migrate a share α of each channel's range into the "
                        "weights; α = 1 is OutlierTune's pre-executed dequantization, α = 0 leaves the weights' column "
                        "scales alone. Relative to α = 1; the larger point is the α <code>method=ot-search</code> "
                        "chooses.</p>",
                        r["ot_search"]["wbits"].get<int>(), r["ot_search"]["abits"].get<int>()) +
                charts +
                html_details("Table: chosen α per layer", html_table({"layer", "input", "chosen α", "error / OutlierTune's", "rows"}, rows))};
}

}  // namespace

std::string render_inspect_html(const json& r) {
    Page page(fmt::format("tameq inspect: {}", r["model"].get<std::string>()),
              fmt::format("{} · hidden {} · {} layers · calibration {} ({} windows × {} tokens = {} tokens) · {}-bit per-token grids",
                          r["architecture"].get<std::string>(), r["hidden"].get<int>(), r["n_layers"].get<int>(),
                          r["calib"].get<std::string>(), r["windows"].get<int>(), r["ctx"].get<int>(), r["tokens"].get<int64_t>(),
                          r["bits"].get<int>()));
    page.add(overview(r));
    page.add(massive(r));
    page.add(quant_error(r));
    page.add(symmetrization(r));
    page.add(kurtosis(r));
    if (r.contains("ot_search")) page.add(migration_search(r));
    return page.render();
}

}  // namespace tameq
