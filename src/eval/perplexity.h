#pragma once
// Perplexity with the protocol of docs/DESIGN.md (E64: ctx 1024, 64 windows, BOS prepended, BOS never scored),
// plus KL divergence and top-1 agreement against a reference model evaluated on the same windows.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/windows.h"
#include "model/model.h"

namespace tameq {

struct PplResult {
    int windows = 0;
    int64_t tokens_scored = 0;
    double nll_mean = 0.0;
    double ppl = 0.0;
    std::vector<double> window_nll;  // mean NLL per window
    bool has_ref = false;            // the fields below are filled only with a reference model
    double ref_ppl = 0.0;
    double kl_mean = 0.0;            // mean over scored tokens of KL(P_ref || P_model), nats
    double top1_agree = 0.0;         // fraction of scored tokens where both argmaxes agree
};

// The reference side of KL divergence and top-1 agreement: logits of a reference model on the same sequences,
// computed on the fly or read back from a file written by an earlier run (llama.cpp's --kl-divergence-base).
class ReferenceLogits {
public:
    virtual ~ReferenceLogits() = default;
    // logits [n-1 x vocab] for positions 0..n-2 of sequence `index` (which must be `seq`).
    virtual void get(size_t index, const std::vector<int>& seq, float* logits) = 0;
};
std::unique_ptr<ReferenceLogits> reference_from_model(const Model& ref, int max_len);
std::unique_ptr<ReferenceLogits> reference_from_file(const std::string& path, int vocab);

// Writes each evaluated sequence's tokens and logits, for use as a later run's reference.
class LogitsWriter {
public:
    LogitsWriter(const std::string& path, int vocab, int n_seq);
    ~LogitsWriter();  // an unfinished file is removed
    void add(const std::vector<int>& seq, const float* logits);  // logits [n-1 x vocab]
    void finish();

private:
    std::string path_, tmp_;
    FILE* f_ = nullptr;
    int vocab_, expected_, written_ = 0;
};

// Scores every sequence: the prediction of token t+1 from tokens 0..t for t = 0..len-2 (so a leading BOS
// is context only). `on_window(done, total)` reports progress.
PplResult evaluate_ppl(const Model& model, const std::vector<std::vector<int>>& sequences, const Model* ref = nullptr,
                       const std::function<void(int, int, double)>& on_window = {});
PplResult evaluate_ppl(const Model& model, const std::vector<std::vector<int>>& sequences, ReferenceLogits* ref,
                       LogitsWriter* save, const std::function<void(int, int, double)>& on_window = {});
// The same scoring over any engine: `forward(seq, logits)` runs one sequence from position 0 and fills
// logits [seq.size() x vocab] (the CUDA engine; the overloads above run the CPU Engine through it).
using SequenceForward = std::function<void(const std::vector<int>& seq, float* logits)>;
PplResult evaluate_ppl_with(const SequenceForward& forward, int vocab, const std::vector<std::vector<int>>& sequences,
                            ReferenceLogits* ref, LogitsWriter* save,
                            const std::function<void(int, int, double)>& on_window = {});

}  // namespace tameq
