#include "io/tokenizer_bpe.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>
#include <fstream>
#include <queue>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <pcre2.h>

#include "common/error.h"
#include "common/files.h"
#include "io/utf8.h"

namespace tameq {
using json = nlohmann::json;

namespace {

// GPT-2's word splitter, also the one Hugging Face's ByteLevel pre-tokenizer applies when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Ids at or above this are rejected: no real vocabulary comes close, and a hostile file must not allocate gigabytes.
constexpr int64_t kMaxId = int64_t(1) << 21;

// GPT-2's reversible map from bytes to printable code points: printable Latin-1 bytes map to themselves, the
// other 68 bytes to U+0100 upwards, in byte order.
std::array<uint32_t, 256> byte_to_codepoint() {
    std::array<uint32_t, 256> map{};
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        map[b] = printable ? uint32_t(b) : next++;
    }
    return map;
}

// A compiled PCRE2 pattern (Unicode classes, JIT when available). Matching is thread-safe: each caller brings
// its own match data.
class Regex {
public:
    Regex(const std::string& pattern, const std::string& file) {
        int err = 0;
        PCRE2_SIZE offset = 0;
        code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                              &err, &offset, nullptr);
        if (!code_) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            fail(file, "pre-tokenizer regex does not compile at offset {}: {}", offset, reinterpret_cast<char*>(msg));
        }
        pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // on failure pcre2_match interprets instead
    }
    ~Regex() { pcre2_code_free(code_); }
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Finds the first non-empty match in s[from, end); returns false if none. `s` must be valid UTF-8.
    bool find(std::string_view s, size_t from, pcre2_match_data* md, size_t& begin, size_t& end,
              const std::string& file) const {
        while (from < s.size()) {
            int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), from, PCRE2_NO_UTF_CHECK,
                                 md, nullptr);
            if (rc == PCRE2_ERROR_NOMATCH) return false;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                fail(file, "pre-tokenizer regex failed: {}", reinterpret_cast<char*>(msg));
            }
            const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
            if (ov[1] > ov[0]) {
                begin = ov[0];
                end = ov[1];
                return true;
            }
            from = ov[0] + utf8_seq_len(uint8_t(s[ov[0]]));  // skip empty matches, as Hugging Face does
        }
        return false;
    }

private:
    pcre2_code* code_ = nullptr;
};

// One step of the pre-tokenizer; a Sequence is several, each applied to every piece the previous one produced.
struct PreStep {
    enum Kind { PrefixSpace, SplitIsolated, SplitRemoved } kind;
    std::shared_ptr<Regex> regex;  // for the Split kinds
};

// Words of one encode call: views into the caller's text or into `owned` (words given a prefix space).
struct Words {
    std::vector<std::string_view> views;
    std::deque<std::string> owned;  // a deque never moves its elements, so views stay valid
};

struct AddedToken {
    std::string content;
    int id;
};

struct MergeRule {
    int rank;
    int result;
};

struct BpeSpec {
    std::string file;
    std::string format;                                       // for describe(), e.g. "tokenizer.json"
    std::vector<std::pair<std::string, int64_t>> vocab;       // token (byte-level characters) -> id
    std::vector<std::pair<std::string, std::string>> merges;  // in rank order
    std::vector<AddedToken> added;
    std::vector<PreStep> steps;
    bool ignore_merges = false;  // a word that is itself a token skips the merges (Llama 3)
    std::string unk_token;       // empty: bytes missing from the vocabulary are dropped, as Hugging Face does
};

class BpeTokenizer final : public Tokenizer {
public:
    explicit BpeTokenizer(BpeSpec spec);

    std::vector<int> encode(std::string_view text, const std::string& source) const override;
    std::string decode(const std::vector<int>& ids) const override;
    int vocab_size() const override { return int(bytes_.size()); }
    int bos_id() const override { return bos_; }
    int eos_id() const override { return eos_; }
    std::string describe() const override {
        return fmt::format("byte-level BPE ({}), {} tokens", format_, vocab_size());
    }

private:
    using Cache = std::unordered_map<std::string_view, std::pair<size_t, size_t>>;  // word -> range in store

    void split(std::string_view segment, Words& words, pcre2_match_data* md) const;
    void encode_word(std::string_view word, std::vector<int>& out) const;
    int find_token(const std::string& s) const {
        auto it = vocab_.find(s);
        return it == vocab_.end() ? -1 : it->second;
    }

