// The recipe key table (quant/recipe.h): every key reads from text, writes and reads back from JSON under
// its on-disk name, is a quantize flag, composes with --recipe, and fails with one line naming itself.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/safetensors_writer.h"
#include "support/synthetic.h"
#include "quant/recipe.h"
#include "test_util.h"
#include "transform/rotations.h"

using namespace tameq;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using tameq::test::error_of;

// A value other than the default for every key, valid on its own; a key added to the table without one
// fails EveryKeyHasASampleValue.
const std::map<std::string, std::string> kSample = {
    {"method", "smoothquant"}, {"rotate", "rh"},          {"rotation-file", "r1.safetensors"},
    {"seed", "18446744073709551615"},                     {"w", "4"},
    {"a", "8"},                {"kv", "2"},              {"weights", "gptq"},
    {"w-asym", "true"},        {"w-narrow", "true"},     {"group", "128"},         {"w-clip-search", "false"},
    {"act-order", "true"},     {"gptq-damp", "0.05"},    {"a-sym", "true"},
    {"a-clip", "0.9"},         {"kv-clip", "0.95"},      {"keep-massive", "true"},
    {"calib", "c.txt"},        {"calib-windows", "3"},   {"calib-ctx", "48"},
    {"alpha", "0.25"},         {"symmetrize", "false"},  {"ot-clip-search", "true"},
    {"ot-fold", "false"},      {"gamma", "50"},          {"dfrot-iters", "3"},
    {"dfrot-windows", "2"},    {"dfrot-rows", "100"},    {"marking", "quant-error"},
    {"r4", "block=64"},        {"r3", "none"},           {"alpha-min", "0.2"},     {"alpha-max", "0.8"},
    {"alpha-steps", "4"},      {"search-clip", "true"},
};

// Keys that only mean something in a rotation recipe (refused without one): their sample needs rotate=rh.
std::string context_of(std::string_view key) { return key == "r4" || key == "r3" ? "rotate=rh," : ""; }

const RecipeKey& key(const std::string& name) {
    const RecipeKey* k = find_recipe_key(name);
    if (!k) throw std::runtime_error("no recipe key " + name);
    return *k;
}

}  // namespace

TEST(RecipeKeys, EveryKeyHasASampleValue) {
    EXPECT_EQ(kSample.size(), std::size(kRecipeKeys));
    const Recipe defaults;
    for (const RecipeKey& k : kRecipeKeys) {
        ASSERT_TRUE(kSample.count(std::string(k.key))) << k.key;
        EXPECT_NE(kSample.at(std::string(k.key)), recipe_key_value(defaults, k)) << k.key;
    }
}

TEST(RecipeKeys, EveryKeyRoundTripsTextToJsonAndBack) {
    for (const RecipeKey& k : kRecipeKeys) {
        const std::string value = kSample.at(std::string(k.key));
        const Recipe r = parse_recipe(context_of(k.key) + std::string(k.key) + "=" + value);
        EXPECT_EQ(recipe_key_value(r, k), value) << k.key;
        if (!k.alias.empty()) {
            EXPECT_EQ(recipe_key_value(parse_recipe(context_of(k.key) + std::string(k.alias) + "=" + value), k), value) << k.alias;
        }
        const json j = r;
        ASSERT_TRUE(j.contains(std::string(k.json))) << k.json;
        const Recipe back = j.get<Recipe>();
        for (const RecipeKey& other : kRecipeKeys)
            EXPECT_EQ(recipe_key_value(back, other), recipe_key_value(r, other)) << k.key << " then " << other.key;
    }
    // All at once (not a valid recipe together, so set without validation): JSON keeps each one.
    Recipe all;
    for (const RecipeKey& k : kRecipeKeys) set_recipe_key(all, k, kSample.at(std::string(k.key)));
    const Recipe back = json(all).get<Recipe>();
    for (const RecipeKey& k : kRecipeKeys) EXPECT_EQ(recipe_key_value(back, k), recipe_key_value(all, k)) << k.key;
}

