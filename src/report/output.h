#pragma once
// CSV quoting for the report files (written atomically by common/files.h).
#include <string>
#include <vector>

namespace tameq::report {

// One CSV line (RFC 4180 quoting where needed), ending in '\n'.
std::string csv_line(const std::vector<std::string>& cells);

}  // namespace tameq::report
