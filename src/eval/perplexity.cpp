#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "model/engine.h"

namespace tameq {

std::vector<std::vector<int>> make_windows(const std::vector<int>& ids, int ctx, int max_windows, int bos) {
    if (ctx < 2) fail("eval", "context {} is too small (need at least 2)", ctx);
    const size_t body = size_t(ctx - 1);
    std::vector<std::vector<int>> out;
    for (size_t start = 0; start + body <= ids.size(); start += body) {
        if (max_windows > 0 && int(out.size()) == max_windows) break;
        std::vector<int> w;
        w.reserve(size_t(ctx));
        w.push_back(bos);
        w.insert(w.end(), ids.begin() + long(start), ids.begin() + long(start + body));
        out.push_back(std::move(w));
    }
    return out;
}

namespace {

// log-softmax of one row in double; returns log-sum-exp so log p_i = x_i - lse.
double log_sum_exp(const float* x, int n) {
    const float mx = *std::max_element(x, x + n);
    double s = 0.0;
    for (int i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
    return double(mx) + std::log(s);
}

}  // namespace

PplResult evaluate_ppl(const Model& model, const std::vector<std::vector<int>>& sequences, const Model* ref,
                       const std::function<void(int, int, double)>& on_window) {
    const int vocab = model.cfg.vocab;
    if (ref && ref->cfg.vocab != vocab) fail(ref->source, "reference model has vocabulary {}, model has {}", ref->cfg.vocab, vocab);
    size_t longest = 0;
    for (const auto& s : sequences) longest = std::max(longest, s.size());
    Engine engine(model, int(longest));
    std::unique_ptr<Engine> ref_engine;
    if (ref) ref_engine = std::make_unique<Engine>(*ref, int(longest));
    std::vector<float> logits(longest * size_t(vocab)), ref_logits(ref ? logits.size() : 0);

    PplResult r;
    r.has_ref = ref != nullptr;
    double nll_sum = 0.0, ref_nll_sum = 0.0, kl_sum = 0.0;
    int64_t agree = 0;
    for (size_t w = 0; w < sequences.size(); ++w) {
        const std::vector<int>& seq = sequences[w];
        const int n = int(seq.size());
        if (n < 2) continue;
        engine.reset();
        engine.forward(seq.data(), n, logits.data(), Logits::All);
        if (ref) {
            ref_engine->reset();
            ref_engine->forward(seq.data(), n, ref_logits.data(), Logits::All);
        }
        double window_nll = 0.0;
        for (int t = 0; t + 1 < n; ++t) {
            const float* row = &logits[size_t(t) * vocab];
            const double lse = log_sum_exp(row, vocab);
            const int target = seq[size_t(t) + 1];
            window_nll += lse - row[target];
            if (ref) {
                const float* rrow = &ref_logits[size_t(t) * vocab];
                const double rlse = log_sum_exp(rrow, vocab);
                ref_nll_sum += rlse - rrow[target];
                double kl = 0.0;
                for (int i = 0; i < vocab; ++i) {
                    const double lp_ref = rrow[i] - rlse;
                    kl += std::exp(lp_ref) * (lp_ref - (row[i] - lse));
                }
                kl_sum += kl;
                agree += (std::max_element(row, row + vocab) - row) == (std::max_element(rrow, rrow + vocab) - rrow);
            }
        }
        nll_sum += window_nll;
        r.tokens_scored += n - 1;
        r.window_nll.push_back(window_nll / (n - 1));
        ++r.windows;
        if (on_window) on_window(int(w) + 1, int(sequences.size()), std::exp(nll_sum / double(r.tokens_scored)));
    }
    if (r.tokens_scored == 0) fail("eval", "nothing to score: no sequence has two or more tokens");
    r.nll_mean = nll_sum / double(r.tokens_scored);
    r.ppl = std::exp(r.nll_mean);
    if (ref) {
        r.ref_ppl = std::exp(ref_nll_sum / double(r.tokens_scored));
        r.kl_mean = kl_sum / double(r.tokens_scored);
        r.top1_agree = double(agree) / double(r.tokens_scored);
    }
    return r;
}

}  // namespace tameq
