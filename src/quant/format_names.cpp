#include "quant/format_names.h"

#include "common/error.h"

namespace tameq {

std::vector<std::pair<const char*, std::unique_ptr<Linear>*>> named_linears(Layer& l, bool swiglu) {
    std::vector<std::pair<const char*, std::unique_ptr<Linear>*>> out = {{"q", &l.q}, {"k", &l.k}, {"v", &l.v}, {"o", &l.o}};
    if (swiglu) {
        out.insert(out.end(), {{"gate", &l.gate}, {"up", &l.up}, {"down", &l.down}});
    } else {
        out.insert(out.end(), {{"fc1", &l.fc1}, {"fc2", &l.fc2}});
    }
    return out;
}

const char* granularity_name(Granularity g) {
    return g == Granularity::PerTensor ? "tensor" : g == Granularity::PerGroup ? "group" : "row";
}

Granularity parse_granularity(const std::string& s, const std::string& file) {
    if (s == "tensor") return Granularity::PerTensor;
    if (s == "group") return Granularity::PerGroup;
    if (s == "row") return Granularity::PerRow;
    fail(file, "unknown granularity '{}'", s);
}

}  // namespace tameq
