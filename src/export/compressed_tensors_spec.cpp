#include "export/compressed_tensors_spec.h"

#include <cmath>
#include <regex>

#include "numerics/hadamard.h"

namespace tameq::ct {
using json = nlohmann::json;

std::string module_name(const Family& f, int layer, const BlockRow& r) { return block_tensor_name(f.hf_layer_prefix, layer, r.hf); }

std::string row_target(const BlockRow& r) {
    std::string escaped;
    for (const char* p = r.hf; *p; ++p) {
        if (*p == '.') escaped += '\\';
        escaped += *p;
    }
    return "re:.*" + escaped + "$";
}

bool target_matches(const std::string& target, const std::string& name) {
    if (target.rfind("re:", 0) == 0) {
        try {
            return std::regex_search(name, std::regex(target.substr(3)), std::regex_constants::match_continuous);
        } catch (const std::regex_error&) {
            return false;
        }
    }
    return target == "Linear" || target == name;
}

namespace {

// The fields compressed-tensors' QuantizationArgs.model_dump() writes, in its order.
json int_args(int bits, bool symmetric, const char* strategy, json group_size, bool dynamic, json actorder, json observer) {
    return {{"num_bits", bits},       {"type", "int"},          {"symmetric", symmetric},
            {"group_size", group_size}, {"strategy", strategy}, {"block_structure", nullptr},
            {"dynamic", dynamic},     {"actorder", actorder},   {"scale_dtype", nullptr},
            {"zp_dtype", symmetric ? json(nullptr) : json("torch.int8")},
            {"observer", observer},   {"observer_kwargs", json::object()}};
}

}  // namespace

json weight_args(const QuantSpec& s, bool g_idx) {
    const bool group = s.granularity == Granularity::PerGroup;
    return int_args(s.bits, s.symmetric, group ? "group" : "channel", group ? json(s.group_size) : json(nullptr), false,
                    g_idx ? json("group") : json(nullptr), "minmax");
}

json dynamic_token_args(const QuantSpec& s) { return int_args(s.bits, s.symmetric, "token", nullptr, true, nullptr, nullptr); }

json static_tensor_args(const QuantSpec& s) { return int_args(s.bits, s.symmetric, "tensor", nullptr, false, nullptr, "minmax"); }

std::vector<float> r4_transform_matrix(int n) {
    const std::vector<float> h = hadamard_matrix(n);  // H_n/√n, row-major
    const float root = std::sqrt(float(n));
    std::vector<float> w(h.size());
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) w[size_t(i) * n + j] = std::nearbyint(h[size_t(j) * n + i] * root);
    return w;
}

const char* r4_transform_type(int n) { return (n & (n - 1)) == 0 ? "hadamard" : "random-hadamard"; }

}  // namespace tameq::ct
