// The scheme table (numerics/schemes.h): the five int4 nibble layouts each round-trip and put known codes at
// hand-computed bytes; the table's byte count is what the quantized directory writes; the CPU column gives
// IntLinear's reasons; the sweep's size is the table at FP16 grids (the docs/RESULTS-sweep.md numbers).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analysis/sweep.h"
#include "common/error.h"
#include "io/gguf_writer.h"
#include "io/safetensors.h"
#include "kernels/cpu/kv_codes.h"
#include "kernels/cpu/pack.h"
#include "kernels/cuda/gemm_ref.h"
#include "kernels/scheme_kernels.h"
#include "support/synthetic.h"
#include "numerics/schemes.h"
#include "export/open_model.h"
#include "test_util.h"

using namespace tameq;
namespace fs = std::filesystem;

namespace {

QuantSpec spec(int bits, bool symmetric, int group = 0) {
    QuantSpec s;
    s.bits = bits;
    s.symmetric = symmetric;
    s.granularity = group ? Granularity::PerGroup : Granularity::PerRow;
    s.group_size = group;
    return s;
}

}  // namespace

TEST(Schemes, LookupFindsTheRowOfEachSpec) {
    EXPECT_STREQ(weight_scheme(spec(4, true)).format->name, "sym4");
    EXPECT_STREQ(weight_scheme(spec(3, false)).format->name, "asym4");
    EXPECT_STREQ(weight_scheme(spec(5, true)).format->name, "sym8");
    EXPECT_STREQ(weight_scheme(spec(8, false)).format->name, "asym8");
    EXPECT_EQ(weight_scheme(spec(4, true, 128), true).name(), "sym4 (w4) g128 act-order");
    EXPECT_EQ(weight_scheme(spec(8, true)).storage(), CodeStorage::OneByte);
    EXPECT_STREQ(kv_format(4).name, "kv4");
    EXPECT_STREQ(kv_format(6).name, "kv8");
}

TEST(Schemes, DirectoryLayoutPutsEvenColumnsInTheLowNibble) {
    // sym4: stored value = code + 8; an odd row length leaves the last high nibble zero.
    const WeightScheme s4 = weight_scheme(spec(4, true));
    const std::vector<int8_t> codes = {-8, 7, 1, 0, -1, 2};  // [2 x 3]
    const std::vector<uint8_t> stored = s4.encode(codes.data(), 2, 3);
    EXPECT_EQ(stored, (std::vector<uint8_t>{0xF0, 0x09, 0x78, 0x0A}));
    std::vector<int8_t> back(codes.size());
    int bad = -1;
    ASSERT_TRUE(s4.decode(stored.data(), 2, 3, back.data(), &bad));
    EXPECT_EQ(back, codes);
    // sym8: one byte per code, code + 128.
    const WeightScheme s8 = weight_scheme(spec(8, true));
    const std::vector<int8_t> c8 = {-128, 127, 0};
    EXPECT_EQ(s8.encode(c8.data(), 1, 3), (std::vector<uint8_t>{0x00, 0xFF, 0x80}));
    // A 3-bit grid stores 0..7 in its nibbles: 9 is corrupt and named.
    const WeightScheme s3 = weight_scheme(spec(3, true));
    const uint8_t corrupt[] = {0x93};
    int8_t out[2];
    EXPECT_FALSE(s3.decode(corrupt, 1, 2, out, &bad));
    EXPECT_EQ(bad, 9);
}

TEST(Schemes, CpuPackPairsKWithKPlus4PerLane) {
    // Two channels of 16 codes: channel c's lane is bytes 4c..4c+3 of each 64-byte step of 8 k.
    std::vector<int8_t> w(2 * 16);
    for (int i = 0; i < 32; ++i) w[size_t(i)] = int8_t(i % 16 - 8);
    w[0] = 1, w[4] = -1, w[16 + 0] = 3, w[16 + 4] = -8, w[8] = 5, w[12] = 2;
    const kern::PackedWeights p = kern::pack_weights_s4(w.data(), 2, 16);
    const uint8_t* b = p.panel(0);
    EXPECT_EQ(b[0], 0xF1);       // w[0,0] = 1 | w[0,4] = -1
    EXPECT_EQ(b[4], 0x83);       // w[1,0] = 3 | w[1,4] = -8
    EXPECT_EQ(b[64], 0x25);      // w[0,8] = 5 | w[0,12] = 2: the second group of 8 k is the next 64 bytes
    EXPECT_EQ(kern::unpack_weights(p), w);
}

