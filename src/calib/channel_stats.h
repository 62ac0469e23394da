#pragma once
// Per-channel statistics of every linear input over calibration windows, gathered in one pass through a
// BlockTap: the ranges that SmoothQuant's smoothing factors and OutlierTune's shifts and static steps are
// built from. Each tap call is one calibration sample (LayerRunner passes one whole window per call).
#include <map>
#include <set>
#include <vector>

#include "model/block_tap.h"

namespace tameq {

struct ChannelRange {
    int dim = 0;
    int samples = 0;                // tap calls (windows)
    std::vector<float> max, min;    // [dim] over every token of every sample
    std::vector<double> mid_sum;    // [dim] sum over samples of (max + min) / 2 of that sample
    std::vector<float> values;      // [rows x dim] the first rows seen, only when kept (clip search)

    explicit ChannelRange(int d = 0);
    // Keeps up to `keep_rows` rows in `values` in all (0: none).
    void add(const float* x, int n, int keep_rows = 0);
    std::vector<float> absmax() const;
    // OutlierTune's shift z_j: the mean over samples of the channel's (max + min) / 2.
    std::vector<float> mean_midpoint() const;
    // max_j |x_j - shift_j| over every token seen (shift empty: no shift).
    std::vector<float> absmax_after_shift(const std::vector<float>& shift) const;
};

class ChannelStatsTap : public BlockTap {
public:
    // `keep_values`: the taps whose first `keep_rows` rows are stored for the MSE clip search (the search
    // costs 80 grids per value, so a few thousand rows are plenty).
    explicit ChannelStatsTap(std::set<Tap> keep_values = {}, int keep_rows = 4096)
        : keep_(std::move(keep_values)), keep_rows_(keep_rows) {}
    void on(int layer, Tap where, const float* x, int n, int dim) override;  // residual taps are ignored
    const ChannelRange& at(Tap t) const;  // fails if nothing was observed there

private:
    std::set<Tap> keep_;
    int keep_rows_;
    std::map<Tap, ChannelRange> ranges_;
};

// Per channel, the clipped range p·m_j (m_j = max |x_j - shift_j|) whose symmetric `bits`-bit grid
// (step p·m_j / (2^(bits-1) - 1), codes clamped) minimises sum |Q(x) - x|^2.4 over the kept rows, for
// p = 1.00, 0.99, ..., 0.21 (the first minimum wins), as GPTQ's weight clip search does for rows.
std::vector<float> mse_clipped_range(const ChannelRange& r, const std::vector<float>& shift, int bits);

}  // namespace tameq
