#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/tokenizer.h"
#include "io/utf8.h"
#include "test_util.h"

using namespace tameq;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << path;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct VocabCase {
    std::string text;
    std::vector<int> ids;
};

// llama.cpp's test vectors: texts separated by "\n__ggml_vocab_test__\n", one line of expected ids per text.
std::vector<VocabCase> read_llama_cpp_cases(const std::string& stem) {
    std::string raw = read_file(test::shared_path("tokenizers/tests/" + stem + ".inp"));
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<VocabCase> cases;
    for (size_t pos = 0; pos < raw.size();) {
        size_t next = raw.find(sep, pos);
        if (next == std::string::npos) next = raw.size();
        cases.push_back({raw.substr(pos, next - pos), {}});
        pos = next + sep.size();
    }
    std::istringstream out(read_file(test::shared_path("tokenizers/tests/" + stem + ".out")));
    std::string line;
    for (size_t i = 0; std::getline(out, line); ++i) {
        if (i >= cases.size()) break;
        std::istringstream ids(line);
        for (int id; ids >> id;) cases[i].ids.push_back(id);
    }
    return cases;
}

void expect_matches(const Tokenizer& tok, const std::vector<VocabCase>& cases, bool round_trip) {
    ASSERT_EQ(cases.size(), 46u);
    for (const auto& c : cases) {
        std::vector<int> ids = tok.encode(c.text);
        EXPECT_EQ(ids, c.ids) << "text: '" << c.text << "'";
        if (round_trip) {
            EXPECT_EQ(tok.decode(ids), c.text);
        }
    }
}

// Feeds ids one at a time; checks every chunk is whole UTF-8 and that the chunks add up to decode(ids).
void expect_streams(const Tokenizer& tok, const std::vector<int>& ids) {
    TokenStreamer streamer(tok);
    std::string all;
    for (int id : ids) {
        std::string chunk = streamer.push(id);
        EXPECT_EQ(utf8_invalid_offset(chunk), std::string_view::npos) << "chunk '" << chunk << "'";
        all += chunk;
    }
    all += streamer.flush();
    EXPECT_EQ(all, tok.decode(ids));
}

std::unique_ptr<Tokenizer> gut() { return load_tokenizer(test::shared_path("models/gut-llama-27m")); }

// A tokenizer.json with the 256 byte-level characters as ids 0..255 (in byte order) and three merges.
std::string tiny_tokenizer_json(bool pair_merges, const std::string& model_type = "BPE") {
    nlohmann::json vocab = nlohmann::json::object();
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        std::string ch;
        utf8_append(ch, printable ? uint32_t(b) : next++);
        vocab[ch] = b;
    }
    vocab["Ġt"] = 256;
    vocab["he"] = 257;
    vocab["Ġthe"] = 258;
    nlohmann::json merges = pair_merges ? nlohmann::json::parse(R"([["Ġ","t"],["h","e"],["Ġt","he"]])")
                                        : nlohmann::json::parse(R"(["Ġ t","h e","Ġt he"])");
    nlohmann::json j = {
        {"version", "1.0"},
        {"added_tokens", {{{"id", 259}, {"content", "<s>"}, {"special", true}}}},
        {"normalizer", nullptr},
        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
        {"decoder", {{"type", "ByteLevel"}}},
        {"model", {{"type", model_type}, {"vocab", vocab}, {"merges", merges}}},
    };
    return j.dump();
}

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(TokenizerJson, TinyVocabularyMergesByRank) {
    for (bool pairs : {true, false}) {
        auto tok = load_tokenizer_json_text(tiny_tokenizer_json(pairs), "tiny.json");
        EXPECT_EQ(tok->vocab_size(), 260);
        EXPECT_EQ(tok->bos_id(), 259);
        EXPECT_EQ(tok->eos_id(), -1);
        // " the" merges fully; " hat" has no merge for "Ġh", so it stays as the bytes ' ' 'h' 'a' 't'.
        EXPECT_EQ(tok->encode(" the hat"), (std::vector<int>{258, 32, 104, 97, 116}));
        EXPECT_EQ(tok->encode("the<s>he"), (std::vector<int>{116, 257, 259, 257}));
        EXPECT_EQ(tok->decode({258, 259, 10}), " the<s>\n");
        EXPECT_EQ(tok->describe(), "byte-level BPE (tokenizer.json), 260 tokens");
    }
}

