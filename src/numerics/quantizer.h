#pragma once
// Uniform integer grids of 2..8 bits, following the public QuaRot/GPTQ conventions (docs/DESIGN.md):
// round half to even, symmetric codes in [-2^(b-1), 2^(b-1)-1] (or ±(2^(b-1)-1) when narrow) with
// scale = max|x| / (2^(b-1)-1),
// asymmetric codes in [0, 2^b-1] with a range that always contains 0, optional clip ratio and
// GPTQ's MSE clip search. Weights and activations share this one module.
#include <algorithm>
#include <cmath>
#include <vector>

namespace tameq {

// PerRow = per output channel for weights, per token for activations.
enum class Granularity { PerTensor, PerRow, PerGroup };

struct QuantSpec {
    int bits = 8;             // 2..8
    bool symmetric = true;
    Granularity granularity = Granularity::PerRow;
    int group_size = 0;       // PerGroup: columns per group (must divide the row length)
    float clip_ratio = 1.0f;  // (0, 1]: shrink the range before computing the grid
    bool mse_search = false;  // shrink p = 1.00, 0.99, ..., 0.21; keep the first p minimising sum |Q(x)-x|^2.4
    // Symmetric only: codes in [-(2^(b-1)-1), 2^(b-1)-1], the grid llama.cpp's Q8_0 dot products assume
    // (their int8 sign tricks break on -128). The scale is the same; only the clamp loses its lowest code.
    bool narrow = false;
    void validate() const;    // throws tameq::Error("quantizer", ...) on bad values
};

// zero is an integer held in a float (0 for symmetric grids).
struct QParams {
    float scale;
    float zero;
};

inline int qmin(const QuantSpec& s) { return s.symmetric ? -(1 << (s.bits - 1)) + (s.narrow ? 1 : 0) : 0; }
inline int qmax(const QuantSpec& s) { return s.symmetric ? (1 << (s.bits - 1)) - 1 : (1 << s.bits) - 1; }

// The grid of n values (a row, a group or a whole tensor), with the spec's clip ratio and MSE search.
// A range of zero (all-zero input) gets QuaRot's fallback: scale 1 (symmetric) or [-1, 1] (asymmetric).
QParams find_qparams(const float* x, int n, const QuantSpec& s);

// The clamped integer code. x / scale (a true division, as torch does) rounded half to even.
inline int quantize_code(float x, QParams p, const QuantSpec& s) {
    float q = std::nearbyint(x / p.scale) + p.zero;
    return static_cast<int>(std::clamp(q, static_cast<float>(qmin(s)), static_cast<float>(qmax(s))));
}

inline float dequantize_code(int q, QParams p) { return p.scale * (static_cast<float>(q) - p.zero); }

inline float quantize_dequantize(float x, QParams p, const QuantSpec& s) {
    return dequantize_code(quantize_code(x, p, s), p);
}

// Grids per row of a [rows x cols] matrix: 1 (PerRow), cols / group_size (PerGroup). PerTensor has one
// grid for the whole matrix; this returns 1 for it too. Fails if group_size does not divide cols.
int groups_per_row(int cols, const QuantSpec& s);

// In place over a row-major [rows x cols] matrix ("fake quantization"). Returns the grids used so
// integer kernels can reuse them: rows * groups_per_row entries, row-major; a single entry for PerTensor.
std::vector<QParams> fake_quantize_rows(float* x, int rows, int cols, const QuantSpec& s);

}  // namespace tameq
