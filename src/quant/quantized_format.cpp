#include "quant/quantized_format.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/sha256.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/fake_quant.h"
#include "model/family.h"

namespace tameq {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const char* granularity_name(Granularity g) {
    return g == Granularity::PerTensor ? "tensor" : g == Granularity::PerGroup ? "group" : "row";
}

Granularity parse_granularity(const std::string& s, const std::string& file) {
    if (s == "tensor") return Granularity::PerTensor;
    if (s == "group") return Granularity::PerGroup;
    if (s == "row") return Granularity::PerRow;
    fail(file, "unknown granularity '{}'", s);
}

json act_json(const ActQuant& a) {
    if (a.mode == ActQuant::Mode::None) return {{"mode", "none"}};
    return {{"mode", a.mode == ActQuant::Mode::PerToken ? "token" : "channel"},
            {"bits", a.spec.bits},
            {"symmetric", a.spec.symmetric},
            {"clip", a.spec.clip_ratio}};
}

// Stored codes are code − qmin, unsigned; ≤ 4 bits pack two per byte (low nibble first).
std::vector<uint8_t> pack_codes(const QuantizedWeight& w, int* packed_cols) {
    const int lo = qmin(w.spec);
    const bool nibbles = w.spec.bits <= 4;
    *packed_cols = nibbles ? (w.cols + 1) / 2 : w.cols;
    std::vector<uint8_t> out(size_t(w.rows) * size_t(*packed_cols), 0);
    for (int r = 0; r < w.rows; ++r)
        for (int c = 0; c < w.cols; ++c) {
            const uint8_t u = uint8_t(w.codes[size_t(r) * w.cols + c] - lo);
            if (nibbles) out[size_t(r) * *packed_cols + c / 2] |= uint8_t(c % 2 ? u << 4 : u);
            else out[size_t(r) * w.cols + c] = u;
        }
    return out;
}

void write_json_file(const std::string& path, const json& j) {
    std::ofstream out(path);
    out << j.dump(2) << "\n";
    if (!out) fail(path, "write failed");
}

}  // namespace

struct QuantizedDirWriter::State {
    json linears = json::object();
    json online;
    json kv;
    ModelConfig cfg;
};

QuantizedDirWriter::QuantizedDirWriter(std::string out_dir, std::string source_model, std::string tokenizer_source,
                                       Recipe recipe)
    : out_(std::move(out_dir)), source_(std::move(source_model)), tokenizer_source_(std::move(tokenizer_source)),
      recipe_(std::move(recipe)), state_(std::make_unique<State>()) {
    while (!out_.empty() && out_.back() == '/') out_.pop_back();
    if (out_.empty()) fail("quantize", "empty output path");
    const fs::path parent = fs::absolute(out_).parent_path();
    if (!fs::is_directory(parent)) fail(out_, "cannot write: {} is not a directory", parent.string());
    if (fs::exists(out_) && !is_quantized_dir(out_))
        fail(out_, "exists and is not a tameq quantized directory; refusing to replace it");
    tmp_ = out_ + ".tmp-" + std::to_string(::getpid());
    fs::remove_all(tmp_);
    std::error_code ec;
    fs::create_directory(tmp_, ec);
    if (ec) fail(out_, "cannot create {} ({})", tmp_, ec.message());
}

QuantizedDirWriter::~QuantizedDirWriter() {
    if (!finished_) {
        std::error_code ec;
        fs::remove_all(tmp_, ec);
    }
}

