#include "report/svg.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "report/html.h"

namespace tameq::report {
namespace {

constexpr int kLeft = 70, kRight = 18, kTop = 52, kBottom = 50;

struct Scale {
    double lo, hi;  // in axis units (log10 when log)
    bool log;
    double px0, px1;
    double map(double v) const {
        const double t = ((log ? std::log10(v) : v) - lo) / (hi - lo);
        return px0 + t * (px1 - px0);
    }
    bool valid(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

// The axis range: the user's, or the data's padded by 4 % (a decade-aligned range for log axes).
Scale fit_scale(const Axis& a, const std::vector<const std::vector<double>*>& data, double px0, double px1,
                bool include_zero = false) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto* v : data)
        for (double x : *v)
            if (std::isfinite(x) && (!a.log || x > 0)) {
                lo = std::min(lo, x);
                hi = std::max(hi, x);
            }
    if (a.min != a.max) {
        lo = a.min;
        hi = a.max;
    } else if (!std::isfinite(lo)) {
        lo = a.log ? 1 : 0;
        hi = a.log ? 10 : 1;
    }
    if (include_zero && !a.log) lo = std::min(lo, 0.0);
    if (a.log) {
        lo = std::floor(std::log10(lo));
        hi = std::ceil(std::log10(hi));
        if (hi <= lo) hi = lo + 1;
    } else if (a.min == a.max) {
        if (hi <= lo) {
            hi = lo + 1;
            lo -= 1;
        }
        const double pad = 0.04 * (hi - lo);
        if (!(include_zero && lo == 0)) lo -= pad;
        hi += pad;
    }
    return {lo, hi, a.log, px0, px1};
}

std::string open_svg(const Frame& f) {
    return fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" "
        "class=\"chart\"><title>{2}</title>"
        "<text x=\"{3}\" y=\"20\" class=\"ctitle\" text-anchor=\"middle\">{2}</text>",
        f.width, f.height, html_escape(f.title), f.width / 2);
}

// Axis lines, ticks with labels, grid lines and the axis labels.
std::string draw_axes(const Frame& f, const Scale& sx, const Scale& sy, bool x_ticks = true) {
    std::string s;
    const double x0 = kLeft, x1 = f.width - kRight, y0 = f.height - kBottom, y1 = kTop;
    for (double t : nice_ticks(sy.log ? std::pow(10, sy.lo) : sy.lo, sy.log ? std::pow(10, sy.hi) : sy.hi, 6, sy.log)) {
        const double y = sy.map(t);
        if (y < y1 - 0.5 || y > y0 + 0.5) continue;
        s += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" class=\"grid\"/>", x0, x1, y, y);
        s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>", x0 - 6, y + 4,
                         format_number(t));
    }
    if (x_ticks)
        for (double t : nice_ticks(sx.log ? std::pow(10, sx.lo) : sx.lo, sx.log ? std::pow(10, sx.hi) : sx.hi, 7, sx.log)) {
            const double x = sx.map(t);
            if (x < x0 - 0.5 || x > x1 + 0.5) continue;
            s += fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" class=\"axis\"/>", x, x, y0, y0 + 5);
            s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"middle\">{}</text>", x, y0 + 18,
                             format_number(t));
        }
    s += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" class=\"axis\"/>", x0, x1, y0);
    s += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" class=\"axis\"/>", x0, y1, y0);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"alabel\" text-anchor=\"middle\">{}</text>", (x0 + x1) / 2,
                     f.height - 10, html_escape(f.x.label));
    s += fmt::format("<text transform=\"translate(16 {:.1f}) rotate(-90)\" class=\"alabel\" text-anchor=\"middle\">{}</text>",
                     (y0 + y1) / 2, html_escape(f.y.label));
    return s;
}

// One row of swatches under the title.
std::string draw_legend(const Frame& f, const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string s;
    double width = 0;
    for (const auto& e : entries) width += 22 + 7.0 * double(e.first.size()) + 14;
    double x = std::max(double(kLeft), (f.width - width) / 2);
    for (const auto& [label, color] : entries) {
        s += fmt::format("<rect x=\"{:.1f}\" y=\"30\" width=\"14\" height=\"10\" fill=\"{}\"/>", x, color);
        s += fmt::format("<text x=\"{:.1f}\" y=\"39\" class=\"legend\">{}</text>", x + 18, html_escape(label));
        x += 22 + 7.0 * double(label.size()) + 14;
    }
    return s;
}

