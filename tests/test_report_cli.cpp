// `tameq inspect` and `tameq sweep` on tiny synthetic models: the numbers in the JSON, resuming, bad input.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/synthetic.h"
#include "test_util.h"

using namespace tameq;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class ReportCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = tameq::test::fresh_test_dir("tameq-rcli");
        std::string text;
        for (int i = 0; i < 40; ++i) text += "The quick brown fox jumps over the lazy dog, line " + std::to_string(i) + ".\n";
        text_ = p("text.txt");
        std::ofstream(text_) << text;
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string p(const std::string& name) const { return (dir_ / name).string(); }

    // A tiny model whose BOS embedding has one huge channel: a 1-sparse massive activation in every layer.
    std::string model(ArchFamily f, float massive) {
        const std::string d = p(f == ArchFamily::Llama ? "llama" : "opt");
        SyntheticSpec spec;
        spec.cfg = tiny_config(f, 2);
        spec.massive_value = massive;
        write_synthetic_model(d, spec);
        return d;
    }
    static json read_json(const std::string& path) {
        std::ifstream in(path);
        return json::parse(in);
    }

    fs::path dir_;
    std::string text_;
};

}  // namespace

TEST_F(ReportCli, InspectFindsTheMassiveBosAndRotationsTreatItAsExpected) {
    const std::string m = model(ArchFamily::Llama, 3000.0f);
    std::string out;
    ASSERT_EQ(test::run_tameq("inspect " + m + " --calib " + text_ + " --calib-windows 2 --calib-ctx 48 --dfrot-iters 10 --a-sym -o " + p("i.html") +
                                  " --json " + p("i.json"),
                              &out),
              0)
        << out;
    const json r = read_json(p("i.json"));
    EXPECT_EQ(r["windows"], 2);
    EXPECT_EQ(r["tokens"], 96);
    ASSERT_EQ(r["layers"].size(), 2u);
    // BOS (channel 3 = 3000 against unit-scale noise) is massive in both norms of both layers, in both windows.
    EXPECT_EQ(r["bos"]["checks"], 8);
    EXPECT_EQ(r["bos"]["marked_massive"], 8);
    bool bos_listed = false;
    for (const auto& t : r["layers"][0]["massive_tokens"])
        if (t["position"] == 0 && t["text"] == "<BOS>" && t["channels"][0]["channel"] == 3) bos_listed = true;
    EXPECT_TRUE(bos_listed);
    // Every marking rule finds this BOS in both windows: its max |x| and its norm are far above the median, and
    // being 1-sparse it has almost no unrotated error on the symmetric grid (the public code's rule).
    for (const auto& layer : r["layers"])
        for (const char* input : {"attn_in", "mlp_in"}) {
            const json& marks = layer["quant_error"][input]["marking"];
            EXPECT_EQ(marks["magnitude"]["rows"], 2) << marks.dump();
            for (const char* rule : {"magnitude", "norm", "quant_error"}) EXPECT_EQ(marks[rule]["first_token"], 2) << rule << marks.dump();
        }
    EXPECT_NEAR(r["marking_rules"]["quant_error_threshold"].get<double>(),
                8.5 * std::sqrt(r["hidden"].get<double>() / 4096 * std::log(r["hidden"].get<double>()) / std::log(4096.0)),
                1e-3);
    // A 1-sparse row: RH spreads it to ±c, on the symmetric grid; RO to a Gaussian-looking row, far off it.
    // (Only nearly 1-sparse rows gain: gut-llama-27m's BOS has four unequal channels, see test_report_browser.)
    const json& e = r["bos"]["error_when_massive"];
    EXPECT_GT(e["ro"].get<double>(), 5 * e["rh"].get<double>()) << e.dump();
    EXPECT_LT(e["none"].get<double>(), e["ro"].get<double>()) << e.dump();
    // Cut to its top channel the row is unchanged (1-sparse already), and on the symmetric grid RH holds it exactly.
    const json& sp = r["bos"]["sparsity"];
    EXPECT_LT(sp["rh"][0].get<double>(), 1e-3) << sp.dump();
    EXPECT_GT(sp["ro"][0].get<double>(), 5 * e["rh"].get<double>()) << sp.dump();
    // Synthetic weights are Gaussian: kurtosis ≈ 3 before and after any rotation.
    const json& wk = r["layers"][1]["weights_kurtosis"]["qkv"];
    EXPECT_NEAR(wk["none"].get<double>(), 3.0, 0.3);
    EXPECT_NEAR(wk["rh"].get<double>(), 3.0, 0.3);
    // Symmetrization: each channel's shift lies inside its range, and the massive channel's range is huge.
    const json& s = r["layers"][0]["inputs"]["attn_in"]["symmetrization"];
    for (size_t j = 0; j < s["shift"].size(); ++j) {
        EXPECT_LE(s["min"][j].get<double>(), s["shift"][j].get<double>() + 1e-3);
        EXPECT_GE(s["max"][j].get<double>(), s["shift"][j].get<double>() - 1e-3);
    }
    EXPECT_EQ(r["layers"][0]["inputs"]["attn_residual"]["top_channels"][0]["channel"], 3);
    EXPECT_EQ(r["layers"][0]["inputs"]["attn_residual"]["max_token"]["position"], 0);
    // The page: one section per analysis, each with a chart.
    std::ifstream in(p("i.html"));
    const std::string html((std::istreambuf_iterator<char>(in)), {});
    EXPECT_NE(html.find("<title>tameq inspect: "), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    for (const char* id : {"overview", "massive", "quant-error", "symmetrization", "kurtosis"})
        EXPECT_NE(html.find(std::string("<section id=\"") + id + "\""), std::string::npos) << id;
}

TEST_F(ReportCli, InspectRunsOnOpt) {
    const std::string m = model(ArchFamily::OPT, 300.0f);
    std::string out;
    ASSERT_EQ(test::run_tameq("inspect " + m + " --calib " + text_ + " --calib-windows 1 --calib-ctx 32 --dfrot-iters 2 -o " + p("o.html") +
                                  " --json " + p("o.json"),
                              &out),
              0)
        << out;
    const json r = read_json(p("o.json"));
    EXPECT_EQ(r["family"], "opt");
    EXPECT_TRUE(r["layers"][0]["weights_kurtosis"].contains("fc1"));
    EXPECT_TRUE(r["layers"][0]["inputs"]["down_in"]["kurtosis"].contains("r4"));
}

// The 2026 families' fixtures: Gemma (post-norms, GeGLU), and the mixtures of
// experts, whose down_proj inputs are every expert's routed rows pooled (of the experts' width) and whose MLP-norm
// readers are the router and every expert's gate/up.
TEST_F(ReportCli, InspectRunsOnGemmaAndTheMixturesOfExperts) {
    for (const char* name : {"gemma2", "mixtral", "qwen3-moe"}) {
        const std::string m = test::fixture_path(std::string("families/") + name);
        const nlohmann::json cfg = read_json(m + "/config.json");
        std::string out;
        ASSERT_EQ(test::run_tameq("inspect " + m + " --calib " + text_ + " --calib-windows 2 --calib-ctx 32 --dfrot-iters 2 -o " +
                                      p(std::string(name) + ".html") + " --json " + p(std::string(name) + ".json"),
                                  &out),
                  0)
            << name << ": " << out;
        const json r = read_json(p(std::string(name) + ".json"));
        ASSERT_EQ(r["layers"].size(), size_t(cfg["num_hidden_layers"].get<int>())) << name;
        for (const json& layer : r["layers"]) {
            EXPECT_TRUE(layer["weights_kurtosis"].contains("gate_up")) << name;
            EXPECT_TRUE(layer["weights_kurtosis"].contains("down")) << name;
            const json& down_in = layer["inputs"]["down_in"];
            if (std::string(name) == "gemma2") continue;
            const bool dense = cfg.contains("mlp_only_layers") && !cfg["mlp_only_layers"].empty() &&
                               cfg["mlp_only_layers"][0].get<int>() == layer["index"].get<int>();
            const int width = dense ? cfg["intermediate_size"].get<int>()
                                    : cfg.value("moe_intermediate_size", cfg["intermediate_size"].get<int>());
            EXPECT_EQ(down_in["dim"], width) << name << " layer " << layer["index"];
            // Routed rows have no position in the window.
            EXPECT_EQ(down_in["max_token"]["position"].get<int>() == -1, !dense) << name;
            EXPECT_EQ(layer["inputs"]["mlp_in"]["dim"], cfg["hidden_size"]) << name;
        }
    }
}

TEST_F(ReportCli, SweepWritesReportsAndResumes) {
    const std::string m = model(ArchFamily::Llama, 0.0f);
    const std::string args = "sweep " + m + " --recipes \"fp; rotate=rh,w=4,a=4 ;w=8\" --data " + text_ +
                             " --ctx 32 --windows 2 -o " + p("sw");
    std::string out;
    ASSERT_EQ(test::run_tameq(args, &out), 0) << out;
    EXPECT_NE(out.find("rh W4A4KV16 rtn"), std::string::npos) << out;
    const json doc = read_json(p("sw/sweep.json"));
    ASSERT_EQ(doc["rows"].size(), 3u);
    EXPECT_TRUE(doc["complete"].get<bool>());
    const json& fp = doc["rows"][0];
    EXPECT_EQ(fp["recipe"], "fp");
    EXPECT_EQ(fp["kl"], 0.0);
    const json& rh = doc["rows"][1];
    EXPECT_NEAR(rh["fp_ppl"].get<double>(), fp["ppl"].get<double>(), 1e-6 * fp["ppl"].get<double>());
    EXPECT_NEAR(rh["delta_ppl"].get<double>(), rh["ppl"].get<double>() - fp["ppl"].get<double>(), 1e-9);
    EXPECT_GT(rh["kl"].get<double>(), 0.0);
    EXPECT_LE(rh["top1"].get<double>(), 1.0);
    // W8 is closer to FP than W4A4.
    EXPECT_LT(doc["rows"][2]["kl"].get<double>(), rh["kl"].get<double>());
    // Sizes: FP at 16 bits; W4 ≈ a quarter for the linears, scales included.
    EXPECT_LT(rh["size_mb"].get<double>(), fp["size_mb"].get<double>());
    EXPECT_LT(rh["size_mb"].get<double>(), doc["rows"][2]["size_mb"].get<double>());
    std::ifstream csv(p("sw/sweep.csv"));
    std::string line;
    int lines = 0;
    while (std::getline(csv, line)) ++lines;
    EXPECT_EQ(lines, 4);
    EXPECT_TRUE(fs::exists(p("sw/sweep.html")));

    // Rerun: nothing is recomputed. A marker left by a killed run is reported and that recipe runs again.
    fs::remove(p("sw/runs/" + rh["key"].get<std::string>() + ".json"));
    std::ofstream(p("sw/runs/" + rh["key"].get<std::string>() + ".running")) << "rotate=rh,w=4,a=4\n";
    ASSERT_EQ(test::run_tameq(args, &out), 0) << out;
    EXPECT_NE(out.find("recipe 'rotate=rh,w=4,a=4' was interrupted last time"), std::string::npos) << out;
    EXPECT_NE(out.find("resuming: 2 of 3 recipes already finished"), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(p("sw/runs/" + rh["key"].get<std::string>() + ".running")));
    const json again = read_json(p("sw/sweep.json"));
    EXPECT_NEAR(again["rows"][1]["ppl"].get<double>(), rh["ppl"].get<double>(), 1e-9);  // deterministic
    EXPECT_EQ(again["rows"][0]["seconds"], fp["seconds"]);                              // cached, not rerun
}

// A sweep row is what `eval ppl` prints for the same recipe, engine and windows, to the last digit, and
// says which engine ran; rows of the two engines and of a saved reference are cached under different keys.
TEST_F(ReportCli, SweepRowsRecordTheirEngineAndEqualEvalPpl) {
    const std::string m = model(ArchFamily::Llama, 0.0f);
    const std::string recipe = "rotate=rh,w=4,a=4";
    const std::string windows = " --data " + text_ + " --ctx 32 --windows 2";
    auto eval_ppl = [&](const std::string& args) {
        std::string out;
        EXPECT_EQ(test::run_tameq("eval ppl " + m + windows + " --json " + args, &out), 0) << out;
        return json::parse(out.substr(out.find('{')));
    };
    auto sweep_row = [&](const std::string& dir, const std::string& args) {
        std::string out;
        EXPECT_EQ(test::run_tameq("sweep " + m + " --recipes " + recipe + windows + " -o " + p(dir) + " " + args, &out), 0) << out;
        const json doc = read_json(p(dir + "/sweep.json"));
        EXPECT_EQ(doc["rows"].size(), 1u);
        return doc["rows"][0];
    };
    std::map<std::string, json> rows;
    for (const std::string engine : {"sim", "int"}) {
        const json row = sweep_row("sw-" + engine, "--engine " + engine);
        const json ref = eval_ppl("--recipe " + recipe + " --engine " + engine);
        EXPECT_EQ(row["engine"], engine);
        EXPECT_EQ(row["engine_description"], ref["engine"]);
        EXPECT_EQ(row["engine_description"].get<std::string>().rfind(engine == "sim" ? "simulated quantization" : "integer kernels", 0), 0u)
            << row["engine_description"];
        EXPECT_EQ(row["ppl"].get<double>(), ref["ppl"].get<double>()) << engine;
        EXPECT_EQ(row["fp_ppl"].get<double>(), ref["ref_ppl"].get<double>()) << engine;
        EXPECT_EQ(row["kl"].get<double>(), ref["kl_mean"].get<double>()) << engine;
        EXPECT_EQ(row["top1"].get<double>(), ref["top1_agree"].get<double>()) << engine;
        EXPECT_EQ(row["tokens_scored"], ref["tokens_scored"]);
        rows[engine] = row;
    }
    EXPECT_NE(rows["sim"]["key"], rows["int"]["key"]);
    EXPECT_NE(rows["sim"]["ppl"].get<double>(), rows["int"]["ppl"].get<double>());  // the integer sums round differently

    // The FP model's logits saved by eval ppl serve as the reference: the same KL as against the FP model itself.
    eval_ppl("--save-logits " + p("fp.logits"));
    const json saved = sweep_row("sw-saved", "--engine sim --kl-base " + p("fp.logits"));
    const json ref = eval_ppl("--recipe " + recipe + " --engine sim --kl-base " + p("fp.logits"));
    EXPECT_EQ(saved["kl"].get<double>(), ref["kl_mean"].get<double>());
    EXPECT_EQ(saved["kl"].get<double>(), rows["sim"]["kl"].get<double>());
    EXPECT_EQ(saved["fp_ppl"].get<double>(), rows["sim"]["fp_ppl"].get<double>());
    EXPECT_NE(saved["key"], rows["sim"]["key"]);
}

TEST_F(ReportCli, BadInputIsAOneLineErrorAndWritesNothing) {
    const std::string m = model(ArchFamily::Llama, 0.0f);
    auto expect_error = [&](const std::string& args, const std::string& needle) {
        std::string out;
        EXPECT_EQ(test::run_tameq(args, &out), 2) << args << "\n" << out;
        EXPECT_NE(out.find(needle), std::string::npos) << args << "\n" << out;
        EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    };
    expect_error("sweep " + m + " --recipes \"fp;rotate=rh,bogus=1\" --data " + text_ + " -o " + p("s1"),
                 "unknown key 'bogus' (valid: method, rotate");
    EXPECT_FALSE(fs::exists(p("s1")));
    expect_error("sweep " + m + " --recipes \"fp;rotate=spin\" --data " + text_ + " -o " + p("s2"), "unknown rotation 'spin'");
    expect_error("sweep " + m + " --recipes fp --data " + text_ + " -o " + text_ + "/sub", "cannot create the output directory");
    // A recipe the model cannot take fails as itself, not as an "interrupted" run: no marker is left.
    // Post-LN OPT: its LayerNorms sit on the residual, so no rotation is exact (pre-LN OPT rotates).
    const std::string opt = p("opt-post-ln");
    SyntheticSpec post_ln;
    post_ln.cfg = tiny_config(ArchFamily::OPT, 2);
    post_ln.cfg.pre_layer_norm = false;
    write_synthetic_model(opt, post_ln);
    expect_error("sweep " + opt + " --recipes \"rotate=rh,w=4\" --data " + text_ + " --ctx 16 --windows 1 -o " + p("s3"),
                 "post-LN OPT (do_layer_norm_before=false)");
    EXPECT_TRUE(fs::is_empty(p("s3/runs")));
    expect_error("inspect " + m + " --calib " + text_ + " -o " + p("missing/dir/r.html"), "missing/dir/r.html: cannot write");
    expect_error("inspect " + m + " --calib " + text_ + " -o " + p("r.html") + " --json " + p("nodir/r.json"), "r.json: cannot write");
    EXPECT_FALSE(fs::exists(p("r.html")));
    for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}
