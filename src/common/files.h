#pragma once
// Whole-file reads and atomic writes: one home for each, so every command names a bad path the same way
// and a reader never sees half of a file (write a temporary beside the target, then rename it over).
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace tameq {

// The whole file as bytes. Missing, unreadable or a directory: tameq::Error naming `path`.
std::string read_file(const std::string& path);

// The whole file parsed as JSON. Missing, unreadable or not valid JSON: tameq::Error naming `path`.
nlohmann::json read_json_file(const std::string& path);

// Writes `content` to `path` atomically. An unwritable directory or a failed write throws
// tameq::Error naming `path`; no temporary file is left behind.
void write_file_atomic(const std::string& path, const std::string& content);

// Fails (tameq::Error naming `path`) unless a file could be created at `path`: called before long work,
// so a bad -o is reported at once rather than after minutes of computing.
void check_writable(const std::string& path);

}  // namespace tameq
