#pragma once
// IEEE binary16 and bfloat16 <-> float32 conversions (bit-exact, round-to-nearest-even on narrowing).
#include <cstdint>
#include <cstring>

namespace tameq {

inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline uint16_t f32_to_bf16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40);  // quiet NaN
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return uint16_t(bits >> 16);
}

inline float f16_to_f32(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do { mant <<= 1; ++e; } while ((mant & 0x400u) == 0);
            mant &= 0x3ffu;
            bits = sign | (uint32_t(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline uint16_t f32_to_f16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    uint32_t sign = (bits >> 16) & 0x8000u;
    uint32_t absbits = bits & 0x7fffffffu;
    if (absbits > 0x7f800000u) return uint16_t(sign | 0x7e00u);
    if (absbits >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to inf
    if (absbits < 0x38800000u) {                                   // subnormal or zero in f16
        float af;
        std::memcpy(&af, &absbits, 4);
        // 2^-24 is the f16 subnormal step; nearbyint rounds half to even.
        float scaled = af * 16777216.0f;
        uint32_t m = uint32_t(__builtin_nearbyintf(scaled));
        return uint16_t(sign | m);
    }
    uint32_t rounded = absbits + 0xfffu + ((absbits >> 13) & 1u);
    return uint16_t(sign | ((rounded - (112u << 23)) >> 13));
}

}  // namespace tameq
