#pragma once
// Helpers shared by the integer kernel tests.
#include <cstdint>
#include <vector>

#include "common/rng.h"
#include "kernels/cpu/dispatch.h"

namespace tameq::test {

// Forces a kernel path for one scope and restores the previous one.
class PathScope {
public:
    explicit PathScope(tameq::kern::KernelPath p) : prev_(tameq::kern::active_path()) { tameq::kern::set_path(p); }
    ~PathScope() { tameq::kern::set_path(prev_); }

private:
    tameq::kern::KernelPath prev_;
};

// Uniform integers in [lo, hi].
template <typename T>
std::vector<T> random_codes(size_t n, int lo, int hi, uint64_t seed) {
    tameq::Rng rng(seed);
    std::vector<T> v(n);
    for (T& x : v) x = static_cast<T>(lo + static_cast<int>(rng.next_u64() % static_cast<uint64_t>(hi - lo + 1)));
    return v;
}

inline std::vector<float> random_floats(size_t n, float lo, float hi, uint64_t seed) {
    tameq::Rng rng(seed);
    std::vector<float> v(n);
    for (float& x : v) x = lo + (hi - lo) * static_cast<float>(rng.uniform());
    return v;
}

}  // namespace tameq::test
