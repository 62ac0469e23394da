#pragma once
// A self-contained HTML page (inline CSS, inline SVG, no scripts, nothing fetched) built from sections,
// and small helpers for tables. Every section carries its id; the browser test checks each has a chart.
#include <string>
#include <vector>

namespace tameq::report {

std::string html_escape(const std::string& s);

// A table: header cells and rows of cells, already-formatted text (escaped here). Numeric-looking cells
// are right-aligned.
std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// A collapsed block (<details>): long tables stay out of the way until opened; no script needed.
std::string html_details(const std::string& summary, const std::string& body);

struct Section {
    std::string id, heading;
    std::string body;  // HTML: paragraphs, SVGs, tables
};

class Page {
public:
    Page(std::string title, std::string subtitle);
    // `intro` (HTML) goes under the title, before the table of contents.
    void set_intro(std::string intro) { intro_ = std::move(intro); }
    void add(Section s) { sections_.push_back(std::move(s)); }
    std::string render() const;

private:
    std::string title_, subtitle_, intro_;
    std::vector<Section> sections_;
};

}  // namespace tameq::report
