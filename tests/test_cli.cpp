// The command line: bad input gives one line naming the file and the problem, exit code 2; good input works.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/synthetic.h"
#include "test_util.h"

using namespace tameq;
namespace fs = std::filesystem;

namespace {

class CliTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = tameq::test::fresh_test_dir("tameq-cli");
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string model_dir(ArchFamily f) {
        std::string d = (dir_ / (f == ArchFamily::Llama ? "llama" : "opt")).string();
        SyntheticSpec spec;
        spec.cfg = tiny_config(f);
        write_synthetic_model(d, spec);
        return d;
    }
    std::string write_file(const std::string& name, const std::string& content) {
        std::string p = (dir_ / name).string();
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }
    // Exit code 2 and a single line that mentions `needle`.
    void expect_user_error(const std::string& args, const std::string& needle) {
        std::string out;
        int rc = test::run_tameq(args, &out);
        EXPECT_EQ(rc, 2) << args << "\n" << out;
        EXPECT_NE(out.find(needle), std::string::npos) << args << "\n" << out;
        EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    }

    fs::path dir_;
};

}  // namespace

TEST_F(CliTest, InfoRunAndEvalWorkOnATinyModel) {
    for (ArchFamily f : {ArchFamily::Llama, ArchFamily::OPT}) {
        const std::string m = model_dir(f);
        std::string out;
        ASSERT_EQ(test::run_tameq("info " + m, &out), 0) << out;
        EXPECT_NE(out.find(f == ArchFamily::Llama ? "LlamaForCausalLM" : "OPTForCausalLM"), std::string::npos) << out;
        ASSERT_EQ(test::run_tameq("run " + m + " -p hello -n 5 --seed 3", &out), 0) << out;
        std::string again;
        ASSERT_EQ(test::run_tameq("run " + m + " -p hello -n 5 --seed 3", &again), 0);
        // Same seed, same text (the timing line differs, so compare the first line only).
        EXPECT_EQ(out.substr(0, out.find('\n')), again.substr(0, again.find('\n')));
        std::string text;
        for (int i = 0; i < 200; ++i) text += "some words " + std::to_string(i) + "\n";
        const std::string data = write_file("data.txt", text);
        ASSERT_EQ(test::run_tameq("eval ppl " + m + " --data " + data + " --ctx 64 --windows 4", &out), 0) << out;
        EXPECT_NE(out.find("4 windows of 64 = BOS + 63"), std::string::npos) << out;
        EXPECT_NE(out.find("scored    252 tokens"), std::string::npos) << out;
        // A model against itself: KL 0 and full top-1 agreement.
        ASSERT_EQ(test::run_tameq("eval ppl " + m + " --data " + data + " --ctx 64 --windows 2 --ref " + m, &out), 0) << out;
        EXPECT_NE(out.find("KL        0.000000"), std::string::npos) << out;
        EXPECT_NE(out.find("top-1     100.00%"), std::string::npos) << out;
    }
}

TEST_F(CliTest, BadInputIsAOneLineErrorWithExitCode2) {
    expect_user_error("info " + (dir_ / "missing").string(), "missing: no such file or directory");
    const std::string m = model_dir(ArchFamily::Llama);

    // Truncated safetensors header.
    fs::copy(m, dir_ / "trunc", fs::copy_options::recursive);
    fs::resize_file(dir_ / "trunc" / "model.safetensors", 20);
    expect_user_error("info " + (dir_ / "trunc").string(), "model.safetensors: header length");

    // Data section shorter than the offsets claim.
    fs::copy(m, dir_ / "short", fs::copy_options::recursive);
    fs::resize_file(dir_ / "short" / "model.safetensors", fs::file_size(dir_ / "short" / "model.safetensors") - 64);
    expect_user_error("info " + (dir_ / "short").string(), "out of range");

    // config.json disagrees with the tensors.
    fs::copy(m, dir_ / "shape", fs::copy_options::recursive);
    {
        std::ifstream in(dir_ / "shape" / "config.json");
        std::string cfg((std::istreambuf_iterator<char>(in)), {});
        cfg.replace(cfg.find("\"intermediate_size\": 192"), 24, "\"intermediate_size\": 128");
        std::ofstream(dir_ / "shape" / "config.json") << cfg;
    }
    expect_user_error("info " + (dir_ / "shape").string(), "config.json implies [128, 64]");

    // Unsupported architecture.
    fs::create_directories(dir_ / "neox");
    write_file("neox/config.json", R"({"architectures":["GPTNeoXForCausalLM"],"hidden_size":64})");
    expect_user_error("info " + (dir_ / "neox").string(), "unsupported architecture 'GPTNeoXForCausalLM'");

    // Invalid UTF-8 in the evaluation text; too-short text.
    const std::string bad = write_file("bad.txt", std::string("fine text \xff\xfe broken"));
    expect_user_error("eval ppl " + m + " --data " + bad + " --ctx 8 --windows 1", "bad.txt");
    const std::string tiny = write_file("tiny.txt", "just a few words");
    expect_user_error("eval ppl " + m + " --data " + tiny + " --ctx 64 --windows 2", "tiny.txt: too short");
    expect_user_error("eval ppl " + m + " --data " + (dir_ / "nope.txt").string() + " --ctx 8", "nope.txt: no such file");

    // Bad flags.
    std::string out;
    EXPECT_EQ(test::run_tameq("run " + m + " --temp -1 -p x", &out), 2) << out;
    EXPECT_EQ(test::run_tameq("frobnicate", &out), 2) << out;
}

