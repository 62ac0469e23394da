// `tameq quantize` end to end on a tiny random model: deterministic bytes, reload equals the in-memory
// simulation, and every bad input is a one-line error with exit code 2 and no output left behind.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "quant/quantized_format.h"
#include "io/safetensors_writer.h"
#include "io/tokenizer.h"
#include "model/engine.h"
#include "support/synthetic.h"
#include "export/open_model.h"
#include "quant/pipeline.h"
#include "test_util.h"
#include "transform/rotations.h"

using namespace tameq;
namespace fs = std::filesystem;

namespace {

class QuantizedDir : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = tameq::test::fresh_test_dir("tameq-qdir");
        SyntheticSpec spec;
        spec.cfg = tiny_config(ArchFamily::Llama, 2);
        spec.massive_value = 30.0f;
        model_ = (dir_ / "model").string();
        write_synthetic_model(model_, spec);
        std::string text;
        for (int i = 0; i < 400; ++i) text += "calibration line number " + std::to_string(i * 7919 % 1000) + " of the text\n";
        calib_ = (dir_ / "calib.txt").string();
        std::ofstream(calib_) << text;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string quantize(const std::string& out, const std::string& flags, int expect_rc = 0) {
        std::string log;
        const int rc = test::run_tameq("quantize " + model_ + " -o " + out + " --calib " + calib_ +
                                           " --calib-ctx 64 --calib-windows 4 " + flags, &log);
        EXPECT_EQ(rc, expect_rc) << flags << "\n" << log;
        return log;
    }
    void expect_error(const std::string& flags, const std::string& needle) {
        const std::string out = (dir_ / "bad-out").string();
        const std::string log = quantize(out, flags, 2);
        EXPECT_NE(log.find(needle), std::string::npos) << flags << "\n" << log;
        EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
        EXPECT_FALSE(fs::exists(out)) << "partial output left by: " << flags;
        for (const auto& e : fs::directory_iterator(dir_))
            EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
    }
    static std::string read_all(const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), {});
    }

    fs::path dir_;
    std::string model_, calib_;
};

std::vector<float> logits_of(const Model& m) {
    const std::vector<int> ids = {1, 80, 81, 90, 120, 130, 140, 150, 160, 170, 180, 190};
    Engine e(m, int(ids.size()));
    std::vector<float> out(ids.size() * size_t(m.cfg.vocab));
    e.forward(ids.data(), int(ids.size()), out.data(), Logits::All);
    return out;
}

}  // namespace

TEST_F(QuantizedDir, SameSeedSameBytesAndReloadEqualsSimulation) {
    const std::string flags = "--rotate rh --wbits 4 --abits 4 --kvbits 4 --weights gptq --group 16 --act-order --seed 5";
    const std::string a = (dir_ / "a").string(), b = (dir_ / "b").string();
    quantize(a, flags);
    quantize(b, flags);
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(a)) files.push_back(e.path().filename().string());
    ASSERT_GE(files.size(), 5u);
    for (const std::string& f : files) EXPECT_EQ(read_all(fs::path(a) / f), read_all(fs::path(b) / f)) << f;

    // The directory reloads into exactly the simulated model the pipeline built in memory.
    Recipe r = quantized_recipe(a);
    EXPECT_EQ(r.rotate, Rotation::RH);
    EXPECT_EQ(r.w_group, 16);
    auto tok = load_tokenizer(model_);
    const Model mem = quantize_in_memory(model_, r, *tok);
    const Model disk = load_model(a);
    EXPECT_TRUE(disk.online.had_down);
    EXPECT_TRUE(disk.online.had_qk);
    EXPECT_EQ(logits_of(mem), logits_of(disk));
    // And a W4 model is not the FP model.
    const Model fp = load_model(model_);
    EXPECT_NE(logits_of(fp), logits_of(disk));

    // Another seed gives another RH, hence other bytes.
    const std::string c = (dir_ / "c").string();
    quantize(c, "--rotate rh --wbits 4 --abits 4 --kvbits 4 --weights gptq --group 16 --act-order --seed 6");
    EXPECT_NE(read_all(fs::path(a) / "model-layer-0000.safetensors"), read_all(fs::path(c) / "model-layer-0000.safetensors"));

    // `tameq info` and `eval ppl` read the directory.
    std::string out;
    EXPECT_EQ(test::run_tameq("info " + a, &out), 0) << out;
    // eval ppl says which engine ran: act-order groups have no integer kernel; plain RTN weights do, with R4 fused
    // into down_proj and the KV cache holding codes.
    EXPECT_EQ(test::run_tameq("eval ppl " + a + " --data " + calib_ + " --ctx 64 --windows 2", &out), 0) << out;
    EXPECT_NE(out.find("simulated for 14 (act-order groups)"), std::string::npos) << out;
    const std::string d = (dir_ / "d").string();
    quantize(d, "--rotate rh --wbits 4 --abits 8 --kvbits 4");
    EXPECT_EQ(test::run_tameq("eval ppl " + d + " --data " + calib_ + " --ctx 64 --windows 2", &out), 0) << out;
    EXPECT_NE(out.find("for 14 linears, R4 fused into down_proj, KV cache stores codes"), std::string::npos) << out;
    EXPECT_EQ(test::run_tameq("eval ppl " + d + " --data " + calib_ + " --ctx 64 --windows 2 --engine sim", &out), 0) << out;
    EXPECT_NE(out.find("simulated quantization (14 linears)"), std::string::npos) << out;
}