std::vector<std::pair<std::string, std::string>> legend_of(const std::vector<Series>& series) {
    std::vector<std::pair<std::string, std::string>> e;
    for (const auto& s : series)
        if (!s.label.empty()) e.emplace_back(s.label, s.color);
    return e;
}

std::string tip(const Series& s, size_t i, const Frame& f) {
    if (i < s.tips.size()) return s.tips[i];
    return fmt::format("{}: {} = {}, {} = {}", s.label, f.x.label, format_number(s.x[i]), f.y.label, format_number(s.y[i]));
}

}  // namespace

const std::string& palette(size_t i) {
    static const std::vector<std::string> colors = {"#4e79a7", "#e15759", "#59a14f", "#f28e2b",
                                                    "#b07aa1", "#76b7b2", "#edc948", "#9c755f"};
    return colors[i % colors.size()];
}

std::string format_number(double v) {
    if (v == 0) return "0";
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    const double a = std::abs(v);
    std::string s = (a >= 1e5 || a < 1e-3) ? fmt::format("{:.2e}", v)
                    : a >= 1e3                 ? fmt::format("{:.0f}", v)
                                               : fmt::format("{:.3g}", v);
    // Drop trailing zeros of the mantissa: "2.50" → "2.5", "1.00e+06" → "1e+06".
    const size_t e = s.find('e');
    std::string mant = s.substr(0, e), exp = e == std::string::npos ? "" : s.substr(e);
    if (mant.find('.') != std::string::npos) {
        while (mant.back() == '0') mant.pop_back();
        if (mant.back() == '.') mant.pop_back();
    }
    s = mant + exp;
    return s;
}

std::vector<double> nice_ticks(double lo, double hi, int target, bool log) {
    std::vector<double> ticks;
    if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
    if (log) {
        const int a = int(std::floor(std::log10(lo) + 1e-9)), b = int(std::ceil(std::log10(hi) - 1e-9));
        const int step = std::max(1, (b - a + target - 1) / target);
        for (int e = a; e <= b; e += step) ticks.push_back(std::pow(10.0, e));
        return ticks;
    }
    const double raw = (hi - lo) / std::max(1, target);
    const int e = int(std::floor(std::log10(raw)));
    const double mag = std::pow(10.0, e);
    double m = 10;
    for (double c : {1.0, 2.0, 5.0})
        if (c * mag >= raw) {
            m = c;
            break;
        }
    // Tick k is k·m·10^e; dividing by an exact power of ten keeps 0.6 from printing as 0.6000000000000001.
    const double p10 = std::pow(10.0, std::abs(e));
    auto tick = [&](int64_t k) { return e >= 0 ? double(k) * m * p10 : double(k) * m / p10; };
    for (int64_t k = int64_t(std::ceil(lo / (m * mag) - 1e-9)); tick(k) <= hi + m * mag * 1e-9; ++k) ticks.push_back(tick(k));
    return ticks;
}

namespace {

// The scales that fit every series' points, and the opened SVG with axes and legend drawn: the start of
// every x-y chart.
struct XyChart {
    Scale sx, sy;
    std::string svg;
};

XyChart open_xy_chart(const Frame& f, const std::vector<Series>& series) {
    std::vector<const std::vector<double>*> xs, ys;
    for (const auto& s : series) {
        xs.push_back(&s.x);
        ys.push_back(&s.y);
    }
    const Scale sx = fit_scale(f.x, xs, kLeft, f.width - kRight), sy = fit_scale(f.y, ys, f.height - kBottom, kTop);
    return {sx, sy, open_svg(f) + draw_axes(f, sx, sy) + draw_legend(f, legend_of(series))};
}

}  // namespace

