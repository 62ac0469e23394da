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

const Family& family_of(const Layer& l) {
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

std::string rotation_refusal(const ModelConfig& c) {
    const Family& f = family_of(c);
    if (f.why_not_rotatable) return f.why_not_rotatable(c);
    if (!f.rms_norm && !f.to_rms_skeleton) return fmt::format("the {} family's norms are not RMSNorm", f.name);
    return {};
}

std::vector<Linear*> linears_reading(Layer& l, Tap input) {
    std::vector<Linear*> out;
    for (const BlockRow& r : family_of(l).block)
        if (r.linear && r.input == input) out.push_back((l.*r.linear).get());
    return out;
}

std::string block_tensor_name(const char* layer_prefix, int layer, const char* name) {
    return layer_prefix + std::to_string(layer) + "." + name;
}

}  // namespace tameq