TEST_F(CliTest, DeviceCudaWithoutAGpuIsOneLineExit2) {
#ifdef TAMEQ_HAVE_CUDA
    std::string probe;
    test::run_tameq("eval ppl /nonexistent --data /nonexistent --device cuda", &probe);
    if (probe.find("no usable CUDA device") == std::string::npos)
        GTEST_SKIP() << "a usable GPU is present";  // then --device cuda runs (tests/test_cuda_ops.cpp)
    const std::string why = "no usable CUDA device";
#else
    const std::string why = "built without CUDA";
#endif
    const std::string m = model_dir(ArchFamily::Llama);
    const std::string text = write_file("t.txt", "hello world, hello tameq\n");
    expect_user_error("eval ppl " + m + " --data " + text + " --ctx 8 --windows 1 --device cuda", why);
    expect_user_error("run " + m + " -p hi -n 2 --device cuda", why);
}

TEST_F(CliTest, BenchTimesEveryPromptAndThreadCount) {
    const std::string m = model_dir(ArchFamily::Llama);
    std::string out;
    ASSERT_EQ(test::run_tameq("bench " + m + " -p 8,16 -n 4 -r 2 -t 1,2 --json", &out), 0) << out;
    const auto j = nlohmann::json::parse(out.substr(out.find('{')));
    EXPECT_EQ(j["repetitions"].get<int>(), 2);
    EXPECT_GT(j["peak_rss_mib"].get<double>(), 0.0);
    const std::vector<std::string> tests = {"pp8", "tg4 @ pp8", "pp16", "tg4 @ pp16"};
    ASSERT_EQ(j["rows"].size(), 2 * tests.size()) << out;
    for (size_t i = 0; i < j["rows"].size(); ++i) {
        const auto& row = j["rows"][i];
        EXPECT_EQ(row["threads"].get<int>(), i < tests.size() ? 1 : 2);
        EXPECT_EQ(row["test"].get<std::string>(), tests[i % tests.size()]);
        // tokens/s is the mean of per-repetition rates, ms the mean time. The mean of tokens/t_i is never below
        // tokens over the mean t_i (Jensen), whatever the timings were: a check the machine's load cannot break.
        const double rate = row["tokens_per_s"].get<double>(), ms = row["ms"].get<double>();
        const double tokens = row.contains("generated") ? row["generated"].get<double>() : row["prompt"].get<double>();
        ASSERT_GT(ms, 0.0);
        EXPECT_GE(rate, tokens / (ms / 1e3) * (1 - 1e-6));
        EXPECT_GE(row["tokens_per_s_sd"].get<double>(), 0.0);
    }
    // One repetition: the rate is the tokens over the time exactly, and there is no spread.
    ASSERT_EQ(test::run_tameq("bench " + m + " -p 8 -n 4 -r 1 -t 1 --json", &out), 0) << out;
    const auto one = nlohmann::json::parse(out.substr(out.find('{')));
    ASSERT_EQ(one["rows"].size(), 2u) << out;
    for (const auto& row : one["rows"]) {
        const double tokens = row.contains("generated") ? row["generated"].get<double>() : row["prompt"].get<double>();
        EXPECT_NEAR(row["tokens_per_s"].get<double>() * row["ms"].get<double>() / 1e3, tokens, 1e-6 * tokens) << row;
        EXPECT_EQ(row["tokens_per_s_sd"].get<double>(), 0.0);
    }
    expect_user_error("bench " + m + " -p 0", "prompt lengths must be >= 1");
    expect_user_error("bench " + m + " -p 8 -r 0", "-r must be >= 1");
    expect_user_error("bench " + m + " -p 120 -n 16", "needs a context of 136 tokens");
}
