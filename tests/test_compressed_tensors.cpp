// compressed-tensors export: the dense int32 packing against words derived by hand from the spec, the
// writer -> reader round trip on tiny models (the reader's model computes exactly what the quantized
// directory's does), the config.json it writes, and every refusal (one line, exit 2, nothing left behind).
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/half.h"
#include "export/compressed_tensors.h"
#include "export/open_model.h"
#include "io/safetensors.h"
#include "model/engine.h"
#include "model/fake_quant.h"
#include "numerics/hadamard.h"
#include "support/synthetic.h"
#include "test_util.h"

using namespace tameq;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A 3 x 40 matrix of unsigned stored values u (the code is u - 2^(b-1)), m = 2^b:
//   row 0: u_i = i mod m      row 1: u_i = m - 1 - (i mod m)      row 2: u_i = (5i + 3) mod m
std::vector<int8_t> fixture_codes(int bits) {
    const int m = 1 << bits, half = m / 2;
    std::vector<int8_t> c;
    for (int i = 0; i < 40; ++i) c.push_back(int8_t(i % m - half));
    for (int i = 0; i < 40; ++i) c.push_back(int8_t(m - 1 - i % m - half));
    for (int i = 0; i < 40; ++i) c.push_back(int8_t((5 * i + 3) % m - half));
    return c;
}

std::vector<int32_t> words(std::initializer_list<uint32_t> w) { return std::vector<int32_t>(w.begin(), w.end()); }

void expect_packs_to(int bits, const std::vector<int32_t>& expect) {
    const std::vector<int8_t> codes = fixture_codes(bits);
    EXPECT_EQ(ct_pack_rows(codes.data(), 3, 40, bits), expect) << bits << " bits";
    std::vector<int8_t> back(codes.size());
    ASSERT_TRUE(ct_unpack_rows(expect.data(), 3, 40, bits, back.data()));
    EXPECT_EQ(back, codes);
}

}  // namespace

// 4 bits: 8 codes per word, element j of a word in bits [4j, 4j+4); 40 codes = 5 words, no padding.
// Row 0, elements 0..7 are u = 0..7: nibbles 0,1,...,7 from the low end = 0x76543210; 8..15 -> 0xFEDCBA98.
// Row 1, elements 0..7 are u = 15..8 -> 0x89ABCDEF; 8..15 are 7..0 -> 0x01234567.
// Row 2, elements 0..7 are u = 3,8,13,2,7,12,1,6 -> 0x61C72D83; 8..15: 11,0,5,10,15,4,9,14 -> 0xE94FA50B.
TEST(CompressedTensorsPacking, FourBitsByHand) {
    expect_packs_to(4, words({0x76543210, 0xFEDCBA98, 0x76543210, 0xFEDCBA98, 0x76543210,  //
                              0x89ABCDEF, 0x01234567, 0x89ABCDEF, 0x01234567, 0x89ABCDEF,  //
                              0x61C72D83, 0xE94FA50B, 0x61C72D83, 0xE94FA50B, 0x61C72D83}));
}

// 6 bits: 40 codes = 240 bits = 8 words (the last one's top 16 bits zero); codes straddle words.
// Row 0 (u_i = i), word 0 = bits 0..31: u0..u4 at bits 0,6,12,18,24 and the low 2 bits of u5 = 5 (0b01) at
// bit 30: 1<<6 | 2<<12 | 3<<18 | 4<<24 | 1<<30 = 0x440C2040. Word 1 starts with u5's high 4 bits (0b0001),
// then u6 = 6 at bit 4, u7 = 7 at bit 10, ... : 0x1 | 6<<4 | 7<<10 | 8<<16 | 9<<22 | (10 & 0xF)<<28 = 0xA2481C61.
// Word 7 holds bits 224..239 only: u38 = 38 at bit 4 (after u37's high 4 bits, 37 >> 2 = 9), u39 = 39 at bit 10:
// 9 | 38<<4 | 39<<10 = 0x9E69. The other words follow the same rule.
TEST(CompressedTensorsPacking, SixBitsByHand) {
    expect_packs_to(6, words({0x440C2040, 0xA2481C61, 0x3CE34C2C, 0x544D2450, 0xA6585D65, 0x7DE75C6D, 0x648E2860, 0x00009E69,
                              0xBBF3DFBF, 0x5DB7E39E, 0xC31CB3D3, 0xABB2DBAF, 0x59A7A29A, 0x8218A392, 0x9B71D79F, 0x00006196,
                              0x1748D203, 0x5C2B9A17, 0x38913FEB, 0x2789D613, 0x503BDB1B, 0x79950F28, 0x37CADA23, 0x0000181F}));
}

