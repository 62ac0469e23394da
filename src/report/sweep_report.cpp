#include "report/sweep_report.h"

#include <filesystem>

#include <fmt/format.h>

#include "common/files.h"
#include "report/html.h"
#include "report/output.h"
#include "report/svg.h"

namespace tameq {
namespace {

using nlohmann::json;

std::string label_of(const json& row) { return row["label"].get<std::string>(); }

}  // namespace

void write_sweep_reports(const std::string& out_dir, const json& doc) {
    const std::filesystem::path dir(out_dir);
    write_file_atomic((dir / "sweep.json").string(), doc.dump(2) + "\n");
    write_file_atomic((dir / "sweep.csv").string(), sweep_csv(doc));
    write_file_atomic((dir / "sweep.html").string(), render_sweep_html(doc));
}

std::string sweep_csv(const json& doc) {
    std::string s = report::csv_line({"recipe", "label", "wbits", "abits", "kvbits", "ppl", "fp_ppl", "delta_ppl", "kl", "top1",
                                      "size_mb", "quant_seconds", "tokens_scored"});
    for (const auto& r : doc["rows"])
        s += report::csv_line({r["recipe"].get<std::string>(), label_of(r), std::to_string(r["wbits"].get<int>()),
                               std::to_string(r["abits"].get<int>()), std::to_string(r["kvbits"].get<int>()),
                               fmt::format("{:.6f}", r["ppl"].get<double>()), fmt::format("{:.6f}", r["fp_ppl"].get<double>()),
                               fmt::format("{:.6f}", r["delta_ppl"].get<double>()), fmt::format("{:.6f}", r["kl"].get<double>()),
                               fmt::format("{:.6f}", r["top1"].get<double>()), fmt::format("{:.3f}", r["size_mb"].get<double>()),
                               fmt::format("{:.2f}", r["quant_seconds"].get<double>()),
                               std::to_string(r["tokens_scored"].get<int64_t>())});
    return s;
}

std::string sweep_table(const json& doc) {
    std::string s = fmt::format("| {:<28} | {:>9} | {:>8} | {:>8} | {:>7} | {:>8} | {:>8} |\n", "recipe", "PPL", "ΔPPL", "KL",
                                "top-1", "size MB", "quant s");
    s += "|" + std::string(30, '-') + "|";
    for (int width : {9, 8, 8, 7, 8, 8}) s += std::string(size_t(width) + 1, '-') + ":|";
    s += "\n";
    for (const auto& r : doc["rows"])
        s += fmt::format("| {:<28} | {:>9.4f} | {:>+8.4f} | {:>8.5f} | {:>6.2f}% | {:>8.2f} | {:>8.1f} |\n", label_of(r),
                         r["ppl"].get<double>(), r["delta_ppl"].get<double>(), r["kl"].get<double>(), 100 * r["top1"].get<double>(),
                         r["size_mb"].get<double>(), r["quant_seconds"].get<double>());
    return s;
}

std::string render_sweep_html(const json& doc) {
    using namespace report;
    std::vector<std::string> cats;
    auto series_of = [&](const char* key, const std::string& label, size_t color, double scale = 1) {
        Series s;
        s.label = label;
        s.color = palette(color);
        for (const auto& r : doc["rows"]) s.y.push_back(scale * r[key].get<double>());
        return s;
    };
    for (const auto& r : doc["rows"]) cats.push_back(label_of(r));
    auto frame = [](const std::string& title, const std::string& y, bool log = false) {
        Frame f;
        f.title = title;
        f.x.label = "recipe";
        f.y.label = y;
        f.y.log = log;
        f.width = 1000;
        f.height = 360;
        return f;
    };
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : doc["rows"])
        rows.push_back({label_of(r), r["recipe"].get<std::string>(), fmt::format("{:.4f}", r["ppl"].get<double>()),
                        fmt::format("{:+.4f}", r["delta_ppl"].get<double>()), fmt::format("{:.5f}", r["kl"].get<double>()),
                        fmt::format("{:.2f}%", 100 * r["top1"].get<double>()), fmt::format("{:.2f}", r["size_mb"].get<double>()),
                        fmt::format("{:.1f}", r["quant_seconds"].get<double>())});
    Page page(fmt::format("tameq sweep: {}", doc["model"].get<std::string>()),
              fmt::format("{} · ctx {} · {} windows (BOS + ctx−1 tokens each, BOS never scored) · {} of {} recipes finished · {}",
                          doc["data"].get<std::string>(), doc["ctx"].get<int>(), doc["windows"].get<int>(), doc["finished"].get<int>(),
                          doc["total"].get<int>(), doc["date"].get<std::string>()));
    if (!doc["complete"].get<bool>())
        page.set_intro("<p><b>Incomplete sweep:</b> rerun the same command to finish the remaining recipes.</p>");
    page.add({"ppl", "Perplexity",
              svg_bars(frame("Perplexity per recipe (lower is better)", "perplexity"), cats, {series_of("ppl", "PPL", 0)}) +
                  html_table({"recipe", "spec", "PPL", "ΔPPL vs FP", "KL vs FP (nats/token)", "top-1 agreement", "size MB", "quant s"},
                             rows)});
    page.add({"agreement", "Agreement with the FP model",
              "<div class=\"charts\">" +
                  [&] {
                      Frame f = frame("KL divergence from the FP model", "KL (nats/token)");
                      f.width = 560;
                      return svg_bars(f, cats, {series_of("kl", "KL(FP || recipe)", 1)});
                  }() +
                  [&] {
                      Frame f = frame("Top-1 agreement with the FP model", "agreement (%)");
                      f.width = 560;
                      f.y.min = 0;
                      f.y.max = 100;
                      return svg_bars(f, cats, {series_of("top1", "top-1 agreement", 2, 100)});
                  }() +
                  "</div>"});
    page.add({"cost", "Size and quantization time",
              "<div class=\"charts\">" +
                  [&] {
                      Frame f = frame("Model size at the recipe's weight bits", "MB");
                      f.width = 560;
                      return svg_bars(f, cats, {series_of("size_mb", "size (MB)", 3)});
                  }() +
                  [&] {
                      Frame f = frame("Quantization time", "seconds");
                      f.width = 560;
                      return svg_bars(f, cats, {series_of("quant_seconds", "quantization time (s)", 4)});
                  }() +
                  "</div>"});
    return page.render();
}

}  // namespace tameq
