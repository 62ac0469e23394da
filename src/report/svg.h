#pragma once
// Self-contained SVG charts for the HTML reports: scatter, grouped bars, lines and a heat strip. Each
// function returns one <svg> element with a title, labelled axes with ticks, and a legend, sized in CSS
// pixels; nothing is loaded from outside. Points carry <title> children, so hovering shows the value.
#include <string>
#include <vector>

namespace tameq::report {

struct Axis {
    std::string label;
    bool log = false;  // log10 scale; non-positive values are dropped
    double min = 0, max = 0;  // min == max: fit to the data
};

struct Frame {
    std::string title;
    Axis x, y;
    int width = 560, height = 340;
};

struct Series {
    std::string label;
    std::string color;           // CSS color
    std::vector<double> x, y;
    std::vector<std::string> tips;  // optional hover text per point
    std::vector<unsigned char> highlight;  // optional: 1 draws the point large and outlined
};

// Points (one circle per point); highlighted points are drawn last, on top.
std::string svg_scatter(const Frame& f, const std::vector<Series>& series);

// Polylines through each series' points, in x order as given.
std::string svg_lines(const Frame& f, const std::vector<Series>& series);

// Vertical [lo, hi] segments per x (e.g. per-channel min..max), one series per color.
struct RangeSeries {
    std::string label, color;
    std::vector<double> lo, hi;  // index = x position 0..n-1
};
std::string svg_ranges(const Frame& f, const std::vector<RangeSeries>& series);

// Grouped bars: one group per category, one bar per series (series[i].y[category]). x of the series is unused.
std::string svg_bars(const Frame& f, const std::vector<std::string>& categories, const std::vector<Series>& series);

// A grid of colored cells: rows × columns of values, log-colored when `log`; row and column labels.
struct HeatStrip {
    std::string title, value_label;
    std::vector<std::string> rows, columns;
    std::vector<double> values;  // [rows × columns]
    bool log = true;
    int cell_width = 56, cell_height = 26;
};
std::string svg_heat_strip(const HeatStrip& h);

// About `target` round tick values covering [lo, hi] (1, 2, 5 × 10^k steps), or powers of ten when `log`.
std::vector<double> nice_ticks(double lo, double hi, int target, bool log);

// Short number text for ticks and cells: 3 significant digits without trailing zeros, whole numbers from
// 1000 to 99999, exponent form beyond (and below 0.001).
std::string format_number(double v);

// The category colors used by every chart, cycled.
const std::string& palette(size_t i);

}  // namespace tameq::report
