#pragma once
// SHA-256 of a file, for recording which calibration text a quantized model was made from.
#include <string>

namespace tameq {

std::string sha256_hex(const void* data, size_t size);
std::string sha256_file(const std::string& path);  // errors name the file

}  // namespace tameq
