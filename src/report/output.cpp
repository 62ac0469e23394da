#include "report/output.h"

namespace tameq::report {

std::string csv_line(const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) {
        if (i) s += ',';
        const std::string& c = cells[i];
        if (c.find_first_of(",\"\n\r") == std::string::npos) {
            s += c;
            continue;
        }
        s += '"';
        for (char ch : c) {
            if (ch == '"') s += '"';
            s += ch;
        }
        s += '"';
    }
    return s + '\n';
}

}  // namespace tameq::report
