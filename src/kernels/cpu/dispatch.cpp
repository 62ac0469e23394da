#include "kernels/cpu/dispatch.h"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>

#include "common/error.h"

namespace tameq::kern {

namespace {

std::atomic<int> forced{-1};

// AVX-VNNI (CPUID.(EAX=7, ECX=1):EAX bit 4), read directly: clang 14's __builtin_cpu_supports does not
// know the name. The ymm state itself is checked through the avx2 test.
bool cpu_has_avxvnni() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4));
}

KernelPath initial_path() {
    if (const char* env = std::getenv("TAMEQ_KERNEL")) {
        KernelPath p = parse_path(env);
        if (!path_supported(p)) fail("kernels", "TAMEQ_KERNEL={} but this CPU lacks the instructions for it", env);
        return p;
    }
    return supported_paths().back();
}

}  // namespace

const char* path_name(KernelPath p) {
    switch (p) {
        case KernelPath::scalar: return "scalar";
        case KernelPath::avx2: return "avx2";
        case KernelPath::avxvnni: return "avxvnni";
        case KernelPath::avx512vnni: return "avx512vnni";
    }
    return "?";
}

KernelPath parse_path(const std::string& name) {
    for (KernelPath p : {KernelPath::scalar, KernelPath::avx2, KernelPath::avxvnni, KernelPath::avx512vnni})
        if (name == path_name(p)) return p;
    fail("kernels", "unknown kernel path '{}' (scalar, avx2, avxvnni, avx512vnni)", name);
}

bool path_supported(KernelPath p) {
    __builtin_cpu_init();
    switch (p) {
        case KernelPath::scalar: return true;
        case KernelPath::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case KernelPath::avxvnni:
            return path_supported(KernelPath::avx2) && cpu_has_avxvnni();
        case KernelPath::avx512vnni:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    }
    return false;
}

std::vector<KernelPath> supported_paths() {
    std::vector<KernelPath> out;
    for (KernelPath p : {KernelPath::scalar, KernelPath::avx2, KernelPath::avxvnni, KernelPath::avx512vnni})
        if (path_supported(p)) out.push_back(p);
    return out;
}

KernelPath active_path() {
    int f = forced.load(std::memory_order_relaxed);
    if (f >= 0) return static_cast<KernelPath>(f);
    static const KernelPath initial = initial_path();
    return initial;
}

void set_path(KernelPath p) {
    if (!path_supported(p)) fail("kernels", "kernel path {} is not supported by this CPU", path_name(p));
    forced.store(static_cast<int>(p), std::memory_order_relaxed);
}

}  // namespace tameq::kern
