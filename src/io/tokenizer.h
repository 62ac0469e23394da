#pragma once
// Text <-> token ids for the supported model families: Hugging Face byte-level BPE (tokenizer.json, or GPT-2's
// vocab.bpe + encoder.json), SentencePiece (tokenizer.model) and llama2.c's tokenizer.bin.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tameq {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    // Text -> ids, never adding BOS/EOS (callers prepend BOS themselves). Invalid UTF-8 -> Error naming `source`.
    virtual std::vector<int> encode(std::string_view text, const std::string& source = "<text>") const = 0;
    // ids -> text. An id outside [0, vocab_size()) -> Error naming the tokenizer file. The ids are taken as the
    // start of a text (SentencePiece and llama2.c drop the first piece's leading space, as after BOS).
    virtual std::string decode(const std::vector<int>& ids) const = 0;
    virtual int vocab_size() const = 0;
    virtual int bos_id() const = 0;  // -1 if none
    virtual int eos_id() const = 0;  // -1 if none
    virtual std::string describe() const = 0;  // e.g. "byte-level BPE (tokenizer.json), 8192 tokens"
};

// Streams generated text: push(id) returns the newly completed text, holding back an incomplete UTF-8 sequence
// and anything the decoder could still change; flush() returns the rest and starts over. `context` (e.g. the
// prompt) is decoded as what came before but never returned, so the first pushed token reads as mid-text.
class TokenStreamer {
public:
    explicit TokenStreamer(const Tokenizer& tok, std::vector<int> context = {});
    std::string push(int id);
    std::string flush();

private:
    const Tokenizer& tok_;
    std::vector<int> ids_;  // context tokens followed by the pending ones
    size_t n_context_ = 0;  // ids_[0, n_context_) were decoded before
    size_t emitted_ = 0;    // bytes of decode(ids_) already returned (or belonging to the context)
};

// Loads the tokenizer at `path`: a directory holding tokenizer.json, tokenizer.model, vocab.bpe + encoder.json,
// tokenizer.bin or tok*.bin (llama2.c), or one of those files. Errors name the file.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);
// A tokenizer.json given as text; `file` names it in errors (used by the fuzzer).
std::unique_ptr<Tokenizer> load_tokenizer_json_text(const std::string& text, const std::string& file);

}  // namespace tameq