TEST_F(QuantizedDir, BadInputIsRefusedWithNothingWritten) {
    expect_error("--wbits 9", "w=9 is out of range (2..8 or 16)");
    expect_error("--abits 1", "a=1 is out of range (2..8 or 16)");
    expect_error("--rotate xyz", "unknown rotation 'xyz' (valid: none, ro, rh, dfrot, file, inner)");
    {
        const std::string shortf = (dir_ / "short.txt").string();
        std::ofstream(shortf) << "too short\n";
        std::string log;
        EXPECT_EQ(test::run_tameq("quantize " + model_ + " -o " + (dir_ / "bad-out").string() +
                                      " --weights gptq --wbits 4 --calib-ctx 64 --calib " + shortf, &log), 2);
        EXPECT_FALSE(fs::exists(dir_ / "bad-out"));
        EXPECT_NE(log.find("short.txt: calibration text too short"), std::string::npos) << log;
    }
    {
        SafeTensorsWriter w;
        w.add_f32("r", {32, 32}, random_orthogonal(32, 1));
        w.write((dir_ / "r32.safetensors").string());
        expect_error("--rotation-file " + (dir_ / "r32.safetensors").string(), "[64, 64]");
        std::vector<float> skew = random_orthogonal(64, 1);
        skew[0] += 0.1f;
        SafeTensorsWriter w2;
        w2.add_f32("r", {64, 64}, skew);
        w2.write((dir_ / "skew.safetensors").string());
        expect_error("--rotation-file " + (dir_ / "skew.safetensors").string(), "skew.safetensors");
    }
    // An output path that exists and is not a quantized model is never replaced.
    fs::create_directories(dir_ / "precious");
    std::ofstream(dir_ / "precious" / "keep.txt") << "x";
    const std::string log = quantize((dir_ / "precious").string(), "--wbits 4", 2);
    EXPECT_NE(log.find("refusing to replace it"), std::string::npos) << log;
    EXPECT_TRUE(fs::exists(dir_ / "precious" / "keep.txt"));
}

TEST_F(QuantizedDir, UnsupportedHadamardSizeIsNamed) {
    SyntheticSpec spec;
    spec.cfg = tiny_config(ArchFamily::Llama, 1);
    spec.cfg.intermediate = 92;  // 23·4: no Hadamard of order 92 is known to tameq (nor 23)
    const std::string odd = (dir_ / "odd").string();
    write_synthetic_model(odd, spec);
    std::string log;
    EXPECT_EQ(test::run_tameq("quantize " + odd + " -o " + (dir_ / "o").string() + " --rotate rh", &log), 2) << log;
    EXPECT_NE(log.find("size 92 is not supported"), std::string::npos) << log;
    EXPECT_FALSE(fs::exists(dir_ / "o"));
    // Without full R4 the intermediate size needs no Hadamard of its own: no R4, or power-of-two blocks of it.
    EXPECT_EQ(test::run_tameq("quantize " + odd + " -o " + (dir_ / "none").string() + " --rotate rh --wbits 4 --r4 none", &log), 0) << log;
    EXPECT_EQ(test::run_tameq("quantize " + odd + " -o " + (dir_ / "b4").string() + " --rotate rh --wbits 4 --r4 block=4", &log), 0) << log;
    EXPECT_EQ(load_model((dir_ / "b4").string()).online.had_down_block, 4);
}

