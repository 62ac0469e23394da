// The parallel quantization pipeline writes the same bytes as the sequential one: every recipe family of
// scripts/check-same-bytes.sh (2 calibration windows of 256 and 5 DFRot iterations, to keep it short), plus
// group-wise act-order GPTQ, quantized with TAMEQ_THREADS=1 and =2 on gut-llama-27m, gut-opt-24m and the
// demo model, and every output file compared byte for byte. TAMEQ_THREADS sizes the kernel pool only;
// OpenBLAS keeps its own thread count (inherited, the same for both runs).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "test_util.h"

using namespace tameq;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

void quantize_with_threads(int threads, const std::string& model, const std::string& recipe, const fs::path& out) {
    ASSERT_EQ(setenv("TAMEQ_THREADS", std::to_string(threads).c_str(), 1), 0);
    std::string log;
    const int rc = test::run_tameq("quantize " + model + " -o " + out.string() + " --seed 0 --recipe " + recipe +
                                       " --calib " + test::shared_path("data/gutenberg/calib.txt"),
                                   &log);
    unsetenv("TAMEQ_THREADS");
    ASSERT_EQ(rc, 0) << log;
}

void expect_same_directories(const fs::path& a, const fs::path& b) {
    int files = 0;
    for (const auto& e : fs::directory_iterator(a)) {
        const fs::path other = b / e.path().filename();
        ASSERT_TRUE(fs::exists(other)) << other;
        EXPECT_TRUE(read_all(e.path()) == read_all(other)) << e.path().filename() << " differs";
        ++files;
    }
    EXPECT_EQ(files, std::distance(fs::directory_iterator(b), fs::directory_iterator{}));
    EXPECT_GT(files, 3);
}

struct Case {
    const char* label;
    const char* model;  // under ../shared/models, or a path from the repository root
    const char* recipe;
};

const Case kCases[] = {
    {"w8a8-rtn", "gut-llama-27m", "w=8,a=8"},
    {"w4a4-rh-rtn", "gut-llama-27m", "rotate=rh,w=4,a=4"},
    {"w4a4-rh-gptq", "gut-llama-27m", "rotate=rh,w=4,a=4,weights=gptq,calib-windows=2,calib-ctx=256"},
    {"w4a4-rh-gptq-g64-act-order", "gut-llama-27m", "rotate=rh,w=4,a=4,weights=gptq,calib-windows=2,calib-ctx=256,group=64,act-order=true"},
    {"w4a4-dfrot", "gut-llama-27m", "rotate=dfrot,w=4,a=4,dfrot-iters=5"},
    {"w8a8-outliertune", "gut-opt-24m", "method=outliertune,w=8,a=8,calib-windows=2,calib-ctx=256"},
    {"w8a8-smoothquant", "gut-opt-24m", "method=smoothquant,w=8,a=8,calib-windows=2,calib-ctx=256"},
    {"w4a4kv4-rh-gptq", "gut-llama-27m", "rotate=rh,w=4,a=4,kv=4,weights=gptq,calib-windows=2,calib-ctx=256"},
    {"demo-w4a4-rh-rtn", "models/demo-gut-llama", "rotate=rh,w=4,a=4"},
    {"demo-w4a4-rh-gptq", "models/demo-gut-llama", "rotate=rh,w=4,a=4,weights=gptq,calib-windows=2,calib-ctx=256"},
};

class ParallelQuantize : public ::testing::TestWithParam<Case> {};

TEST_P(ParallelQuantize, SameBytesWithOneAndTwoThreads) {
    TAMEQ_REQUIRE_SHARED();
    const Case& c = GetParam();
    const std::string model = std::string(c.model).starts_with("models/") ? test::fixture_path(std::string("../../") + c.model)
                                                                          : test::shared_path(std::string("models/") + c.model);
    const fs::path dir = test::fresh_test_dir("parallel-quantize");
    ASSERT_NO_FATAL_FAILURE(quantize_with_threads(1, model, c.recipe, dir / "t1"));
    ASSERT_NO_FATAL_FAILURE(quantize_with_threads(2, model, c.recipe, dir / "t2"));
    expect_same_directories(dir / "t1", dir / "t2");
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(RecipeFamilies, ParallelQuantize, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) {
                             std::string s = i.param.label;
                             for (char& ch : s)
                                 if (ch == '-') ch = '_';
                             return s;
                         });

}  // namespace