    std::string file_, format_;
    std::unordered_map<std::string, int> vocab_;
    std::unordered_map<uint64_t, MergeRule> merges_;  // (left id << 32 | right id) -> rule
    std::array<int, 256> byte_token_{};                // the single-character token of each byte, -1 if absent
    std::array<std::string, 256> byte_chars_;          // the byte-level character of each byte, as UTF-8
    std::vector<std::string> bytes_;                   // id -> the bytes it decodes to
    std::vector<bool> known_;                          // ids with a token (a vocabulary may have holes)
    std::vector<AddedToken> added_;
    std::array<std::vector<int>, 256> added_by_byte_;  // first byte -> indices into added_, longest first
    std::vector<PreStep> steps_;
    bool ignore_merges_ = false;
    int unk_ = -1, bos_ = -1, eos_ = -1;
};

BpeTokenizer::BpeTokenizer(BpeSpec spec)
    : file_(std::move(spec.file)), format_(std::move(spec.format)), added_(std::move(spec.added)),
      steps_(std::move(spec.steps)), ignore_merges_(spec.ignore_merges) {
    int64_t n = 0;
    for (const auto& [tok, id] : spec.vocab) {
        if (id < 0 || id >= kMaxId) fail(file_, "token '{}' has id {}, outside [0, {})", tok, id, kMaxId);
        n = std::max(n, id + 1);
    }
    for (const auto& a : added_) {
        if (a.id < 0 || a.id >= kMaxId) fail(file_, "added token '{}' has id {}, outside [0, {})", a.content, a.id, kMaxId);
        n = std::max(n, int64_t(a.id) + 1);
    }
    bytes_.resize(size_t(n));
    known_.resize(size_t(n));

    std::array<uint32_t, 256> cp_of_byte = byte_to_codepoint();
    std::unordered_map<uint32_t, uint8_t> byte_of_cp;
    for (int b = 0; b < 256; ++b) {
        byte_of_cp[cp_of_byte[b]] = uint8_t(b);
        utf8_append(byte_chars_[b], cp_of_byte[b]);
    }
    for (auto& [tok, id] : spec.vocab) {
        if (utf8_invalid_offset(tok) != std::string_view::npos) fail(file_, "token {} is not valid UTF-8", id);
        // Characters outside the byte alphabet stand for themselves, as in Hugging Face's ByteLevel decoder.
        std::string& out = bytes_[size_t(id)];
        for (size_t i = 0; i < tok.size();) {
            size_t start = i;
            auto it = byte_of_cp.find(utf8_next(tok, i));
            if (it != byte_of_cp.end()) out += char(it->second);
            else out.append(tok, start, i - start);
        }
        known_[size_t(id)] = true;
        vocab_.emplace(std::move(tok), int(id));
    }
    for (const auto& a : added_) {
        bytes_[size_t(a.id)] = a.content;
        known_[size_t(a.id)] = true;
        vocab_.emplace(a.content, a.id);
    }
    for (int b = 0; b < 256; ++b) byte_token_[b] = find_token(byte_chars_[b]);

    for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
        const auto& [a, b] = spec.merges[rank];
        int ia = find_token(a), ib = find_token(b), ir = find_token(a + b);
        if (ia < 0 || ib < 0 || ir < 0)
            fail(file_, "merge {} ('{}' '{}') uses a token missing from the vocabulary", rank, a, b);
        // A repeated pair takes its last rank, as in Hugging Face's and OpenAI's loaders.
        merges_.insert_or_assign(uint64_t(ia) << 32 | uint32_t(ib), MergeRule{int(rank), ir});
    }

    // Longest first, so that matching at a position takes the longest added token (leftmost-longest).
    std::vector<int> order(added_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](int x, int y) { return added_[x].content.size() > added_[y].content.size(); });
    for (int i : order)
        if (!added_[i].content.empty()) added_by_byte_[uint8_t(added_[i].content[0])].push_back(i);

    if (!spec.unk_token.empty()) {
        unk_ = find_token(spec.unk_token);
        if (unk_ < 0) fail(file_, "unk_token '{}' is not in the vocabulary", spec.unk_token);
    }
    for (const char* name : {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", "<|endoftext|>"})
        if (bos_ < 0) bos_ = find_token(name);
    for (const char* name : {"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"})
        if (eos_ < 0) eos_ = find_token(name);
}

void BpeTokenizer::split(std::string_view segment, Words& words, pcre2_match_data* md) const {
    size_t first = words.views.size();
    words.views.push_back(segment);
    std::vector<std::string_view> next;
    for (const PreStep& step : steps_) {
        next.clear();
        for (size_t w = first; w < words.views.size(); ++w) {
            std::string_view s = words.views[w];
            if (step.kind == PreStep::PrefixSpace) {
                if (!s.empty() && s[0] != ' ') {
                    std::string& spaced = words.owned.emplace_back(1, ' ');
                    spaced += s;
                    s = spaced;
                }
                next.push_back(s);
                continue;
            }
            size_t pos = 0, begin = 0, end = 0;
            while (step.regex->find(s, pos, md, begin, end, file_)) {
                if (begin > pos) next.push_back(s.substr(pos, begin - pos));
                if (step.kind == PreStep::SplitIsolated) next.push_back(s.substr(begin, end - begin));
                pos = end;
            }
            if (pos < s.size()) next.push_back(s.substr(pos));
        }
        words.views.resize(first);
        words.views.insert(words.views.end(), next.begin(), next.end());
    }
}

// Applies the merges to one word: the lowest-ranked adjacent pair first, the leftmost among equals, as
// Hugging Face's BPE does. A heap of candidate pairs keeps long words (runs of spaces or digits) O(n log n).
void BpeTokenizer::encode_word(std::string_view word, std::vector<int>& out) const {
    struct Symbol {
        int id, prev, next;
    };
    std::vector<Symbol> syms;
    syms.reserve(word.size());
    for (char c : word) {
        int id = byte_token_[uint8_t(c)];
        if (id < 0) id = unk_;
        if (id < 0) continue;
        syms.push_back({id, int(syms.size()) - 1, int(syms.size()) + 1});
    }
    if (syms.empty()) return;
    syms.back().next = -1;

    struct Candidate {
        int rank, pos, left, right, result;
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    auto consider = [&](int pos) {
        int nxt = syms[pos].next;
        if (nxt < 0) return;
        auto it = merges_.find(uint64_t(syms[pos].id) << 32 | uint32_t(syms[nxt].id));
        if (it != merges_.end()) heap.push({it->second.rank, pos, syms[pos].id, syms[nxt].id, it->second.result});
    };
    for (int i = 0; i + 1 < int(syms.size()); ++i) consider(i);
    while (!heap.empty()) {
        Candidate c = heap.top();
        heap.pop();
        Symbol& left = syms[c.pos];
        // Stale if either side has changed since the candidate was pushed.
        if (left.id != c.left || left.next < 0 || syms[left.next].id != c.right) continue;
        Symbol& right = syms[left.next];
        left.id = c.result;
        right.id = -1;
        left.next = right.next;
        if (right.next >= 0) syms[right.next].prev = c.pos;
        if (left.prev >= 0) consider(left.prev);
        consider(c.pos);
    }
    for (int i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

std::vector<int> BpeTokenizer::encode(std::string_view text, const std::string& source) const {
    size_t bad = utf8_invalid_offset(text);
    if (bad != std::string_view::npos) fail(source, "invalid UTF-8 at byte {}", bad);

    // Added tokens are cut out first (leftmost, then longest); the text between them is split into words.
    Words words;
    std::vector<int> added_at;  // words.views index before which each added token goes, and its id
    std::vector<int> added_ids;
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    if (!md) throw std::bad_alloc();
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md_guard(md, pcre2_match_data_free);
    size_t seg = 0;
    for (size_t i = 0; i < text.size();) {
        const AddedToken* hit = nullptr;
        for (int k : added_by_byte_[uint8_t(text[i])])
            if (text.substr(i, added_[k].content.size()) == added_[k].content) {
                hit = &added_[k];
                break;
            }
        if (!hit) {
            ++i;
            continue;
        }
        if (i > seg) split(text.substr(seg, i - seg), words, md);
        added_at.push_back(int(words.views.size()));
        added_ids.push_back(hit->id);
        i += hit->content.size();
        seg = i;
    }
    if (seg < text.size()) split(text.substr(seg), words, md);

    // Books repeat their words: each distinct word is merged once per call.
    Cache cache;
    std::vector<int> store, ids;
    ids.reserve(text.size() / 3);
    size_t next_added = 0;
    for (size_t w = 0; w <= words.views.size(); ++w) {
        while (next_added < added_at.size() && size_t(added_at[next_added]) == w) ids.push_back(added_ids[next_added++]);
        if (w == words.views.size()) break;
        std::string_view word = words.views[w];
        auto [it, fresh] = cache.try_emplace(word);
        if (fresh) {
            size_t begin = store.size();
            int whole = -1;
            if (ignore_merges_) {
                std::string chars;
                for (char c : word) chars += byte_chars_[uint8_t(c)];
                whole = find_token(chars);
            }
            if (whole >= 0) store.push_back(whole);
            else encode_word(word, store);
            it->second = {begin, store.size()};
        }
        ids.insert(ids.end(), store.begin() + it->second.first, store.begin() + it->second.second);
    }
    return ids;
}

std::string BpeTokenizer::decode(const std::vector<int>& ids) const {
    std::string out;
    for (int id : ids) {
        if (id < 0 || id >= vocab_size() || !known_[size_t(id)])
            fail(file_, "unknown token id {} (the vocabulary has {} tokens)", id, vocab_size());
        out += bytes_[size_t(id)];
    }
    return out;
}

// ---- tokenizer.json ----

// Hugging Face writes absent options as null; treat both alike.
template <typename T>
T get_or(const json& j, const char* key, T dflt) {
    return j.contains(key) && !j[key].is_null() ? j[key].get<T>() : dflt;
}

std::string type_of(const json& j) { return get_or<std::string>(j, "type", ""); }

int64_t get_id(const json& v, const std::string& file, const std::string& what) {
    if (!v.is_number_integer()) fail(file, "{} has id {}, not an integer", what, v.dump());
    return v.get<int64_t>();
}

std::string regex_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (!std::isalnum(uint8_t(c)) && uint8_t(c) < 0x80) out += '\\';
        out += c;
    }
    return out;
}

// Appends the steps of one pre-tokenizer; returns whether it (or one inside it) is ByteLevel.
bool parse_pre_tokenizer(const json& j, const std::string& file, std::vector<PreStep>& steps, int depth = 0) {
    if (depth > 8) fail(file, "pre_tokenizer Sequences nest too deeply");
    std::string type = type_of(j);
    if (type == "Sequence") {
        bool byte_level = false;
        for (const json& p : j.at("pretokenizers")) byte_level |= parse_pre_tokenizer(p, file, steps, depth + 1);
        return byte_level;
    }
    if (type == "ByteLevel") {
        if (get_or(j, "add_prefix_space", false)) steps.push_back({PreStep::PrefixSpace, nullptr});
        if (get_or(j, "use_regex", true)) steps.push_back({PreStep::SplitIsolated, std::make_shared<Regex>(kGpt2Pattern, file)});
        return true;
    }
    if (type == "Split") {
        const json& pat = j.at("pattern");
        std::string pattern = pat.contains("Regex") ? pat.at("Regex").get<std::string>()
                                                    : regex_escape(pat.at("String").get<std::string>());
        std::string behavior = get_or<std::string>(j, "behavior", "");
        if (get_or(j, "invert", false)) fail(file, "Split pre-tokenizer with invert=true is not supported");
        if (behavior != "Isolated" && behavior != "Removed")
            fail(file, "Split pre-tokenizer behavior '{}' is not supported (only Isolated and Removed)", behavior);
        steps.push_back({behavior == "Isolated" ? PreStep::SplitIsolated : PreStep::SplitRemoved,
                         std::make_shared<Regex>(pattern, file)});
        return false;
    }
    fail(file, "pre_tokenizer '{}' is not supported (ByteLevel, Split and Sequence are)", type);
}

std::unique_ptr<Tokenizer> build_from_json(const json& j, const std::string& file) {
    if (!j.is_object()) fail(file, "not a tokenizer.json (the top level is not an object)");
    const json& model = j.at("model");
    std::string type = type_of(model);
    if (type.empty() && model.contains("merges")) type = "BPE";  // old files leave the type out
    if (type != "BPE")
        fail(file, "tokenizer model type '{}' is not supported (only byte-level BPE tokenizer.json is)", type);
    if (!get_or<std::string>(model, "continuing_subword_prefix", "").empty() ||
        !get_or<std::string>(model, "end_of_word_suffix", "").empty())
        fail(file, "BPE with continuing_subword_prefix or end_of_word_suffix is not supported");
    if (get_or(model, "dropout", 0.0) != 0.0) fail(file, "BPE dropout is not supported");

    BpeSpec spec;
    spec.file = file;
    spec.format = "tokenizer.json";
    spec.ignore_merges = get_or(model, "ignore_merges", false);
    spec.unk_token = get_or<std::string>(model, "unk_token", "");
    if (!model.at("vocab").is_object()) fail(file, "model.vocab is not an object of token -> id");
    if (!model.at("merges").is_array()) fail(file, "model.merges is not an array");
    for (const auto& [tok, id] : model.at("vocab").items())
        spec.vocab.emplace_back(tok, get_id(id, file, "token '" + tok + "'"));
    for (const json& m : model.at("merges")) {
        if (m.is_string()) {  // the older "a b" form
            const std::string& s = m.get_ref<const std::string&>();
            size_t sp = s.find(' ');
            if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
                fail(file, "merge '{}' is not two tokens separated by a space", s);
            spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
        } else {
            if (m.size() != 2) fail(file, "merge {} is not a pair", m.dump());
            spec.merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
        }
    }
    if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
        if (!j["added_tokens"].is_array()) fail(file, "added_tokens is not an array");
        for (const json& a : j["added_tokens"]) {
            int64_t id = get_id(a.at("id"), file, "an added token");
            if (id < 0 || id >= kMaxId) fail(file, "added token id {} is out of range", id);
            spec.added.push_back({a.at("content").get<std::string>(), int(id)});
            if (utf8_invalid_offset(spec.added.back().content) != std::string_view::npos)
                fail(file, "added token {} is not valid UTF-8", id);
        }
    }

    if (j.contains("normalizer") && !j["normalizer"].is_null())
        fail(file, "normalizer '{}' is not supported", type_of(j["normalizer"]));
    if (!j.contains("pre_tokenizer") || j["pre_tokenizer"].is_null() ||
        !parse_pre_tokenizer(j["pre_tokenizer"], file, spec.steps))
        fail(file, "only byte-level BPE is supported, and the pre_tokenizer has no ByteLevel step");
    if (j.contains("decoder") && !j["decoder"].is_null() && type_of(j["decoder"]) != "ByteLevel")
        fail(file, "decoder '{}' is not supported (only ByteLevel is)", type_of(j["decoder"]));
    return std::make_unique<BpeTokenizer>(std::move(spec));
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_json_text(const std::string& text, const std::string& file) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        fail(file, "invalid JSON: {}", e.what());
    }
    try {
        return build_from_json(j, file);
    } catch (const json::exception& e) {
        fail(file, "malformed tokenizer.json: {}", e.what());
    }
}

