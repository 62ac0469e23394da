// compressed-tensors directory -> tameq's simulated model. Reads what the writer writes and what the format
// allows around it (any float dtype for scales and FP tensors, exact-name or "re:" targets, "Linear"), and
// refuses what tameq cannot simulate exactly (float or block schemes, static asymmetric activations, online
// transforms other than a Hadamard before down_proj).
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "export/compressed_tensors.h"
#include "export/compressed_tensors_spec.h"
#include "io/safetensors.h"
#include "model/fake_quant.h"
#include "model/family.h"
#include "numerics/hadamard.h"

namespace tameq {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json read_config(const std::string& dir) { return read_json_file(dir + "/config.json"); }

QuantSpec int_spec(const json& a, const std::string& file, const std::string& what) {
    if (a.value("type", "int") != "int") fail(file, "{}: type '{}' is not simulated (integer schemes only)", what, a.value("type", ""));
    QuantSpec s;
    s.bits = a.at("num_bits").get<int>();
    s.symmetric = a.value("symmetric", true);
    if (s.bits < 2 || s.bits > 8) fail(file, "{}: {} bits (tameq simulates 2..8)", what, s.bits);
    return s;
}

// The config group whose targets match `name` (none: the module stays in floating point).
const json* scheme_of(const json& qc, const std::string& name) {
    for (const json& ig : qc.value("ignore", json::array()))
        if (ct::target_matches(ig.get<std::string>(), name)) return nullptr;
    for (const auto& [key, g] : qc.at("config_groups").items())
        for (const json& t : g.at("targets"))
            if (ct::target_matches(t.get<std::string>(), name)) return &g;
    return nullptr;
}

std::unique_ptr<Linear> load_linear(const SafeTensors& st, const std::string& name, const json* scheme, const std::string& format,
                                    int rows, int cols, const std::string& file) {
    std::vector<float> bias;
    if (st.has(name + ".bias")) bias = st.load_f32(name + ".bias", {rows});
    if (!scheme || scheme->value("weights", json()).is_null()) {
        if (scheme && !scheme->value("input_activations", json()).is_null())
            fail(file, "{}: activation quantization without weight quantization is not simulated", name);
        return std::make_unique<DenseLinear>(cols, rows, st.load_f32(name + ".weight", {rows, cols}), std::move(bias));
    }
    const json& wa = scheme->at("weights");
    auto q = std::make_unique<QuantizedWeight>();
    q->spec = int_spec(wa, file, name + " weights");
    q->rows = rows;
    q->cols = cols;
    const std::string strategy = wa.value("strategy", "");
    if (strategy == "group") {
        q->spec.granularity = Granularity::PerGroup;
        q->spec.group_size = wa.at("group_size").get<int>();
        if (q->spec.group_size <= 0 || cols % q->spec.group_size != 0)
            fail(file, "{}: group_size {} does not divide the {} input channels", name, q->spec.group_size, cols);
    } else if (strategy != "channel") {
        fail(file, "{}: weight strategy '{}' is not simulated (channel or group)", name, strategy);
    }
    q->spec.validate();
    const int bits = q->spec.bits, half = 1 << (bits - 1);
    const int groups = q->spec.granularity == Granularity::PerGroup ? cols / q->spec.group_size : 1;
    const std::string fmt_name = scheme->value("format", format);
    std::vector<int8_t> codes(size_t(rows) * cols);
    if (fmt_name == ct::kIntQuantized) {
        const TensorView& v = st.get(name + ".weight");
        if (v.dtype != DType::I8 || v.shape != std::vector<int64_t>{rows, cols})
            fail(v.file, "{}.weight: expected I8 [{}, {}], found {} {}", name, rows, cols, dtype_name(v.dtype), shape_str(v.shape));
        std::memcpy(codes.data(), v.data, codes.size());
    } else if (fmt_name == ct::kPackQuantized) {
        const TensorView& v = st.get(name + ".weight_packed");
        const int words = ct_packed_words(cols, bits);
        if (v.dtype != DType::I32 || v.shape != std::vector<int64_t>{rows, words})
            fail(v.file, "{}.weight_packed: expected I32 [{}, {}], found {} {}", name, rows, words, dtype_name(v.dtype), shape_str(v.shape));
        if (st.has(name + ".weight_shape")) {
            const TensorView& s = st.get(name + ".weight_shape");
            int64_t shape[2] = {0, 0};
            if ((s.dtype == DType::I64 || s.dtype == DType::I32) && s.numel() == 2)
                for (int i = 0; i < 2; ++i) {
                    if (s.dtype == DType::I64) std::memcpy(&shape[i], s.data + 8 * i, 8);
                    else {
                        int32_t x;
                        std::memcpy(&x, s.data + 4 * i, 4);
                        shape[i] = x;
                    }
                }
            if (shape[0] != rows || shape[1] != cols)
                fail(s.file, "{}.weight_shape: expected [{}, {}] (config.json)", name, rows, cols);
        }
        std::vector<int32_t> w(size_t(rows) * words);
        std::memcpy(w.data(), v.data, w.size() * 4);
        if (!ct_unpack_rows(w.data(), rows, cols, bits, codes.data()))
            fail(v.file, "{}.weight_packed: padding bits of a row are not zero (not compressed-tensors' dense packing)", name);
    } else {
        fail(file, "format '{}' is not read (int-quantized or pack-quantized)", fmt_name);
    }
    const std::vector<float> scales = st.load_f32(name + ".weight_scale", {rows, groups});
    std::vector<int8_t> zeros(scales.size(), 0);
    if (!q->spec.symmetric) {
        const TensorView& z = st.get(name + ".weight_zero_point");
        if (fmt_name == ct::kPackQuantized) {
            const int words = ct_packed_words(rows, bits);
            if (z.dtype != DType::I32 || z.shape != std::vector<int64_t>{words, groups})
                fail(z.file, "{}.weight_zero_point: expected I32 [{}, {}] (packed along N)", name, words, groups);
            std::vector<int32_t> zw(size_t(words) * groups);
            std::memcpy(zw.data(), z.data, zw.size() * 4);
            if (!ct_unpack_columns(zw.data(), rows, groups, bits, zeros.data()))
                fail(z.file, "{}.weight_zero_point: padding bits are not zero", name);
        } else {
            if (z.dtype != DType::I8 || z.shape != std::vector<int64_t>{rows, groups})
                fail(z.file, "{}.weight_zero_point: expected I8 [{}, {}]", name, rows, groups);
            std::memcpy(zeros.data(), z.data, zeros.size());
        }
    }
    // compressed-tensors' signed codes -> tameq's (asymmetric grids use unsigned codes [0, 2^b - 1]).
    const int offset = q->spec.symmetric ? 0 : half;
    q->codes.resize(codes.size());
    for (size_t i = 0; i < codes.size(); ++i) {
        if (codes[i] < -half || codes[i] >= half) fail(file, "{}: code {} outside the {}-bit range", name, codes[i], bits);
        q->codes[i] = int8_t(codes[i] + offset);
    }
    for (size_t i = 0; i < scales.size(); ++i) {
        if (!(scales[i] > 0) || !std::isfinite(scales[i]))
            fail(file, "{}.weight_scale: entry {} = {} is not a positive number", name, i, scales[i]);
        q->params.push_back({scales[i], float(zeros[i] + offset)});
    }
    if (st.has(name + ".weight_g_idx")) {
        const TensorView& g = st.get(name + ".weight_g_idx");
        if (g.dtype != DType::I32 || g.shape != std::vector<int64_t>{cols}) fail(g.file, "{}.weight_g_idx: expected I32 [{}]", name, cols);
        q->column_group.resize(size_t(cols));
        std::memcpy(q->column_group.data(), g.data, size_t(cols) * 4);
        for (int gi : q->column_group)
            if (gi < 0 || gi >= groups) fail(g.file, "{}.weight_g_idx: group {} out of range", name, gi);
    }
    ActQuant act;
    if (const json ia = scheme->value("input_activations", json()); !ia.is_null()) {
        act.spec = int_spec(ia, file, name + " input_activations");
        const std::string s = ia.value("strategy", "");
        const bool dynamic = ia.value("dynamic", json(false)) == json(true);
        if (dynamic && s == "token") {
            act.mode = ActQuant::Mode::PerToken;
        } else if (!dynamic && s == "tensor") {
            if (!act.spec.symmetric) fail(file, "{}: static asymmetric activations are not simulated", name);
            const std::vector<float> scale = st.load_f32(name + ".input_scale", {1});
            if (!(scale[0] > 0) || !std::isfinite(scale[0])) fail(file, "{}.input_scale: {} is not a positive number", name, scale[0]);
            act.mode = ActQuant::Mode::PerChannelStatic;  // one step for every channel: a per-tensor scale
            act.channel_step.assign(size_t(cols), scale[0]);
        } else {
            fail(file, "{}: input activations '{}'{} are not simulated (dynamic token or static tensor)", name, s, dynamic ? " dynamic" : "");
        }
        act.spec.validate();
    }
    return std::make_unique<FakeQuantLinear>(std::vector<float>{}, std::move(bias), cols, rows, act, std::move(q));
}

// Whether transform_config holds tameq's R4 on every down_proj; fails on any other transform.
bool read_r4(const json& qc, const SafeTensors& st, const Family& family, const ModelConfig& c, const std::string& file) {
    const json tc = qc.value("transform_config", json::object());
    if (!tc.is_object() || !tc.contains("config_groups")) return false;
    bool r4 = false;
    const BlockRow* down = nullptr;
    for (const BlockRow& r : family.block)
        if (r.linear == &Layer::down) down = &r;
    for (const auto& [scheme_name, scheme] : tc.at("config_groups").items()) {
        for (const json& a : scheme.value("apply", json::array())) {
            const std::string location = a.value("location", "");
            if (location != "input" || a.value("inverse", false) || scheme.value("head_dim", json()) != json() || !down)
                fail(file, "transform '{}' at '{}' is not simulated (tameq runs R4: a Hadamard at down_proj's input)", scheme_name, location);
            const int n = c.intermediate;
            const std::vector<float> expect = ct::r4_transform_matrix(n);
            for (int i = 0; i < c.n_layers; ++i) {
                const std::string name = ct::module_name(family, i, *down);
                bool targeted = false;
                for (const json& t : a.at("targets")) targeted |= ct::target_matches(t.get<std::string>(), name);
                if (!targeted) fail(file, "transform '{}' misses {} (tameq's R4 runs on every down_proj)", scheme_name, name);
                const std::string key = name + "." + scheme_name + "_input.weight";
                if (st.load_f32(key, {n, n}) != expect)
                    fail(st.get(key).file, "{}: not the Hadamard matrix tameq's R4 applies (H_n with n = {})", key, n);
            }
            r4 = true;
        }
    }
    return r4;
}

}  // namespace

