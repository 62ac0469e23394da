// The FP32 engine against Hugging Face transformers (fp32, eager attention, TF32 off, on the H100;
// tools/hf_reference.py made the fixtures in tests/fixtures/ref): logits of two prompts, greedy
// continuations, and perplexity with protocol E64.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eval/perplexity.h"
#include "io/tokenizer.h"
#include "model/engine.h"
#include "export/open_model.h"
#include "test_util.h"

using namespace tameq;
using json = nlohmann::json;

namespace {

json read_json(const std::string& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << path;
    return json::parse(in);
}

std::string model_path(const std::string& name) {
    if (name == "demo-gut-llama") return std::string(TAMEQ_FIXTURES_DIR) + "/../../models/demo-gut-llama";
    return test::shared_path("models/" + name);
}

bool available(const std::string& name) { return name == "demo-gut-llama" || test::have_shared(); }

class HfReference : public ::testing::TestWithParam<std::string> {};

}  // namespace

// Every logit of both prompts within 1e-4 of the largest |logit| of its position.
TEST_P(HfReference, LogitsMatchTransformers) {
    const std::string name = GetParam();
    if (!available(name)) GTEST_SKIP() << "../shared is absent: skipping " << name;
    const json meta = read_json(test::fixture_path("ref/" + name + "_logits.json"));
    std::ifstream f(test::fixture_path("ref/" + name + "_logits.f32"), std::ios::binary);
    std::vector<float> ref;
    f.seekg(0, std::ios::end);
    ref.resize(size_t(f.tellg()) / 4);
    f.seekg(0);
    f.read(reinterpret_cast<char*>(ref.data()), std::streamsize(ref.size() * 4));
    Model m = load_model(model_path(name));
    const int vocab = m.cfg.vocab;
    ASSERT_EQ(meta["vocab"].get<int>(), vocab);
    for (const json& p : meta["prompts"]) {
        std::vector<int> ids = p["ids"].get<std::vector<int>>();
        const size_t off = p["offset_floats"].get<size_t>();
        Engine e(m, int(ids.size()));
        std::vector<float> logits(ids.size() * size_t(vocab));
        e.forward(ids.data(), int(ids.size()), logits.data(), Logits::All);
        double worst = 0;
        for (size_t t = 0; t < ids.size(); ++t) {
            double num = 0, den = 0;
            for (int v = 0; v < vocab; ++v) {
                const double a = logits[t * vocab + v], b = ref[off + t * vocab + v];
                num = std::max(num, std::fabs(a - b));
                den = std::max(den, std::fabs(b));
            }
            worst = std::max(worst, num / den);
        }
        EXPECT_LT(worst, 1e-4) << name << ": '" << p["text"].get<std::string>() << "'";
        RecordProperty(name + "_max_rel_logit_diff", std::to_string(worst));
    }
}

TEST_P(HfReference, GreedyContinuationMatchesTransformers) {
    const std::string name = GetParam();
    if (!available(name)) GTEST_SKIP() << "../shared is absent: skipping " << name;
    const json ref = read_json(test::fixture_path("ref/" + name + "_greedy.json"));
    Model m = load_model(model_path(name));
    auto tok = load_tokenizer(model_path(name));
    std::vector<int> ids = ref["prompt_ids"].get<std::vector<int>>();
    const std::vector<int> want = ref["ids"].get<std::vector<int>>();
    Engine e(m, int(ids.size() + want.size()));
    std::vector<float> logits(static_cast<size_t>(m.cfg.vocab));
    e.forward(ids.data(), int(ids.size()), logits.data(), Logits::Last);
    std::vector<int> got;
    for (size_t i = 0; i < want.size(); ++i) {
        int next = int(std::max_element(logits.begin(), logits.end()) - logits.begin());
        got.push_back(next);
        e.forward(&next, 1, logits.data(), Logits::Last);
    }
    EXPECT_EQ(got, want) << name;
    EXPECT_EQ(tok->decode(got), ref["text"].get<std::string>());
}

// Protocol E64 (ctx 1024, 64 windows of BOS + 1023 tokens of gutenberg/eval.txt): within 0.1% of transformers.
TEST_P(HfReference, ReferencePerplexityE64) {
    const std::string name = GetParam();
    TAMEQ_REQUIRE_SHARED();
    const json ref = read_json(test::fixture_path("ref/" + name + "_e64.json"));
    Model m = load_model(model_path(name));
    auto tok = load_tokenizer(model_path(name));
    std::ifstream in(test::shared_path("data/gutenberg/eval.txt"), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    const std::vector<int> ids = tok->encode(text);
    EXPECT_EQ(int64_t(ids.size()), ref["dataset_tokens"].get<int64_t>());
    const auto windows = make_windows(ids, 1024, 64, m.cfg.bos_id);
    PplResult r = evaluate_ppl(m, windows);
    EXPECT_EQ(r.tokens_scored, ref["tokens_scored"].get<int64_t>());
    const double want = ref["ppl"].get<double>();
    EXPECT_NEAR(r.ppl, want, want * 1e-3) << name << ": tameq " << r.ppl << " vs transformers " << want;
    RecordProperty(name + "_ppl", std::to_string(r.ppl));
}

INSTANTIATE_TEST_SUITE_P(Models, HfReference, ::testing::Values("gut-llama-27m", "gut-opt-24m", "demo-gut-llama"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                             std::string s = param_info.param;
                             std::replace(s.begin(), s.end(), '-', '_');
                             return s;
                         });