// tameq.json's "online" records R4's block; a directory written before it (no had_down_block) is full R4.
TEST_F(QuantizedDir, R4OptionsAreRecordedAndOldDirectoriesReadAsFull) {
    const std::string flag = (dir_ / "flag").string(), text = (dir_ / "text").string(), none = (dir_ / "none").string();
    quantize(flag, "--rotate rh --wbits 4 --abits 4 --r4 block=64");
    quantize(text, "--recipe rotate=rh,w=4,a=4,r4=block=64");
    for (const char* f : {"tameq.json", "model-layer-0000.safetensors", "model-layer-0001.safetensors"})
        EXPECT_EQ(read_all(fs::path(flag) / f), read_all(fs::path(text) / f)) << f;
    const nlohmann::json meta = nlohmann::json::parse(read_all(fs::path(flag) / "tameq.json"));
    EXPECT_EQ(meta.at("online").at("had_down_block"), 64);
    EXPECT_EQ(meta.at("recipe").at("r4"), "block=64");
    const Model disk = load_model(flag);
    EXPECT_TRUE(disk.online.had_down);
    EXPECT_EQ(disk.online.had_down_block, 64);
    auto tok = load_tokenizer(model_);
    EXPECT_EQ(logits_of(disk), logits_of(quantize_in_memory(model_, quantized_recipe(flag), *tok)));

    quantize(none, "--rotate rh --wbits 4 --abits 4 --kvbits 4 --r4 none --r3 none");
    const Model off = load_model(none);
    EXPECT_FALSE(off.online.had_down);
    EXPECT_FALSE(off.online.had_qk);

    // Strip the field (and the recipe keys) as an older build wrote them: full R4, the same logits as before.
    const std::string full = (dir_ / "full").string();
    quantize(full, "--rotate rh --wbits 4 --abits 4");
    const auto want = logits_of(load_model(full));
    nlohmann::json old = nlohmann::json::parse(read_all(fs::path(full) / "tameq.json"));
    old["online"].erase("had_down_block");
    old["recipe"].erase("r4");
    old["recipe"].erase("r3");
    std::ofstream(fs::path(full) / "tameq.json") << old.dump(2);
    const Model back = load_model(full);
    EXPECT_TRUE(back.online.had_down);
    EXPECT_EQ(back.online.had_down_block, 0);
    EXPECT_EQ(quantized_recipe(full).r4, R4Choice{});
    EXPECT_EQ(logits_of(back), want);
    // A block that does not fit the model is named on load.
    old["online"]["had_down_block"] = 128;
    std::ofstream(fs::path(full) / "tameq.json") << old.dump(2);
    std::string log;
    EXPECT_EQ(test::run_tameq("info " + full, &log), 2) << log;
    EXPECT_NE(log.find("tameq.json: online.had_down_block 128 is not a power of two dividing intermediate size 192"), std::string::npos)
        << log;
}

TEST_F(QuantizedDir, R4BlockThatDoesNotDivideIsRefused) {
    // intermediate 192 = 3·64: 128 does not divide it; the message names the key, the size and what works.
    expect_error("--rotate rh --wbits 4 --r4 block=128", "r4=block=128 does not divide intermediate size 192 of ");
    expect_error("--rotate rh --wbits 4 --recipe r4=block=256", "(blocks that do: powers of two up to 64)");
    expect_error("--wbits 4 --r4 none", "r4=none needs a rotation");
    expect_error("--wbits 4 --kvbits 4 --r3 none", "r3=none needs a rotation");
    expect_error("--rotate rh --r4 block=48", "'r4' block size must be a power of two >= 2, got 48");
}

TEST_F(QuantizedDir, CorruptOrForeignDirectoriesAreRejectedOnLoad) {
    const std::string a = (dir_ / "a").string();
    quantize(a, "--wbits 4 --abits 8");
    std::string log;
    ASSERT_EQ(test::run_tameq("info " + a, &log), 0) << log;

    // Another format version.
    const std::string meta_path = a + "/tameq.json";
    const std::string meta = read_all(meta_path);
    nlohmann::json j = nlohmann::json::parse(meta);
    j["version"] = 99;
    std::ofstream(meta_path) << j.dump();
    EXPECT_EQ(test::run_tameq("info " + a, &log), 2) << log;
    EXPECT_NE(log.find("format version 99; this build reads version 1"), std::string::npos) << log;
    std::ofstream(meta_path) << meta;

    // A scale tensor holding NaN: rejected, never silently wrong numbers.
    const fs::path shard = fs::path(a) / "model-layer-0000.safetensors";
    std::string bytes = read_all(shard);
    const std::string header_len_bytes = bytes.substr(0, 8);
    uint64_t header_len;
    std::memcpy(&header_len, header_len_bytes.data(), 8);
    const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_len));
    const size_t begin = 8 + header_len + header["layers.0.q.scales"]["data_offsets"][0].get<size_t>();
    const float nan = std::nanf("");
    std::memcpy(bytes.data() + begin, &nan, 4);
    std::ofstream(shard, std::ios::binary) << bytes;
    EXPECT_EQ(test::run_tameq("info " + a, &log), 2) << log;
    EXPECT_NE(log.find("layers.0.q.scales: entry 0 = nan is not a positive number"), std::string::npos) << log;
}
