#pragma once
// A small, fully specified PRNG (splitmix64) so a seed gives the same numbers on every machine and
// standard library (std::*_distribution outputs differ between implementations).
#include <cstdint>

namespace tameq {

class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    uint64_t next_u64() {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }

private:
    uint64_t state_;
};

}  // namespace tameq
