// Report building blocks: tick placement, number text, SVG charts, HTML escaping, atomic writes, CSV.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "report/html.h"
#include "common/files.h"
#include "report/output.h"
#include "report/svg.h"

using namespace tameq;
using namespace tameq::report;
namespace fs = std::filesystem;

namespace {

size_t count(const std::string& s, const std::string& needle) {
    size_t n = 0;
    for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
    return n;
}

}  // namespace

TEST(ReportSvg, TicksAreRoundAndCoverTheRange) {
    EXPECT_EQ(nice_ticks(0, 10, 5, false), (std::vector<double>{0, 2, 4, 6, 8, 10}));
    EXPECT_EQ(nice_ticks(-0.3, 0.7, 5, false), (std::vector<double>{-0.2, 0, 0.2, 0.4, 0.6}));
    EXPECT_EQ(nice_ticks(0.5, 2000, 6, true), (std::vector<double>{0.1, 1, 10, 100, 1000, 10000}));
    // Many decades: every other power of ten, still covering both ends.
    const auto t = nice_ticks(1e-6, 1e6, 6, true);
    EXPECT_EQ(t.front(), 1e-6);
    EXPECT_EQ(t.back(), 1e6);
    EXPECT_EQ(t.size(), 7u);
}

TEST(ReportSvg, NumbersAreShort) {
    EXPECT_EQ(format_number(0), "0");
    EXPECT_EQ(format_number(2.5), "2.5");
    EXPECT_EQ(format_number(0.1 + 0.2), "0.3");
    EXPECT_EQ(format_number(156.734), "157");
    EXPECT_EQ(format_number(2500), "2500");
    EXPECT_EQ(format_number(-0.0123456), "-0.0123");
    EXPECT_EQ(format_number(3.2e7), "3.2e+07");
    EXPECT_EQ(format_number(1e6), "1e+06");
}

TEST(ReportSvg, ScatterDrawsEveryValidPointWithTitlesAndLegend) {
    Frame f;
    f.title = "errors <by> token";
    f.x.label = "max |x|";
    f.x.log = true;
    f.y.label = "error";
    Series a{"ordinary", "#111", {1, 10, 100, -1}, {0.5, 0.6, 0.7, 0.8}, {}, {}};
    Series b{"massive", "#e00", {150}, {9}, {"BOS"}, {1}};
    const std::string svg = svg_scatter(f, {a, b});
    EXPECT_EQ(count(svg, "<svg"), 1u);
    EXPECT_EQ(count(svg, "<circle"), 4u);  // x = -1 cannot sit on a log axis
    EXPECT_EQ(count(svg, "stroke=\"#000\""), 1u);  // the highlighted point
    EXPECT_NE(svg.find("errors &lt;by&gt; token"), std::string::npos);
    EXPECT_NE(svg.find(">ordinary</text>"), std::string::npos);
    EXPECT_NE(svg.find(">massive</text>"), std::string::npos);
    EXPECT_NE(svg.find("<title>BOS</title>"), std::string::npos);
    EXPECT_NE(svg.find(">100</text>"), std::string::npos);  // a decade tick label
}

TEST(ReportSvg, BarsHeatStripAndRanges) {
    Frame f;
    f.title = "ppl";
    f.x.label = "recipe";
    f.y.label = "PPL";
    const std::string bars = svg_bars(f, {"fp", "rh", "ro"}, {Series{"PPL", "#123", {}, {10, 11, 40}, {}, {}}});
    EXPECT_EQ(count(bars, "<rect"), 4u);  // 3 bars and one legend swatch
    EXPECT_NE(bars.find(">40</text>"), std::string::npos);

    HeatStrip h;
    h.title = "max";
    h.value_label = "max |x|";
    h.rows = {"a", "b"};
    h.columns = {"L0", "L1", "L2"};
    h.values = {1, 10, 100, 2, 20, 200};
    const std::string heat = svg_heat_strip(h);
    EXPECT_EQ(count(heat, "<title>"), 1u + 6u);
    EXPECT_NE(heat.find(">200</text>"), std::string::npos);

    const std::string ranges = svg_ranges(f, {RangeSeries{"before", "#123", {-1, -2, -3}, {1, 2, 30}}});
    EXPECT_EQ(count(ranges, "V"), 3u);  // one vertical segment per channel
}

TEST(ReportHtml, PageHasSectionsNavAndEscapedText) {
    Page p("a & b", "sub <x>");
    p.add({"one", "First", "<svg></svg>"});
    p.add({"two", "Second", "<p>x</p>"});
    const std::string html = p.render();
    EXPECT_NE(html.find("<title>a &amp; b</title>"), std::string::npos);
    EXPECT_NE(html.find("sub &lt;x&gt;"), std::string::npos);
    EXPECT_EQ(count(html, "<section"), 2u);
    EXPECT_NE(html.find("<a href=\"#two\">Second</a>"), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org"));  // no external resources
    const std::string table = html_table({"k", "v"}, {{"ppl", "12.5"}});
    EXPECT_NE(table.find("<td class=\"num\">12.5</td>"), std::string::npos);
    EXPECT_NE(table.find("<td>ppl</td>"), std::string::npos);
}

TEST(ReportOutput, AtomicWriteReplacesAndLeavesNoTemporary) {
    const fs::path dir = fs::temp_directory_path() / ("tameq-report-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string path = (dir / "r.html").string();
    write_file_atomic(path, "first");
    write_file_atomic(path, "second");
    std::ifstream in(path);
    std::string got((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(got, "second");
    EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
    EXPECT_THROW(write_file_atomic((dir / "missing" / "r.html").string(), "x"), Error);
    EXPECT_THROW(write_file_atomic(dir.string(), "x"), Error);
    EXPECT_THROW(check_writable((dir / "missing" / "r.html").string()), Error);
    EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
    fs::remove_all(dir);
}

TEST(ReportOutput, CsvQuotesOnlyWhatNeedsIt) {
    EXPECT_EQ(csv_line({"fp", "1.5"}), "fp,1.5\n");
    EXPECT_EQ(csv_line({"rotate=rh,w=4", "say \"hi\""}), "\"rotate=rh,w=4\",\"say \"\"hi\"\"\"\n");
}
