// Quantization streams one decoder block at a time: on a random-weight model with Llama-2-7B's layer shapes
// (hidden 4096, SwiGLU 11008, vocab 32000; 2 layers, BF16 like real checkpoints), `tameq quantize` must peak
// near the embeddings plus one layer's working set, far below what holding the model would take at scale.
#include <filesystem>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include "support/synthetic.h"
#include "test_util.h"

using namespace tameq;
namespace fs = std::filesystem;

TEST(Memory, QuantizingA7BShapedModelStreamsOneLayerAtATime) {
    if (std::getenv("TAMEQ_SKIP_MEMORY_TEST")) GTEST_SKIP() << "TAMEQ_SKIP_MEMORY_TEST is set";
    const fs::path dir = fs::temp_directory_path() / ("tameq-7b-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    SyntheticSpec spec;
    spec.cfg = llama2_7b_shaped(2);
    spec.bf16 = true;
    write_synthetic_model((dir / "model").string(), spec);

    std::string log;
    const int rc = test::run_tameq("quantize " + (dir / "model").string() + " -o " + (dir / "q").string() +
                                       " --recipe w=4,a=4,w-clip-search=0",
                                   &log);
    rusage usage{};
    getrusage(RUSAGE_CHILDREN, &usage);
    fs::remove_all(dir);
    ASSERT_EQ(rc, 0) << log;
    const double peak_gb = double(usage.ru_maxrss) / (1024.0 * 1024.0);
    // FP32 sizes: embeddings + lm_head 2 x 32000 x 4096 x 4 B = 1.05 GB; one layer 202M weights = 0.81 GB.
    // The working set of a layer is its FP32 weights, their codes and the dequantized copy the simulation keeps
    // (~1.8 GB), plus its BF16 pages from the mmap (0.4 GB). The whole 7B model in FP32 would be 27 GB.
    const double embed_gb = 1.05, layer_gb = 0.81;
    RecordProperty("peak_rss_gb", std::to_string(peak_gb));
    EXPECT_LT(peak_gb, embed_gb + 3.0 * layer_gb) << "peak RSS " << peak_gb << " GB";
    std::printf("peak RSS of tameq quantize on the 7B-shaped 2-layer model: %.2f GB\n", peak_gb);
}
