#include "io/safetensors_writer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/half.h"

namespace tameq {

void SafeTensorsWriter::add(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data,
                            size_t nbytes) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    if (size_t(n) * dtype_size(dtype) != nbytes)
        fail("safetensors writer", "tensor '{}': {} bytes for shape {} of {}", name, nbytes, shape_str(shape), dtype_name(dtype));
    Entry e{dtype, shape, std::vector<uint8_t>(nbytes)};
    if (nbytes) std::memcpy(e.bytes.data(), data, nbytes);
    tensors_[name] = std::move(e);
}

void SafeTensorsWriter::add_f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v) {
    add(name, DType::F32, shape, v.data(), v.size() * 4);
}

void SafeTensorsWriter::add_bf16(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_bf16(v[i]);
    add(name, DType::BF16, shape, h.data(), h.size() * 2);
}

void SafeTensorsWriter::write(const std::string& path) const {
    nlohmann::json header = nlohmann::json::object();
    uint64_t offset = 0;
    for (const auto& [name, e] : tensors_) {
        header[name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.bytes.size()}}};
        offset += e.bytes.size();
    }
    if (!metadata_.empty()) header["__metadata__"] = metadata_;
    std::string text = header.dump();
    text.append((8 - (8 + text.size()) % 8) % 8, ' ');  // data section starts 8-byte aligned
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail(path, "cannot write ({})", std::strerror(errno));
    const uint64_t len = text.size();
    bool ok = std::fwrite(&len, 8, 1, f) == 1 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
    for (const auto& kv : tensors_)
        ok = ok && (kv.second.bytes.empty() || std::fwrite(kv.second.bytes.data(), 1, kv.second.bytes.size(), f) == kv.second.bytes.size());
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
        std::remove(tmp.c_str());
        fail(path, "write failed (disk full?)");
    }
    std::filesystem::rename(tmp, path);
}

}  // namespace tameq
