#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <unordered_map>

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

// tests/fixtures/tokenizer/tiny_tokenizer.json: the 256 byte-level characters as ids 0..255 (in byte order),
// merges "Ġ t", "h e", "Ġt he", "3 4" (ids 256, 257, 258, 260), the added token <s> = 259 and "Ġhat" = 261, a token
// no merge makes. `edit` changes it before loading.
std::unique_ptr<Tokenizer> tiny(const std::function<void(nlohmann::json&)>& edit = {}) {
    auto j = nlohmann::json::parse(read_file(test::fixture_path("tokenizer/tiny_tokenizer.json")));
    if (edit) edit(j);
    return load_tokenizer_json_text(j.dump(), "tiny.json");
}

std::string tiny_error(const std::function<void(nlohmann::json&)>& edit) { return test::error_of([&] { tiny(edit); }); }

using tameq::test::error_of;

}  // namespace

TEST(TokenizerJson, TinyVocabularyMergesByRank) {
    auto legacy = [](nlohmann::json& j) {  // the older "a b" string form of merges
        for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
    };
    std::vector<std::unique_ptr<Tokenizer>> toks;
    toks.push_back(tiny());
    toks.push_back(tiny(legacy));
    toks.push_back(load_tokenizer(test::fixture_path("tokenizer/tiny_tokenizer.json")));
    for (const auto& tok : toks) {
        EXPECT_EQ(tok->vocab_size(), 262);
        EXPECT_EQ(tok->bos_id(), 259);
        EXPECT_EQ(tok->eos_id(), -1);
        // " the" merges fully; " hat" has no merge for "Ġh", so it stays as the bytes ' ' 'h' 'a' 't'.
        EXPECT_EQ(tok->encode(" the hat"), (std::vector<int>{258, 32, 104, 97, 116}));
        EXPECT_EQ(tok->encode("the<s>he"), (std::vector<int>{116, 257, 259, 257}));
        EXPECT_EQ(tok->encode("1234"), (std::vector<int>{49, 50, 260}));  // one word: " ?\p{N}+"
        EXPECT_EQ(tok->decode({258, 259, 10, 260}), " the<s>\n34");
        EXPECT_EQ(tok->describe(), "byte-level BPE (tokenizer.json), 262 tokens");
    }
}

