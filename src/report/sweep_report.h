#pragma once
// The files of `tameq sweep` (analysis/sweep.h runs it): sweep.json, sweep.csv and sweep.html with one
// bar chart per measure, and the plain-text table printed at the end (also what docs/RESULTS-sweep.md shows).
#include <string>

#include <nlohmann/json.hpp>

namespace tameq {

// DIR/sweep.{json,csv,html}, each written atomically.
void write_sweep_reports(const std::string& out_dir, const nlohmann::json& sweep);

std::string render_sweep_html(const nlohmann::json& sweep);
std::string sweep_csv(const nlohmann::json& sweep);
std::string sweep_table(const nlohmann::json& sweep);

}  // namespace tameq