TEST(RecipeKeys, DefaultJsonIsTheOnDiskFormat) {
    // tameq.json of a default recipe as the hand-written to_json wrote it before the table: names, types
    // (floats as doubles, the seed unsigned) and values must not change, or old directories read differently.
    EXPECT_EQ(json(Recipe{}).dump(),
              R"({"a_clip":1.0,"a_sym":false,"abits":16,"act_order":false,"calib_ctx":1024,"calib_file":"","calib_windows":32,)"
              R"("dfrot_gamma":100.0,"dfrot_iters":100,"dfrot_marking":"magnitude","dfrot_rows":0,"dfrot_windows":1,)"
              R"("gptq_damp":0.009999999776482582,"keep_massive_fp":false,"kv_clip":1.0,"kvbits":16,"method":"rtn",)"
              R"("ot_clip_search":false,"ot_fold":true,"r3":"on","r4":"full","rotate":"none","rotation_file":"",)"
              R"("search_alpha_max":1.0,"search_alpha_min":0.0,"search_alpha_steps":10,"search_clip":false,"seed":0,"sq_alpha":0.5,)"
              R"("symmetrize":true,"w_asym":false,"w_clip_search":true,"w_group":0,"w_narrow":false,"wbits":16,"weights":"rtn"})");
    EXPECT_TRUE(json(Recipe{})["seed"].is_number_unsigned());
    // A field missing from an older file keeps its default.
    const Recipe r = json::parse(R"({"rotate":"rh","wbits":4})").get<Recipe>();
    EXPECT_EQ(r.rotate, Rotation::RH);
    EXPECT_EQ(r.wbits, 4);
    EXPECT_EQ(r.calib_windows, 32);
    // Directories from before r4/r3 ran QuaRot's full R4 and R3: the defaults.
    EXPECT_EQ(r.r4, R4Choice{});
    EXPECT_EQ(r.r3, OnlineR3::On);
}

TEST(RecipeKeys, R4AndR3Spellings) {
    EXPECT_EQ(parse_recipe("rotate=rh").r4.block, R4Choice::kFull);
    EXPECT_EQ(parse_recipe("rotate=rh,r4=full").r4.block, R4Choice::kFull);
    EXPECT_EQ(parse_recipe("rotate=rh,r4=none").r4.block, R4Choice::kNone);
    // The text splits each item at its first '=', so the value may hold one.
    EXPECT_EQ(parse_recipe("rotate=dfrot,r4=block=128,w=4").r4.block, 128);
    EXPECT_EQ(compose_recipe("rotate=rh", {{&key("r4"), "block=512"}}).r4.block, 512);
    EXPECT_EQ(parse_recipe("rotate=rh,kv=4,r3=none").r3, OnlineR3::None);
    EXPECT_EQ(recipe_key_value(parse_recipe("rotate=rh,r4=block=256"), key("r4")), "block=256");
    EXPECT_EQ(json(parse_recipe("rotate=rh,r4=block=256"))["r4"], "block=256");
    EXPECT_EQ(json::parse(R"({"rotate":"rh","r4":"none","r3":"none"})").get<Recipe>().r4.block, R4Choice::kNone);
    EXPECT_EQ(parse_recipe("rotate=rh,w=4,a=4,r4=block=128").summary(), "rh W4A4KV16 rtn r4=block=128");
    EXPECT_EQ(parse_recipe("rotate=rh,w=4,a=4,kv=4,r4=none,r3=none").summary(), "rh W4A4KV4 rtn r4=none r3=none");

    EXPECT_EQ(error_of([] { parse_recipe("rotate=rh,r4=block=96"); }), "recipe: 'r4' block size must be a power of two >= 2, got 96");
    EXPECT_EQ(error_of([] { parse_recipe("rotate=rh,r4=block=1"); }), "recipe: 'r4' block size must be a power of two >= 2, got 1");
    EXPECT_EQ(error_of([] { parse_recipe("rotate=rh,r4=block=x"); }), "recipe: 'r4' needs an integer, got 'x'");
    EXPECT_EQ(error_of([] { parse_recipe("rotate=rh,r4=128"); }),
              "recipe: 'r4' needs full, none or block=B (B a power of two, e.g. block=128), got '128'");
    EXPECT_EQ(error_of([] { parse_recipe("rotate=rh,r3=off"); }), "recipe: unknown r3 'off' (valid: on, none)");
    EXPECT_EQ(error_of([] { json::parse(R"({"r4":"block=3"})").get<Recipe>(); }),
              "recipe: 'r4' block size must be a power of two >= 2, got 3");
    // Without a rotation there is no online Hadamard to change: any r4/r3 key is refused, the defaults too.
    const std::string why = " needs a rotation (rotate=ro|rh|dfrot|file|inner): online Hadamards exist only in rotation recipes";
    EXPECT_EQ(error_of([] { parse_recipe("w=4,r4=none"); }), "recipe: r4=none" + why);
    EXPECT_EQ(error_of([] { parse_recipe("r4=block=128"); }), "recipe: r4=block=128" + why);
    EXPECT_EQ(error_of([] { parse_recipe("r4=full"); }), "recipe: r4=full" + why);
    EXPECT_EQ(error_of([] { parse_recipe("kv=4,r3=on"); }), "recipe: r3=on" + why);
    EXPECT_EQ(error_of([] { compose_recipe("w=4", {{&key("r3"), "none"}}); }), "recipe: r3=none" + why);
    EXPECT_EQ(error_of([] { compose_recipe("method=smoothquant,w=8,a=8", {{&key("r4"), "full"}}); }), "recipe: r4=full" + why);
}

