#include "io/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "io/tokenizer_bpe.h"
#include "io/tokenizer_llama2c.h"
#include "io/tokenizer_spm.h"
#include "io/utf8.h"

namespace tameq {

namespace fs = std::filesystem;

namespace {

std::unique_ptr<Tokenizer> load_json_file(const std::string& path) {
    return load_tokenizer_json_text(read_file(path), path);
}

std::unique_ptr<Tokenizer> load_gpt2_dir(const fs::path& dir) {
    fs::path bpe = dir / "vocab.bpe", enc = dir / "encoder.json";
    if (!fs::is_regular_file(bpe)) fail(bpe.string(), "missing (GPT-2 tokenizers need vocab.bpe beside encoder.json)");
    if (!fs::is_regular_file(enc)) fail(enc.string(), "missing (GPT-2 tokenizers need encoder.json beside vocab.bpe)");
    return load_gpt2_bpe(bpe.string(), enc.string());
}

bool is_llama2c_name(const std::string& name) {
    return name == "tokenizer.bin" || (name.starts_with("tok") && name.ends_with(".bin"));
}

std::unique_ptr<Tokenizer> load_file(const fs::path& file) {
    std::string name = file.filename().string();
    if (name == "encoder.json" || name == "vocab.bpe") return load_gpt2_dir(file.parent_path());
    if (name.ends_with(".json")) return load_json_file(file.string());
    if (name.ends_with(".model")) return load_spm_tokenizer(file.string());
    if (name.ends_with(".bin")) return load_llama2c_tokenizer(file.string());
    fail(file.string(), "not a tokenizer file this program knows (tokenizer.json, tokenizer.model, vocab.bpe, "
                        "encoder.json or a llama2.c tokenizer .bin)");
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
    fs::path p(path);
    std::error_code ec;
    if (!fs::exists(p, ec)) fail(path, "no such file or directory");
    if (!fs::is_directory(p, ec)) return load_file(p);
    // SentencePiece models (Llama 2, Mistral) often ship a tokenizer.json too, in a form this program does not
    // read; their tokenizer.model comes first. A tokenizer.model that is not SentencePiece (tiktoken) falls through.
    if (fs::is_regular_file(p / "tokenizer.model")) {
        if (!fs::is_regular_file(p / "tokenizer.json")) return load_file(p / "tokenizer.model");
        try {
            return load_file(p / "tokenizer.model");
        } catch (const Error&) {
            return load_file(p / "tokenizer.json");
        }
    }
    if (fs::is_regular_file(p / "tokenizer.json")) return load_file(p / "tokenizer.json");
    if (fs::is_regular_file(p / "vocab.bpe") || fs::is_regular_file(p / "encoder.json")) return load_gpt2_dir(p);
    for (const auto& entry : fs::directory_iterator(p, ec))
        if (entry.is_regular_file() && is_llama2c_name(entry.path().filename().string())) return load_file(entry.path());
    fail(path, "no tokenizer found (looked for tokenizer.json, tokenizer.model, vocab.bpe + encoder.json, "
               "tokenizer.bin and tok*.bin)");
}

// ---- TokenStreamer ----
// The window ids_ holds the tokens already decoded (context) and the pending ones. Decoding the window and
// dropping the context's text yields the new text with the decoder's rules applied as in the full text (e.g. a
// SentencePiece word keeps its leading space when something precedes it).

TokenStreamer::TokenStreamer(const Tokenizer& tok, std::vector<int> context)
    : tok_(tok), ids_(std::move(context)), n_context_(ids_.size()), emitted_(tok_.decode(ids_).size()) {}

std::string TokenStreamer::push(int id) {
    ids_.push_back(id);
    std::string text = tok_.decode(ids_);
    // Hold back an unfinished UTF-8 sequence, and the U+FFFD that SentencePiece writes for byte tokens that do
    // not complete a character yet.
    size_t end = utf8_complete_prefix(text);
    static constexpr std::string_view k_replacement = "\xEF\xBF\xBD";
    while (end >= emitted_ + k_replacement.size() && std::string_view(text).substr(0, end).ends_with(k_replacement))
        end -= k_replacement.size();
    if (end <= emitted_) return {};
    std::string out = text.substr(emitted_, end - emitted_);
    emitted_ = end;
    if (end == text.size()) {  // all settled: the pending tokens become the context of the next ones
        ids_.erase(ids_.begin(), ids_.begin() + std::ptrdiff_t(n_context_));
        n_context_ = ids_.size();
        emitted_ = tok_.decode(ids_).size();
    }
    return out;
}

std::string TokenStreamer::flush() {
    std::string text = tok_.decode(ids_);
    std::string out = text.size() > emitted_ ? text.substr(emitted_) : std::string();
    ids_.clear();
    n_context_ = emitted_ = 0;
    return out;
}

}  // namespace tameq