std::unique_ptr<Tokenizer> load_gpt2_bpe(const std::string& vocab_bpe_path, const std::string& encoder_json_path) {
    BpeSpec spec;
    spec.file = encoder_json_path;
    spec.format = "GPT-2 vocab.bpe + encoder.json";
    try {
        json enc = json::parse(read_file(encoder_json_path));
        if (!enc.is_object()) fail(encoder_json_path, "not a GPT-2 encoder.json (not an object of token -> id)");
        for (const auto& [tok, id] : enc.items())
            spec.vocab.emplace_back(tok, get_id(id, encoder_json_path, "token '" + tok + "'"));
    } catch (const json::exception& e) {
        fail(encoder_json_path, "not a GPT-2 encoder.json: {}", e.what());
    }
    std::istringstream merges(read_file(vocab_bpe_path));
    std::string line;
    for (int n = 1; std::getline(merges, line); ++n) {
        if (line.empty() || line.starts_with("#version")) continue;
        size_t sp = line.find(' ');
        if (sp == std::string::npos) fail(vocab_bpe_path, "line {} is not two tokens separated by a space", n);
        spec.merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
    }
    spec.steps.push_back({PreStep::SplitIsolated, std::make_shared<Regex>(kGpt2Pattern, vocab_bpe_path)});
    // Hugging Face's GPT-2 tokenizer treats <|endoftext|> as a special added token.
    for (const auto& [tok, id] : spec.vocab)
        if (tok == "<|endoftext|>") spec.added.push_back({tok, int(id)});
    return std::make_unique<BpeTokenizer>(std::move(spec));
}

}  // namespace tameq