TEST(RecipeKeys, SummaryIsUnchanged) {
    EXPECT_EQ(parse_recipe("").summary(), "rtn W16A16KV16");
    EXPECT_EQ(parse_recipe("rotate=rh,w=4,a=4,weights=gptq").summary(), "rh W4A4KV16 gptq");
    EXPECT_EQ(parse_recipe("rotate=dfrot,w=4,a=4,kv=4,group=128,keep-massive=1").summary(), "dfrot W4A4KV4 rtn g128 massive-fp");
    EXPECT_EQ(parse_recipe("method=smoothquant,w=8,a=8").summary(), "smoothquant W8A8KV16 rtn alpha=0.50");
    EXPECT_EQ(parse_recipe("method=outliertune,w=8,a=8,symmetrize=false").summary(), "outliertune W8A8KV16 rtn unshifted");
}

TEST(RecipeKeys, UnknownKeyMessageListsEveryKey) {
    const std::string msg = error_of([] { parse_recipe("rotate=rh,bogus=1"); });
    const std::string head = "recipe: unknown key 'bogus' (valid: ";
    ASSERT_EQ(msg.rfind(head, 0), 0u) << msg;
    ASSERT_EQ(msg.back(), ')') << msg;
    std::vector<std::string> listed;
    std::stringstream ss(msg.substr(head.size(), msg.size() - head.size() - 1));
    for (std::string item; std::getline(ss, item, ',');) listed.push_back(item.substr(item[0] == ' ' ? 1 : 0));
    ASSERT_EQ(listed.size(), std::size(kRecipeKeys)) << msg;
    for (const RecipeKey& k : kRecipeKeys)
        EXPECT_NE(std::find(listed.begin(), listed.end(), k.key), listed.end()) << k.key << " missing from: " << msg;
    EXPECT_EQ(listed[0], "method");
    EXPECT_EQ(listed[4], "w");
}

