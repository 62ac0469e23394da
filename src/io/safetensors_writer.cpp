#include "io/safetensors_writer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/half.h"

namespace tameq {
namespace {

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_bf16(v[i]);
    return h;
}

}  // namespace

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
    const std::vector<uint16_t> h = to_bf16(v);
    add(name, DType::BF16, shape, h.data(), h.size() * 2);
}

void SafeTensorsWriter::write(const std::string& path) const {
    SafeTensorsStreamWriter out;
    for (const auto& [name, e] : tensors_) out.declare(name, e.dtype, e.shape);
    for (const auto& [key, value] : metadata_) out.set_metadata(key, value);
    out.open(path);
    for (const auto& [name, e] : tensors_) out.write(name, e.bytes.data(), e.bytes.size());
    out.close();
}

SafeTensorsStreamWriter::~SafeTensorsStreamWriter() {
    if (!file_) return;
    std::fclose(file_);
    std::remove((path_ + ".tmp").c_str());
}

void SafeTensorsStreamWriter::declare(const std::string& name, DType dtype, const std::vector<int64_t>& shape) {
    if (file_) fail(path_, "safetensors writer: tensor '{}' declared after the header was written", name);
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    slots_[name] = Slot{dtype, shape, 0, uint64_t(n) * dtype_size(dtype), false};
}

void SafeTensorsStreamWriter::open(const std::string& path) {
    path_ = path;
    nlohmann::json header = nlohmann::json::object();
    uint64_t offset = 0;
    for (auto& [name, slot] : slots_) {
        slot.offset = offset;
        header[name] = {{"dtype", dtype_name(slot.dtype)}, {"shape", slot.shape}, {"data_offsets", {offset, offset + slot.nbytes}}};
        offset += slot.nbytes;
    }
    if (!metadata_.empty()) header["__metadata__"] = metadata_;
    std::string text = header.dump();
    text.append((8 - (8 + text.size()) % 8) % 8, ' ');  // data section starts 8-byte aligned
    const std::string tmp = path + ".tmp";
    file_ = std::fopen(tmp.c_str(), "wb");
    if (!file_) fail(path, "cannot write ({})", std::strerror(errno));
    const uint64_t len = text.size();
    if (std::fwrite(&len, 8, 1, file_) != 1 || std::fwrite(text.data(), 1, text.size(), file_) != text.size())
        fail(path, "write failed (disk full?)");
    data_start_ = 8 + len;
}

void SafeTensorsStreamWriter::write(const std::string& name, const void* data, size_t nbytes) {
    auto it = slots_.find(name);
    if (!file_ || it == slots_.end()) fail(path_, "safetensors writer: tensor '{}' was not declared before open()", name);
    Slot& slot = it->second;
    if (nbytes != slot.nbytes)
        fail(path_, "tensor '{}': {} bytes for shape {} of {}", name, nbytes, shape_str(slot.shape), dtype_name(slot.dtype));
    if (slot.written) fail(path_, "safetensors writer: tensor '{}' written twice", name);
    if (std::fseek(file_, long(data_start_ + slot.offset), SEEK_SET) != 0 ||
        (nbytes && std::fwrite(data, 1, nbytes, file_) != nbytes))
        fail(path_, "write failed (disk full?)");
    slot.written = true;
}

void SafeTensorsStreamWriter::write_f32(const std::string& name, const std::vector<float>& v) {
    write(name, v.data(), v.size() * 4);
}

void SafeTensorsStreamWriter::write_bf16(const std::string& name, const std::vector<float>& v) {
    const std::vector<uint16_t> h = to_bf16(v);
    write(name, h.data(), h.size() * 2);
}

void SafeTensorsStreamWriter::close() {
    for (const auto& [name, slot] : slots_)
        if (!slot.written) fail(path_, "safetensors writer: tensor '{}' was declared but never written", name);
    FILE* f = file_;
    file_ = nullptr;
    if (std::fclose(f) != 0) {
        std::remove((path_ + ".tmp").c_str());
        fail(path_, "write failed (disk full?)");
    }
    std::filesystem::rename(path_ + ".tmp", path_);
}

}  // namespace tameq
