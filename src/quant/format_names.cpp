#include "quant/format_names.h"

#include "common/error.h"

namespace tameq {

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