// 8 bits: byte j of a word is element j. Row 0: u = 0,1,2,3 -> 0x03020100. Row 1: 255,254,253,252 -> 0xFCFDFEFF.
// Row 2: u = 3,8,13,18 -> 0x120D0803. compressed-tensors' own docstring example (pack_to_int32, 0.12): the
// codes [1, 2] at 8 bits are 129, 130 -> 0x8281 = 33409.
TEST(CompressedTensorsPacking, EightBitsByHand) {
    expect_packs_to(8, words({0x03020100, 0x07060504, 0x0B0A0908, 0x0F0E0D0C, 0x13121110, 0x17161514, 0x1B1A1918, 0x1F1E1D1C,
                              0x23222120, 0x27262524,  //
                              0xFCFDFEFF, 0xF8F9FAFB, 0xF4F5F6F7, 0xF0F1F2F3, 0xECEDEEEF, 0xE8E9EAEB, 0xE4E5E6E7, 0xE0E1E2E3,
                              0xDCDDDEDF, 0xD8D9DADB,  //
                              0x120D0803, 0x26211C17, 0x3A35302B, 0x4E49443F, 0x625D5853, 0x76716C67, 0x8A85807B, 0x9E99948F,
                              0xB2ADA8A3, 0xC6C1BCB7}));
    const int8_t pair[2] = {1, 2};
    EXPECT_EQ(ct_pack_rows(pair, 1, 2, 8), std::vector<int32_t>{33409});
}

// Zero points of an asymmetric [3 x 40] weight with groups of 20: [N = 3 x G = 2], packed along N, so each
// group's column of 3 zero points becomes one word: [1 x 2].
// 4 bits, stored u: column 0 = (1, 8, 3) -> 1 | 8<<4 | 3<<8 = 0x381; column 1 = (15, 0, 14) -> 0xE0F.
// 6 bits: column 0 = (1, 32, 3) -> 1 | 32<<6 | 3<<12 = 0x3801; column 1 = (63, 0, 62) -> 63 | 62<<12 = 0x3E03F.
TEST(CompressedTensorsPacking, ZeroPointsAlongN) {
    for (const auto& [bits, expect] : {std::pair{4, words({0x381, 0xE0F})}, std::pair{6, words({0x3801, 0x3E03F})}}) {
        const int m = 1 << bits, h = m / 2;
        const std::vector<int8_t> zp = {int8_t(1 - h), int8_t(m - 1 - h), int8_t(0), int8_t(-h), int8_t(3 - h), int8_t(m - 2 - h)};
        EXPECT_EQ(ct_pack_columns(zp.data(), 3, 2, bits), expect) << bits;
        std::vector<int8_t> back(zp.size());
        ASSERT_TRUE(ct_unpack_columns(expect.data(), 3, 2, bits, back.data()));
        EXPECT_EQ(back, zp);
    }
}

TEST(CompressedTensorsPacking, NonzeroPaddingIsRejected) {
    std::vector<int32_t> w = ct_pack_rows(fixture_codes(6).data(), 3, 40, 6);
    w[7] |= 1 << 20;  // above row 0's last code
    std::vector<int8_t> back(120);
    EXPECT_FALSE(ct_unpack_rows(w.data(), 3, 40, 6, back.data()));
}

