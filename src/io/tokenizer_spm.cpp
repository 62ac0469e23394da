#include "io/tokenizer_spm.h"

#include <sentencepiece_processor.h>

#include "common/error.h"
#include "io/utf8.h"

namespace tameq {

namespace {

// The model's own normalizer settings apply: Llama's add_dummy_prefix puts "▁" before the text, which is what
// llama.cpp's expected ids assume too.
class SpmTokenizer final : public Tokenizer {
public:
    explicit SpmTokenizer(const std::string& path) : file_(path) {
        auto status = sp_.Load(path);
        if (!status.ok()) fail(path, "not a SentencePiece model: {}", status.ToString());
    }

    std::vector<int> encode(std::string_view text, const std::string& source) const override {
        size_t bad = utf8_invalid_offset(text);
        if (bad != std::string_view::npos) fail(source, "invalid UTF-8 at byte {}", bad);
        std::vector<int> ids;
        auto status = sp_.Encode(std::string(text), &ids);
        if (!status.ok()) fail(source, "SentencePiece cannot encode it: {}", status.ToString());
        return ids;
    }

    std::string decode(const std::vector<int>& ids) const override {
        for (int id : ids)
            if (id < 0 || id >= vocab_size())
                fail(file_, "unknown token id {} (the vocabulary has {} tokens)", id, vocab_size());
        std::string text;
        auto status = sp_.Decode(ids, &text);
        if (!status.ok()) fail(file_, "SentencePiece cannot decode: {}", status.ToString());
        return text;
    }

    int vocab_size() const override { return sp_.GetPieceSize(); }
    int bos_id() const override { return sp_.bos_id(); }
    int eos_id() const override { return sp_.eos_id(); }
    std::string describe() const override {
        return fmt::format("SentencePiece (tokenizer.model), {} tokens", vocab_size());
    }

private:
    std::string file_;
    sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_spm_tokenizer(const std::string& model_path) {
    return std::make_unique<SpmTokenizer>(model_path);
}

}  // namespace tameq