bool is_compressed_tensors_dir(const std::string& path) {
    std::error_code ec;
    if (!fs::is_directory(path, ec) || !fs::exists(fs::path(path) / "config.json", ec)) return false;
    std::ifstream in(fs::path(path) / "config.json");
    const json j = json::parse(in, nullptr, false);
    return j.is_object() && j.contains("quantization_config") && j["quantization_config"].is_object() &&
           j["quantization_config"].value("quant_method", "") == ct::kQuantMethod;
}

Model load_compressed_tensors(const std::string& dir) {
    const std::string file = dir + "/config.json";
    const json config = read_config(dir);
    Model m;
    try {
        const json& qc = config.at("quantization_config");
        if (qc.value("quant_method", "") != ct::kQuantMethod) fail(file, "quantization_config is not compressed-tensors");
        if (!qc.value("kv_cache_scheme", json()).is_null()) fail(file, "kv_cache_scheme is not simulated");
        const std::string format = qc.value("format", "");
        m.cfg = load_hf_config(dir);
        m.source = dir;
        const ModelConfig& c = m.cfg;
        const Family& family = family_of(c);
        if (family.norm_offset != 0)  // its norms are stored as w of (1 + w), which this reader does not convert
            fail(file, "compressed-tensors checkpoints of {} are not read (its norms are stored as w of 1 + w)", c.architecture);
        SafeTensors st = SafeTensors::open(dir);
        for (const ModelRow& r : family.model) {
            if (!r.present_in(c)) continue;
            if (r.table) {
                const Shape s = r.shape(c);
                if (st.has(r.hf)) m.*r.table = st.load_f32(r.hf, {s.rows, s.cols});
            } else if (r.norm) {
                const std::string n = r.hf;
                if (st.has(n + ".weight")) (m.*r.norm).weight = st.load_f32(n + ".weight", {c.hidden});
                if (st.has(n + ".bias")) (m.*r.norm).bias = st.load_f32(n + ".bias", {c.hidden});
            } else if (r.linear) {
                const Shape s = r.shape(c);
                const std::string n = r.hf;
                if (st.has(n + ".weight")) {
                    std::vector<float> bias;
                    if (st.has(n + ".bias")) bias = st.load_f32(n + ".bias", {s.rows});
                    m.*r.linear = std::make_unique<DenseLinear>(s.cols, s.rows, st.load_f32(n + ".weight", {s.rows, s.cols}), std::move(bias));
                } else if (r.linear == &Model::lm_head) {
                    if (!c.tie_embeddings) fail(file, "{}.weight missing and tie_word_embeddings is false", n);
                    m.lm_head = std::make_unique<DenseLinear>(s.cols, s.rows, m.embed);
                }
            }
        }
        for (int i = 0; i < c.n_layers; ++i) {
            Layer l;
            for (const BlockRow& r : family.block) {
                if (!r.present_in(c)) continue;
                const std::string name = ct::module_name(family, i, r);
                if (r.norm) {
                    Norm& n = l.*r.norm;
                    n.weight = st.load_f32(name + ".weight", {r.norm_width(c)});
                    if (st.has(name + ".bias")) n.bias = st.load_f32(name + ".bias", {r.norm_width(c)});
                    continue;
                }
                const Shape s = r.shape(c);
                l.*r.linear = load_linear(st, name, scheme_of(qc, name), format, s.rows, s.cols, file);
            }
            m.layers.push_back(std::move(l));
        }
        m.online.had_down = read_r4(qc, st, family, c, file);
    } catch (const json::exception& e) {
        fail(file, "malformed quantization_config: {}", e.what());
    }
    return m;
}

}  // namespace tameq