void QuantizedDirWriter::layer(int index, Layer&& l) {
    SafeTensorsWriter w;
    const std::string p = "layers." + std::to_string(index) + ".";
    auto put_norm = [&](const std::string& name, const Norm& n) {
        w.add_f32(p + name + ".weight", {int64_t(n.weight.size())}, n.weight);
        if (!n.bias.empty()) w.add_f32(p + name + ".bias", {int64_t(n.bias.size())}, n.bias);
    };
    // Tensors and tameq.json keys under the canonical names of the family's slot table.
    const Family& family = family_of(l);
    for (const BlockRow& r : family.block)
        if (r.norm) put_norm(r.canonical, l.*r.norm);
    for (const BlockRow& r : family.block) {
        if (!r.linear) continue;
        const std::string key = p + r.canonical;
        const Linear& lin = *(l.*r.linear);
        const auto* fq = dynamic_cast<const FakeQuantLinear*>(&lin);
        const int rows = lin.out_features(), cols = lin.in_features();
        json spec = {{"in", cols}, {"out", rows}, {"act", act_json(fq ? fq->act() : ActQuant{})}};
        if (fq && fq->weight()) {
            const QuantizedWeight& q = *fq->weight();
            int packed_cols = 0;
            const std::vector<uint8_t> codes = pack_codes(q, &packed_cols);
            w.add(key + ".qweight", DType::U8, {rows, packed_cols}, codes.data(), codes.size());
            const int groups = q.spec.granularity == Granularity::PerTensor ? 1 : groups_per_row(cols, q.spec);
            std::vector<float> scales, zeros;
            for (const QParams& g : q.params) {
                scales.push_back(g.scale);
                zeros.push_back(g.zero);
            }
            const int64_t grid_rows = q.spec.granularity == Granularity::PerTensor ? 1 : rows;
            w.add_f32(key + ".scales", {grid_rows, groups}, scales);
            if (!q.spec.symmetric) w.add_f32(key + ".zeros", {grid_rows, groups}, zeros);
            if (!q.column_group.empty()) {
                std::vector<int32_t> g(q.column_group.begin(), q.column_group.end());
                w.add(key + ".g_idx", DType::I32, {cols}, g.data(), g.size() * 4);
            }
            spec["weight"] = {{"bits", q.spec.bits}, {"symmetric", q.spec.symmetric},
                              {"granularity", granularity_name(q.spec.granularity)}, {"group", q.spec.group_size}};
        } else {
            w.add_f32(key + ".weight", {rows, cols}, fq ? fq->dense().weight : as_dense(lin).weight);
            spec["weight"] = nullptr;
        }
        const std::vector<float>& bias = fq ? fq->bias() : as_dense(lin).bias;
        if (!bias.empty()) w.add_f32(key + ".bias", {rows}, bias);
        if (fq && fq->act().mode == ActQuant::Mode::PerChannelStatic)
            w.add_f32(key + ".act_steps", {cols}, fq->act().channel_step);
        state_->linears[key] = spec;
    }
    const std::string shard = fmt::format("model-layer-{:04d}.safetensors", index);
    w.write(tmp_ + "/" + shard);
    shards_.push_back(shard);
}

void QuantizedDirWriter::skeleton(Model&& m) {
    SafeTensorsWriter w;
    const ModelConfig& c = m.cfg;
    for (const ModelRow& r : family_of(c).model) {
        const std::string name = r.canonical;
        if (r.table && !(m.*r.table).empty()) {
            const std::vector<float>& t = m.*r.table;
            const int64_t cols = r.shape(c).cols;
            w.add_f32(name, {int64_t(t.size()) / cols, cols}, t);
        } else if (r.norm) {
            const Norm& n = m.*r.norm;
            if (!n.weight.empty()) w.add_f32(name + ".weight", {c.hidden}, n.weight);
            if (!n.bias.empty()) w.add_f32(name + ".bias", {c.hidden}, n.bias);
        } else if (r.linear && m.*r.linear) {
            const Shape s = r.shape(c);
            w.add_f32(name + ".weight", {s.rows, s.cols}, as_dense(*(m.*r.linear)).weight);
        }
    }
    w.write(tmp_ + "/model-embed-head.safetensors");
    shards_.push_back("model-embed-head.safetensors");
    state_->cfg = c;
    state_->online = {{"had_down", m.online.had_down}, {"had_qk", m.online.had_qk}, {"keep_massive_fp", m.online.keep_massive_fp}};
    if (auto* kv = dynamic_cast<const FakeQuantKv*>(m.kv_policy.get()))
        state_->kv = {{"bits", kv->spec().bits}, {"symmetric", kv->spec().symmetric}, {"clip", kv->spec().clip_ratio}};
}

