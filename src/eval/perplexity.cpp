#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/mapped_file.h"
#include "model/engine.h"

namespace tameq {

namespace {

// log-softmax of one row in double; returns log-sum-exp so log p_i = x_i - lse.
double log_sum_exp(const float* x, int n) {
    const float mx = *std::max_element(x, x + n);
    double s = 0.0;
    for (int i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
    return double(mx) + std::log(s);
}

}  // namespace

namespace {

constexpr char kLogitsMagic[8] = {'T', 'A', 'M', 'E', 'Q', 'L', 'G', '1'};

class ModelReference : public ReferenceLogits {
public:
    ModelReference(const Model& m, int max_len) : engine_(m, max_len), vocab_(m.cfg.vocab) {}
    void get(size_t, const std::vector<int>& seq, float* logits) override {
        const int n = int(seq.size());
        buf_.resize(size_t(n) * vocab_);
        engine_.reset();
        engine_.forward(seq.data(), n, buf_.data(), Logits::All);
        std::copy(buf_.begin(), buf_.begin() + long(n - 1) * vocab_, logits);
    }

private:
    Engine engine_;
    int vocab_;
    std::vector<float> buf_;
};

class FileReference : public ReferenceLogits {
public:
    FileReference(const std::string& path, int vocab) : file_(path), vocab_(vocab) {
        const uint8_t* p = file_.data();
        if (file_.size() < 16 || std::memcmp(p, kLogitsMagic, 8) != 0) fail(path, "not a tameq logits file");
        int32_t v, n;
        std::memcpy(&v, p + 8, 4);
        std::memcpy(&n, p + 12, 4);
        if (v != vocab) fail(path, "logits of a vocabulary of {}, the model has {}", v, vocab);
        size_t off = 16;
        for (int i = 0; i < n; ++i) {
            int32_t len;
            if (off + 4 > file_.size()) fail(path, "truncated");
            std::memcpy(&len, p + off, 4);
            const size_t bytes = 4 + size_t(len) * 4 + size_t(std::max(len - 1, 0)) * vocab * 4;
            if (len < 0 || off + bytes > file_.size()) fail(path, "truncated");
            offsets_.push_back(off);
            off += bytes;
        }
    }
    void get(size_t index, const std::vector<int>& seq, float* logits) override {
        if (index >= offsets_.size()) fail(file_.path(), "holds {} sequences, sequence {} requested", offsets_.size(), index);
        const uint8_t* p = file_.data() + offsets_[index];
        int32_t len;
        std::memcpy(&len, p, 4);
        if (size_t(len) != seq.size() || std::memcmp(p + 4, seq.data(), seq.size() * 4) != 0)
            fail(file_.path(), "sequence {} differs from this run's (other data, ctx or tokenizer?)", index);
        std::memcpy(logits, p + 4 + size_t(len) * 4, size_t(len - 1) * vocab_ * 4);
    }

private:
    MappedFile file_;
    int vocab_;
    std::vector<size_t> offsets_;
};

}  // namespace

std::unique_ptr<ReferenceLogits> reference_from_model(const Model& ref, int max_len) {
    return std::make_unique<ModelReference>(ref, max_len);
}

std::unique_ptr<ReferenceLogits> reference_from_file(const std::string& path, int vocab) {
    return std::make_unique<FileReference>(path, vocab);
}

LogitsWriter::LogitsWriter(const std::string& path, int vocab, int n_seq)
    : path_(path), tmp_(path + ".tmp"), vocab_(vocab), expected_(n_seq) {
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) fail(path, "cannot write ({})", std::strerror(errno));
    const int32_t header[2] = {vocab, n_seq};
    std::fwrite(kLogitsMagic, 1, 8, f_);
    std::fwrite(header, 4, 2, f_);
}

LogitsWriter::~LogitsWriter() {
    if (f_) {
        std::fclose(f_);
        std::remove(tmp_.c_str());
    }
}

void LogitsWriter::add(const std::vector<int>& seq, const float* logits) {
    const int32_t len = int32_t(seq.size());
    std::fwrite(&len, 4, 1, f_);
    std::fwrite(seq.data(), 4, seq.size(), f_);
    std::fwrite(logits, 4, size_t(len - 1) * vocab_, f_);
    ++written_;
}

void LogitsWriter::finish() {
    if (written_ != expected_) fail(path_, "{} of {} sequences written", written_, expected_);
    const bool ok = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!ok) {
        std::remove(tmp_.c_str());
        fail(path_, "write failed (disk full?)");
    }
    std::rename(tmp_.c_str(), path_.c_str());
}

PplResult evaluate_ppl(const Model& model, const std::vector<std::vector<int>>& sequences, const Model* ref,
                       const std::function<void(int, int, double)>& on_window) {
    std::unique_ptr<ReferenceLogits> source;
    if (ref) {
        if (ref->cfg.vocab != model.cfg.vocab)
            fail(ref->source, "reference model has vocabulary {}, model has {}", ref->cfg.vocab, model.cfg.vocab);
        size_t longest = 0;
        for (const auto& s : sequences) longest = std::max(longest, s.size());
        source = reference_from_model(*ref, int(longest));
    }
    return evaluate_ppl(model, sequences, source.get(), nullptr, on_window);
}

PplResult evaluate_ppl(const Model& model, const std::vector<std::vector<int>>& sequences, ReferenceLogits* ref,
                       LogitsWriter* save, const std::function<void(int, int, double)>& on_window) {
    size_t longest = 0;
    for (const auto& s : sequences) longest = std::max(longest, s.size());
    Engine engine(model, int(longest));
    const SequenceForward forward = [&](const std::vector<int>& seq, float* logits) {
        engine.reset();
        engine.forward(seq.data(), int(seq.size()), logits, Logits::All);
    };
    return evaluate_ppl_with(forward, model.cfg.vocab, sequences, ref, save, on_window);
}

PplResult evaluate_ppl_with(const SequenceForward& forward, int vocab, const std::vector<std::vector<int>>& sequences,
                            ReferenceLogits* ref, LogitsWriter* save,
                            const std::function<void(int, int, double)>& on_window) {
    size_t longest = 0;
    for (const auto& s : sequences) longest = std::max(longest, s.size());
    std::vector<float> logits(longest * size_t(vocab)), ref_logits(ref ? logits.size() : 0);

    PplResult r;
    r.has_ref = ref != nullptr;
    double nll_sum = 0.0, ref_nll_sum = 0.0, kl_sum = 0.0;
    int64_t agree = 0;
    for (size_t w = 0; w < sequences.size(); ++w) {
        const std::vector<int>& seq = sequences[w];
        const int n = int(seq.size());
        if (n < 2) continue;
        forward(seq, logits.data());
        if (save) save->add(seq, logits.data());
        if (ref) ref->get(w, seq, ref_logits.data());
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