std::string svg_scatter(const Frame& f, const std::vector<Series>& series) {
    auto [sx, sy, s] = open_xy_chart(f, series);
    std::string top;  // highlighted points go last so nothing hides them
    for (const auto& se : series)
        for (size_t i = 0; i < se.x.size() && i < se.y.size(); ++i) {
            if (!sx.valid(se.x[i]) || !sy.valid(se.y[i])) continue;
            const bool hi = i < se.highlight.size() && se.highlight[i];
            std::string& dst = hi ? top : s;
            dst += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\"{}><title>{}</title></circle>",
                               sx.map(se.x[i]), sy.map(se.y[i]), hi ? 6 : 2.5, se.color,
                               hi ? " stroke=\"#000\" stroke-width=\"1.5\"" : " fill-opacity=\"0.55\"",
                               html_escape(tip(se, i, f)));
        }
    return s + top + "</svg>";
}

std::string svg_lines(const Frame& f, const std::vector<Series>& series) {
    auto [sx, sy, s] = open_xy_chart(f, series);
    for (const auto& se : series) {
        std::string pts;
        for (size_t i = 0; i < se.x.size() && i < se.y.size(); ++i)
            if (sx.valid(se.x[i]) && sy.valid(se.y[i])) pts += fmt::format("{:.1f},{:.1f} ", sx.map(se.x[i]), sy.map(se.y[i]));
        s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\"><title>{}</title></polyline>",
                         pts, se.color, html_escape(se.label));
        for (size_t i = 0; i < se.highlight.size() && i < se.x.size(); ++i)
            if (se.highlight[i] && sx.valid(se.x[i]) && sy.valid(se.y[i]))
                s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\" stroke=\"#000\"><title>{}</title></circle>",
                                 sx.map(se.x[i]), sy.map(se.y[i]), se.color, html_escape(tip(se, i, f)));
    }
    return s + "</svg>";
}

std::string svg_ranges(const Frame& f, const std::vector<RangeSeries>& series) {
    std::vector<double> xs;
    std::vector<const std::vector<double>*> ys;
    size_t n = 0;
    for (const auto& r : series) {
        n = std::max(n, r.lo.size());
        ys.push_back(&r.lo);
        ys.push_back(&r.hi);
    }
    xs = {0.0, double(n ? n - 1 : 1)};
    Frame ff = f;
    ff.x.min = -0.5;
    ff.x.max = double(n) - 0.5;
    const Scale sx = fit_scale(ff.x, {&xs}, kLeft, f.width - kRight), sy = fit_scale(f.y, ys, f.height - kBottom, kTop, true);
    std::vector<std::pair<std::string, std::string>> legend;
    for (const auto& r : series) legend.emplace_back(r.label, r.color);
    std::string s = open_svg(f) + draw_axes(ff, sx, sy) + draw_legend(f, legend);
    const double w = std::max(0.6, 0.8 * (sx.px1 - sx.px0) / double(std::max<size_t>(n, 1)));
    for (const auto& r : series) {
        std::string path;
        for (size_t i = 0; i < r.lo.size() && i < r.hi.size(); ++i)
            path += fmt::format("M{:.1f} {:.1f}V{:.1f}", sx.map(double(i)), sy.map(r.lo[i]), sy.map(r.hi[i]));
        s += fmt::format("<path d=\"{}\" stroke=\"{}\" stroke-width=\"{:.2f}\" stroke-opacity=\"0.75\" fill=\"none\"><title>{}</title></path>",
                         path, r.color, w, html_escape(r.label));
    }
    if (!sy.log && sy.lo < 0 && sy.hi > 0)
        s += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" class=\"axis\"/>", kLeft, f.width - kRight,
                         sy.map(0), sy.map(0));
    return s + "</svg>";
}