TEST(TokenizerErrors, BadInputNamesTheFile) {
    EXPECT_NE(error_of([] { load_tokenizer("/nonexistent/tok"); }).find("/nonexistent/tok: no such file"),
              std::string::npos);
    EXPECT_NE(error_of([] { load_tokenizer_json_text("{\"model\": [", "t.json"); }).find("t.json: invalid JSON"),
              std::string::npos);
    EXPECT_NE(error_of([] { load_tokenizer_json_text(tiny_tokenizer_json(true, "WordPiece"), "wp.json"); })
                  .find("wp.json: tokenizer model type 'WordPiece' is not supported"),
              std::string::npos);
    EXPECT_NE(error_of([] { load_tokenizer_json_text(tiny_tokenizer_json(true, "Unigram"), "u.json"); })
                  .find("'Unigram' is not supported"),
              std::string::npos);
    EXPECT_NE(error_of([] { load_tokenizer_json_text(R"({"model": {"type": "BPE", "vocab": 3, "merges": []}})", "m.json"); })
                  .find("m.json: model.vocab is not an object"),
              std::string::npos);
    auto tok = load_tokenizer_json_text(tiny_tokenizer_json(true), "tiny.json");
    EXPECT_EQ(error_of([&] { tok->encode("ok \xC3(", "prompt.txt"); }), "prompt.txt: invalid UTF-8 at byte 3");
    EXPECT_EQ(error_of([&] { tok->encode("\xED\xA0\x80", "x"); }), "x: invalid UTF-8 at byte 0");  // a surrogate
    EXPECT_EQ(error_of([&] { tok->decode({5, 260}); }), "tiny.json: unknown token id 260 (the vocabulary has 260 tokens)");
    EXPECT_EQ(error_of([&] { tok->decode({-1}); }), "tiny.json: unknown token id -1 (the vocabulary has 260 tokens)");
}

TEST(TokenizerUtf8, ValidatesAndFindsCompletePrefix) {
    EXPECT_EQ(utf8_invalid_offset("aé€😀"), std::string_view::npos);
    EXPECT_EQ(utf8_invalid_offset("a\xC0\x80"), 1u);           // overlong
    EXPECT_EQ(utf8_invalid_offset("ab\xF4\x90\x80\x80"), 2u);  // past U+10FFFF
    EXPECT_EQ(utf8_invalid_offset("\x80"), 0u);
    EXPECT_EQ(utf8_complete_prefix("a\xF0\x9F\x98"), 1u);
    EXPECT_EQ(utf8_complete_prefix("a\xF0\x9F\x98\x80"), 5u);
    EXPECT_EQ(utf8_complete_prefix("ab\xC3"), 2u);
}

TEST(TokenizerGpt2, MatchesLlamaCppVectors) {
    TAMEQ_REQUIRE_SHARED();
    auto tok = load_tokenizer(test::shared_path("tokenizers/gpt2"));
    EXPECT_EQ(tok->vocab_size(), 50257);
    EXPECT_EQ(tok->bos_id(), 50256);
    EXPECT_EQ(tok->eos_id(), 50256);
    expect_matches(*tok, read_llama_cpp_cases("gpt-2"), true);
    EXPECT_EQ(tok->encode("a<|endoftext|>b"), (std::vector<int>{64, 50256, 65}));
    auto same = load_tokenizer(test::shared_path("tokenizers/gpt2/vocab.bpe"));
    EXPECT_EQ(same->encode("Hello world"), (std::vector<int>{15496, 995}));
}

