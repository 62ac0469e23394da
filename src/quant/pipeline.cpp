#include "quant/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/error.h"
#include "common/interrupt.h"
#include "common/progress.h"
#include "common/stage_profile.h"
#include "io/tokenizer.h"
#include "calib/channel_stats.h"
#include "calib/dfrot_rows.h"
#include "quant/gptq.h"
#include "kernels/cpu/parallel_rows.h"
#include "calib/layer_runner.h"
#include "model/fake_quant.h"
#include "model/family.h"
#include "quant/specs.h"
#include "transform/dfrot.h"
#include "transform/fold_norms.h"
#include "numerics/hadamard.h"
#include "transform/outliertune.h"
#include "transform/rotate_model.h"
#include "transform/rotations.h"
#include "transform/smoothquant.h"

namespace tameq {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The quantized linears inside a block, each with the tap that observes its input and its expert (-1: none), by the
// family's slot table. A mixture of experts' router stays floating point and is left out.
struct BlockLinear {
    std::unique_ptr<Linear>* slot;
    Tap tap;
    int expert;
};
std::vector<BlockLinear> block_linears(const ModelConfig& c, Layer& l) {
    std::vector<BlockLinear> out;
    for (const BlockRow& r : family_of(c).block)
        if (r.is_linear() && r.linear != &Layer::router)
            for (const RowSlot& s : row_slots(l, r))
                if (*s.slot) out.push_back({s.slot, r.input, s.expert});
    return out;
}

// GPTQ's Hessians of one block, one per distinct input (q/k/v share theirs, as do gate/up), and one per expert and
// input from the tokens routed to it.
class HessianTap : public BlockTap {
public:
    void on(int, Tap where, const float* x, int n, int dim) override {
        if (where == Tap::AttnResidual || where == Tap::MlpResidual) return;
        add({-1, where}, x, n, dim);
    }
    void on_expert(int, int expert, Tap where, const float* x, int n, int dim) override { add({expert, where}, x, n, dim); }
    // Null for an expert no calibration token reached.
    const HessianAccumulator* at(Tap t, int expert = -1) const {
        auto it = acc_.find({expert, t});
        if (it == acc_.end() && expert < 0) fail("calibration", "no Hessian was gathered at {}", tap_name(t));
        return it == acc_.end() ? nullptr : &it->second;
    }

private:
    void add(std::pair<int, Tap> key, const float* x, int n, int dim) {
        ProfileScope stage("statistics/Hessian");
        auto it = acc_.find(key);
        if (it == acc_.end()) it = acc_.emplace(key, HessianAccumulator(dim)).first;
        it->second.add(x, n);
    }
    std::map<std::pair<int, Tap>, HessianAccumulator> acc_;
};

ResidualRotation make_r1(const ModelReader& reader, const Recipe& r, const std::vector<std::vector<int>>& calib,
                         PipelineReport& report) {
    const int h = reader.config().hidden;
    if (r.rotate == Rotation::RO) return random_orthogonal(h, r.seed);
    if (r.rotate == Rotation::RH) {
        hadamard_factor(h);  // an unsupported size fails here, naming the options
        return ResidualRotation::hadamard(random_signs(h, r.seed));  // random_hadamard(h, seed), folded as fwht
    }
    if (r.rotate == Rotation::File) return load_rotation(r.rotation_file, h);
    // DFRot: collect the normalized norm inputs of the FP model on the first windows, refine from RH.
    ProfileScope stage("DFRot");
    const auto t0 = Clock::now();
    std::vector<std::vector<int>> windows(calib.begin(), calib.begin() + std::min<long>(r.dfrot_windows, long(calib.size())));
    DfrotRows rows;
    {
        Progress progress("dfrot: collect", reader.config().n_layers);
        rows = collect_dfrot_rows(reader, windows, dfrot_rows_options(r, reader.config()),
                                  [&](int done, int) { progress.update(done); });
    }
    report.dfrot_rows = rows.rows();
    report.dfrot_massive_rows = rows.massive_rows();
    Progress progress("dfrot: refine", r.dfrot_iters);
    const DfrotResult res = refine_dfrot_r1(rows, dfrot_r1_options(r), [&](int t, int, double loss) {
        progress.update(t, fmt::format("loss {:.4g}", loss));
    });
    progress.finish();
    report.dfrot_losses = res.losses;
    report.dfrot_seconds = since(t0);
    return res.rotation;
}

std::unique_ptr<QuantizedWeight> quantize_weight(const DenseLinear& d, const Recipe& r, const HessianAccumulator* h) {
    const QuantSpec spec = weight_spec(r);
    const int rows = d.out_features(), cols = d.in_features();
    if (!h && spec.granularity == Granularity::PerTensor)
        return std::make_unique<QuantizedWeight>(quantize_weight_rtn(d.weight.data(), rows, cols, spec));
    std::vector<float> w = d.weight;
    if (!h) {  // RTN: quantize_weight_rtn's steps, timed apart and split by rows between threads
        std::vector<QParams> grids(size_t(rows) * groups_per_row(cols, spec));
        {
            ProfileScope stage("clip search");
            parallel_rows(rows, 16, [&](int r0, int r1) { find_row_grids(w.data(), cols, spec, r0, r1, grids.data()); });
        }
        parallel_rows(rows, 64, [&](int r0, int r1) { apply_row_grids(w.data(), cols, spec, r0, r1, grids.data()); });
        return std::make_unique<QuantizedWeight>(codes_on_grid(w.data(), rows, cols, spec, std::move(grids)));
    }
    GptqOptions opt;
    opt.damp_percent = r.gptq_damp;
    opt.act_order = r.act_order;
    std::vector<int> column_group;
    std::vector<QParams> params = gptq_quantize(w.data(), rows, cols, h->h().data(), spec, opt, &column_group);
    if (!(r.act_order && r.w_group > 0)) column_group.clear();
    return std::make_unique<QuantizedWeight>(codes_on_grid(w.data(), rows, cols, spec, std::move(params), std::move(column_group)));
}

// Per (token, head) asymmetric KV-cache fake quantization; null when the cache stays FP32.
std::shared_ptr<const KvPolicy> kv_policy(const Recipe& r) {
    if (r.kvbits >= 16) return nullptr;
    return std::make_shared<FakeQuantKv>(kv_spec(r));
}

}  // namespace

