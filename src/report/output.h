#pragma once
// Writing report files so that a reader never sees half of one: write a temporary file beside the
// target, then rename it over the target (atomic on POSIX file systems). Plus CSV quoting.
#include <string>
#include <vector>

namespace tameq::report {

// Writes `content` to `path` atomically. An unwritable directory or a failed write throws
// tameq::Error naming `path`; no temporary file is left behind.
void write_file_atomic(const std::string& path, const std::string& content);

// Fails (tameq::Error naming `path`) unless a file could be created at `path`: called before long work,
// so a bad -o is reported at once rather than after minutes of computing.
void check_writable(const std::string& path);

// One CSV line (RFC 4180 quoting where needed), ending in '\n'.
std::string csv_line(const std::vector<std::string>& cells);

}  // namespace tameq::report