void QuantizedDirWriter::finish(const PipelineReport& report) {
    // Index: every tensor of every shard.
    json weight_map = json::object();
    for (const std::string& shard : shards_) {
        SafeTensors st = SafeTensors::open(tmp_ + "/" + shard);
        for (const std::string& name : st.names()) weight_map[name] = shard;
    }
    write_json_file(tmp_ + "/model.safetensors.index.json", {{"metadata", {{"format", "tameq"}}}, {"weight_map", weight_map}});
    json meta = {{"format", "tameq-quantized"}, {"version", kQuantFormatVersion}, {"recipe", recipe_},
                 {"recipe_summary", recipe_.summary()}, {"source", {{"model", source_}}}, {"online", state_->online},
                 {"kv", state_->kv}, {"linears", state_->linears}};
    if (!recipe_.calib_file.empty() && report.calib_windows > 0)
        meta["calibration"] = {{"file", recipe_.calib_file}, {"sha256", sha256_file(recipe_.calib_file)},
                               {"windows", report.calib_windows}, {"ctx", recipe_.calib_ctx}};
    if (!report.dfrot_losses.empty())
        meta["dfrot"] = {{"rows", report.dfrot_rows}, {"massive_rows", report.dfrot_massive_rows},
                         {"loss_start", report.dfrot_losses.front()}, {"loss_best", *std::min_element(report.dfrot_losses.begin(), report.dfrot_losses.end())}};
    write_json_file(tmp_ + "/tameq.json", meta);
    // config.json: copied from a Hugging Face source, generated for llama2.c checkpoints.
    if (fs::is_directory(source_) && fs::exists(fs::path(source_) / "config.json"))
        fs::copy_file(fs::path(source_) / "config.json", tmp_ + "/config.json");
    else
        std::ofstream(tmp_ + "/config.json") << hf_config_text(state_->cfg);
    // Tokenizer files.
    if (fs::is_directory(tokenizer_source_)) {
        for (const char* f : {"tokenizer.json", "tokenizer.model", "vocab.bpe", "encoder.json", "tokenizer_config.json",
                              "special_tokens_map.json", "generation_config.json"})
            if (fs::exists(fs::path(tokenizer_source_) / f)) fs::copy_file(fs::path(tokenizer_source_) / f, fs::path(tmp_) / f);
    } else {
        fs::copy_file(tokenizer_source_, fs::path(tmp_) / fs::path(tokenizer_source_).filename());
    }
    // Into place: an existing quantized directory is replaced only once the new one is complete.
    if (fs::exists(out_)) {
        const std::string old = out_ + ".old-" + std::to_string(::getpid());
        fs::rename(out_, old);
        fs::rename(tmp_, out_);
        fs::remove_all(old);
    } else {
        fs::rename(tmp_, out_);
    }
    finished_ = true;
}

namespace {

json read_meta(const std::string& dir) {
    const std::string path = dir + "/tameq.json";
    std::ifstream in(path);
    if (!in) fail(path, "cannot open");
    json j;
    try {
        j = json::parse(in);
    } catch (const json::exception& e) {
        fail(path, "invalid JSON: {}", e.what());
    }
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
    const bool nibbles = q->spec.bits <= 4;
    const int packed_cols = nibbles ? (cols + 1) / 2 : cols;
    const TensorView& codes = st.get(key + ".qweight");
    if (codes.dtype != DType::U8 || codes.shape != std::vector<int64_t>{rows, packed_cols})
        fail(codes.file, "{}.qweight: expected U8 [{}, {}], found {} {}", key, rows, packed_cols, dtype_name(codes.dtype),
             shape_str(codes.shape));
    const int groups = q->spec.granularity == Granularity::PerTensor ? 1 : groups_per_row(cols, q->spec);
    const int64_t grid_rows = q->spec.granularity == Granularity::PerTensor ? 1 : rows;
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
    const int lo = qmin(q->spec);
    q->codes.resize(size_t(rows) * cols);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const uint8_t b = codes.data[size_t(r) * packed_cols + (nibbles ? c / 2 : c)];
            const int u = nibbles ? (c % 2 ? b >> 4 : b & 0xf) : b;
            if (u > qmax(q->spec) - lo) fail(codes.file, "{}.qweight: code {} out of the {}-bit range", key, u, q->spec.bits);
            q->codes[size_t(r) * cols + c] = int8_t(u + lo);
        }
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
            }
        }
        m.online.had_down = meta.at("online").at("had_down").get<bool>();
        m.online.had_qk = meta.at("online").at("had_qk").get<bool>();
        m.online.keep_massive_fp = meta.at("online").value("keep_massive_fp", false);
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
            const std::string p = "layers." + std::to_string(i) + ".";
            auto norm = [&](const std::string& name) {
                Norm n;
                n.weight = st.load_f32(p + name + ".weight", {c.hidden});
                if (st.has(p + name + ".bias")) n.bias = st.load_f32(p + name + ".bias", {c.hidden});
                return n;
            };
            for (const BlockRow& r : family.block) {
                if (r.norm) {
                    l.*r.norm = norm(r.canonical);
                    continue;
                }
                const std::string key = p + r.canonical;
                if (!linears.contains(key)) fail(file, "no description of linear '{}'", key);
                l.*r.linear = load_linear(st, key, linears.at(key), file);
            }
            m.layers.push_back(std::move(l));
        }
    } catch (const json::exception& e) {
        fail(file, "malformed description: {}", e.what());
    }
    return m;
}

}  // namespace tameq
