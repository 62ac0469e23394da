#pragma once
// The windowing protocols (docs/DESIGN.md, "Evaluation"): how a text becomes the token sequences that
// perplexity scores and calibration runs. One home, so `eval ppl`, `sweep`, `inspect` and the quantizer
// cut the same text into the same windows.
//   E64 (default): the text is tokenized without special tokens and cut into consecutive windows of
//        ctx−1 tokens; BOS is prepended to each (and never scored).
//   no-BOS:  consecutive windows of ctx tokens, no BOS (the first token of each is context only).
//   lines:   each non-empty line on its own, BOS first (unless no-BOS), truncated to ctx (llama2.c's
//            TinyStories protocol).
#include <cstdint>
#include <string>
#include <vector>

namespace tameq {

class Tokenizer;

struct WindowSpec {
    int ctx = 1024;      // tokens per window, BOS included
    int windows = 64;    // at most this many (0 = all that fit); fewer than asked is an error
    bool bos = true;     // prepend BOS (E64); false: the no-BOS protocol
    bool lines = false;  // one sequence per non-empty line
};

struct TextWindows {
    std::vector<std::vector<int>> seqs;
    int64_t text_tokens = 0;  // tokens of the text the sequences were cut from (lines: tokens in the sequences)
};

// E64's cut of already-tokenized text: consecutive windows of ctx−1 tokens, each prefixed with `bos`; at
// most `max_windows` (0 = all that fit).
std::vector<std::vector<int>> make_windows(const std::vector<int>& ids, int ctx, int max_windows, int bos);

// The sequences of a whole text file under `spec`. Errors name `file`: missing, or too short for the
// windows asked for.
TextWindows text_windows(const std::string& file, const Tokenizer& tok, const WindowSpec& spec, int bos);

// E64 windows for calibration: tokenizes only a prefix of the file (cut at a line end, far past what
// the windows need), so a huge calibration file costs little; the windows equal text_windows' whenever
// the text averages under 16 bytes per token.
std::vector<std::vector<int>> calibration_windows(const std::string& file, const Tokenizer& tok, int ctx, int windows,
                                                  int bos);

}  // namespace tameq
