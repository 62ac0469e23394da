#include "io/utf8.h"

namespace tameq {

size_t utf8_invalid_offset(std::string_view s) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    size_t n = s.size(), i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        int len = utf8_seq_len(c);
        if (len == 1 || c == 0xC0 || c == 0xC1 || c > 0xF4 || i + len > n) return i;
        for (int k = 1; k < len; ++k)
            if ((p[i + k] & 0xC0) != 0x80) return i;
        uint8_t c1 = p[i + 1];
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) ||  // overlong 3-byte, surrogates
            (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))    // overlong 4-byte, past U+10FFFF
            return i;
        i += len;
    }
    return std::string_view::npos;
}

size_t utf8_complete_prefix(std::string_view s) {
    size_t n = s.size();
    // Only the last 3 bytes can belong to an unfinished sequence.
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        auto c = uint8_t(s[n - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
        return (c >= 0xC0 && utf8_seq_len(c) > int(back)) ? n - back : n;
    }
    return n;
}

uint32_t utf8_next(std::string_view s, size_t& i) {
    auto c = uint8_t(s[i]);
    int len = utf8_seq_len(c);
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (uint8_t(s[i + k]) & 0x3F);
    i += len;
    return cp;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

}  // namespace tameq
