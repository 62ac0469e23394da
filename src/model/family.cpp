#include "model/family.h"

#include "common/error.h"

namespace tameq {

const Family& family_of(ArchFamily f) {
    switch (f) {
        case ArchFamily::Llama: return family_llama();
        case ArchFamily::OPT: return family_opt();
    }
    fail("model", "unknown model family {}", int(f));
}

const Family& family_of(const Layer& l) {
    for (const Family* f : {&family_llama(), &family_opt()}) {
        bool fills = true;
        for (const BlockRow& r : f->block)
            if (r.linear && !(l.*r.linear)) fills = false;
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