std::string svg_bars(const Frame& f, const std::vector<std::string>& categories, const std::vector<Series>& series) {
    std::vector<const std::vector<double>*> ys;
    for (const auto& s : series) ys.push_back(&s.y);
    const double n = double(std::max<size_t>(categories.size(), 1));
    const Scale sy = fit_scale(f.y, ys, f.height - kBottom, kTop, true);
    const Scale sx{0, n, false, double(kLeft), double(f.width - kRight)};
    std::string s = open_svg(f) + draw_axes(f, sx, sy, false) + draw_legend(f, legend_of(series));
    const double group = (sx.px1 - sx.px0) / n, bar = 0.8 * group / double(std::max<size_t>(series.size(), 1));
    const double base = sy.log ? f.height - kBottom : sy.map(std::max(sy.lo, 0.0));
    for (size_t c = 0; c < categories.size(); ++c) {
        const double gx = sx.px0 + group * double(c);
        s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>", gx + group / 2,
                         f.height - kBottom + 16, html_escape(categories[c]));
        for (size_t k = 0; k < series.size(); ++k) {
            if (c >= series[k].y.size() || !sy.valid(series[k].y[c])) continue;
            const double v = sy.map(series[k].y[c]), x = gx + 0.1 * group + bar * double(k);
            s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}: {}</title></rect>",
                             x, std::min(v, base), std::max(bar - 1, 1.0), std::abs(base - v), series[k].color,
                             html_escape(categories[c] + " · " + series[k].label), format_number(series[k].y[c]));
            if (bar >= 30)  // room for the value above the bar
                s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"val\" text-anchor=\"middle\">{}</text>", x + bar / 2,
                                 std::min(v, base) - 3, format_number(series[k].y[c]));
        }
    }
    return s + "</svg>";
}

std::string svg_heat_strip(const HeatStrip& h) {
    const int label_w = 120, top = 40;
    const int width = label_w + h.cell_width * int(h.columns.size()) + 120;
    const int height = top + 22 + h.cell_height * int(h.rows.size()) + 10;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (double v : h.values)
        if (std::isfinite(v) && (!h.log || v > 0)) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    auto t_of = [&](double v) {
        if (!(hi > lo)) return 0.5;
        return h.log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    };
    // White → orange → dark red: outliers read as heat.
    auto color = [](double t) {
        t = std::clamp(t, 0.0, 1.0);
        const int r = int(255 - 75 * t * t), g = int(247 - 230 * t), b = int(236 - 215 * std::sqrt(t));
        return fmt::format("rgb({},{},{})", r, g, b);
    };
    std::string s = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" "
        "class=\"chart\"><title>{2}</title><text x=\"{3}\" y=\"20\" class=\"ctitle\" text-anchor=\"middle\">{2}</text>",
        width, height, html_escape(h.title), width / 2);
    for (size_t c = 0; c < h.columns.size(); ++c)
        s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
                         label_w + h.cell_width * int(c) + h.cell_width / 2, top + 12, html_escape(h.columns[c]));
    for (size_t r = 0; r < h.rows.size(); ++r) {
        const int y = top + 22 + h.cell_height * int(r);
        s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{}</text>", label_w - 8,
                         y + h.cell_height / 2 + 4, html_escape(h.rows[r]));
        for (size_t c = 0; c < h.columns.size(); ++c) {
            const double v = h.values[r * h.columns.size() + c];
            const double t = t_of(v);
            const int x = label_w + h.cell_width * int(c);
            s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#fff\"><title>{} · {}: {} = {}</title></rect>",
                             x, y, h.cell_width, h.cell_height, color(t), html_escape(h.rows[r]), html_escape(h.columns[c]),
                             html_escape(h.value_label), format_number(v));
            s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"cell\" text-anchor=\"middle\" fill=\"{}\">{}</text>", x + h.cell_width / 2,
                             y + h.cell_height / 2 + 4, t > 0.6 ? "#fff" : "#222", format_number(v));
        }
    }
    // Color key: the extremes of the scale.
    const int kx = label_w + h.cell_width * int(h.columns.size()) + 16, ky = top + 22;
    const int kh = std::max(40, h.cell_height * int(h.rows.size()));
    for (int i = 0; i < 20; ++i)
        s += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"14\" height=\"{:.1f}\" fill=\"{}\"/>", kx, ky + kh * (19 - i) / 20.0,
                         kh / 20.0 + 0.5, color(i / 19.0));
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\">{}</text>", kx + 18, ky + 10, format_number(hi));
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\">{}</text>", kx + 18, ky + kh, format_number(lo));
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\">{}</text>", kx, ky - 8, html_escape(h.value_label) + (h.log ? " (log)" : ""));
    return s + "</svg>";
}

}  // namespace tameq::report
