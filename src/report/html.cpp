#include "report/html.h"

#include <cctype>

#include <fmt/format.h>

namespace tameq::report {
namespace {

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:1240px;margin:0 auto;padding:18px 28px 60px}
h1{font-size:26px;margin:8px 0 2px}h2{font-size:20px;margin:0 0 8px;border-bottom:2px solid #4e79a7;padding-bottom:4px}
.sub{color:#555;margin:0 0 12px}section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:14px 18px;margin:18px 0}
nav a{margin-right:14px}p{max-width:1000px}.charts{display:flex;flex-wrap:wrap;gap:10px}
table{border-collapse:collapse;margin:10px 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px}
th{background:#f0f3f7;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{background:#fff;border:1px solid #eee}svg .ctitle{font:600 14px sans-serif}svg .tick{font:11px sans-serif;fill:#444}
svg .alabel{font:12px sans-serif;fill:#222}svg .legend{font:12px sans-serif;fill:#222}svg .val{font:10px sans-serif;fill:#333}
svg .cell{font:10px sans-serif}svg .grid{stroke:#e6e6e6}svg .axis{stroke:#444}
details{margin:8px 0}summary{cursor:pointer;color:#4e79a7}code{background:#f3f3f3;padding:0 3px;border-radius:3px}
)";

bool numeric(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == 'e' || c == '%' || c == ' ' || c == 'x'))
            return false;
    return std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+';
}

}  // namespace

std::string html_escape(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    std::string s = "<table><thead><tr>";
    for (const auto& h : header) s += "<th>" + html_escape(h) + "</th>";
    s += "</tr></thead><tbody>";
    for (const auto& r : rows) {
        s += "<tr>";
        for (const auto& c : r) s += (numeric(c) ? "<td class=\"num\">" : "<td>") + html_escape(c) + "</td>";
        s += "</tr>";
    }
    return s + "</tbody></table>";
}

std::string html_details(const std::string& summary, const std::string& body) {
    return "<details><summary>" + html_escape(summary) + "</summary>" + body + "</details>";
}

Page::Page(std::string title, std::string subtitle) : title_(std::move(title)), subtitle_(std::move(subtitle)) {}

std::string Page::render() const {
    std::string s = fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                                "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                                "<title>{0}</title><style>{1}</style></head>\n<body><main><h1>{0}</h1><p class=\"sub\">{2}</p>{3}<nav>",
                                html_escape(title_), kStyle, html_escape(subtitle_), intro_);
    for (const auto& sec : sections_) s += fmt::format("<a href=\"#{}\">{}</a>", sec.id, html_escape(sec.heading));
    s += "</nav>\n";
    for (const auto& sec : sections_)
        s += fmt::format("<section id=\"{}\"><h2>{}</h2>{}</section>\n", sec.id, html_escape(sec.heading), sec.body);
    return s + "</main></body></html>\n";
}

}  // namespace tameq::report
