#include "eval/evaluate.h"

#include <chrono>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "io/tokenizer.h"
#include "kernels/cpu/dispatch.h"
#include "model/int_engine.h"
#include "export/open_model.h"
#ifdef TAMEQ_HAVE_CUDA
#include "kernels/cuda/device.h"
#include "model/cuda_engine.h"
#endif

namespace tameq {

EngineChoice parse_engine(const std::string& name) {
    if (name == "int") return EngineChoice::Int;
    if (name == "sim") return EngineChoice::Sim;
    fail("engine", "unknown engine '{}' (valid: int, sim)", name);
}

const char* engine_name(EngineChoice e) { return e == EngineChoice::Int ? "int" : "sim"; }

std::string select_engine(Model& m, EngineChoice e) {
    const int simulated = count_simulated_linears(m);
    if (simulated == 0) return "";
    if (e == EngineChoice::Sim) return fmt::format("simulated quantization ({} linears)", simulated);
    const IntegerReport r = use_integer_kernels(m);
    std::string s = fmt::format("integer kernels ({}) for {} linears", kern::path_name(kern::active_path()), r.integer);
    if (r.simulated) s += fmt::format(", simulated for {} ({})", r.simulated, r.first_reason);
    if (r.fused_hadamard) s += ", R4 fused into down_proj";
    if (r.norm_code_groups) s += fmt::format(", {} norms emit static codes", r.norm_code_groups);
    if (r.kv_codes) s += ", KV cache stores codes";
    if (r.head_bf16) s += r.embed_bf16 ? ", embeddings and lm_head in BF16" : ", lm_head in BF16";
    return s;
}

Device parse_device(const std::string& name) {
    if (name == "cpu") return Device::Cpu;
    if (name == "cuda") return Device::Cuda;
    fail("device", "unknown device '{}' (valid: cpu, cuda)", name);
}

void require_device(Device d) {
    if (d == Device::Cpu) return;
#ifdef TAMEQ_HAVE_CUDA
    std::string why;
    if (!cuda::device_available(&why)) fail("--device cuda", "no usable CUDA device ({})", why);
#else
    fail("--device cuda", "this tameq was built without CUDA (configure with nvcc on PATH, TAMEQ_CUDA=ON)");
#endif
}

RecipeEval evaluate_recipe(const EvalRequest& req, const Tokenizer& tok, const std::function<void(int, int, double)>& on_window) {
    const int references = !req.ref.empty() + (req.ref_model != nullptr) + !req.kl_base.empty();
    if (references > 1) fail("eval", "--ref and --kl-base both name a reference; pick one");
    require_device(req.device);
    RecipeEval out;
    Model model = req.recipe ? quantize_in_memory(req.model, *req.recipe, tok, &out.quant) : load_model(req.model);
    // The CUDA engine takes the simulated linears as they are (their codes and grids); the CPU integer engine's
    // repacking would only be undone.
    if (req.device == Device::Cpu) out.engine = select_engine(model, req.engine);
#ifdef TAMEQ_HAVE_CUDA
    // Refused before any reference or window work: the reason names the directory and the missing piece.
    if (req.device == Device::Cuda)
        if (const std::string why = cuda_engine_refusal(model); !why.empty()) fail(model.source, "{}", why);
#endif
    out.cfg = model.cfg;
    out.params = model.n_params();
    if (req.windows.ctx > model.cfg.max_positions)
        fail("eval", "--ctx {} exceeds the model's context of {}", req.windows.ctx, model.cfg.max_positions);

    // A recipe is measured against its own FP model unless another reference is named.
    std::string ref_path = req.ref;
    if (req.recipe && references == 0) ref_path = req.model;
    std::unique_ptr<Model> ref_loaded;
    if (!ref_path.empty()) ref_loaded = std::make_unique<Model>(load_model(ref_path));
    const Model* ref_model = ref_loaded ? ref_loaded.get() : req.ref_model;

    TextWindows cut_here;
    if (!req.cut) cut_here = text_windows(req.data, tok, req.windows, model.cfg.bos_id);
    const TextWindows& text = req.cut ? *req.cut : cut_here;
    out.text_tokens = text.text_tokens;
    if (!req.save_windows.empty()) write_file_atomic(req.save_windows, nlohmann::json(text.seqs).dump() + "\n");

    std::unique_ptr<ReferenceLogits> reference;
    if (ref_model) {
        if (ref_model->cfg.vocab != model.cfg.vocab)
            fail(ref_model->source, "reference model has vocabulary {}, model has {}", ref_model->cfg.vocab, model.cfg.vocab);
        size_t longest = 0;
        for (const auto& s : text.seqs) longest = std::max(longest, s.size());
        reference = reference_from_model(*ref_model, int(longest));
        out.ref = ref_path.empty() ? ref_model->source : ref_path;
    } else if (!req.kl_base.empty()) {
        reference = reference_from_file(req.kl_base, model.cfg.vocab);
        out.ref = req.kl_base;
    }
    std::unique_ptr<LogitsWriter> save;
    if (!req.save_logits.empty()) save = std::make_unique<LogitsWriter>(req.save_logits, model.cfg.vocab, int(text.seqs.size()));
    const auto t0 = std::chrono::steady_clock::now();
    if (req.device == Device::Cuda) {
#ifdef TAMEQ_HAVE_CUDA
        size_t longest = 0;
        for (const auto& seq : text.seqs) longest = std::max(longest, seq.size());
        CudaEngine gpu(model, int(longest));
        out.engine = gpu.describe();
        const SequenceForward forward = [&](const std::vector<int>& seq, float* logits) {
            gpu.reset();
            gpu.forward(seq.data(), int(seq.size()), logits);
        };
        out.ppl = evaluate_ppl_with(forward, model.cfg.vocab, text.seqs, reference.get(), save.get(), on_window);
#endif
    } else {
        out.ppl = evaluate_ppl(model, text.seqs, reference.get(), save.get(), on_window);
    }
    out.eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (save) save->finish();
    return out;
}

}  // namespace tameq
