#include "kernels/scheme_kernels.h"

#include <iterator>

#include <fmt/format.h>

namespace tameq::kern {

namespace {

// One entry per row of kWeightFormats, in its order.
struct FormatKernels {
    PackFn cpu_pack;
    const char* cpu_why_not;
    const char* cuda_per_channel;
};
constexpr FormatKernels kFormatKernels[] = {
    /* sym4  */ {pack_weights_s4, nullptr, "gemm_w4a8_bf16 (W4A8, int4 packed by pack_s4_gpu)"},
    /* asym4 */ {nullptr, "asymmetric weights", nullptr},
    /* sym8  */ {pack_weights_s8, nullptr, "gemm_w8a8_bf16 (W8A8)"},
    /* asym8 */ {nullptr, "asymmetric weights", nullptr},
};
static_assert(std::size(kFormatKernels) == std::size(kWeightFormats));

const FormatKernels& kernels_of(const WeightScheme& s) { return kFormatKernels[s.format - kWeightFormats]; }

}  // namespace

CpuWeightKernel cpu_weight_kernel(const WeightScheme& s) {
    const FormatKernels& k = kernels_of(s);
    auto no = [](const char* why) { return CpuWeightKernel{nullptr, nullptr, why}; };
    if (!k.cpu_pack) return no(k.cpu_why_not);
    if (s.act_order) return no("act-order groups");
    if (s.granularity == Granularity::PerTensor) return no("per-tensor weight grid");
    if (s.granularity == Granularity::PerGroup && s.group_size % 8 != 0) return no("group size not a multiple of 8");
    return {k.cpu_pack, s.granularity == Granularity::PerGroup ? gemm_u8_f32_grouped : gemm_u8_f32, nullptr};
}

const char* cuda_weight_kernel(const WeightScheme& s) {
    if (s.act_order || s.granularity != Granularity::PerRow) return nullptr;
    return kernels_of(s).cuda_per_channel;
}

std::string cpu_kv_codes_reason(const QuantSpec& spec, int head_dim) {
    if (spec.symmetric || spec.granularity != Granularity::PerRow || spec.mse_search)
        return "a code cache stores per-row asymmetric grids without MSE search";
    if (head_dim % 2 != 0) return fmt::format("head_dim {} is odd: 4-bit codes pack dims i and i + head_dim/2", head_dim);
    return "";
}

}  // namespace tameq::kern
