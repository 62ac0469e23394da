#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/half.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "test_util.h"

using namespace tameq;

namespace {

std::string make_blob(const std::string& header, size_t data_bytes) {
    std::string out(8, '\0');
    uint64_t n = header.size();
    std::memcpy(out.data(), &n, 8);
    out += header;
    out.append(data_bytes, '\0');
    return out;
}

std::map<std::string, TensorView> parse(const std::string& blob) {
    return parse_safetensors(reinterpret_cast<const uint8_t*>(blob.data()), blob.size(), "t.safetensors");
}

}  // namespace

TEST(SafeTensors, ParsesValidHeaderAndConvertsDtypes) {
    std::string blob = make_blob(
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[8,12]},)"
        R"("c":{"dtype":"F16","shape":[2],"data_offsets":[12,16]},"__metadata__":{"format":"pt"}})",
        16);
    float a[2] = {1.5f, -2.25f};
    uint16_t b[2] = {f32_to_bf16(3.0f), f32_to_bf16(-0.5f)};
    uint16_t c[2] = {f32_to_f16(0.333251953125f), f32_to_f16(65504.0f)};
    size_t base = blob.size() - 16;
    std::memcpy(blob.data() + base, a, 8);
    std::memcpy(blob.data() + base + 8, b, 4);
    std::memcpy(blob.data() + base + 12, c, 4);
    auto t = parse(blob);
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t["a"].to_f32(), (std::vector<float>{1.5f, -2.25f}));
    EXPECT_EQ(t["b"].shape, (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(t["b"].to_f32(), (std::vector<float>{3.0f, -0.5f}));
    EXPECT_EQ(t["c"].to_f32(), (std::vector<float>{0.333251953125f, 65504.0f}));
}

TEST(SafeTensors, RejectsCorruptInput) {
    EXPECT_THROW(parse("abc"), Error);
    EXPECT_THROW(parse(make_blob("{not json", 0)), Error);
    std::string bad_len = make_blob("{}", 0);
    uint64_t huge = 1u << 20;
    std::memcpy(bad_len.data(), &huge, 8);
    EXPECT_THROW(parse(bad_len), Error);
    EXPECT_THROW(parse(make_blob(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8)), Error);  // out of range
    EXPECT_THROW(parse(make_blob(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)), Error);   // size mismatch
    EXPECT_THROW(parse(make_blob(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8)), Error);    // dtype
    EXPECT_THROW(parse(make_blob(
                     R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                     12)),
                 Error);  // overlap
    try {
        parse(make_blob(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("t.safetensors: tensor 'w'"), std::string::npos) << e.what();
    }
}

TEST(Half, RoundTripsExactly) {
    for (uint32_t h = 0; h < 65536; ++h) {
        uint16_t x = uint16_t(h);
        float f = f16_to_f32(x);
        if (f != f) continue;  // NaN payloads
        EXPECT_EQ(f32_to_f16(f), x) << h;
        float g = bf16_to_f32(x);
        if (g != g) continue;
        EXPECT_EQ(f32_to_bf16(g), x) << h;
    }
    EXPECT_EQ(f32_to_bf16(1.0f + 1.0f / 256.0f), f32_to_bf16(1.0f));  // ties to even
}

TEST(HfConfig, ParsesSharedModels) {
    TAMEQ_REQUIRE_SHARED();
    ModelConfig l = load_hf_config(test::shared_path("models/gut-llama-27m"));
    EXPECT_EQ(l.family, ArchFamily::Llama);
    EXPECT_EQ(l.hidden, 512);
    EXPECT_EQ(l.n_kv_heads, 4);
    EXPECT_EQ(l.intermediate, 1536);
    EXPECT_FLOAT_EQ(l.rope_theta, 10000.0f);  // from rope_parameters
    EXPECT_FALSE(l.tie_embeddings);
    ModelConfig o = load_hf_config(test::shared_path("models/gut-opt-24m"));
    EXPECT_EQ(o.family, ArchFamily::OPT);
    EXPECT_EQ(o.intermediate, 2048);
    EXPECT_TRUE(o.tie_embeddings);
    EXPECT_EQ(o.bos_id, 2);
    SafeTensors st = SafeTensors::open(test::shared_path("models/gut-llama-27m"));
    EXPECT_EQ(st.get("model.embed_tokens.weight").shape, (std::vector<int64_t>{8192, 512}));
    EXPECT_EQ(st.get("model.embed_tokens.weight").dtype, DType::BF16);
}

TEST(HfConfig, Llama3RopeAndQwenBias) {
    auto c = parse_hf_config(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_hidden_layers":1,
        "num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":128,"vocab_size":100,"rope_theta":500000.0,
        "rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
        "original_max_position_embeddings":8192}})", "c.json");
    EXPECT_EQ(c.rope_scaling.type, "llama3");
    EXPECT_FLOAT_EQ(c.rope_theta, 500000.0f);
    auto q = parse_hf_config(R"({"architectures":["Qwen2ForCausalLM"],"hidden_size":64,"num_hidden_layers":1,
        "num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":128,"vocab_size":100,"tie_word_embeddings":true})",
                             "q.json");
    EXPECT_TRUE(q.qkv_bias);
    EXPECT_FALSE(q.o_bias);
    EXPECT_TRUE(q.tie_embeddings);
    EXPECT_THROW(parse_hf_config(R"({"architectures":["GPTNeoXForCausalLM"]})", "x.json"), Error);
    EXPECT_THROW(parse_hf_config(R"({"architectures":["LlamaForCausalLM"],"hidden_size":"big"})", "x.json"), Error);
}