TEST(RecipeKeys, BadEnumValuesNameTheChoices) {
    const std::map<std::string, std::string> expected = {
        {"method", "recipe: unknown method 'x' (valid: rtn, outliertune, smoothquant, ot-search)"},
        {"rotate", "recipe: unknown rotation 'x' (valid: none, ro, rh, dfrot, file, inner)"},
        {"weights", "recipe: unknown weight quantizer 'x' (valid: rtn, gptq)"},
        {"marking", "recipe: unknown massive-token marking 'x' (valid: magnitude, quant-error)"},
    };
    for (const auto& [k, msg] : expected) {
        EXPECT_EQ(error_of([&] { parse_recipe(k + "=x"); }), msg);
        // The same from a tameq.json that holds a value this build does not know.
        EXPECT_EQ(error_of([&] { json::object({{std::string(key(k).json), "x"}}).get<Recipe>(); }), msg);
    }
    // The names are the enum's table, in the enum's order.
    EXPECT_EQ(choice_name(Rotation::DFRot), "dfrot");
    EXPECT_EQ(parse_choice<MassiveMarking>("quant-error"), MassiveMarking::QuantError);
    EXPECT_EQ(model_rotation_names(), (std::vector<std::string>{"none", "ro", "rh", "dfrot"}));
}

TEST(RecipeKeys, BadValuesAreOneLineNamingTheKey) {
    EXPECT_EQ(error_of([] { parse_recipe("w=9"); }), "recipe: w=9 is out of range (2..8 or 16)");
    EXPECT_EQ(error_of([] { parse_recipe("abits=1"); }), "recipe: a=1 is out of range (2..8 or 16)");
    EXPECT_EQ(error_of([] { parse_recipe("a-clip=0"); }), "recipe: a-clip=0 is out of range ((0, 1])");
    EXPECT_EQ(error_of([] { parse_recipe("kv-clip=nan"); }), "recipe: kv-clip=nan is out of range ((0, 1])");
    EXPECT_EQ(error_of([] { parse_recipe("alpha=1.5"); }), "recipe: alpha=1.5 is out of range ([0, 1])");
    EXPECT_EQ(error_of([] { parse_recipe("calib-ctx=1"); }), "recipe: calib-ctx=1 is out of range (>= 2)");
    EXPECT_EQ(error_of([] { parse_recipe("gptq-damp=-0.1"); }), "recipe: gptq-damp=-0.1 is out of range (>= 0)");
    EXPECT_EQ(error_of([] { parse_recipe("w=four"); }), "recipe: 'w' needs an integer, got 'four'");
    EXPECT_EQ(error_of([] { parse_recipe("gamma=1x"); }), "recipe: 'gamma' needs a number, got '1x'");
    EXPECT_EQ(error_of([] { parse_recipe("seed=-1"); }), "recipe: 'seed' needs a non-negative integer, got '-1'");
    EXPECT_EQ(error_of([] { parse_recipe("w-asym=maybe"); }), "recipe: 'w-asym' needs true or false, got 'maybe'");
    EXPECT_EQ(error_of([] { parse_recipe("w4"); }), "recipe: 'w4' is not key=value");
    // Asymmetric 8-bit codes (0..255) would wrap in the int8 codes of the simulated weights.
    EXPECT_EQ(error_of([] { parse_recipe("w=8,w-asym=true"); }),
              "recipe: w-asym with w=8 is not supported (codes 0..255 do not fit int8); use w=8 symmetric or w<=7");
    EXPECT_EQ(parse_recipe("w=7,w-asym=true").wbits, 7);
    EXPECT_EQ(error_of([] { parse_recipe("w=4,wbits=8"); }), "recipe: 'w' is given twice");
    // The edges of the ranges are in.
    EXPECT_EQ(parse_recipe("w=2,a=8,kv=16,a-clip=1,alpha=0,group=0,dfrot-iters=0").wbits, 2);
}

TEST(RecipeKeys, RotationFileImpliesRotateFile) {
    EXPECT_EQ(parse_recipe("rotation-file=r.safetensors").rotate, Rotation::File);
    EXPECT_EQ(parse_recipe("rotate=file,rotation-file=r.safetensors").rotation_file, "r.safetensors");
    EXPECT_EQ(error_of([] { parse_recipe("rotate=file"); }), "recipe: rotate=file needs a rotation file");
    EXPECT_EQ(error_of([] { parse_recipe("rotate=rh,rotation-file=r.st"); }),
              "recipe: rotation-file r.st needs rotate=file, got rotate=rh");
    EXPECT_EQ(error_of([] { parse_recipe("rotation-file=r.st,rotate=ro"); }),
              "recipe: rotation-file r.st needs rotate=file, got rotate=ro");
}

