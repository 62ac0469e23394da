#include "quant/quantized_format.h"

#include <cmath>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "io/safetensors.h"
#include "model/fake_quant.h"
#include "model/family.h"
#include "numerics/schemes.h"
#include "quant/format_names.h"

namespace tameq {
using json = nlohmann::json;

namespace {

json read_meta(const std::string& dir) {
    const std::string path = dir + "/tameq.json";
    const json j = read_json_file(path);
    if (!j.is_object() || j.value("format", "") != "tameq-quantized") fail(path, "not a tameq quantized-model description");
    const int version = j.value("version", -1);
    if (version != kQuantFormatVersion)
        fail(path, "quantized directory of format version {}; this build reads version {} (re-quantize the model)", version,
             kQuantFormatVersion);
    return j;
}

QuantSpec spec_from(const json& w, const std::string& file) {
    QuantSpec s;
    s.bits = w.at("bits").get<int>();
    s.symmetric = w.at("symmetric").get<bool>();
    s.granularity = parse_granularity(w.at("granularity").get<std::string>(), file);
    s.group_size = w.at("group").get<int>();
    s.narrow = w.value("narrow", false);
    if (s.narrow && !s.symmetric) fail(file, "a narrow weight grid must be symmetric");
    s.validate();
    return s;
}

std::vector<float> tensor_f32(const SafeTensors& st, const std::string& name, std::vector<int64_t> shape) {
    return st.load_f32(name, shape);
}

std::unique_ptr<Linear> load_linear(const SafeTensors& st, const std::string& key, const json& spec, const std::string& file) {
    const int rows = spec.at("out").get<int>(), cols = spec.at("in").get<int>();
    std::vector<float> bias;
    if (st.has(key + ".bias")) bias = tensor_f32(st, key + ".bias", {rows});
    ActQuant act;
    const json& a = spec.at("act");
    const std::string mode = a.at("mode").get<std::string>();
    if (mode != "none") {
        act.mode = mode == "token" ? ActQuant::Mode::PerToken : ActQuant::Mode::PerChannelStatic;
        act.spec.bits = a.at("bits").get<int>();
        act.spec.symmetric = a.at("symmetric").get<bool>();
        act.spec.clip_ratio = a.at("clip").get<float>();
        act.spec.validate();
        if (act.mode == ActQuant::Mode::PerChannelStatic) {
            act.channel_step = tensor_f32(st, key + ".act_steps", {cols});
            for (float s : act.channel_step)
                if (!(s > 0) || !std::isfinite(s)) fail(file, "{}: activation step {} is not a positive number", key, s);
        }
    }
    if (spec.at("weight").is_null()) {
        auto w = tensor_f32(st, key + ".weight", {rows, cols});
        if (!act.active()) return std::make_unique<DenseLinear>(cols, rows, std::move(w), std::move(bias));
        return std::make_unique<FakeQuantLinear>(std::move(w), std::move(bias), cols, rows, act);
    }
    auto q = std::make_unique<QuantizedWeight>();
    q->spec = spec_from(spec.at("weight"), file);
    q->rows = rows;
    q->cols = cols;
    const WeightScheme scheme = weight_scheme(q->spec, st.has(key + ".g_idx"));
    const int packed_cols = scheme.packed_cols(cols);
    const TensorView& codes = st.get(key + ".qweight");
    if (codes.dtype != DType::U8 || codes.shape != std::vector<int64_t>{rows, packed_cols})
        fail(codes.file, "{}.qweight: expected U8 [{}, {}], found {} {}", key, rows, packed_cols, dtype_name(codes.dtype),
             shape_str(codes.shape));
    const int groups = scheme.grids_per_row(cols);
    const int64_t grid_rows = scheme.grid_rows(rows);
    const auto scales = tensor_f32(st, key + ".scales", {grid_rows, groups});
    std::vector<float> zeros(scales.size(), 0.0f);
    if (!q->spec.symmetric) zeros = tensor_f32(st, key + ".zeros", {grid_rows, groups});
    for (size_t i = 0; i < scales.size(); ++i) {
        if (!(scales[i] > 0) || !std::isfinite(scales[i]))
            fail(st.get(key + ".scales").file, "{}.scales: entry {} = {} is not a positive number (corrupt scale tensor)", key, i, scales[i]);
        q->params.push_back({scales[i], zeros[i]});
    }
    if (st.has(key + ".g_idx")) {
        const TensorView& g = st.get(key + ".g_idx");
        if (g.dtype != DType::I32 || g.shape != std::vector<int64_t>{cols}) fail(g.file, "{}.g_idx: expected I32 [{}]", key, cols);
        q->column_group.resize(size_t(cols));
        std::memcpy(q->column_group.data(), g.data, size_t(cols) * 4);
        for (int gi : q->column_group)
            if (gi < 0 || gi >= groups) fail(g.file, "{}.g_idx: group {} out of range", key, gi);
    }
    q->codes.resize(size_t(rows) * cols);
    if (int bad = 0; !scheme.decode(codes.data, rows, cols, q->codes.data(), &bad))
        fail(codes.file, "{}.qweight: code {} out of the {}-bit range", key, bad, q->spec.bits);
    if (q->spec.narrow)
        for (int8_t c : q->codes)
            if (c < qmin(q->spec)) fail(codes.file, "{}.qweight: code {} below the narrow grid's {}", key, int(c), qmin(q->spec));
    return std::make_unique<FakeQuantLinear>(std::vector<float>{}, std::move(bias), cols, rows, act, std::move(q));
}

}  // namespace

Recipe quantized_recipe(const std::string& dir) { return read_meta(dir).at("recipe").get<Recipe>(); }

Model load_quantized_model(const std::string& dir) {
    const json meta = read_meta(dir);
    const std::string file = dir + "/tameq.json";
    Model m;
    try {
        m.cfg = load_hf_config(dir);
        m.source = dir;
        const ModelConfig& c = m.cfg;
        SafeTensors st = SafeTensors::open(dir);
        const Family& family = family_of(c);
        for (const ModelRow& r : family.model) {
            const std::string name = r.canonical;
            if (r.table) {
                const Shape s = r.shape(c);
                m.*r.table = st.load_f32(name, {s.rows, s.cols});
            } else if (r.norm) {
                if (st.has(name + ".weight")) (m.*r.norm).weight = st.load_f32(name + ".weight", {c.hidden});
                if (st.has(name + ".bias")) (m.*r.norm).bias = st.load_f32(name + ".bias", {c.hidden});
            } else if (r.linear == &Model::lm_head || st.has(name + ".weight")) {  // lm_head is always written
                const Shape s = r.shape(c);
                m.*r.linear = std::make_unique<DenseLinear>(s.cols, s.rows, st.load_f32(name + ".weight", {s.rows, s.cols}));
                if (st.has(name + ".bias")) as_dense(*(m.*r.linear)).bias = st.load_f32(name + ".bias", {s.rows});
            }
        }
        m.online.had_down = meta.at("online").at("had_down").get<bool>();
        // Directories from before block-R4 have no had_down_block: their R4 is the full one (0).
        m.online.had_down_block = meta.at("online").value("had_down_block", 0);
        if (const int b = m.online.had_down_block; b != 0 && (b < 2 || (b & (b - 1)) || c.intermediate % b))
            fail(file, "online.had_down_block {} is not a power of two dividing intermediate size {}", b, c.intermediate);
        m.online.had_qk = meta.at("online").at("had_qk").get<bool>();
        m.online.keep_massive_fp = meta.at("online").value("keep_massive_fp", false);
        m.online.layer_norm_as_rms = meta.at("online").value("layer_norm_as_rms", false);
        if (m.online.layer_norm_as_rms && family.rms_norm)
            fail(file, "online.layer_norm_as_rms is set for a {} model, whose norms already are RMSNorm", c.architecture);
        if (!meta.at("kv").is_null()) {
            QuantSpec kv;
            kv.bits = meta["kv"].at("bits").get<int>();
            kv.symmetric = meta["kv"].at("symmetric").get<bool>();
            kv.clip_ratio = meta["kv"].at("clip").get<float>();
            kv.validate();
            m.kv_policy = std::make_shared<FakeQuantKv>(kv);
        }
        const json& linears = meta.at("linears");
        for (int i = 0; i < c.n_layers; ++i) {
            Layer l;
            if (c.is_moe_layer(i)) l.experts.resize(size_t(c.n_experts));
            const std::string p = "layers." + std::to_string(i) + ".";
            auto norm = [&](const std::string& name, int width) {
                Norm n;
                n.weight = st.load_f32(p + name + ".weight", {width});
                if (st.has(p + name + ".bias")) n.bias = st.load_f32(p + name + ".bias", {width});
                return n;
            };
            for (const BlockRow& r : family.block) {
                if (!r.present_at(c, i)) continue;
                if (r.norm) {
                    l.*r.norm = norm(r.canonical, r.norm_width(c));
                    continue;
                }
                for (const RowSlot& s : row_slots(l, r)) {  // one per expert for an expert row
                    const std::string key = p + expert_row_name(r.canonical, s.expert);
                    if (!linears.contains(key)) fail(file, "no description of linear '{}'", key);
                    *s.slot = load_linear(st, key, linears.at(key), file);
                }
            }
            m.layers.push_back(std::move(l));
        }
    } catch (const json::exception& e) {
        fail(file, "malformed description: {}", e.what());
    }
    return m;
}

}  // namespace tameq