TEST(TokenizerSpm, MatchesLlamaCppVectors) {
    TAMEQ_REQUIRE_SHARED();
    auto tok = load_tokenizer(test::shared_path("tokenizers/llama2"));
    EXPECT_EQ(tok->vocab_size(), 32000);
    EXPECT_EQ(tok->bos_id(), 1);
    EXPECT_EQ(tok->eos_id(), 2);
    EXPECT_EQ(tok->describe(), "SentencePiece (tokenizer.model), 32000 tokens");
    // llama.cpp's ids assume SentencePiece's dummy prefix: "Hello" and " Hello" differ by a leading "▁" (29871).
    expect_matches(*tok, read_llama_cpp_cases("llama-spm"), true);
    EXPECT_EQ(error_of([&] { tok->decode({32000}); }),
              test::shared_path("tokenizers/llama2/tokenizer.model") +
                  ": unknown token id 32000 (the vocabulary has 32000 tokens)");
}

TEST(TokenizerGut, SpecialsAndRoundTrip) {
    TAMEQ_REQUIRE_SHARED();
    auto tok = gut();
    EXPECT_EQ(tok->describe(), "byte-level BPE (tokenizer.json), 8192 tokens");
    EXPECT_EQ(tok->bos_id(), 1);
    EXPECT_EQ(tok->eos_id(), 2);
    EXPECT_EQ(tok->encode("<s>"), (std::vector<int>{1}));
    EXPECT_EQ(tok->encode("</s><unk><pad>"), (std::vector<int>{2, 0, 3}));
    EXPECT_EQ(tok->decode({1, 2}), "<s></s>");
    for (const auto& c : read_llama_cpp_cases("gpt-2")) {
        std::vector<int> ids = tok->encode(c.text);
        EXPECT_EQ(tok->decode(ids), c.text);
        std::vector<int> with_special = tok->encode("<s>" + c.text);
        ids.insert(ids.begin(), 1);
        EXPECT_EQ(with_special, ids) << c.text;
        expect_streams(*tok, ids);
    }
}

TEST(TokenizerGut, MatchesHuggingFaceReference) {
    TAMEQ_REQUIRE_SHARED();
    std::string path = test::fixture_path("ref/gut_tokenizer_cases.json");
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent: no Hugging Face reference ids to compare";
    auto tok = gut();
    auto j = nlohmann::json::parse(read_file(path));
    ASSERT_FALSE(j.at("cases").empty());
    for (const auto& c : j.at("cases")) {
        std::string text = c.at("text").get<std::string>();
        EXPECT_EQ(tok->encode(text), c.at("ids").get<std::vector<int>>()) << "text: '" << text << "'";
    }
}

TEST(TokenizerGut, EncodesEvalBookQuicklyAndExactly) {
    TAMEQ_REQUIRE_SHARED();
    auto tok = gut();
    std::string text = read_file(test::shared_path("data/gutenberg/eval.txt"));
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int> ids = tok->encode(text, "eval.txt");
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "eval.txt: " << text.size() << " bytes -> " << ids.size() << " tokens in " << seconds << " s\n";
    EXPECT_LT(seconds, 5.0);
    EXPECT_GT(ids.size(), text.size() / 6);  // a trained 8k vocabulary: about 4 bytes per token
    EXPECT_EQ(tok->decode(ids), text);
}

TEST(TokenizerGut, MatchesHuggingFaceEvalIds) {
    TAMEQ_REQUIRE_SHARED();
    std::string ref = test::fixture_path("ref/gut_eval_ids.i32");
    if (!std::filesystem::exists(ref)) GTEST_SKIP() << ref << " is absent: no Hugging Face reference ids to compare";
    std::string raw = read_file(ref);
    std::vector<int> expected(raw.size() / 4);
    for (size_t i = 0; i < expected.size(); ++i) {
        int32_t v;
        std::memcpy(&v, raw.data() + 4 * i, 4);
        expected[i] = v;
    }
    ASSERT_EQ(expected.size(), 65472u);
    // The first 400 kB hold more than 65472 tokens; only the word cut at the end can differ from the whole book.
    std::string text = read_file(test::shared_path("data/gutenberg/eval.txt")).substr(0, 400000);
    std::vector<int> ids = gut()->encode(text, "eval.txt");
    ASSERT_GT(ids.size(), expected.size() + 10);
    ids.resize(expected.size());
    EXPECT_EQ(ids, expected);
}
