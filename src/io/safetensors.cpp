#include "io/safetensors.h"

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/half.h"

namespace tameq {
namespace fs = std::filesystem;
using json = nlohmann::json;

const char* dtype_name(DType t) {
    switch (t) {
        case DType::F32: return "F32";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::F64: return "F64";
        case DType::I8: return "I8";
        case DType::U8: return "U8";
        case DType::I16: return "I16";
        case DType::I32: return "I32";
        case DType::I64: return "I64";
        case DType::BOOL: return "BOOL";
    }
    return "?";
}

size_t dtype_size(DType t) {
    switch (t) {
        case DType::F64: case DType::I64: return 8;
        case DType::F32: case DType::I32: return 4;
        case DType::F16: case DType::BF16: case DType::I16: return 2;
        case DType::I8: case DType::U8: case DType::BOOL: return 1;
    }
    return 0;
}

static bool parse_dtype(const std::string& s, DType& out) {
    static const std::map<std::string, DType> table = {
        {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64},
        {"I8", DType::I8},   {"U8", DType::U8},   {"I16", DType::I16},   {"I32", DType::I32},
        {"I64", DType::I64}, {"BOOL", DType::BOOL}};
    auto it = table.find(s);
    if (it == table.end()) return false;
    out = it->second;
    return true;
}

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

void TensorView::to_f32(float* out) const {
    const int64_t n = numel();
    switch (dtype) {
        case DType::F32: std::memcpy(out, data, size_t(n) * 4); break;
        case DType::F16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, data + 2 * i, 2);
                out[i] = f16_to_f32(h);
            }
            break;
        case DType::BF16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, data + 2 * i, 2);
                out[i] = bf16_to_f32(h);
            }
            break;
        default: fail(file, "tensor '{}' has dtype {}, expected a float type", name, dtype_name(dtype));
    }
}

std::vector<float> TensorView::to_f32() const {
    std::vector<float> out(static_cast<size_t>(numel()));
    to_f32(out.data());
    return out;
}

std::map<std::string, TensorView> parse_safetensors(const uint8_t* bytes, size_t size, const std::string& file) {
    if (size < 8) fail(file, "truncated safetensors file ({} bytes, the header length alone needs 8)", size);
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes, 8);  // little-endian on every platform we build for
    if (header_len > size - 8) fail(file, "header length {} runs past the end of the file ({} bytes)", header_len, size);
    if (header_len > 100u * 1024 * 1024) fail(file, "header length {} is implausibly large", header_len);
    json header;
    try {
        header = json::parse(bytes + 8, bytes + 8 + header_len);
    } catch (const json::exception& e) {
        fail(file, "corrupt safetensors header: {}", e.what());
    }
    if (!header.is_object()) fail(file, "corrupt safetensors header: not a JSON object");
    const uint8_t* data = bytes + 8 + header_len;
    const size_t data_size = size - 8 - header_len;

    std::map<std::string, TensorView> out;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        const json& t = it.value();
        if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
            fail(file, "tensor '{}': entry needs dtype, shape and data_offsets", it.key());
        TensorView v;
        v.name = it.key();
        v.file = file;
        if (!t["dtype"].is_string() || !parse_dtype(t["dtype"].get<std::string>(), v.dtype))
            fail(file, "tensor '{}': unknown dtype {}", it.key(), t["dtype"].dump());
        const json& shape = t["shape"];
        if (!shape.is_array()) fail(file, "tensor '{}': shape is not an array", it.key());
        uint64_t numel = 1;
        for (const json& d : shape) {
            if (!d.is_number_unsigned()) fail(file, "tensor '{}': shape {} has a non-integer dim", it.key(), shape.dump());
            uint64_t dim = d.get<uint64_t>();
            if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / dim)
                fail(file, "tensor '{}': shape {} overflows", it.key(), shape.dump());
            numel *= dim;
            v.shape.push_back(int64_t(dim));
        }
        const json& offs = t["data_offsets"];
        if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
            fail(file, "tensor '{}': data_offsets must be two unsigned integers", it.key());
        uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
        if (begin > end || end > data_size)
            fail(file, "tensor '{}': data_offsets [{}, {}] out of range (data section is {} bytes)", it.key(), begin, end,
                 data_size);
        if (end - begin != numel * dtype_size(v.dtype))
            fail(file, "tensor '{}': {} bytes for shape {} of {} (expected {})", it.key(), end - begin,
                 shape_str(v.shape), dtype_name(v.dtype), numel * dtype_size(v.dtype));
        v.data = data + begin;
        v.nbytes = size_t(end - begin);
        if (v.nbytes) ranges.emplace_back(begin, end);
        out.emplace(v.name, std::move(v));
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second) fail(file, "tensors overlap in the data section");
    return out;
}

