#include "quant/quantized_format.h"

#include <algorithm>
#include <filesystem>
#include <utility>
#include <fstream>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/sha256.h"
#include "common/stage_profile.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/fake_quant.h"
#include "model/family.h"
#include "numerics/schemes.h"
#include "quant/format_names.h"

namespace tameq {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json act_json(const ActQuant& a) {
    if (a.mode == ActQuant::Mode::None) return {{"mode", "none"}};
    return {{"mode", a.mode == ActQuant::Mode::PerToken ? "token" : "channel"},
            {"bits", a.spec.bits},
            {"symmetric", a.spec.symmetric},
            {"clip", a.spec.clip_ratio}};
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
    ProfileScope stage("pack");
    SafeTensorsWriter w;
    const std::string p = "layers." + std::to_string(index) + ".";
    auto put_norm = [&](const std::string& name, const Norm& n) {
        w.add_f32(p + name + ".weight", {int64_t(n.weight.size())}, n.weight);
        if (!n.bias.empty()) w.add_f32(p + name + ".bias", {int64_t(n.bias.size())}, n.bias);
    };
    // Tensors and tameq.json keys under the canonical names of the family's slot table.
    const Family& family = family_of(l);
    for (const BlockRow& r : family.block)
        if (r.norm && !(l.*r.norm).weight.empty()) put_norm(r.canonical, l.*r.norm);  // empty: not in this config
    // One linear's tensors under `key` and its tameq.json description.
    auto put_linear = [&](const std::string& key, const Linear& lin) {
        const auto* fq = dynamic_cast<const FakeQuantLinear*>(&lin);
        const int rows = lin.out_features(), cols = lin.in_features();
        json spec = {{"in", cols}, {"out", rows}, {"act", act_json(fq ? fq->act() : ActQuant{})}};
        if (fq && fq->weight()) {
            const QuantizedWeight& q = *fq->weight();
            const WeightScheme scheme = weight_scheme(q.spec, !q.column_group.empty());
            const std::vector<uint8_t> codes = scheme.encode(q.codes.data(), rows, cols);
            w.add(key + ".qweight", DType::U8, {rows, scheme.packed_cols(cols)}, codes.data(), codes.size());
            const int groups = scheme.grids_per_row(cols);
            std::vector<float> scales, zeros;
            for (const QParams& g : q.params) {
                scales.push_back(g.scale);
                zeros.push_back(g.zero);
            }
            const int64_t grid_rows = scheme.grid_rows(rows);
            w.add_f32(key + ".scales", {grid_rows, groups}, scales);
            if (!scheme.symmetric()) w.add_f32(key + ".zeros", {grid_rows, groups}, zeros);
            if (!q.column_group.empty()) {
                std::vector<int32_t> g(q.column_group.begin(), q.column_group.end());
                w.add(key + ".g_idx", DType::I32, {cols}, g.data(), g.size() * 4);
            }
            spec["weight"] = {{"bits", q.spec.bits}, {"symmetric", q.spec.symmetric},
                              {"granularity", granularity_name(q.spec.granularity)}, {"group", q.spec.group_size}};
            if (q.spec.narrow) spec["weight"]["narrow"] = true;  // written only when set: older readers' files stay the same
        } else {
            w.add_f32(key + ".weight", {rows, cols}, fq ? fq->dense().weight : as_dense(lin).weight);
            spec["weight"] = nullptr;
        }
        const std::vector<float>& bias = fq ? fq->bias() : as_dense(lin).bias;
        if (!bias.empty()) w.add_f32(key + ".bias", {rows}, bias);
        if (fq && fq->act().mode == ActQuant::Mode::PerChannelStatic)
            w.add_f32(key + ".act_steps", {cols}, fq->act().channel_step);
        state_->linears[key] = spec;
    };
    // An expert row is one tensor set per expert ("experts.3.gate"); a row this layer does not have is skipped
    // (Qwen3-MoE's dense layers hold no router, its sparse ones no dense gate/up/down).
    for (const BlockRow& r : family.block)
        for (const auto& [slot, expert] : row_slots(std::as_const(l), r))
            if (*slot) put_linear(p + expert_row_name(r.canonical, expert), **slot);
    const std::string shard = fmt::format("model-layer-{:04d}.safetensors", index);
    stage.next("write");
    w.write(tmp_ + "/" + shard);
    shards_.push_back(shard);
}

void QuantizedDirWriter::skeleton(Model&& m) {
    ProfileScope stage("write");
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
            // A bias a transform added (OPT's final LayerNorm β folded into lm_head for rotations).
            if (const auto& b = as_dense(*(m.*r.linear)).bias; !b.empty()) w.add_f32(name + ".bias", {s.rows}, b);
        }
    }
    w.write(tmp_ + "/model-embed-head.safetensors");
    shards_.push_back("model-embed-head.safetensors");
    state_->cfg = c;
    state_->online = {{"had_down", m.online.had_down},
                      {"had_down_block", m.online.had_down_block},
                      {"had_qk", m.online.had_qk}, {"keep_massive_fp", m.online.keep_massive_fp},
                      {"layer_norm_as_rms", m.online.layer_norm_as_rms}};
    if (auto* kv = dynamic_cast<const FakeQuantKv*>(m.kv_policy.get()))
        state_->kv = {{"bits", kv->spec().bits}, {"symmetric", kv->spec().symmetric}, {"clip", kv->spec().clip_ratio}};
}

void QuantizedDirWriter::finish(const PipelineReport& report) {
    ProfileScope stage("write");
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
    if (!report.expert_tokens.empty()) {
        // How many calibration tokens each expert was routed (its GPTQ Hessians' only data), and which experts had
        // too few for GPTQ and were rounded (RTN) instead.
        json experts = json::array();
        for (const PipelineReport::ExpertTokens& t : report.expert_tokens)
            experts.push_back({{"layer", t.layer}, {"expert", t.expert}, {"tokens", t.tokens}, {"rtn_fallback", t.rtn_fallback}});
        meta["experts"] = experts;
    }
    if (!report.migration.empty()) {
        // ot-search's choice per norm group: the α (and clip) now folded into the weights, with each α's loss.
        // Grid values as their shortest decimal (0.7, not the float's 0.699999988).
        auto decimal = [](float v) { return std::stod(fmt::format("{}", v)); };
        json groups = json::array(), alphas = json::array();
        for (float a : alpha_grid(recipe_.search_alpha_min, recipe_.search_alpha_max, recipe_.search_alpha_steps))
            alphas.push_back(decimal(a));
        for (const PipelineReport::Migration& m : report.migration)
            groups.push_back({{"layer", m.layer}, {"input", tap_name(m.tap)}, {"alpha", decimal(m.choice.alpha)},
                              {"clip", decimal(m.choice.clip)}, {"loss", m.choice.loss}, {"loss_outliertune", m.choice.loss_outliertune},
                              {"loss_by_alpha", m.choice.loss_by_alpha}, {"rows", m.choice.rows}});
        meta["ot_search"] = {{"alphas", alphas}, {"groups", groups}};
    }
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

}  // namespace tameq
