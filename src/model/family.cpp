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

std::string block_tensor_name(const char* layer_prefix, int layer, const char* name) {
    return layer_prefix + std::to_string(layer) + "." + name;
}

}  // namespace tameq