// One driver for every recipe, streaming one block at a time:
//   rotations fold and rotate the block; channel methods measure the block's input ranges
//   and apply OutlierTune or SmoothQuant to it; GPTQ takes its Hessians on the transformed block; weights are
//   quantized; last, the activation quantizers are set: static per-channel codes on OutlierTune's norm outputs,
//   per token elsewhere.
// Which states calibrate block i+1: after rotations, block i with its quantized weights computes them (GPTQ's
// sequential mode, as QuaRot runs it); the channel methods calibrate on the FP model, as SmoothQuant's and
// OutlierTune's code do (their transforms are exact, so the FP block's outputs come from the stats or Hessian
// pass itself). Measured on gut-opt-24m W6A6 (4 eval windows, 8 calibration windows): quantized-weight states
// made OutlierTune worse (50.04 vs 49.50 RTN, 43.46 vs 42.25 GPTQ) and left SmoothQuant unchanged (45.35).
PipelineReport quantize_model(const std::string& model_path, const Recipe& r, const Tokenizer& tok, QuantSink& sink) {
    r.validate();
    const auto t0 = Clock::now();
    ProfileScope stage("other");
    PipelineReport report;
    ModelReader reader(model_path);
    const ModelConfig& cfg = reader.config();
    const bool rotating = r.rotate != Rotation::None;
    // rotate=inner: R2, R4 and R3 only. They stay inside a block (v/o per head, down_proj's input, q/k after RoPE), so
    // they need neither the norm folding nor R1's computational invariance, and every family allows them.
    const bool residual = rotating && r.rotate != Rotation::Inner;
    const bool channelwise = r.method != Method::Rtn;
    const bool outliertune = r.method == Method::OutlierTune;
    const bool searched = r.method == Method::OtSearch;
    const bool gptq = r.weights == WeightQuantizer::Gptq && r.wbits < 16;
    if (channelwise) {
        if (rotating) fail("recipe", "method '{}' does not combine with rotations (rotate={})", choice_name(r.method),
                           choice_name(r.rotate));
        require_pre_norm(cfg, std::string(choice_name(r.method)).c_str());
    }
    if (residual)
        if (const std::string why = rotation_refusal(cfg); !why.empty())
            fail(model_path, "rotations are not exact for this {}: {}; rotate=inner keeps the ones inside each block "
                             "(R2, R4, R3)", cfg.architecture, why);
    const int r4_block = std::max(r.r4.block, 0);  // OnlineTransforms::had_down_block
    if (rotating) {
        // R4 needs a supported Hadamard size (full) or a block that divides the row; say so before any work.
        // Every down width: the dense MLP's and, for a mixture of experts, the experts'.
        std::vector<int> widths = {cfg.intermediate};
        if (cfg.n_experts > 0) widths.push_back(cfg.expert_intermediate);
        for (int width : widths) {
            if (r.r4.block == R4Choice::kFull) hadamard_factor(width);
            if (r4_block && width % r4_block) {
                const int largest = width & -width;  // the largest power of two dividing it
                fail("recipe", "r4=block={} does not divide intermediate size {} of {} ({})", r4_block, width, model_path,
                     largest >= 2 ? fmt::format("blocks that do: powers of two up to {}", largest) : "no block does");
            }
        }
        hadamard_factor(cfg.head_dim);
    }

    std::vector<std::vector<int>> calib;
    if (gptq || channelwise || r.rotate == Rotation::DFRot) {
        if (r.calib_file.empty())
            fail("recipe", "{} needs calibration text: pass --calib FILE", channelwise ? choice_name(r.method) : gptq ? "GPTQ" : "DFRot");
        const bool dfrot_only = !gptq && !channelwise;
        ProfileScope tokenize("tokenize calibration");
        calib = calibration_windows(r.calib_file, tok, std::min(r.calib_ctx, cfg.max_positions),
                                    dfrot_only ? r.dfrot_windows : r.calib_windows, cfg.bos_id);
        report.calib_windows = int(calib.size());
        long tokens = 0;
        for (const auto& w : calib) tokens += long(w.size());
        // ot-search's static ranges and its loss come from these tokens (the loss from the first
        // kMigrationSearchRows): fewer leave too much of unseen text's range unmeasured.
        if (searched && tokens < kMigrationSearchRows)
            fail("recipe", "method=ot-search needs at least {} calibration tokens for its static ranges and its loss; "
                           "{} windows of {} give {} (use calib-windows={})",
                 kMigrationSearchRows, calib.size(), calib.empty() ? 0 : calib[0].size(), tokens,
                 calib.empty() ? 0 : (kMigrationSearchRows + long(calib[0].size()) - 1) / long(calib[0].size()));
    }

    ResidualRotation r1;
    std::vector<float> r2;
    if (residual) r1 = make_r1(reader, r, calib, report);
    if (rotating) r2 = random_hadamard_r2(cfg.head_dim, r.seed);

    stage.next("load+convert");
    Model skeleton = reader.load_skeleton();
    stage.next("fold/rotate");
    if (residual) {
        fold_final_norm_scale(skeleton);
        rotate_skeleton_residual(skeleton, r1);
    }
    if (rotating) {
        skeleton.online.had_down = r.r4.block != R4Choice::kNone;
        skeleton.online.had_down_block = r4_block;
        skeleton.online.had_qk = r.kvbits < 16 && r.r3 == OnlineR3::On;
    }
    skeleton.online.keep_massive_fp = r.keep_massive_fp;
    skeleton.kv_policy = kv_policy(r);
    stage.next("calibration forward");
    std::unique_ptr<LayerRunner> runner;
    if (gptq || channelwise) {
        runner = std::make_unique<LayerRunner>(skeleton, calib);
        // Calibration runs FP activations: the keep-massive diagnostic has nothing to exempt there.
        runner->online = skeleton.online;
        runner->online.keep_massive_fp = false;
    }
    const OutlierTuneOptions ot{r.abits, r.symmetrize, r.ot_clip_search, r.ot_fold};
    const QuantSpec static_spec = static_act_spec(r);
    const std::set<Tap> kept = r.ot_clip_search || searched ? std::set<Tap>{Tap::AttnIn, Tap::MlpIn} : std::set<Tap>{};
    // The clip search and the migration search score on the same sample of kept rows.
    const int kept_rows = kMigrationSearchRows;
    MigrationSearchOptions search{weight_spec(r), r.abits, {}, {1.0f}, r.symmetrize, gptq, r.gptq_damp};
    if (searched) {
        search.alphas = alpha_grid(r.search_alpha_min, r.search_alpha_max, r.search_alpha_steps);
        if (r.search_clip) search.clips = {1.0f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
    }

    Progress progress(fmt::format("quantize {}", r.summary()), cfg.n_layers);
    for (int i = 0; i < cfg.n_layers; ++i) {
        throw_if_interrupted("quantize");
        profile_layer(i);
        stage.next("load+convert");
        Layer l = reader.load_layer(i);
        stage.next("fold/rotate");
        if (residual) {
            fold_layer_norm_scales(skeleton, l);
            rotate_layer_residual(skeleton, l, r1);
        }
        if (rotating) {
            rotate_layer_heads_vo(skeleton, l, r2);
            if (skeleton.online.had_down) fold_layer_hadamard_down(l, r4_block);
        }
        std::map<Tap, std::vector<float>> static_steps;  // per norm output; absent: per-token quantization
        stage.next("calibration forward");
        if (channelwise) {
            ChannelStatsTap stats(kept, kept_rows);
            runner->run(l, i, &stats, !gptq);
            stage.next("channel method");
            if (searched) {
                for (auto [tap, norm] : {std::pair{Tap::AttnIn, &l.attn_norm}, std::pair{Tap::MlpIn, &l.mlp_norm}}) {
                    const MigrationChoice c = migrate_norm_group(*norm, linears_reading(l, tap), stats.at(tap), search);
                    report.migration.push_back({i, tap, c});
                    static_steps[tap] = std::vector<float>(size_t(cfg.hidden), 1.0f);
                }
            } else if (outliertune) {
                auto [attn, mlp] = outliertune_layer(cfg, l, stats, ot);
                static_steps[Tap::AttnIn] = r.ot_fold ? std::vector<float>(attn.step.size(), 1.0f) : attn.step;
                static_steps[Tap::MlpIn] = r.ot_fold ? std::vector<float>(mlp.step.size(), 1.0f) : mlp.step;
            } else {
                smoothquant_layer(cfg, l, stats, r.sq_alpha);
            }
        }
        stage.next("calibration forward");
        HessianTap hessians;
        if (gptq) runner->run(l, i, &hessians, channelwise);
        stage.next("RTN/GPTQ");
        if (r.wbits < 16) {
            std::map<int, PipelineReport::ExpertTokens> experts;  // this layer's, by expert
            for (auto& [lin, tap, expert] : block_linears(cfg, l)) {
                const DenseLinear& d = as_dense(**lin);
                const HessianAccumulator* h = gptq ? hessians.at(tap, expert) : nullptr;
                if (gptq && expert >= 0) {
                    // gate/up and down see the same routed tokens: the MlpIn count is the expert's.
                    const int64_t tokens = h ? h->count() : 0;
                    auto it = experts.try_emplace(expert, PipelineReport::ExpertTokens{i, expert, tokens, false}).first;
                    if (tokens < expert_gptq_min_tokens(d.in_features())) {
                        if (!it->second.rtn_fallback)
                            fmt::print(stderr, "warning: layer {} expert {}: {} calibration tokens routed, fewer than the "
                                               "{} inputs of a linear of it; that linear takes RTN instead of GPTQ\n",
                                       i, expert, tokens, d.in_features());
                        it->second.rtn_fallback = true;
                        h = nullptr;
                    }
                }
                auto qw = quantize_weight(d, r, h);
                *lin = std::make_unique<FakeQuantLinear>(std::vector<float>{}, d.bias, d.in_features(), d.out_features(),
                                                         ActQuant{}, std::move(qw));
            }
            for (const auto& [e, t] : experts) report.expert_tokens.push_back(t);
        }
        stage.next("calibration forward");
        if (runner && !channelwise && i + 1 < cfg.n_layers) runner->run(l, i, nullptr, true);  // next block's inputs
        stage.next("other");
        if (r.abits < 16) {
            for (auto& [lin, tap, expert] : block_linears(cfg, l)) {
                ActQuant act{ActQuant::Mode::PerToken, act_spec(r), {}};
                if (auto st = static_steps.find(tap); st != static_steps.end())
                    act = {ActQuant::Mode::PerChannelStatic, static_spec, st->second};
                Linear& cur = **lin;
                if (auto* fq = dynamic_cast<FakeQuantLinear*>(&cur)) {
                    fq->set_act(std::move(act));
                } else {
                    const DenseLinear& d = as_dense(cur);
                    *lin = std::make_unique<FakeQuantLinear>(d.weight, d.bias, d.in_features(), d.out_features(), std::move(act));
                }
            }
        }
        sink.layer(i, std::move(l));
        progress.update(i + 1);
    }
    progress.finish();
    profile_layer(-1);
    sink.skeleton(std::move(skeleton));
    report.seconds = since(t0);
    return report;
}

Model quantize_in_memory(const std::string& model_path, const Recipe& recipe, const Tokenizer& tok, PipelineReport* report) {
    struct ModelSink : QuantSink {
        Model m;
        std::vector<Layer> layers;
        void skeleton(Model&& s) override {
            m = std::move(s);
            m.layers = std::move(layers);
        }
        void layer(int, Layer&& l) override { layers.push_back(std::move(l)); }
    } sink;
    PipelineReport r = quantize_model(model_path, recipe, tok, sink);
    if (report) *report = r;
    return std::move(sink.m);
}

}  // namespace tameq