TEST(Schemes, CudaPackPairsRunsOfEightCodes) {
    std::vector<int8_t> w(2 * 16);
    for (int i = 0; i < 32; ++i) w[size_t(i)] = int8_t(7 - i % 16);
    w[0] = 1, w[4] = -1, w[16 + 0] = 3, w[16 + 4] = -8, w[8] = 5, w[12] = 2;
    const std::vector<uint8_t> p = cuda::pack_s4_gpu(w.data(), 2, 16);
    ASSERT_EQ(p.size(), 16u);
    EXPECT_EQ(p[0], 0xF1);  // w[0,0] | w[0,4]
    EXPECT_EQ(p[4], 0x25);  // w[0,8] | w[0,12]: the next run of 8 is the next 4 bytes of the row
    EXPECT_EQ(p[8], 0x83);  // w[1,0] | w[1,4]: rows are k/2 bytes apart
    EXPECT_EQ(cuda::unpack_s4_gpu(p.data(), 2, 16), w);
}

TEST(Schemes, KvCodesPairDimIWithIPlusHalf) {
    QuantSpec kv = spec(4, false);
    const QParams unit{1.0f, 0.0f};  // the codes are the values themselves
    float x[16];
    for (int i = 0; i < 8; ++i) x[i] = float(i + 1), x[8 + i] = float(15 - i);
    uint8_t row[8];
    kern::kv_encode_row(x, 16, kv, unit, row);
    EXPECT_EQ(row[0], 0xF1);  // dim 0 = 1 | dim 8 = 15
    EXPECT_EQ(row[3], 0xC4);  // dim 3 = 4 | dim 11 = 12
    const float scale = 1.0f;
    const uint8_t zero = 0;
    float back[16];
    kern::kv_decode_rows(row, &scale, &zero, 1, 1, 16, 4, back);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(back[i], x[i]) << i;
    EXPECT_EQ(kv_row_bytes(16, 4), 8);
    EXPECT_EQ(kv_row_bytes(16, 8), 16);
}

TEST(Schemes, GgufQ4_0PairsElementIWith16PlusI) {
    // x[0] = −8 is the largest magnitude, so d = −8 / −8 = 1 and each code is x + 8.
    float x[32];
    for (int i = 0; i < 16; ++i) x[i] = float(i - 8), x[16 + i] = float(7 - i);
    uint8_t block[gguf::kQ4_0Bytes];
    gguf::quantize_q4_0(x, 32, block);
    EXPECT_EQ(block[0], 0x00);  // f16 1.0 = 0x3C00, little-endian
    EXPECT_EQ(block[1], 0x3C);
    EXPECT_EQ(block[2 + 0], 0xF0);  // element 0 → 0 | element 16 → 15
    EXPECT_EQ(block[2 + 5], 0xA5);  // element 5 → 5 | element 21 → 10
    float back[32];
    gguf::dequantize_q4_0(block, 32, back);
    for (int i = 0; i < 32; ++i) EXPECT_EQ(back[i], x[i]) << i;
}

TEST(Schemes, BytesCountCodesGridsAndGroupIndex) {
    // [2 x 3] sym4 per channel: 2 bytes of codes per row + one F32 scale per row.
    EXPECT_EQ(weight_scheme(spec(4, true)).bytes(2, 3), 2 * 2 + 2 * 4);
    // [4 x 16] asym4 g8: 8 bytes of codes per row, 2 groups per row, scale and zero each.
    const WeightScheme g = weight_scheme(spec(4, false, 8));
    EXPECT_EQ(g.bytes(4, 16), 32 + 8 * 8);
    EXPECT_EQ(g.bytes(4, 16, GridWidth::F16), 32 + 8 * 4);
    EXPECT_EQ(weight_scheme(spec(4, false, 8), true).bytes(4, 16), 32 + 8 * 8 + 16 * 4);  // + I32 g_idx
    EXPECT_FALSE(g.fits(12));
    EXPECT_THROW(g.bytes(4, 12), Error);
}

