#include "io/windows.h"

#include <string_view>

#include "common/error.h"
#include "common/files.h"
#include "io/tokenizer.h"

namespace tameq {
namespace {

// Bytes of calibration text tokenized per window token: 16 is four times the ~4 bytes per token of
// English BPE text, and 4096 more bytes cover the first line of the file.
constexpr size_t kCalibBytesPerToken = 16;
constexpr size_t kCalibExtraBytes = 4096;

void check_count(const std::string& file, size_t tokens, size_t made, const WindowSpec& s) {
    if (made == 0 || (s.windows > 0 && int(made) < s.windows))
        fail(file, "too short: {} tokens make {} windows of {}, {} requested", tokens, made, s.ctx, s.windows);
}

}  // namespace

std::vector<std::vector<int>> make_windows(const std::vector<int>& ids, int ctx, int max_windows, int bos) {
    if (ctx < 2) fail("eval", "context {} is too small (need at least 2)", ctx);
    const size_t body = size_t(ctx - 1);
    std::vector<std::vector<int>> out;
    for (size_t start = 0; start + body <= ids.size(); start += body) {
        if (max_windows > 0 && int(out.size()) == max_windows) break;
        std::vector<int> w;
        w.reserve(size_t(ctx));
        w.push_back(bos);
        w.insert(w.end(), ids.begin() + long(start), ids.begin() + long(start + body));
        out.push_back(std::move(w));
    }
    return out;
}

TextWindows text_windows(const std::string& file, const Tokenizer& tok, const WindowSpec& s, int bos) {
    if (s.ctx < 2) fail(file, "context {} is too small (need at least 2)", s.ctx);
    const std::string text = read_file(file);
    TextWindows out;
    if (s.lines) {
        size_t start = 0;
        while (start < text.size() && (s.windows <= 0 || int(out.seqs.size()) < s.windows)) {
            size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            std::string_view line(text.data() + start, end - start);
            start = end + 1;
            if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
            std::vector<int> seq;
            if (s.bos) seq.push_back(bos);
            for (int id : tok.encode(line, file)) seq.push_back(id);
            if (int(seq.size()) > s.ctx) seq.resize(size_t(s.ctx));
            out.text_tokens += int64_t(seq.size());
            out.seqs.push_back(std::move(seq));
        }
        return out;
    }
    const std::vector<int> ids = tok.encode(text, file);
    out.text_tokens = int64_t(ids.size());
    if (s.bos) {
        out.seqs = make_windows(ids, s.ctx, s.windows, bos);
    } else {
        for (size_t p = 0; p + size_t(s.ctx) <= ids.size() && (s.windows <= 0 || int(out.seqs.size()) < s.windows);
             p += size_t(s.ctx))
            out.seqs.emplace_back(ids.begin() + long(p), ids.begin() + long(p) + s.ctx);
    }
    check_count(file, ids.size(), out.seqs.size(), s);
    return out;
}

std::vector<std::vector<int>> calibration_windows(const std::string& file, const Tokenizer& tok, int ctx, int windows,
                                                  int bos) {
    const std::string text = read_file(file);
    size_t cut = size_t(ctx) * size_t(windows) * kCalibBytesPerToken + kCalibExtraBytes;
    if (cut < text.size()) {
        const size_t nl = text.rfind('\n', cut);  // cut at a line end, never inside a UTF-8 sequence
        cut = nl == std::string::npos ? text.size() : nl + 1;
    }
    const std::vector<int> ids = tok.encode(std::string_view(text).substr(0, std::min(text.size(), cut)), file);
    auto out = make_windows(ids, ctx, windows, bos);
    if (int(out.size()) < windows)
        fail(file, "calibration text too short: {} tokens make {} windows of {}, {} requested", ids.size(), out.size(), ctx,
             windows);
    return out;
}

}  // namespace tameq