TEST(TokenizerJson, PreTokenizerVariants) {
    // Llama 3's layout: a Split regex that cuts digits in threes, then ByteLevel without its own regex.
    auto llama3 = tiny([](nlohmann::json& j) {
        j["pre_tokenizer"] = {
            {"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Split"},
               {"pattern", {{"Regex", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
               {"behavior", "Isolated"},
               {"invert", false}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    });
    EXPECT_EQ(llama3->encode("1234"), (std::vector<int>{49, 50, 51, 52}));  // "123" "4": the 3-4 merge is cut
    EXPECT_EQ(llama3->encode(" the"), (std::vector<int>{258}));
    auto removed = tiny([](nlohmann::json& j) {
        j["pre_tokenizer"] = {{"type", "Sequence"},
                              {"pretokenizers",
                               {{{"type", "Split"}, {"pattern", {{"String", "+"}}}, {"behavior", "Removed"}},
                                {{"type", "ByteLevel"}, {"use_regex", false}}}}};
    });
    EXPECT_EQ(removed->encode("3+4+34"), (std::vector<int>{51, 52, 260}));
    auto prefixed = tiny([](nlohmann::json& j) { j["pre_tokenizer"]["add_prefix_space"] = true; });
    EXPECT_EQ(prefixed->encode("the"), (std::vector<int>{258}));
    EXPECT_EQ(prefixed->encode("the<s>the"), (std::vector<int>{258, 259, 258}));  // each segment gets the space
    auto whole = tiny([](nlohmann::json& j) { j["model"]["ignore_merges"] = true; });
    EXPECT_EQ(whole->encode(" hat the"), (std::vector<int>{261, 258}));
}

TEST(TokenizerErrors, BadInputNamesTheFile) {
    EXPECT_NE(error_of([] { load_tokenizer("/nonexistent/tok"); }).find("/nonexistent/tok: no such file"),
              std::string::npos);
    EXPECT_NE(error_of([] { load_tokenizer_json_text("{\"model\": [", "t.json"); }).find("t.json: invalid JSON"),
              std::string::npos);
    EXPECT_EQ(tiny_error([](nlohmann::json& j) { j["model"]["type"] = "WordPiece"; }),
              "tiny.json: tokenizer model type 'WordPiece' is not supported (only byte-level BPE tokenizer.json is)");
    EXPECT_NE(tiny_error([](nlohmann::json& j) { j["model"]["type"] = "Unigram"; }).find("'Unigram' is not supported"),
              std::string::npos);
    EXPECT_EQ(tiny_error([](nlohmann::json& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}}; }),
              "tiny.json: pre_tokenizer 'Metaspace' is not supported (ByteLevel, Split and Sequence are)");
    EXPECT_EQ(tiny_error([](nlohmann::json& j) { j["normalizer"] = {{"type", "NFC"}}; }),
              "tiny.json: normalizer 'NFC' is not supported");
    EXPECT_EQ(tiny_error([](nlohmann::json& j) { j["model"]["merges"].push_back({"q", "z"}); }),
              "tiny.json: merge 4 ('q' 'z') uses a token missing from the vocabulary");
    EXPECT_EQ(tiny_error([](nlohmann::json& j) { j["model"]["vocab"] = 3; }),
              "tiny.json: model.vocab is not an object of token -> id");
    EXPECT_EQ(tiny_error([](nlohmann::json& j) { j["model"]["merges"][0] = 7; }), "tiny.json: merge 7 is not a pair");
    EXPECT_NE(tiny_error([](nlohmann::json& j) { j["model"]["vocab"]["he"] = 2.5; }).find("tiny.json: token 'he' has id 2.5, not an integer"),
              std::string::npos);
    EXPECT_NE(tiny_error([](nlohmann::json& j) { j["model"]["merges"][0] = {1, 2}; }).find("tiny.json: malformed tokenizer.json"),
              std::string::npos);
    EXPECT_NE(tiny_error([](nlohmann::json& j) { j["model"]["vocab"]["he"] = 1 << 30; }).find("tiny.json: token 'he' has id"),
              std::string::npos);
    EXPECT_NE(tiny_error([](nlohmann::json& j) {
                  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
              }).find("tiny.json: pre-tokenizer regex does not compile"),
              std::string::npos);
    auto tok = tiny();
    EXPECT_EQ(error_of([&] { tok->encode("ok \xC3(", "prompt.txt"); }), "prompt.txt: invalid UTF-8 at byte 3");
    EXPECT_EQ(error_of([&] { tok->encode("\xED\xA0\x80", "x"); }), "x: invalid UTF-8 at byte 0");  // a surrogate
    EXPECT_EQ(error_of([&] { tok->decode({5, 262}); }), "tiny.json: unknown token id 262 (the vocabulary has 262 tokens)");
    EXPECT_EQ(error_of([&] { tok->decode({-1}); }), "tiny.json: unknown token id -1 (the vocabulary has 262 tokens)");
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

namespace {

// tok512.bin read independently of the tokenizer: the pieces as stored, to check merges against.
std::vector<std::string> llama2c_pieces(const std::string& path) {
    std::string raw = read_file(path);
    std::vector<std::string> pieces;
    for (size_t at = 4; at + 8 <= raw.size();) {
        int32_t len;
        std::memcpy(&len, raw.data() + at + 4, 4);
        pieces.push_back(raw.substr(at + 8, size_t(len)));
        at += 8 + size_t(len);
    }
    return pieces;
}

}  // namespace

TEST(TokenizerLlama2c, EncodesAsLlama2c) {
    TAMEQ_REQUIRE_SHARED();
    auto tok = load_tokenizer(test::shared_path("models/stories260K"));
    EXPECT_EQ(tok->describe(), "llama2.c tokenizer (tok512.bin), 512 tokens");
    EXPECT_EQ(tok->bos_id(), 1);
    EXPECT_EQ(tok->eos_id(), 2);
    // Ids from a direct transcription of llama2.c's quadratic encode() loop, run on tok512.bin.
    EXPECT_EQ(tok->encode("Once upon a time, there was a little girl named Lily."),
              (std::vector<int>{403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426}));
    EXPECT_EQ(tok->encode(" two  spaces\n"), (std::vector<int>{410, 259, 424, 414, 410, 262, 427, 412, 331, 419, 13}));
    // "😀" is not a piece: its four bytes fall back to <0xF0> <0x9F> <0x98> <0x80>, ids byte + 3.
    EXPECT_EQ(tok->encode("café 😀 ok"), (std::vector<int>{280, 412, 431, 485, 410, 243, 162, 155, 131, 334, 433}));
    EXPECT_EQ(tok->encode("x"), (std::vector<int>{410, 444}));  // the dummy-prefix " " stays apart from "x"
    EXPECT_TRUE(tok->encode("").empty());
    EXPECT_EQ(tok->decode({1, 403, 407}), "Once upon");  // the space after BOS goes, as in llama2.c
    EXPECT_EQ(tok->decode({13, 403}), "\n Once");
    EXPECT_EQ(error_of([&] { tok->decode({512}); }),
              test::shared_path("models/stories260K/tok512.bin") +
                  ": unknown token id 512 (the vocabulary has 512 tokens)");
}

TEST(TokenizerLlama2c, RoundTripsTinyStoriesWithNoMergeLeft) {
    TAMEQ_REQUIRE_SHARED();
    std::string path = test::shared_path("models/stories260K/tok512.bin");
    auto tok = load_tokenizer(path);
    std::vector<std::string> pieces = llama2c_pieces(path);
    ASSERT_EQ(pieces.size(), 512u);
    std::unordered_map<std::string, int> vocab;
    for (size_t i = 0; i < pieces.size(); ++i) vocab.emplace(pieces[i], int(i));

    std::istringstream in(read_file(test::shared_path("data/tinystories/valid-head-794k.txt")));
    std::string line;
    size_t tokens = 0;
    for (int n = 0; n < 200 && std::getline(in, line); ++n) {
        std::vector<int> ids = tok->encode(line);
        tokens += ids.size();
        ASSERT_EQ(tok->decode(ids), line) << "line " << n;
        if (line.empty()) continue;
        EXPECT_EQ(pieces[size_t(ids[0])][0], ' ') << "line " << n << ": the dummy prefix is missing";
        for (size_t i = 0; i + 1 < ids.size(); ++i)
            EXPECT_EQ(vocab.count(pieces[size_t(ids[i])] + pieces[size_t(ids[i + 1])]), 0u)
                << "line " << n << ": tokens " << i << " and " << i + 1 << " could still merge";
    }
    EXPECT_EQ(tokens, 9619u);  // as counted by the transcription of llama2.c's encode()
}

TEST(TokenizerStreamer, HoldsBackPartialCharactersAndLeadingSpaces) {
    TAMEQ_REQUIRE_SHARED();
    auto l2c = load_tokenizer(test::shared_path("models/stories260K/tok512.bin"));
    std::vector<int> ids = l2c->encode("café 😀 ok");
    expect_streams(*l2c, ids);
    TokenStreamer s(*l2c);
    EXPECT_EQ(s.push(ids[0]), "c");  // " c": the dummy-prefix space goes at the start
    std::string partial;
    for (size_t i = 1; i < 8; ++i) partial += s.push(ids[i]);  // through the emoji's third byte
    EXPECT_EQ(partial, "afé ");
    EXPECT_EQ(s.push(ids[8]), "😀");
    EXPECT_EQ(s.push(ids[9]), " o");
    EXPECT_EQ(s.flush(), "");  // nothing was held back
    EXPECT_EQ(s.push(ids[10]), "k");  // after flush, a new text starts

    // With a prompt as context, the first generated word keeps its leading space.
    auto spm = load_tokenizer(test::shared_path("tokenizers/llama2"));
    std::vector<int> prompt = spm->encode("Hello");
    TokenStreamer mid(*spm, prompt);
    std::string out;
    for (int id : spm->encode("world 😀 and ünï")) out += mid.push(id);
    out += mid.flush();
    EXPECT_EQ(out, " world 😀 and ünï");
    expect_streams(*spm, spm->encode("Byte fallback: 🦙 ⅞ 漢字"));
}

TEST(TokenizerLoad, PicksTheFileInADirectory) {
    TAMEQ_REQUIRE_SHARED();
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("tameq_tok_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    EXPECT_EQ(error_of([&] { load_tokenizer(dir.string()); }),
              dir.string() + ": no tokenizer found (looked for tokenizer.json, tokenizer.model, vocab.bpe + "
                             "encoder.json, tokenizer.bin and tok*.bin)");
    fs::create_symlink(test::shared_path("models/gut-llama-27m/tokenizer.json"), dir / "tokenizer.json");
    EXPECT_EQ(load_tokenizer(dir.string())->vocab_size(), 8192);
    {  // not SentencePiece (e.g. tiktoken): the tokenizer.json beside it is used
        std::ofstream(dir / "tokenizer.model") << "not a protobuf";
    }
    EXPECT_EQ(load_tokenizer(dir.string())->vocab_size(), 8192);
    EXPECT_NE(error_of([&] { load_tokenizer((dir / "tokenizer.model").string()); })
                  .find((dir / "tokenizer.model").string() + ": not a SentencePiece model"),
              std::string::npos);
    fs::remove(dir / "tokenizer.model");
    fs::create_symlink(test::shared_path("tokenizers/llama2/tokenizer.model"), dir / "tokenizer.model");
    EXPECT_EQ(load_tokenizer(dir.string())->vocab_size(), 32000);  // SentencePiece first
    fs::remove_all(dir);
}
