// GGUF writer: an independent reader parses the files back (header, metadata, tensor infos, alignment), and
// Q8_0/Q4_0 blocks are checked byte by byte against the formats' definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <variant>

#include <unistd.h>

#include "common/half.h"
#include "io/gguf_writer.h"
#include "model/model.h"
#include "support/synthetic.h"
#include "export/open_model.h"
#include "model/fake_quant.h"
#include "quant/quantized_format.h"
#include "test_util.h"

namespace {

using namespace tameq;
namespace fs = std::filesystem;

// What a reader needs from a GGUF file, parsed with no help from the writer's code.
struct Parsed {
    uint32_t magic = 0, version = 0;
    using Value = std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<std::string>, std::vector<double>>;
    std::map<std::string, Value> kv;
    struct Info {
        std::vector<uint64_t> ne;  // ne0 first
        uint32_t type;
        uint64_t offset;
    };
    std::map<std::string, Info> tensors;
    std::vector<std::string> order;
    uint64_t data_start = 0;
    std::string bytes;

    const uint8_t* data(const std::string& name) const {
        return reinterpret_cast<const uint8_t*>(bytes.data() + data_start + tensors.at(name).offset);
    }
};

class Cursor {
public:
    explicit Cursor(const std::string& b) : b_(b) {}
    template <typename T>
    T get() {
        if (pos_ + sizeof(T) > b_.size()) throw std::runtime_error("truncated");
        T v;
        std::memcpy(&v, b_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::string str() {
        const auto n = get<uint64_t>();
        std::string s = b_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    size_t pos() const { return pos_; }

private:
    const std::string& b_;
    size_t pos_ = 0;
};

double scalar(Cursor& c, uint32_t type) {
    switch (type) {
        case 4: return c.get<uint32_t>();
        case 5: return c.get<int32_t>();
        case 6: return c.get<float>();
        default: throw std::runtime_error("unexpected scalar type " + std::to_string(type));
    }
}

Parsed parse(const std::string& path) {
    Parsed p;
    std::ifstream in(path, std::ios::binary);
    p.bytes.assign(std::istreambuf_iterator<char>(in), {});
    Cursor c(p.bytes);
    p.magic = c.get<uint32_t>();
    p.version = c.get<uint32_t>();
    const auto n_tensors = c.get<uint64_t>(), n_kv = c.get<uint64_t>();
    for (uint64_t i = 0; i < n_kv; ++i) {
        const std::string key = c.str();
        const auto type = c.get<uint32_t>();
        if (type == 8) {
            p.kv[key] = c.str();
        } else if (type == 7) {
            p.kv[key] = c.get<uint8_t>() != 0;
        } else if (type == 9) {
            const auto et = c.get<uint32_t>();
            const auto n = c.get<uint64_t>();
            if (et == 8) {
                std::vector<std::string> v;
                for (uint64_t j = 0; j < n; ++j) v.push_back(c.str());
                p.kv[key] = v;
            } else {
                std::vector<double> v;
                for (uint64_t j = 0; j < n; ++j) v.push_back(scalar(c, et));
                p.kv[key] = v;
            }
        } else if (type == 6) {
            p.kv[key] = scalar(c, type);
        } else {
            p.kv[key] = uint64_t(scalar(c, type));
        }
    }
    for (uint64_t i = 0; i < n_tensors; ++i) {
        const std::string name = c.str();
        Parsed::Info info;
        const auto nd = c.get<uint32_t>();
        for (uint32_t d = 0; d < nd; ++d) info.ne.push_back(c.get<uint64_t>());
        info.type = c.get<uint32_t>();
        info.offset = c.get<uint64_t>();
        p.tensors[name] = info;
        p.order.push_back(name);
    }
    p.data_start = (c.pos() + 31) / 32 * 32;
    return p;
}

class GgufTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = tameq::test::fresh_test_dir("tameq-gguf");
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(GgufTest, HeaderMetadataTensorInfosAndAlignment) {
    std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f};  // 20 bytes: the next tensor needs 12 bytes of padding
    std::vector<float> b(6);
    for (int i = 0; i < 6; ++i) b[size_t(i)] = 0.1f * float(i) - 0.2f;
    std::vector<float> q(2 * 64);
    for (size_t i = 0; i < q.size(); ++i) q[i] = std::sin(float(i));

    gguf::Writer w;
    w.add_string("general.architecture", "llama");
    w.add_u32("llama.block_count", 7);
    w.add_f32("llama.rope.freq_base", 10000.0f);
    w.add_bool("tokenizer.ggml.add_bos_token", true);
    w.add_strings("tokenizer.ggml.tokens", {"<s>", "a b", ""});
    w.add_i32s("tokenizer.ggml.token_type", {3, 1, -5});
    w.add_tensor("a", {5}, gguf::TensorType::F32, a.data());
    w.add_tensor("b", {2, 3}, gguf::TensorType::F16, b.data());
    w.add_tensor("q", {2, 64}, gguf::TensorType::Q8_0, q.data());
    const std::string path = (dir_ / "t.gguf").string();
    w.write(path);

    const Parsed p = parse(path);
    EXPECT_EQ(std::string(p.bytes.data(), 4), "GGUF");
    EXPECT_EQ(p.version, 3u);
    ASSERT_EQ(p.kv.size(), 6u);
    EXPECT_EQ(std::get<std::string>(p.kv.at("general.architecture")), "llama");
    EXPECT_EQ(std::get<uint64_t>(p.kv.at("llama.block_count")), 7u);
    EXPECT_EQ(std::get<double>(p.kv.at("llama.rope.freq_base")), 10000.0);
    EXPECT_TRUE(std::get<bool>(p.kv.at("tokenizer.ggml.add_bos_token")));
    EXPECT_EQ(std::get<std::vector<std::string>>(p.kv.at("tokenizer.ggml.tokens")), (std::vector<std::string>{"<s>", "a b", ""}));
    EXPECT_EQ(std::get<std::vector<double>>(p.kv.at("tokenizer.ggml.token_type")), (std::vector<double>{3, 1, -5}));

    ASSERT_EQ(p.order, (std::vector<std::string>{"a", "b", "q"}));
    EXPECT_EQ(p.tensors.at("a").ne, (std::vector<uint64_t>{5}));
    EXPECT_EQ(p.tensors.at("b").ne, (std::vector<uint64_t>{3, 2}));  // ne0 = columns
    EXPECT_EQ(p.tensors.at("q").ne, (std::vector<uint64_t>{64, 2}));
    EXPECT_EQ(p.tensors.at("a").type, 0u);
    EXPECT_EQ(p.tensors.at("b").type, 1u);
    EXPECT_EQ(p.tensors.at("q").type, 8u);
    EXPECT_EQ(p.tensors.at("a").offset, 0u);
    EXPECT_EQ(p.tensors.at("b").offset, 32u);  // 20 bytes rounded up to the alignment
    EXPECT_EQ(p.tensors.at("q").offset, 64u);  // 12 bytes of F16 rounded up
    EXPECT_EQ(p.bytes.size(), p.data_start + 64 + 4 * 34 + 24);  // 4 Q8_0 blocks, padded to a multiple of 32

    EXPECT_EQ(std::memcmp(p.data("a"), a.data(), 20), 0);
    for (int i = 0; i < 6; ++i) {
        uint16_t h;
        std::memcpy(&h, p.data("b") + 2 * i, 2);
        EXPECT_EQ(h, f32_to_f16(b[size_t(i)])) << i;
    }
    std::vector<uint8_t> expect(4 * 34);
    gguf::quantize_q8_0(q.data(), q.size(), expect.data());
    EXPECT_EQ(std::memcmp(p.data("q"), expect.data(), expect.size()), 0);
}

float block_scale(const uint8_t* blk) {
    uint16_t h;
    std::memcpy(&h, blk, 2);
    return f16_to_f32(h);
}

TEST(GgufQuant, Q8_0KnownBlock) {
    std::vector<float> x(32);
    for (int i = 0; i < 32; ++i) x[size_t(i)] = float(i - 16);  // amax 16: d = 16/127
    uint8_t blk[34];
    gguf::quantize_q8_0(x.data(), 32, blk);
    EXPECT_EQ(block_scale(blk), f16_to_f32(f32_to_f16(16.0f / 127.0f)));
    const auto code = [&](int i) { return int(int8_t(blk[2 + i])); };
    EXPECT_EQ(code(0), -127);   // -16 · 127/16
    EXPECT_EQ(code(1), -119);   // -15 · 7.9375 = -119.06
    EXPECT_EQ(code(16), 0);
    EXPECT_EQ(code(17), 8);     // 7.9375 rounds to 8
    EXPECT_EQ(code(31), 119);
    std::vector<float> y(32);
    gguf::dequantize_q8_0(blk, 32, y.data());
    for (int i = 0; i < 32; ++i) EXPECT_NEAR(y[size_t(i)], x[size_t(i)], 0.5 * 16 / 127 + 0.01) << i;
}

TEST(GgufQuant, Q4_0KnownBlocks) {
    // Negative extreme: x = i − 16, the largest |x| is −16 so d = −16/−8 = 2 and code = floor(x/2 + 8.5).
    std::vector<float> x(32);
    for (int i = 0; i < 32; ++i) x[size_t(i)] = float(i - 16);
    uint8_t blk[18];
    gguf::quantize_q4_0(x.data(), 32, blk);
    EXPECT_EQ(block_scale(blk), 2.0f);
    EXPECT_EQ(blk[2 + 0], 0x80);   // element 0: code 0 (low nibble); element 16 (x = 0): code 8 (high)
    EXPECT_EQ(blk[2 + 1], 0x91);   // element 1 (x = −15): 1; element 17 (x = 1): floor(9) = 9
    EXPECT_EQ(blk[2 + 15], 0xF8);  // element 15 (x = −1): 8; element 31 (x = 15): 16 clamps to 15

    // Positive extreme: d = 10/−8 = −1.25 maps 10 to code 0 and −5 to 12; zeros to 8.
    std::vector<float> z(32, 0.0f);
    z[0] = 10.0f;
    z[16] = -5.0f;
    gguf::quantize_q4_0(z.data(), 32, blk);
    EXPECT_EQ(block_scale(blk), -1.25f);
    EXPECT_EQ(blk[2 + 0], 0xC0);
    for (int i = 1; i < 16; ++i) EXPECT_EQ(blk[2 + i], 0x88) << i;
    std::vector<float> y(32);
    gguf::dequantize_q4_0(blk, 32, y.data());
    EXPECT_EQ(y, z);

    // An all-zero block: d = 0 and every code is the zero point 8.
    std::vector<float> zero(32, 0.0f);
    gguf::quantize_q4_0(zero.data(), 32, blk);
    EXPECT_EQ(block_scale(blk), 0.0f);
    for (int i = 0; i < 16; ++i) EXPECT_EQ(blk[2 + i], 0x88);
}

TEST(GgufQuant, RoundTripErrorWithinHalfAStep) {
    std::vector<float> x(32 * 64);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i)) * float(1 + i % 7);
    std::vector<uint8_t> q8(64 * 34), q4(64 * 18);
    gguf::quantize_q8_0(x.data(), x.size(), q8.data());
    gguf::quantize_q4_0(x.data(), x.size(), q4.data());
    std::vector<float> y8(x.size()), y4(x.size());
    gguf::dequantize_q8_0(q8.data(), x.size(), y8.data());
    gguf::dequantize_q4_0(q4.data(), x.size(), y4.data());
    for (size_t b = 0; b < 64; ++b) {
        const float d8 = std::fabs(block_scale(q8.data() + 34 * b)), d4 = std::fabs(block_scale(q4.data() + 18 * b));
        for (size_t i = 32 * b; i < 32 * b + 32; ++i) {
            // Half a step, plus the code times d's rounding to f16 (relative 2^-11): 127·d·2^-11 < 0.07·d.
            EXPECT_LE(std::fabs(y8[i] - x[i]), 0.57f * d8) << i;
            // Q4_0's positive side ends at 7·d: values past it clamp (error up to one step).
            EXPECT_LE(std::fabs(y4[i] - x[i]), 1.01f * d4) << i;
        }
    }
}

TEST_F(GgufTest, ExportedLlamaHasLlamaCppLayoutAndInterleavedRope) {
    SyntheticSpec spec;
    spec.cfg = tiny_config(ArchFamily::Llama);
    const std::string model = (dir_ / "m").string();
    write_synthetic_model(model, spec);
    const std::string out = (dir_ / "m.gguf").string();
    ASSERT_EQ(test::run_tameq("export " + model + " --format gguf -o " + out + " --type f32"), 0);

    const Model m = load_model(model);
    const ModelConfig& c = m.cfg;
    const Parsed p = parse(out);
    EXPECT_EQ(std::get<std::string>(p.kv.at("general.architecture")), "llama");
    EXPECT_EQ(std::get<uint64_t>(p.kv.at("llama.block_count")), uint64_t(c.n_layers));
    EXPECT_EQ(std::get<uint64_t>(p.kv.at("llama.attention.head_count_kv")), uint64_t(c.n_kv_heads));
    EXPECT_EQ(std::get<uint64_t>(p.kv.at("llama.feed_forward_length")), uint64_t(c.intermediate));
    const auto& tokens = std::get<std::vector<std::string>>(p.kv.at("tokenizer.ggml.tokens"));
    ASSERT_EQ(tokens.size(), size_t(c.vocab));
    EXPECT_EQ(std::get<std::vector<double>>(p.kv.at("tokenizer.ggml.token_type"))[size_t(c.bos_id)], 3.0);  // control
    EXPECT_EQ(p.tensors.size(), size_t(3 + 9 * c.n_layers));  // + token_embd, output_norm, output
    for (const auto& [name, info] : p.tensors) EXPECT_EQ(info.offset % 32, 0u) << name;
    EXPECT_EQ(p.tensors.at("blk.0.attn_k.weight").ne, (std::vector<uint64_t>{uint64_t(c.hidden), uint64_t(c.n_kv_heads * c.head_dim)}));

    // GGUF q row h·d + 2i + j holds Hugging Face row h·d + j·d/2 + i; v is copied as is.
    const auto* q = reinterpret_cast<const float*>(p.data("blk.1.attn_q.weight"));
    const auto& hf_q = as_dense(*m.layers[1].q).weight;
    const int d = c.head_dim, H = c.hidden;
    for (int h = 0; h < c.n_heads; ++h)
        for (int i = 0; i < d / 2; ++i)
            for (int j = 0; j < 2; ++j)
                for (int col = 0; col < H; col += 7)
                    ASSERT_EQ(q[(size_t(h) * d + 2 * i + j) * H + col], hf_q[(size_t(h) * d + j * d / 2 + i) * H + col]);
    const auto* v = reinterpret_cast<const float*>(p.data("blk.1.attn_v.weight"));
    const auto& hf_v = as_dense(*m.layers[1].v).weight;
    EXPECT_EQ(std::memcmp(v, hf_v.data(), hf_v.size() * 4), 0);
}

TEST_F(GgufTest, ExportRejectsOptAndUnknownType) {
    SyntheticSpec spec;
    spec.cfg = tiny_config(ArchFamily::OPT);
    const std::string model = (dir_ / "opt").string();
    write_synthetic_model(model, spec);
    std::string out;
    EXPECT_EQ(test::run_tameq("export " + model + " -o " + (dir_ / "x.gguf").string(), &out), 2);
    EXPECT_NE(out.find("Llama family only"), std::string::npos) << out;
    EXPECT_EQ(test::run_tameq("export " + model + " -o " + (dir_ / "y.gguf").string() + " --type q5_k", &out), 2);
    EXPECT_NE(out.find("'q5_k' is not one of"), std::string::npos) << out;
}

// Q4_1 against its definition: d = (max − min)/15, m = min, c = trunc((x − min)/d + 0.5) (ggml's
// quantize_row_q4_1_ref), element i in the low nibble of byte i, element 16 + i in the high one.
TEST(GgufQuant, Q4_1BlockByHand) {
    std::vector<float> x(32);
    for (int i = 0; i < 32; ++i) x[size_t(i)] = -1.0f + 0.125f * float(i % 17);  // min −1, max 1: d = 2/15
    std::vector<uint8_t> b(20);
    gguf::quantize_q4_1(x.data(), 32, b.data());
    EXPECT_EQ(f16_to_f32(uint16_t(b[0] | b[1] << 8)), f16_to_f32(f32_to_f16(2.0f / 15.0f)));
    EXPECT_EQ(f16_to_f32(uint16_t(b[2] | b[3] << 8)), -1.0f);
    // x[3] = −0.625: (0.375)·7.5 + 0.5 = 3.3125 → 3; x[19] = −1 + 0.125·2 = −0.75: 1.875 + 0.5 → 2.
    EXPECT_EQ(b[4 + 3], uint8_t(3 | 2 << 4));
    std::vector<float> y(32);
    gguf::dequantize_q4_1(b.data(), 32, y.data());
    for (int i = 0; i < 32; ++i) EXPECT_NEAR(y[size_t(i)], x[size_t(i)], 0.5f * 2.0f / 15.0f + 1e-3f) << i;
}

// tameq's codes become blocks without rounding: Q4_0 c = q + 8, Q4_1 c = q with m = −s·z, Q8_0 q as is.
TEST(GgufQuant, CodeBlocksByHand) {
    int8_t q[32];
    for (int i = 0; i < 32; ++i) q[i] = int8_t(i % 16 - 8);
    uint8_t b0[18], b1[20], b8[34];
    gguf::encode_q4_0_block(q, 0.5f, b0);
    EXPECT_EQ(b0[0] | b0[1] << 8, 0x3800);  // f16 0.5
    EXPECT_EQ(b0[2 + 5], uint8_t((5 - 8 + 8) | (21 % 16 - 8 + 8) << 4));
    int8_t c[32];
    for (int i = 0; i < 32; ++i) c[i] = int8_t(i % 16);
    gguf::encode_q4_1_block(c, 0.25f, -1.5f, b1);
    EXPECT_EQ(b1[0] | b1[1] << 8, 0x3400);  // f16 0.25
    EXPECT_EQ(b1[2] | b1[3] << 8, 0xBE00);  // f16 −1.5
    EXPECT_EQ(b1[4 + 15], uint8_t(15 | 15 << 4));
    std::vector<float> y(32);
    gguf::dequantize_q4_1(b1, 32, y.data());
    EXPECT_EQ(y[7], 0.25f * 7 - 1.5f);
    for (int i = 0; i < 32; ++i) q[i] = int8_t(i * 8 - 127);
    gguf::encode_q8_0_block(q, 2.0f, b8);
    EXPECT_EQ(b8[0] | b8[1] << 8, 0x4000);  // f16 2
    EXPECT_EQ(int8_t(b8[2 + 31]), int8_t(31 * 8 - 127));
}

// A quantized directory's matrices in the GGUF are tameq's dequantized weights, up to the f16 rounding of
// the block scales (|Δ| ≤ |q|·|s − f16(s)| per element), q/k rows in llama.cpp's order; the refusals name
// the recipe that would export.
class GgufQuantizedExport : public GgufTest {
protected:
    std::string model() {
        const std::string m = (dir_ / "m").string();
        if (!fs::exists(m)) {
            SyntheticSpec spec;
            spec.cfg = tiny_config(ArchFamily::Llama);
            write_synthetic_model(m, spec);
        }
        return m;
    }
    std::string quantize(const std::string& name, const std::string& flags) {
        const std::string out = (dir_ / name).string();
        std::string log;
        EXPECT_EQ(test::run_tameq("quantize " + model() + " -o " + out + " " + flags, &log), 0) << log;
        return out;
    }
    // Every block matrix of the GGUF against the directory's dequantized weights.
    void expect_codes_exported(const std::string& qdir, uint32_t type) {
        const std::string out = qdir + ".gguf";
        std::string log;
        ASSERT_EQ(test::run_tameq("export " + qdir + " -o " + out, &log), 0) << log;
        EXPECT_NE(log.find("matrices from tameq's codes"), std::string::npos) << log;
        const Parsed p = parse(out);
        const Model m = load_model(qdir);
        const ModelConfig& c = m.cfg;
        const char* names[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
        for (int li = 0; li < c.n_layers; ++li) {
            const Layer& l = m.layers[size_t(li)];
            const Linear* lins[] = {l.q.get(), l.k.get(), l.v.get(), l.o.get(), l.gate.get(), l.up.get(), l.down.get()};
            for (int t = 0; t < 7; ++t) {
                const std::string name = "blk." + std::to_string(li) + "." + names[t] + ".weight";
                const auto* fq = dynamic_cast<const FakeQuantLinear*>(lins[t]);
                ASSERT_TRUE(fq && fq->weight()) << name;
                const QuantizedWeight& w = *fq->weight();
                ASSERT_EQ(p.tensors.at(name).type, type) << name;
                std::vector<float> got(size_t(w.rows) * w.cols);
                gguf::dequantize(gguf::TensorType(type), p.data(name), got.size(), got.data());
                const std::vector<float> want = w.dequantize();
                const bool rope = t < 2;
                const int heads = t == 0 ? c.n_heads : c.n_kv_heads, d = c.head_dim;
                for (int r = 0; r < w.rows; ++r) {
                    // GGUF row of stored row r: within each head, half j, index i -> 2i + j.
                    const int h = r / d, j = (r % d) / (d / 2), i = r % (d / 2);
                    const int gr = rope ? h * d + 2 * i + j : r;
                    ASSERT_LT(h, rope ? heads : w.rows);
                    for (int col = 0; col < w.cols; ++col) {
                        const QParams g = w.params[size_t(r) * (w.params.size() / size_t(w.rows)) + size_t(w.group_of(col))];
                        const int code = w.codes[size_t(r) * w.cols + col];
                        const float tol = (float(std::abs(code)) + std::fabs(g.zero)) * g.scale * 1.0e-3f + 1e-7f;
                        ASSERT_NEAR(got[size_t(gr) * w.cols + col], want[size_t(r) * w.cols + col], tol) << name << " " << r << "," << col;
                    }
                }
            }
        }
    }
};

TEST_F(GgufQuantizedExport, SymmetricInt4IsQ4_0PerChannelAndGrouped) {
    expect_codes_exported(quantize("w4", "--wbits 4 --abits 8"), 2);
    expect_codes_exported(quantize("w4g32", "--wbits 4 --group 64"), 2);
}

TEST_F(GgufQuantizedExport, AsymmetricInt4IsQ4_1) { expect_codes_exported(quantize("w4a", "--wbits 4 --w-asym --group 32"), 3); }

TEST_F(GgufQuantizedExport, NarrowInt8IsQ8_0) { expect_codes_exported(quantize("w8n", "--wbits 8 --w-narrow"), 8); }

TEST_F(GgufQuantizedExport, RefusalsNameTheRecipeThatExports) {
    std::string log;
    auto refused = [&](const std::string& qdir, const std::string& needle) {
        const std::string out = qdir + ".gguf";
        EXPECT_EQ(test::run_tameq("export " + qdir + " -o " + out, &log), 2) << log;
        EXPECT_NE(log.find(needle), std::string::npos) << log;
        EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
        EXPECT_FALSE(fs::exists(out));
        EXPECT_FALSE(fs::exists(out + ".tmp"));
    };
    refused(quantize("g16", "--wbits 4 --group 16"), "--group 32");
    const std::string rh = quantize("rh", "--wbits 4 --rotate rh");
    refused(rh, "--fold-online");
    refused(quantize("w8", "--wbits 8"), "w-narrow");  // the clip search clamps some values to −128
    const std::string calib = (dir_ / "calib.txt").string();
    std::string text;
    for (int i = 0; i < 400; ++i) text += "calibration line number " + std::to_string(i * 7919 % 1000) + " of the text\n";
    std::ofstream(calib) << text;
    refused(quantize("ot", "--method outliertune --wbits 8 --abits 8 --calib-windows 4 --calib-ctx 64 --calib " + calib),
            "OutlierTune");
    // With --fold-online the R4 recipe exports: down_proj rounded by ggml's rule, the rest from tameq's codes.
    ASSERT_EQ(test::run_tameq("export " + rh + " -o " + rh + ".gguf --fold-online", &log), 0) << log;
    EXPECT_NE(log.find("R4 folded into down_proj"), std::string::npos) << log;
    EXPECT_NE(log.find("rounded by ggml's rule"), std::string::npos) << log;
    // Block-diagonal R4 folds too (its blocks, not the full H_n).
    const std::string b64 = quantize("rh-b64", "--wbits 4 --rotate rh --r4 block=64");
    refused(b64, "--fold-online");
    ASSERT_EQ(test::run_tameq("export " + b64 + " -o " + b64 + ".gguf --fold-online", &log), 0) << log;
    EXPECT_NE(log.find("R4 folded into down_proj"), std::string::npos) << log;
    // An existing output is never overwritten.
    EXPECT_EQ(test::run_tameq("export " + rh + " -o " + rh + ".gguf --fold-online", &log), 2);
    EXPECT_NE(log.find("exists"), std::string::npos) << log;
    EXPECT_EQ(test::run_tameq("export " + (dir_ / "nothing").string() + " -o " + (dir_ / "n.gguf").string(), &log), 2);
}

}  // namespace