TEST(RecipeKeys, FlagsApplyAfterTheTextAndConflictsFail) {
    const Recipe r = compose_recipe("rotate=rh,w=4", {{&key("abits"), "8"}, {&key("calib"), "c.txt"}});
    EXPECT_EQ(r.rotate, Rotation::RH);
    EXPECT_EQ(r.wbits, 4);
    EXPECT_EQ(r.abits, 8);
    EXPECT_EQ(r.calib_file, "c.txt");
    EXPECT_EQ(error_of([] { compose_recipe("w=4", {{&key("wbits"), "4"}}); }),
              "recipe: 'w' is given both in --recipe and as a flag (--w or --wbits)");
    EXPECT_EQ(error_of([] { compose_recipe("rotate=rh,calib=a.txt", {{&key("calib"), "b.txt"}}); }),
              "recipe: 'calib' is given both in --recipe and as a flag (--calib)");
    // Flags are validated with the text: a range error of a flag names its key.
    EXPECT_EQ(error_of([] { compose_recipe("rotate=rh", {{&key("kv"), "9"}}); }), "recipe: kv=9 is out of range (2..8 or 16)");
}

namespace {

class RecipeCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = tameq::test::fresh_test_dir("tameq-recipe");
        SyntheticSpec spec;
        spec.cfg = tiny_config(ArchFamily::Llama, 2);
        model_ = p("model");
        write_synthetic_model(model_, spec);
        std::string text;
        for (int i = 0; i < 400; ++i) text += "calibration line number " + std::to_string(i * 7919 % 1000) + " of the text\n";
        calib_ = p("calib.txt");
        std::ofstream(calib_) << text;
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string p(const std::string& name) const { return (dir_ / name).string(); }
    static std::string read_all(const fs::path& f) {
        std::ifstream in(f, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), {}};
    }
    static Recipe recipe_of(const std::string& out) {
        return json::parse(read_all(fs::path(out) / "tameq.json")).at("recipe").get<Recipe>();
    }

    fs::path dir_;
    std::string model_, calib_;
};

}  // namespace

TEST_F(RecipeCli, EveryKeyIsAFlag) {
    const int hidden = tiny_config(ArchFamily::Llama, 2).hidden;
    const std::string r1 = p("r1.safetensors");
    SafeTensorsWriter w;
    w.add_f32("R1", {hidden, hidden}, random_orthogonal(hidden, 3));
    w.write(r1);
    // One quantize with every key as a flag (bools as --key or --key=false, the old spellings where they
    // exist): a valid rotate=file GPTQ recipe, the channel-method and DFRot keys recorded but unused.
    std::map<std::string, std::string> values = kSample;
    values["method"] = "rtn";  // channel methods do not combine with rotations (method has its own run below)
    values["rotate"] = "file";
    values["rotation-file"] = r1;
    values["calib"] = calib_;
    values["kv"] = "8";
    values["group"] = "16";
    values["w-narrow"] = "false";  // a symmetric-only option, and the sample recipe is asymmetric
    std::string flags;
    for (const RecipeKey& k : kRecipeKeys) {
        const std::string v = values.at(std::string(k.key)), name(k.alias.empty() ? k.key : k.alias);
        if (v == "true") flags += " --" + name;
        else if (v == "false") flags += " --" + name + "=false";
        else flags += " --" + name + " " + v;
    }
    const std::string out = p("all");
    std::string log;
    ASSERT_EQ(test::run_tameq("quantize " + model_ + " -o " + out + flags, &log), 0) << flags << "\n" << log;
    const Recipe r = recipe_of(out);
    for (const RecipeKey& k : kRecipeKeys) EXPECT_EQ(recipe_key_value(r, k), values.at(std::string(k.key))) << k.key;

    ASSERT_EQ(test::run_tameq("quantize " + model_ + " --out " + p("sq") + " --calib " + calib_ +
                                  " --calib-windows 2 --calib-ctx 48 --method smoothquant --w 8 --a 8 --alpha 0.25", &log), 0)
        << log;
    EXPECT_EQ(recipe_of(p("sq")).method, Method::SmoothQuant);
    EXPECT_EQ(recipe_of(p("sq")).sq_alpha, 0.25f);
}

