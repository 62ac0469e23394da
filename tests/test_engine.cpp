// The FP32 engine against real references: llama2.c's stories260K (third-party weights with a known
// greedy continuation and perplexity) and internal consistency (prefill == incremental decoding).
#include <algorithm>
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "eval/perplexity.h"
#include "io/tokenizer.h"
#include "model/engine.h"
#include "model/sampler.h"
#include "export/open_model.h"
#include "test_util.h"

using namespace tameq;

namespace {

std::vector<int> greedy(const Model& m, std::vector<int> ids, int n_new) {
    Engine e(m, int(ids.size()) + n_new);
    std::vector<float> logits(static_cast<size_t>(m.cfg.vocab));
    e.forward(ids.data(), int(ids.size()), logits.data(), Logits::Last);
    std::vector<int> out;
    for (int i = 0; i < n_new; ++i) {
        int next = int(std::max_element(logits.begin(), logits.end()) - logits.begin());
        out.push_back(next);
        e.forward(&next, 1, logits.data(), Logits::Last);
    }
    return out;
}

// Max |a-b| / max |b| over a [rows x vocab] block.
double max_rel_diff(const float* a, const float* b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; ++i) {
        num = std::max(num, double(std::fabs(a[i] - b[i])));
        den = std::max(den, double(std::fabs(b[i])));
    }
    return num / den;
}

}  // namespace

TEST(Engine, Stories260KGreedyFromBosMatchesLlama2c) {
    TAMEQ_REQUIRE_SHARED();
    Model m = load_model(test::shared_path("models/stories260K/stories260K.bin"));
    auto tok = load_tokenizer(test::shared_path("models/stories260K/tok512.bin"));
    std::string text = tok->decode(greedy(m, {m.cfg.bos_id}, 40));
    EXPECT_EQ(text.rfind("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.", 0), 0u)
        << text;
}

TEST(Engine, PrefillEqualsIncrementalDecoding) {
    TAMEQ_REQUIRE_SHARED();
    for (const char* name : {"gut-llama-27m", "gut-opt-24m"}) {
        Model m = load_model(test::shared_path(std::string("models/") + name));
        const int n = 24, vocab = m.cfg.vocab;
        std::vector<int> ids;
        for (int i = 0; i < n; ++i) ids.push_back(i == 0 ? m.cfg.bos_id : (37 * i + 11) % vocab);
        std::vector<float> all(size_t(n) * vocab), step(size_t(n) * vocab);
        Engine a(m, n), b(m, n);
        a.forward(ids.data(), n, all.data(), Logits::All);
        // Mixed chunk sizes exercise the cache offsets and the causal mask at pos0 > 0.
        int pos = 0;
        for (int chunk : {1, 5, 1, 10, 7}) {
            b.forward(ids.data() + pos, chunk, step.data() + size_t(pos) * vocab, Logits::All);
            pos += chunk;
        }
        ASSERT_EQ(pos, n);
        EXPECT_LT(max_rel_diff(step.data(), all.data(), all.size()), 1e-5) << name;
    }
}

TEST(Engine, ContextOverflowAndBadTokenAreErrors) {
    TAMEQ_REQUIRE_SHARED();
    Model m = load_model(test::shared_path("models/stories260K/stories260K.bin"));
    Engine e(m, 4);
    std::vector<float> logits(static_cast<size_t>(m.cfg.vocab) * 5);
    int bad = m.cfg.vocab;
    EXPECT_THROW(e.forward(&bad, 1, logits.data()), Error);
    std::vector<int> five(5, 1);
    EXPECT_THROW(e.forward(five.data(), 5, logits.data()), Error);
}

TEST(Sampler, GreedyTemperatureAndTopP) {
    std::vector<float> logits = {0.0f, 3.0f, 1.0f, 2.9f};
    Sampler greedy_s(0.0f, 1.0f, 1);
    EXPECT_EQ(greedy_s.sample(logits.data(), 4), 1);
    // top-p 0.5 keeps only the two near-equal leaders; every draw must be one of them.
    Sampler nucleus(1.0f, 0.5f, 7);
    int counts[4] = {0, 0, 0, 0};
    for (int i = 0; i < 2000; ++i) counts[nucleus.sample(logits.data(), 4)]++;
    EXPECT_EQ(counts[0] + counts[2], 0);
    EXPECT_GT(counts[1], 800);
    EXPECT_GT(counts[3], 700);
    // Same seed, same sequence.
    Sampler s1(0.8f, 0.95f, 42), s2(0.8f, 0.95f, 42);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(s1.sample(logits.data(), 4), s2.sample(logits.data(), 4));
}

TEST(Perplexity, WindowsFollowTheProtocol) {
    std::vector<int> ids(10);
    for (int i = 0; i < 10; ++i) ids[size_t(i)] = 100 + i;
    auto w = make_windows(ids, 4, 0, 1);  // 3 text tokens per window
    ASSERT_EQ(w.size(), 3u);
    EXPECT_EQ(w[0], (std::vector<int>{1, 100, 101, 102}));
    EXPECT_EQ(w[2], (std::vector<int>{1, 106, 107, 108}));
    EXPECT_EQ(make_windows(ids, 4, 2, 1).size(), 2u);
}

// llama2.c's reported perplexity of stories260K on the TinyStories head: 5.3886, each non-empty line
// its own sequence (BOS + line), cache reset per line.
TEST(ReferenceStories, PerplexityMatchesLlama2c) {
    TAMEQ_REQUIRE_SHARED();
    Model m = load_model(test::shared_path("models/stories260K/stories260K.bin"));
    auto tok = load_tokenizer(test::shared_path("models/stories260K/tok512.bin"));
    std::ifstream in(test::shared_path("data/tinystories/valid-head-794k.txt"));
    std::vector<std::vector<int>> seqs;
    std::string line;
    while (std::getline(in, line)) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        std::vector<int> s{m.cfg.bos_id};
        for (int id : tok->encode(line)) s.push_back(id);
        if (s.size() > 512) s.resize(512);
        seqs.push_back(std::move(s));
    }
    PplResult r = evaluate_ppl(m, seqs);
    EXPECT_NEAR(r.ppl, 5.3886, 5.3886 * 1e-4) << r.ppl;
}
