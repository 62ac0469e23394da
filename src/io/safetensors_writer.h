#pragma once
// Writes a safetensors file (header, 8-byte aligned data). The file goes to a temporary name and is
// renamed into place, so a crash never leaves a partial file behind.
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace tameq {

// Streams a safetensors file whose tensors are too large to hold together (a 7B-shaped test checkpoint): every
// tensor is declared first (the header holds every offset), then each is written once, in any order, straight to
// its place in the temporary file; close() checks that all were written and renames the file into place. The
// layout (header, tensors in name order) is SafeTensorsWriter's, byte for byte. Destroyed without close(), it
// removes the temporary file.
class SafeTensorsStreamWriter {
public:
    SafeTensorsStreamWriter() = default;
    SafeTensorsStreamWriter(const SafeTensorsStreamWriter&) = delete;
    SafeTensorsStreamWriter& operator=(const SafeTensorsStreamWriter&) = delete;
    ~SafeTensorsStreamWriter();
    void declare(const std::string& name, DType dtype, const std::vector<int64_t>& shape);
    void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
    void open(const std::string& path);  // after every declare
    void write(const std::string& name, const void* data, size_t nbytes);
    void write_f32(const std::string& name, const std::vector<float>& values);
    void write_bf16(const std::string& name, const std::vector<float>& values);
    void close();

private:
    struct Slot {
        DType dtype;
        std::vector<int64_t> shape;
        uint64_t offset = 0, nbytes = 0;
        bool written = false;
    };
    std::map<std::string, Slot> slots_;
    std::map<std::string, std::string> metadata_;
    std::string path_;
    FILE* file_ = nullptr;
    uint64_t data_start_ = 0;
};

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
