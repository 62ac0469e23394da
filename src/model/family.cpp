#include "model/family.h"

#include "common/error.h"

namespace tameq {

const Family& family_of(ArchFamily f) {
    switch (f) {
        case ArchFamily::Llama: return family_llama();
        case ArchFamily::OPT: return family_opt();
        case ArchFamily::Gemma: return family_gemma();
    }
    fail("model", "unknown model family {}", int(f));
}

const Family& family_of(const ModelConfig& c) {
    if (c.fused_projections) return family_phi3();
    if (c.n_experts > 0) return c.architecture == "MixtralForCausalLM" ? family_mixtral() : family_qwen3_moe();
    return family_of(c.family);
}

const Family& family_of(const Layer& l) {
    // A layer with experts: the MoE tables differ in their checkpoint names only, not in slots or taps.
    if (l.router) return family_mixtral();
    // Gemma's linears are Llama's: its layers are told apart by the norms only it has (checked first, with every
    // norm its table always holds), the others by their linears.
    for (const Family* f : {&family_gemma(), &family_llama(), &family_opt()}) {
        const bool by_norms = f == &family_gemma();
        bool fills = true;
        for (const BlockRow& r : f->block) {
            if (r.linear && !(l.*r.linear)) fills = false;
            if (by_norms && r.norm && !r.present && (l.*r.norm).weight.empty()) fills = false;
        }
        if (fills) return *f;
    }
    fail("model", "a layer whose linears match no model family");
}

std::vector<RowSlot> row_slots(Layer& l, const BlockRow& r) {
    std::vector<RowSlot> out;
    if (r.linear) out.push_back({&(l.*r.linear), -1});
    if (r.expert)
        for (size_t e = 0; e < l.experts.size(); ++e) out.push_back({&(l.experts[e].*r.expert), int(e)});
    return out;
}

std::vector<std::pair<const std::unique_ptr<Linear>*, int>> row_slots(const Layer& l, const BlockRow& r) {
    std::vector<std::pair<const std::unique_ptr<Linear>*, int>> out;
    for (const RowSlot& s : row_slots(const_cast<Layer&>(l), r)) out.emplace_back(s.slot, s.expert);
    return out;
}

std::string expert_row_name(const char* name, int expert) {
    std::string s = name;
    if (expert < 0) return s;
    const size_t star = s.find('*');
    if (star == std::string::npos) fail("model", "expert row '{}' has no '*' for the expert index", s);
    return s.replace(star, 1, std::to_string(expert));
}

std::vector<Linear*> residual_writers(Layer& l) {
    std::vector<Linear*> out = {l.o.get()};
    for (Linear* d : down_projections(l)) out.push_back(d);
    return out;
}

std::vector<Linear*> down_projections(Layer& l) {
    if (l.down) return {l.down.get()};
    if (l.fc2) return {l.fc2.get()};
    std::vector<Linear*> out;
    for (Expert& e : l.experts) out.push_back(e.down.get());
    return out;
}

std::string rotation_refusal(const ModelConfig& c) {
    const Family& f = family_of(c);
    if (f.why_not_rotatable) return f.why_not_rotatable(c);
    if (!f.rms_norm && !f.to_rms_skeleton) return fmt::format("the {} family's norms are not RMSNorm", f.name);
    return {};
}

std::vector<Linear*> linears_reading(Layer& l, Tap input) {
    std::vector<Linear*> out;
    for (const BlockRow& r : family_of(l).block)
        if (r.is_linear() && r.input == input)
            for (const RowSlot& s : row_slots(l, r))
                if (*s.slot) out.push_back(s.slot->get());
    return out;
}

std::string block_tensor_name(const char* layer_prefix, int layer, const char* name) {
    return layer_prefix + std::to_string(layer) + "." + name;
}

}  // namespace tameq