TEST_F(RecipeCli, RecipeAndFlagsComposeToTheSameBytes) {
    std::string log;
    ASSERT_EQ(test::run_tameq("quantize " + model_ + " -o " + p("text") + " --recipe rotate=rh,w=4 --abits 8 --kv 4 --seed 5", &log), 0)
        << log;
    ASSERT_EQ(test::run_tameq("quantize " + model_ + " --output " + p("flags") + " --rotate rh --wbits 4 --abits 8 --kvbits 4 --seed 5", &log), 0)
        << log;
    const Recipe r = recipe_of(p("text"));
    EXPECT_EQ(r.rotate, Rotation::RH);
    EXPECT_EQ(r.wbits, 4);
    EXPECT_EQ(r.abits, 8);  // was dropped before flags composed with --recipe
    EXPECT_EQ(r.kvbits, 4);
    EXPECT_EQ(r.seed, 5u);
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(p("text"))) {
        EXPECT_EQ(read_all(e.path()), read_all(fs::path(p("flags")) / e.path().filename())) << e.path().filename();
        ++files;
    }
    EXPECT_GT(files, 3u);
}

TEST_F(RecipeCli, AKeyGivenTwiceIsAOneLineError) {
    for (const std::string& args : std::vector<std::string>{"--recipe w=4 --wbits 4", "--recipe wbits=4 --w 8", "--recipe w=4,w=8",
                                                           "--w 4 --wbits 8", "--rotate spin", "--recipe rotate=rh,bogus=1"}) {
        std::string log;
        EXPECT_EQ(test::run_tameq("quantize " + model_ + " -o " + p("bad") + " " + args, &log), 2) << args << "\n" << log;
        EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
        EXPECT_FALSE(fs::exists(p("bad"))) << args;
        if (args.find("--recipe w") == 0 && args.find(',') == std::string::npos) {
            EXPECT_NE(log.find("'w' is given both in --recipe and as a flag"), std::string::npos) << log;
        }
        if (args == "--w 4 --wbits 8" || args == "--recipe w=4,w=8") {
            EXPECT_NE(log.find("'w' is given twice"), std::string::npos) << log;
        }
    }
    std::string log;
    test::run_tameq("quantize " + model_ + " -o " + p("bad") + " --rotate spin", &log);
    EXPECT_NE(log.find("unknown rotation 'spin' (valid: none, ro, rh, dfrot, file, inner)"), std::string::npos) << log;
}

TEST(RecipeHelp, ReadmeHoldsTheHelpOutput) {
    std::string help;
    ASSERT_EQ(test::run_tameq("help recipe", &help), 0) << help;
    for (const RecipeKey& k : kRecipeKeys) {
        const std::string row = "| " + std::string(k.key) + " ";
        EXPECT_NE(help.find(row), std::string::npos) << k.key;
    }
    EXPECT_NE(help.find("| gptq-damp      |        | float >= 0"), std::string::npos) << help;
    std::ifstream in(std::string(TAMEQ_FIXTURES_DIR) + "/../../README.md");
    const std::string readme{std::istreambuf_iterator<char>(in), {}};
    const std::string begin = "<!-- recipe-keys:begin -->\n", end = "<!-- recipe-keys:end -->";
    const size_t b = readme.find(begin), e = readme.find(end);
    ASSERT_NE(b, std::string::npos);
    ASSERT_NE(e, std::string::npos);
    EXPECT_EQ(readme.substr(b + begin.size(), e - b - begin.size()), help)
        << "README.md's recipe keys differ from `tameq help recipe`: run scripts/gen-readme-recipe.sh";
    std::string log;
    EXPECT_EQ(test::run_tameq("help flags", &log), 2);
    EXPECT_NE(log.find("help: unknown topic 'flags' (topics: recipe)"), std::string::npos) << log;
}
