#include "io/tokenizer_llama2c.h"

#include <cstring>
#include <queue>
#include <unordered_map>

#include "common/error.h"
#include "common/mapped_file.h"
#include "io/utf8.h"

namespace tameq {

namespace {

constexpr int kBos = 1, kEos = 2, kByte0 = 3;  // llama2.c's fixed ids: byte b is token b + 3

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

class Llama2cTokenizer final : public Tokenizer {
public:
    explicit Llama2cTokenizer(const std::string& path);

    std::vector<int> encode(std::string_view text, const std::string& source) const override;
    std::string decode(const std::vector<int>& ids) const override;
    int vocab_size() const override { return int(pieces_.size()); }
    int bos_id() const override { return kBos; }
    int eos_id() const override { return kEos; }
    std::string describe() const override {
        return fmt::format("llama2.c tokenizer ({}), {} tokens", file_name_, vocab_size());
    }

private:
    int find(const std::string& s) const {
        auto it = lookup_.find(s);
        return it == lookup_.end() ? -1 : it->second;
    }

    std::string file_, file_name_;
    std::vector<std::string> pieces_;  // as stored: spaces are ' ', bytes are "<0xXX>"
    std::vector<float> scores_;
    std::vector<std::string> text_;  // what each id decodes to
    std::unordered_map<std::string, int> lookup_;
    int space_ = -1;  // the dummy-prefix token " "
};

Llama2cTokenizer::Llama2cTokenizer(const std::string& path) : file_(path) {
    file_name_ = path.substr(path.find_last_of('/') + 1);
    MappedFile f(path);
    const uint8_t* p = f.data();
    size_t n = f.size(), at = 4;
    if (n < 4) fail(path, "too short for a llama2.c tokenizer ({} bytes)", n);
    while (at < n) {
        int32_t len = 0;
        float score = 0;
        if (n - at < 8) fail(path, "truncated in the header of token {}", pieces_.size());
        std::memcpy(&score, p + at, 4);
        std::memcpy(&len, p + at + 4, 4);
        at += 8;
        if (len < 0 || size_t(len) > n - at) fail(path, "token {} has length {}, past the end of the file", pieces_.size(), len);
        pieces_.emplace_back(reinterpret_cast<const char*>(p + at), size_t(len));
        scores_.push_back(score);
        at += size_t(len);
    }
    if (pieces_.size() < size_t(kByte0 + 256))
        fail(path, "has {} tokens; a llama2.c vocabulary has at least 259 (3 specials and 256 bytes)", pieces_.size());
    for (size_t id = 0; id < pieces_.size(); ++id) {
        lookup_.emplace(pieces_[id], int(id));  // llama2.c's vocabularies have no duplicates; keep the first
        const std::string& s = pieces_[id];
        int hi = s.size() == 6 && s.starts_with("<0x") && s[5] == '>' ? hex_digit(s[3]) : -1;
        int lo = hi >= 0 ? hex_digit(s[4]) : -1;
        if (id == kBos || id == kEos) text_.emplace_back();  // stored as "\n<s>\n"; they delimit, not print
        else if (lo >= 0) text_.emplace_back(1, char(hi * 16 + lo));
        else text_.push_back(s);
    }
    space_ = find(" ");
}

std::vector<int> Llama2cTokenizer::encode(std::string_view text, const std::string& source) const {
    size_t bad = utf8_invalid_offset(text);
    if (bad != std::string_view::npos) fail(source, "invalid UTF-8 at byte {}", bad);
    if (text.empty()) return {};

    std::vector<int> ids;
    ids.push_back(space_ >= 0 ? space_ : kByte0 + ' ');  // SentencePiece's add_dummy_prefix
    std::string cp;
    for (size_t i = 0; i < text.size();) {
        size_t len = size_t(utf8_seq_len(uint8_t(text[i])));
        cp.assign(text.substr(i, len));
        int id = find(cp);
        if (id >= 0) ids.push_back(id);
        else for (char c : cp) ids.push_back(kByte0 + uint8_t(c));
        i += len;
    }

    // llama2.c rescans all pairs after each merge and takes the best score, the leftmost among equals; a heap of
    // (score, position) picks the same pair without the quadratic rescan.
    struct Symbol {
        int id, next;
    };
    std::vector<Symbol> syms(ids.size());
    std::vector<int> prev(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
        syms[i] = {ids[i], i + 1 < ids.size() ? int(i + 1) : -1};
        prev[i] = int(i) - 1;
    }
    struct Candidate {
        float score;
        int pos, left, right, result;
        bool operator<(const Candidate& o) const { return score != o.score ? score < o.score : pos > o.pos; }
    };
    std::priority_queue<Candidate> heap;
    std::string pair;
    auto consider = [&](int pos) {
        int nxt = syms[pos].next;
        if (nxt < 0) return;
        pair = pieces_[syms[pos].id];
        pair += pieces_[syms[nxt].id];
        int id = find(pair);
        if (id >= 0 && scores_[id] > -1e10f) heap.push({scores_[id], pos, syms[pos].id, syms[nxt].id, id});
    };
    for (int i = 0; i + 1 < int(syms.size()); ++i) consider(i);
    while (!heap.empty()) {
        Candidate c = heap.top();
        heap.pop();
        Symbol& left = syms[c.pos];
        if (left.id != c.left || left.next < 0 || syms[left.next].id != c.right) continue;  // stale
        Symbol& right = syms[left.next];
        left.id = c.result;
        right.id = -1;
        left.next = right.next;
        if (left.next >= 0) prev[left.next] = c.pos;
        if (prev[c.pos] >= 0) consider(prev[c.pos]);
        consider(c.pos);
    }
    ids.clear();
    for (int i = 0; i >= 0; i = syms[i].next) ids.push_back(syms[i].id);
    return ids;
}

std::string Llama2cTokenizer::decode(const std::vector<int>& ids) const {
    std::string out;
    int last = kBos;  // the text starts here: its first piece loses the dummy-prefix space, as after BOS
    for (int id : ids) {
        if (id < 0 || id >= vocab_size())
            fail(file_, "unknown token id {} (the vocabulary has {} tokens)", id, vocab_size());
        const std::string& piece = text_[size_t(id)];
        out.append(piece, last == kBos && pieces_[size_t(id)].starts_with(' ') ? 1 : 0);
        last = id;
    }
    return out;
}

}  // namespace

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path) {
    return std::make_unique<Llama2cTokenizer>(path);
}

}  // namespace tameq
