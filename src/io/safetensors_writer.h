#pragma once
// Writes a safetensors file (header, 8-byte aligned data). The file goes to a temporary name and is
// renamed into place, so a crash never leaves a partial file behind.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace tameq {

class SafeTensorsWriter {
public:
    void add(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data, size_t nbytes);
    void add_f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& values);
    void add_bf16(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& values);
    void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
    void write(const std::string& path) const;

private:
    struct Entry {
        DType dtype;
        std::vector<int64_t> shape;
        std::vector<uint8_t> bytes;
    };
    std::map<std::string, Entry> tensors_;
    std::map<std::string, std::string> metadata_;
};

}  // namespace tameq