namespace {

class CompressedTensorsExport : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = test::fresh_test_dir("tameq-ct");
        std::string text;
        for (int i = 0; i < 400; ++i) text += "calibration line number " + std::to_string(i * 7919 % 1000) + " of the text\n";
        calib_ = (dir_ / "calib.txt").string();
        std::ofstream(calib_) << text;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string model(ArchFamily f) {
        const std::string path = (dir_ / (f == ArchFamily::Llama ? "llama" : "opt")).string();
        if (!fs::exists(path)) {
            SyntheticSpec spec;
            spec.cfg = tiny_config(f, 2);
            spec.massive_value = 30.0f;
            write_synthetic_model(path, spec);
        }
        return path;
    }
    std::string quantize(const std::string& name, const std::string& flags, ArchFamily f = ArchFamily::Llama) {
        const std::string out = (dir_ / name).string();
        std::string log;
        EXPECT_EQ(test::run_tameq("quantize " + model(f) + " -o " + out + " --calib " + calib_ + " --calib-ctx 64 --calib-windows 4 " + flags, &log),
                  0)
            << log;
        return out;
    }
    std::string export_ct(const std::string& qdir, const std::string& extra = "", int expect_rc = 0) {
        const std::string out = qdir + "-ct";
        std::string log;
        const int rc = test::run_tameq("export " + qdir + " --format compressed-tensors -o " + out + " " + extra, &log);
        EXPECT_EQ(rc, expect_rc) << log;
        last_log_ = log;
        return out;
    }
    void expect_refused(const std::string& qdir, const std::string& extra, const std::string& needle) {
        const std::string out = export_ct(qdir, extra, 2);
        EXPECT_NE(last_log_.find(needle), std::string::npos) << last_log_;
        EXPECT_EQ(std::count(last_log_.begin(), last_log_.end(), '\n'), 1) << last_log_;
        EXPECT_FALSE(fs::exists(out));
        for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
    }
    static json config_of(const std::string& dir) {
        std::ifstream in(dir + "/config.json");
        return json::parse(in);
    }

    fs::path dir_;
    std::string calib_, last_log_;
};

std::vector<float> logits_of(const Model& m) {
    const std::vector<int> ids = {1, 80, 81, 90, 120, 130, 140, 150, 160, 170, 180, 190};
    Engine e(m, int(ids.size()));
    std::vector<float> out(ids.size() * size_t(m.cfg.vocab));
    e.forward(ids.data(), int(ids.size()), out.data(), Logits::All);
    return out;
}

// The reader rebuilds the same simulated linears: same codes, grids, g_idx and activation quantizer.
void expect_same_linears(const Model& a, const Model& b) {
    ASSERT_EQ(a.layers.size(), b.layers.size());
    EXPECT_EQ(a.online.had_down, b.online.had_down);
    for (size_t i = 0; i < a.layers.size(); ++i) {
        const auto la = a.layers[i].linears();
        const auto lb = b.layers[i].linears();
        for (size_t k = 0; k < la.size(); ++k) {
            if (!*la[k]) continue;
            const auto* fa = dynamic_cast<const FakeQuantLinear*>(la[k]->get());
            const auto* fb = dynamic_cast<const FakeQuantLinear*>(lb[k]->get());
            ASSERT_TRUE(fa && fb && fa->weight() && fb->weight()) << i << " " << k;
            const QuantizedWeight &qa = *fa->weight(), &qb = *fb->weight();
            EXPECT_EQ(qa.codes, qb.codes);
            EXPECT_EQ(qa.spec.bits, qb.spec.bits);
            EXPECT_EQ(qa.spec.symmetric, qb.spec.symmetric);
            EXPECT_EQ(qa.spec.group_size, qb.spec.group_size);
            EXPECT_EQ(qa.column_group, qb.column_group);
            ASSERT_EQ(qa.params.size(), qb.params.size());
            for (size_t g = 0; g < qa.params.size(); ++g) {
                EXPECT_EQ(qa.params[g].scale, qb.params[g].scale);
                EXPECT_EQ(qa.params[g].zero, qb.params[g].zero);
            }
            EXPECT_EQ(fa->bias(), fb->bias());
            EXPECT_EQ(int(fa->act().mode), int(fb->act().mode));
            EXPECT_EQ(fa->act().spec.bits, fb->act().spec.bits);
            EXPECT_EQ(fa->act().spec.symmetric, fb->act().spec.symmetric);
            EXPECT_EQ(fa->act().channel_step, fb->act().channel_step);
        }
    }
}

}  // namespace