TEST(Schemes, BytesAreWhatTheQuantizedDirectoryWrites) {
    const fs::path dir = fs::temp_directory_path() / ("tameq-schemes-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    SyntheticSpec syn;
    syn.cfg = tiny_config(ArchFamily::Llama, 1);
    write_synthetic_model((dir / "model").string(), syn);
    for (const char* flags : {"--wbits 4", "--wbits 3 --w-asym --group 16", "--wbits 7 --w-asym"}) {
        const std::string out = (dir / "q").string();
        std::string log;
        ASSERT_EQ(test::run_tameq("quantize " + (dir / "model").string() + " -o " + out + " " + flags, &log), 0) << log;
        std::ifstream meta_in(out + "/tameq.json");
        const nlohmann::json meta = nlohmann::json::parse(meta_in);
        const SafeTensors st = SafeTensors::open(out);
        int checked = 0;
        for (const auto& [key, lin] : meta.at("linears").items()) {
            const nlohmann::json& w = lin.at("weight");
            ASSERT_FALSE(w.is_null()) << key;
            QuantSpec s = spec(w.at("bits").get<int>(), w.at("symmetric").get<bool>(), w.at("group").get<int>());
            const WeightScheme scheme = weight_scheme(s, st.has(key + ".g_idx"));
            size_t stored = 0;
            for (const char* part : {".qweight", ".scales", ".zeros", ".g_idx"})
                if (st.has(key + part)) stored += st.get(key + part).nbytes;
            EXPECT_EQ(int64_t(stored), scheme.bytes(lin.at("out").get<int>(), lin.at("in").get<int>())) << flags << " " << key;
            ++checked;
        }
        EXPECT_EQ(checked, 7) << flags;
    }
    fs::remove_all(dir);
}

TEST(Schemes, CpuColumnGivesIntLinearsReasons) {
    auto why = [](const QuantSpec& s, bool act_order = false) {
        const kern::CpuWeightKernel k = kern::cpu_weight_kernel(weight_scheme(s, act_order));
        return k.pack ? std::string("runs") : std::string(k.why_not);
    };
    EXPECT_EQ(why(spec(4, true)), "runs");
    EXPECT_EQ(why(spec(8, true, 64)), "runs");
    EXPECT_EQ(why(spec(4, false)), "asymmetric weights");
    EXPECT_EQ(why(spec(4, false, 64), true), "asymmetric weights");  // symmetry is checked first
    EXPECT_EQ(why(spec(4, true, 12), true), "act-order groups");     // then act-order
    EXPECT_EQ(why(spec(4, true, 12)), "group size not a multiple of 8");
    QuantSpec tensor = spec(8, true);
    tensor.granularity = Granularity::PerTensor;
    EXPECT_EQ(why(tensor), "per-tensor weight grid");
    EXPECT_EQ(kern::cpu_weight_kernel(weight_scheme(spec(4, true))).pack, &kern::pack_weights_s4);
    EXPECT_EQ(kern::cpu_weight_kernel(weight_scheme(spec(6, true))).pack, &kern::pack_weights_s8);
    EXPECT_EQ(kern::cpu_weight_kernel(weight_scheme(spec(4, true, 64))).gemm, &kern::gemm_u8_f32_grouped);
    // The CUDA column: W8A8 and W4A8 per channel, nothing else yet.
    EXPECT_NE(kern::cuda_weight_kernel(weight_scheme(spec(8, true))), nullptr);
    EXPECT_NE(kern::cuda_weight_kernel(weight_scheme(spec(4, true))), nullptr);
    EXPECT_EQ(kern::cuda_weight_kernel(weight_scheme(spec(4, true, 128))), nullptr);
    EXPECT_EQ(kern::cuda_weight_kernel(weight_scheme(spec(8, false))), nullptr);
    // KV: the code cache holds per-row asymmetric grids of even head_dim.
    EXPECT_EQ(kern::cpu_kv_codes_reason(spec(4, false), 64), "");
    EXPECT_NE(kern::cpu_kv_codes_reason(spec(4, true), 64), "");
    EXPECT_NE(kern::cpu_kv_codes_reason(spec(8, false), 63).find("odd"), std::string::npos);
}

TEST(Schemes, SweepSizeIsTheTableAtFp16Grids) {
    TAMEQ_REQUIRE_SHARED();
    // docs/RESULTS-sweep.md's size column.
    const std::vector<std::tuple<const char*, const char*, double>> rows = {
        {"gut-llama-27m", "fp", 54.54},  {"gut-llama-27m", "w=8,a=8", 35.73}, {"gut-llama-27m", "w=4,a=4", 26.29},
        {"gut-opt-24m", "fp", 48.32},    {"gut-opt-24m", "w=8,a=8", 29.50},   {"gut-opt-24m", "w=4", 20.06}};
    std::string loaded;
    std::unique_ptr<Model> fp;
    for (const auto& [model, recipe, mb] : rows) {
        if (loaded != model) fp = std::make_unique<Model>(load_model(test::shared_path(std::string("models/") + model)));
        loaded = model;
        EXPECT_NEAR(model_size_mb(*fp, sweep_recipe(recipe, "")), mb, 0.005) << model << " " << recipe;
    }
}