SafeTensors SafeTensors::open(const std::string& path_in) {
    fs::path path(path_in);
    if (fs::is_directory(path)) {
        if (fs::exists(path / "model.safetensors.index.json")) path /= "model.safetensors.index.json";
        else if (fs::exists(path / "model.safetensors")) path /= "model.safetensors";
        else fail(path_in, "no model.safetensors or model.safetensors.index.json in this directory");
    }
    SafeTensors st;
    st.path_ = path.string();
    auto add_file = [&](const std::string& file) -> MappedFile& {
        st.files_.push_back(std::make_unique<MappedFile>(file));
        return *st.files_.back();
    };
    if (path.filename().string().ends_with(".index.json")) {
        json index = read_json_file(path.string());
        if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
            fail(path.string(), "index has no weight_map object");
        std::map<std::string, std::string> wanted;  // tensor -> shard
        std::set<std::string> shards;
        for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
            if (!it.value().is_string()) fail(path.string(), "weight_map entry '{}' is not a file name", it.key());
            std::string shard = it.value().get<std::string>();
            if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
                fail(path.string(), "weight_map entry '{}' names a file outside the model directory", it.key());
            wanted[it.key()] = shard;
            shards.insert(shard);
        }
        for (const std::string& shard : shards) {
            std::string file = (path.parent_path() / shard).string();
            MappedFile& mf = add_file(file);
            for (auto& [name, view] : parse_safetensors(mf.data(), mf.size(), file)) {
                auto w = wanted.find(name);
                if (w == wanted.end() || w->second != shard) continue;  // index decides which shard owns a name
                st.tensors_.emplace(name, std::move(view));
            }
        }
        for (const auto& [name, shard] : wanted)
            if (!st.tensors_.count(name)) fail(path.string(), "tensor '{}' listed in the index is missing from {}", name, shard);
    } else {
        MappedFile& mf = add_file(path.string());
        st.tensors_ = parse_safetensors(mf.data(), mf.size(), path.string());
        const uint64_t header_len = [&] { uint64_t h; std::memcpy(&h, mf.data(), 8); return h; }();
        json header = json::parse(mf.data() + 8, mf.data() + 8 + header_len);
        if (header.contains("__metadata__") && header["__metadata__"].is_object())
            for (auto it = header["__metadata__"].begin(); it != header["__metadata__"].end(); ++it)
                if (it.value().is_string()) st.metadata_[it.key()] = it.value().get<std::string>();
    }
    return st;
}

const TensorView& SafeTensors::get(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) fail(path_, "tensor '{}' not found", name);
    return it->second;
}

std::vector<float> SafeTensors::load_f32(const std::string& name, const std::vector<int64_t>& expected_shape) const {
    const TensorView& v = get(name);
    if (v.shape != expected_shape)
        fail(v.file, "tensor '{}' has shape {}, config.json implies {}", name, shape_str(v.shape), shape_str(expected_shape));
    return v.to_f32();
}

std::vector<std::string> SafeTensors::names() const {
    std::vector<std::string> out;
    for (const auto& kv : tensors_) out.push_back(kv.first);
    return out;
}

}  // namespace tameq