TEST_F(CompressedTensorsExport, RoundTripComputesWhatTheQuantizedDirectoryComputes) {
    struct Case {
        const char* name;
        const char* flags;
        const char* format;
        ArchFamily family = ArchFamily::Llama;
    };
    const Case cases[] = {
        {"w8a8", "--wbits 8 --abits 8", "int-quantized"},
        {"w4a16-gptq", "--wbits 4 --weights gptq --group 16", "pack-quantized"},
        {"w4a16-actorder", "--wbits 4 --weights gptq --group 16 --act-order", "pack-quantized"},
        {"w4a8-rh", "--rotate rh --wbits 4 --abits 8 --a-sym", "pack-quantized"},
        {"w4-asym", "--wbits 4 --w-asym --group 16", "pack-quantized"},
        {"w6a8", "--wbits 6 --abits 8 --w-asym", "pack-quantized"},
        {"w4a4-dfrot", "--rotate dfrot --dfrot-iters 3 --wbits 4 --abits 4 --weights gptq", "pack-quantized"},
        {"ot-opt", "--method outliertune --wbits 8 --abits 8", "int-quantized", ArchFamily::OPT},
        {"sq-llama", "--method smoothquant --wbits 8 --abits 8", "int-quantized"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string q = quantize(c.name, c.flags, c.family);
        const std::string out = export_ct(q);
        ASSERT_TRUE(is_compressed_tensors_dir(out));
        EXPECT_FALSE(is_compressed_tensors_dir(q));
        const json qc = config_of(out).at("quantization_config");
        EXPECT_EQ(qc.at("format"), c.format);
        EXPECT_EQ(qc.at("quant_method"), "compressed-tensors");
        EXPECT_EQ(qc.at("ignore"), json::array({"lm_head"}));
        const Model a = load_model(q), b = load_model(out);
        expect_same_linears(a, b);
        EXPECT_EQ(logits_of(a), logits_of(b));
    }
    // The commands take the export as a model path: eval ppl on the integer engine (the default) and info.
    for (const char* name : {"w8a8", "w4a8-rh"}) {
        const std::string q = (dir_ / name).string();
        std::string a, b;
        const std::string eval = " --data " + calib_ + " --ctx 64 --windows 2 --json";
        ASSERT_EQ(test::run_tameq("eval ppl " + q + eval, &a), 0) << a;
        ASSERT_EQ(test::run_tameq("eval ppl " + q + "-ct" + eval, &b), 0) << b;
        const json ja = json::parse(a), jb = json::parse(b);
        EXPECT_EQ(ja.at("ppl").get<double>(), jb.at("ppl").get<double>()) << name;
        EXPECT_EQ(ja.at("engine"), jb.at("engine"));
        ASSERT_EQ(test::run_tameq("info " + q + "-ct", &b), 0) << b;
        EXPECT_NE(b.find("compressed-tensors checkpoint"), std::string::npos) << b;
    }
}

TEST_F(CompressedTensorsExport, SchemesAndTransformsAreWrittenAsCompressedTensorsDefinesThem) {
    // R4 at intermediate 192 = 12·16 (not a power of two): a dense "random-hadamard" whose stored ±1 matrix W
    // gives x·W/√n = tameq's x·H_nᵀ/√n.
    const std::string out = export_ct(quantize("r4", "--rotate rh --wbits 4 --abits 8 --a-sym --group 16"));
    const json qc = config_of(out).at("quantization_config");
    const json& g = qc.at("config_groups").at("group_0");
    EXPECT_EQ(g.at("weights").at("strategy"), "group");
    EXPECT_EQ(g.at("weights").at("group_size"), 16);
    EXPECT_EQ(g.at("weights").at("num_bits"), 4);
    EXPECT_EQ(g.at("input_activations").at("strategy"), "token");
    EXPECT_EQ(g.at("input_activations").at("dynamic"), true);
    EXPECT_EQ(g.at("input_activations").at("symmetric"), true);
    const json& r4 = qc.at("transform_config").at("config_groups").at("R4");
    EXPECT_EQ(r4.at("type"), "random-hadamard");
    EXPECT_EQ(r4.at("apply").at(0).at("location"), "input");
    EXPECT_EQ(r4.at("apply").at(0).at("targets"), json::array({"re:.*mlp\\.down_proj$"}));
    const SafeTensors st = SafeTensors::open(out);
    const TensorView& h = st.get("model.layers.1.mlp.down_proj.R4_input.weight");
    EXPECT_EQ(h.dtype, DType::BF16);
    EXPECT_EQ(h.shape, (std::vector<int64_t>{192, 192}));
    const std::vector<float> w = h.to_f32();
    for (float x : w) ASSERT_TRUE(x == 1.0f || x == -1.0f);
    // Orientation: x·W/√n is what the engine computes (compressed-tensors apply_transform_weight, location
    // input, inverse false); it must equal tameq's online R4, fwht_rows(x).
    std::vector<float> x(192), y(192, 0.0f);
    for (int i = 0; i < 192; ++i) x[size_t(i)] = float((i * 37) % 11) - 5.0f;
    for (int j = 0; j < 192; ++j)
        for (int i = 0; i < 192; ++i) y[size_t(j)] += x[size_t(i)] * w[size_t(i) * 192 + j] / std::sqrt(192.0f);
    fwht_rows(x.data(), 1, 192);
    for (int j = 0; j < 192; ++j) ASSERT_NEAR(y[size_t(j)], x[size_t(j)], 1e-4f) << j;
    const TensorView& packed = st.get("model.layers.0.mlp.down_proj.weight_packed");
    EXPECT_EQ(packed.dtype, DType::I32);
    EXPECT_EQ(packed.shape, (std::vector<int64_t>{64, 192 * 4 / 32}));
    const TensorView& shape = st.get("model.layers.0.mlp.down_proj.weight_shape");
    EXPECT_EQ(shape.dtype, DType::I64);
    EXPECT_EQ(st.get("model.layers.0.mlp.down_proj.weight_scale").shape, (std::vector<int64_t>{64, 12}));
    EXPECT_FALSE(st.has("model.layers.0.mlp.down_proj.weight"));

    // Asymmetric 6-bit weights: zero points packed along N ([ceil(N·6/32), groups]).
    const std::string asym = export_ct(quantize("asym6", "--wbits 6 --w-asym --group 32"));
    const SafeTensors sa = SafeTensors::open(asym);
    const TensorView& zp = sa.get("model.layers.0.self_attn.q_proj.weight_zero_point");
    EXPECT_EQ(zp.dtype, DType::I32);
    EXPECT_EQ(zp.shape, (std::vector<int64_t>{64 * 6 / 32, 64 / 32}));
    EXPECT_EQ(config_of(asym).at("quantization_config").at("config_groups").at("group_0").at("input_activations"), nullptr);

    // Act-order groups: actorder "group" and weight_g_idx.
    const std::string ao = export_ct(quantize("ao", "--wbits 4 --weights gptq --group 16 --act-order"));
    EXPECT_EQ(config_of(ao).at("quantization_config").at("config_groups").at("group_0").at("weights").at("actorder"), "group");
    EXPECT_EQ(SafeTensors::open(ao).get("model.layers.0.mlp.up_proj.weight_g_idx").dtype, DType::I32);

    // OutlierTune on OPT: q/k/v and fc1 read the norm's integer codes (static per-tensor, scale 1), out_proj and
    // fc2 are dynamic per token: two config groups; the symmetrization shift is the norms' and linears' bias.
    const std::string ot = export_ct(quantize("ot", "--method outliertune --wbits 8 --abits 8", ArchFamily::OPT));
    const json groups = config_of(ot).at("quantization_config").at("config_groups");
    ASSERT_EQ(groups.size(), 2u);
    int statics = 0;
    for (const auto& [k, s] : groups.items())
        if (s.at("input_activations").at("dynamic") == false) {
            ++statics;
            EXPECT_EQ(s.at("input_activations").at("strategy"), "tensor");
            EXPECT_EQ(s.at("targets").size(), 4u);
        }
    EXPECT_EQ(statics, 1);
    const SafeTensors so = SafeTensors::open(ot);
    EXPECT_EQ(so.load_f32("model.decoder.layers.0.fc1.input_scale", {1}), std::vector<float>{1.0f});
    EXPECT_TRUE(so.has("model.decoder.layers.0.fc1.bias"));
}

// --dtype bf16: the grids and FP tensors are the source's rounded to BF16 (codes unchanged); int-quantized weight
// scales stay float32, as vLLM holds them.
TEST_F(CompressedTensorsExport, Bf16ExportRoundsScalesAndFloatTensorsOnly) {
    const std::string q = quantize("w4g", "--wbits 4 --group 16 --abits 8 --a-sym");
    const std::string out = export_ct(q, "--dtype bf16");
    const SafeTensors st = SafeTensors::open(out);
    EXPECT_EQ(st.get("model.layers.0.self_attn.q_proj.weight_scale").dtype, DType::BF16);
    EXPECT_EQ(st.get("model.layers.0.input_layernorm.weight").dtype, DType::BF16);
    EXPECT_EQ(st.get("model.embed_tokens.weight").dtype, DType::BF16);
    const Model a = load_model(q), b = load_model(out);
    const auto* fa = dynamic_cast<const FakeQuantLinear*>(a.layers[1].up.get());
    const auto* fb = dynamic_cast<const FakeQuantLinear*>(b.layers[1].up.get());
    ASSERT_TRUE(fa && fb);
    EXPECT_EQ(fa->weight()->codes, fb->weight()->codes);
    for (size_t g = 0; g < fa->weight()->params.size(); ++g)
        EXPECT_EQ(fb->weight()->params[g].scale, bf16_to_f32(f32_to_bf16(fa->weight()->params[g].scale)));
    for (size_t i = 0; i < a.embed.size(); ++i) ASSERT_EQ(b.embed[i], bf16_to_f32(f32_to_bf16(a.embed[i])));
    const std::string w8 = export_ct(quantize("w8b", "--wbits 8 --abits 8"), "--dtype bf16");
    EXPECT_EQ(SafeTensors::open(w8).get("model.layers.0.mlp.down_proj.weight_scale").dtype, DType::F32);
}

TEST_F(CompressedTensorsExport, BadInputIsOneLineExitTwoAndNothingLeftBehind) {
    // Not a quantized directory (an FP checkpoint).
    expect_refused(model(ArchFamily::Llama), "", "not a tameq quantized directory");
    // W6A6: no engine; W6A8 is offered.
    expect_refused(quantize("w6a6", "--wbits 6 --abits 6"), "", "re-quantize as W6A8");
    // R3 (with KV-cache codes): refused unless dropped explicitly, with the engine's KV option named.
    const std::string r3 = quantize("r3", "--rotate rh --wbits 4 --abits 8 --kvbits 4");
    expect_refused(r3, "", "--drop-r3");
    // Block-diagonal R4 is not written as a transform yet (the full H_n would be wrong): refused, naming it.
    expect_refused(quantize("rh-b64", "--wbits 4 --abits 8 --rotate rh --r4 block=64"), "", "r4=block=64");
    const std::string dropped = export_ct(r3, "--drop-r3");
    EXPECT_NE(last_log_.find("warning: --drop-r3"), std::string::npos) << last_log_;
    EXPECT_NE(last_log_.find("--kv-cache-dtype"), std::string::npos) << last_log_;
    EXPECT_FALSE(load_model(dropped).online.had_qk);
    // OutlierTune's shift on a Llama model lives in a norm bias LlamaRMSNorm does not have.
    expect_refused(quantize("ot-llama", "--method outliertune --wbits 8 --abits 8"), "", "symmetrize=false");
    // Per-channel static steps that are not folded.
    expect_refused(quantize("ot-nofold", "--method outliertune --wbits 8 --abits 8 --ot-fold=false", ArchFamily::OPT), "", "ot-fold=true");
    // The output path exists: refused, and left as it was.
    const std::string q = quantize("w8", "--wbits 8 --abits 8");
    fs::create_directory(q + "-ct");
    std::ofstream(q + "-ct/keep") << "x";
    export_ct(q, "", 2);
    EXPECT_NE(last_log_.find("exists; refusing to replace it"), std::string::npos) << last_log_;
    EXPECT_TRUE(fs::exists(q + "-ct/keep"));
    // A format this build does not write.
    std::string log;
    EXPECT_EQ(test::run_tameq("export " + q + " --format awq -o " + (dir_ / "awq").string(), &log), 2) << log;
    EXPECT_FALSE(fs::exists(dir_ / "awq"));
}

TEST_F(CompressedTensorsExport, ReaderRefusesWhatItCannotSimulate) {
    const std::string out = export_ct(quantize("w4", "--wbits 4 --group 16"));
    json c = config_of(out);
    c["quantization_config"]["config_groups"]["group_0"]["weights"]["type"] = "float";
    std::ofstream(out + "/config.json") << c.dump();
    const std::string e = test::error_of([&] { load_model(out); });
    EXPECT_NE(e.find("config.json"), std::string::npos) << e;
    EXPECT_NE(e.find("not simulated"), std::string::npos) << e;
}
